import { randomBytes } from 'node:crypto';
import { AZURE_OPENAI_LIMITS } from '../../shared/catalog';
import { parseOpenAIChat } from '../../shared/datasets/openaiChat';

/**
 * In-memory state of the Azure OpenAI fine-tuning stand-in. Like the Databricks emulator, every
 * time-dependent answer is computed from the injected clock when asked, so a test moves a job from
 * `validating_files` to `succeeded` by moving the clock. The semantics follow Microsoft's
 * documentation (docs/training-provider.md): files are `pending` until processed (or `error` with
 * `status_details`), jobs go validating_files → queued → running → succeeded, one checkpoint per
 * epoch (the last three kept), `fine_tuned_model` = `<base>.ft-<job hex>[-<suffix>]`.
 */

export interface AzureEmulatorTimings {
  /** A file stays `pending` this long after upload. */
  fileProcessingMs: number;
  validatingMs: number;
  queuedMs: number;
  /** Running time, split evenly across epochs. */
  trainingMs: number;
  /** `cancelling` → `cancelled`. */
  cancellingMs: number;
  /** Control plane: deployment `Creating` → `Succeeded`. */
  deploymentMs: number;
}

export const DEFAULT_AZURE_TIMINGS: AzureEmulatorTimings = {
  fileProcessingMs: 20_000,
  validatingMs: 60_000,
  queuedMs: 120_000,
  trainingMs: 1_800_000,
  cancellingMs: 10_000,
  deploymentMs: 300_000,
};

/** Seconds instead of minutes, for the local runtime on a real clock. */
export const FAST_AZURE_TIMINGS: AzureEmulatorTimings = {
  fileProcessingMs: 500,
  validatingMs: 1_000,
  queuedMs: 2_000,
  trainingMs: 9_000,
  cancellingMs: 500,
  deploymentMs: 2_000,
};

export interface EmulatorFile {
  id: string;
  filename: string;
  purpose: string;
  bytes: Buffer;
  createdAtMs: number;
  /** Why the service rejects it (computed at upload), shown once processing ends. */
  rejection?: string;
  /** How the body arrived: chunks seen by the server (streaming evidence). */
  chunks: number;
  deleted?: boolean;
}

export interface EmulatorJob {
  id: string;
  model: string;
  trainingFile: string;
  validationFile?: string;
  suffix?: string;
  seed: number;
  metadata?: Record<string, string>;
  method: {
    type: 'supervised';
    hyperparameters: { n_epochs: number; batch_size: number; learning_rate_multiplier: number };
  };
  trainingType?: string;
  createdAtMs: number;
  examples: number;
  failure?: { code: string; message: string };
  cancelRequestedAtMs?: number;
}

export type AzureFaultAction =
  | { kind: 'status'; status: number; retryAfterSec?: number; retryAfterMs?: number }
  | { kind: 'delay'; ms: number }
  | { kind: 'dropAfterCreate' };

export interface AzureFault {
  /** `files.create`, `files.retrieve`, `files.list`, `jobs.create`, `jobs.retrieve`, `jobs.list`, `jobs.cancel`, `jobs.events`, `jobs.checkpoints`, `models.list`, `deployments.put`, `deployments.get`, or `*`. */
  operation: string;
  remaining: number;
  action: AzureFaultAction;
}

export interface EmulatorDeployment {
  key: string;
  name: string;
  account: string;
  model: { format: string; name: string; version: string };
  sku: { name: string; capacity: number };
  createdAtMs: number;
  fail?: string;
}

export interface JobView {
  status: 'validating_files' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelling' | 'cancelled';
  finishedAtMs?: number;
  estimatedFinishMs?: number;
  fineTunedModel?: string;
  trainedTokens?: number;
  error?: { code: string; message: string };
  events: {
    atMs: number;
    level: 'info' | 'error';
    type: 'message' | 'metrics';
    message: string;
    data?: Record<string, unknown>;
  }[];
  checkpoints: { atMs: number; step: number; epoch: number }[];
}

export function fileStatus(
  file: EmulatorFile,
  timings: AzureEmulatorTimings,
  now: number,
): 'pending' | 'processed' | 'error' {
  if (now < file.createdAtMs + timings.fileProcessingMs) return 'pending';
  return file.rejection ? 'error' : 'processed';
}

/** The job's status, events and checkpoints at time `now`. */
export function viewJob(
  job: EmulatorJob,
  files: Map<string, EmulatorFile>,
  timings: AzureEmulatorTimings,
  now: number,
): JobView {
  const c = job.createdAtMs;
  const events: JobView['events'] = [
    { atMs: c, level: 'info', type: 'message', message: `Created fine-tuning job: ${job.id}` },
    { atMs: c, level: 'info', type: 'message', message: `Validating training file: ${job.trainingFile}` },
  ];
  // Validation starts once the files are processed.
  const fileReady = Math.max(
    ...[job.trainingFile, job.validationFile]
      .filter((f): f is string => Boolean(f))
      .map((f) => {
        const file = files.get(f);
        return file ? file.createdAtMs + timings.fileProcessingMs : c;
      }),
  );
  const tQueued = Math.max(c, fileReady) + timings.validatingMs;
  const tRunning = tQueued + timings.queuedMs;
  const tDone = tRunning + timings.trainingMs;
  const epochs = job.method.hyperparameters.n_epochs;
  const stepsPerEpoch = Math.max(1, Math.ceil(job.examples / job.method.hyperparameters.batch_size));
  const checkpointAt = (epoch: number) => tRunning + (timings.trainingMs * epoch) / epochs;
  const failAt = job.failure ? tRunning + timings.trainingMs / 2 : undefined;
  const cancelAt = job.cancelRequestedAtMs;
  const checkpoints: JobView['checkpoints'] = [];
  const upTo = Math.min(now, failAt ?? Number.POSITIVE_INFINITY, cancelAt ?? Number.POSITIVE_INFINITY);

  if (upTo >= tQueued)
    events.push({
      atMs: tQueued,
      level: 'info',
      type: 'message',
      message: 'Files validated, moving job to queued state',
    });
  if (upTo >= tRunning)
    events.push({ atMs: tRunning, level: 'info', type: 'message', message: 'Fine-tuning job started' });
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const at = checkpointAt(epoch);
    if (upTo < at) break;
    const step = epoch * stepsPerEpoch;
    events.push({
      atMs: at,
      level: 'info',
      type: 'metrics',
      message: `Step ${step}/${epochs * stepsPerEpoch}: training loss=${(1.5 / (epoch + 1)).toFixed(4)}`,
      data: { step, train_loss: 1.5 / (epoch + 1), epoch },
    });
    if (epoch < epochs) {
      checkpoints.push({ atMs: at, step, epoch });
      events.push({ atMs: at, level: 'info', type: 'message', message: `Checkpoint created at step ${step}` });
    }
  }
  const sorted = () => events.sort((a, b) => a.atMs - b.atMs);

  if (cancelAt !== undefined && (failAt === undefined || cancelAt < failAt) && cancelAt < tDone && now >= cancelAt) {
    const cancelledAt = cancelAt + timings.cancellingMs;
    if (now < cancelledAt) return { status: 'cancelling', events: sorted(), checkpoints };
    events.push({ atMs: cancelledAt, level: 'info', type: 'message', message: 'Fine-tuning job cancelled' });
    return { status: 'cancelled', finishedAtMs: cancelledAt, events: sorted(), checkpoints };
  }
  if (failAt !== undefined && job.failure && now >= failAt) {
    events.push({ atMs: failAt, level: 'error', type: 'message', message: job.failure.message });
    return { status: 'failed', finishedAtMs: failAt, error: job.failure, events: sorted(), checkpoints };
  }
  if (now >= tDone) {
    const fineTunedModel = `${job.model}.ft-${job.id.slice('ftjob-'.length)}${job.suffix ? `-${job.suffix}` : ''}`;
    events.push({
      atMs: tDone,
      level: 'info',
      type: 'message',
      message: `New fine-tuned model created: ${fineTunedModel}`,
    });
    events.push({ atMs: tDone, level: 'info', type: 'message', message: 'The job has successfully completed' });
    checkpoints.push({ atMs: tDone, step: epochs * stepsPerEpoch, epoch: epochs });
    const trainFile = files.get(job.trainingFile);
    return {
      status: 'succeeded',
      finishedAtMs: tDone,
      fineTunedModel,
      trainedTokens: Math.round(((trainFile?.bytes.length ?? 0) / 4) * epochs),
      events: sorted(),
      checkpoints: checkpoints.slice(-3),
    };
  }
  const status = now >= tRunning ? 'running' : now >= tQueued ? 'queued' : 'validating_files';
  return { status, estimatedFinishMs: tDone, events: sorted(), checkpoints };
}

/** What the service says about a training file it cannot use (checked at upload, reported after processing). */
export function inspectTrainingFile(bytes: Buffer): { examples: number; rejection?: string } {
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  for (const [i, line] of lines.entries()) {
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      return { examples: lines.length, rejection: `Invalid file format. Line ${i + 1} is not valid JSON.` };
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      return { examples: lines.length, rejection: `Invalid file format. Line ${i + 1} is not a JSON object.` };
    }
    const parsed = parseOpenAIChat(row as Record<string, unknown>);
    if ('problem' in parsed) {
      return { examples: lines.length, rejection: `Invalid file format. Line ${i + 1}: ${parsed.problem.message}` };
    }
  }
  if (bytes.length >= AZURE_OPENAI_LIMITS.maxFileBytes)
    return { examples: lines.length, rejection: 'File size exceeds 512 MB.' };
  return { examples: lines.length };
}

export class AzureEmulatorState {
  readonly files = new Map<string, EmulatorFile>();
  readonly jobs = new Map<string, EmulatorJob>();
  readonly deployments = new Map<string, EmulatorDeployment>();
  readonly requests = new Map<string, number>();
  readonly faults: AzureFault[] = [];
  /** Bytes received so far per upload, updated chunk by chunk (lets tests prove streaming). */
  readonly uploadProgress: number[] = [];
  private readonly pendingJobFailures: { code: string; message: string }[] = [];
  private readonly pendingFileRejections: string[] = [];
  private readonly pendingDeploymentFailures: string[] = [];
  /** Whether jobs keep `metadata` (a service version without it: set false to test the suffix fallback). */
  keepMetadata = true;

  constructor(
    readonly now: () => number,
    readonly timings: AzureEmulatorTimings,
  ) {}

  // ---- fault injection -------------------------------------------------------------------
  rateLimit(count: number, retryAfterSec: number, operation = '*'): void {
    this.faults.push({ operation, remaining: count, action: { kind: 'status', status: 429, retryAfterSec } });
  }
  serverError(count: number, status = 500, operation = '*', retryAfterSec?: number): void {
    this.faults.push({ operation, remaining: count, action: { kind: 'status', status, retryAfterSec } });
  }
  slow(count: number, ms: number, operation = '*'): void {
    this.faults.push({ operation, remaining: count, action: { kind: 'delay', ms } });
  }
  /** Create the next job(s), then drop the connection instead of answering. */
  dropResponseAfterCreate(count = 1): void {
    this.faults.push({ operation: 'jobs.create', remaining: count, action: { kind: 'dropAfterCreate' } });
  }
  failNextJob(message: string, code = 'internal_error'): void {
    this.pendingJobFailures.push({ code, message });
  }
  rejectNextFile(reason: string): void {
    this.pendingFileRejections.push(reason);
  }
  /** The next control-plane deployment ends `Failed` with this message. */
  failNextDeployment(message: string): void {
    this.pendingDeploymentFailures.push(message);
  }
  takeDeploymentFailure(): string | undefined {
    return this.pendingDeploymentFailures.shift();
  }
  clearFaults(): void {
    this.faults.length = 0;
  }
  takeFault(operation: string): AzureFaultAction | undefined {
    const i = this.faults.findIndex((f) => f.remaining > 0 && (f.operation === '*' || f.operation === operation));
    const fault = this.faults[i];
    if (!fault) return undefined;
    fault.remaining--;
    if (fault.remaining <= 0) this.faults.splice(i, 1);
    return fault.action;
  }
  count(operation: string): number {
    return this.requests.get(operation) ?? 0;
  }

  // ---- files and jobs --------------------------------------------------------------------
  addFile(filename: string, purpose: string, bytes: Buffer, chunks: number): EmulatorFile {
    const inspected = purpose === 'fine-tune' ? inspectTrainingFile(bytes) : { examples: 0 };
    const file: EmulatorFile = {
      id: `file-${randomBytes(16).toString('hex')}`,
      filename,
      purpose,
      bytes,
      createdAtMs: this.now(),
      rejection: this.pendingFileRejections.shift() ?? inspected.rejection,
      chunks,
    };
    this.files.set(file.id, file);
    return file;
  }

  exampleCount(fileId: string): number {
    const file = this.files.get(fileId);
    return file ? inspectTrainingFile(file.bytes).examples : 0;
  }

  addJob(job: Omit<EmulatorJob, 'id' | 'createdAtMs' | 'failure' | 'examples'>): EmulatorJob {
    const created: EmulatorJob = {
      ...job,
      ...(this.keepMetadata ? {} : { metadata: undefined }),
      id: `ftjob-${randomBytes(16).toString('hex')}`,
      createdAtMs: this.now(),
      examples: this.exampleCount(job.trainingFile),
      failure: this.pendingJobFailures.shift(),
    };
    this.jobs.set(created.id, created);
    return created;
  }

  /** The fine-tuned model ids of succeeded jobs (what a deployment may reference). */
  fineTunedModels(): Set<string> {
    const out = new Set<string>();
    for (const job of this.jobs.values()) {
      const view = viewJob(job, this.files, this.timings, this.now());
      if (view.fineTunedModel) out.add(view.fineTunedModel);
    }
    return out;
  }

  deploymentState(d: EmulatorDeployment): 'Creating' | 'Succeeded' | 'Failed' {
    if (this.now() < d.createdAtMs + this.timings.deploymentMs) return 'Creating';
    return d.fail ? 'Failed' : 'Succeeded';
  }

  snapshot(): Record<string, unknown> {
    const now = this.now();
    return {
      now: new Date(now).toISOString(),
      files: [...this.files.values()].map((f) => ({
        id: f.id,
        filename: f.filename,
        bytes: f.bytes.length,
        status: fileStatus(f, this.timings, now),
        chunks: f.chunks,
      })),
      jobs: [...this.jobs.values()].map((j) => ({
        id: j.id,
        model: j.model,
        suffix: j.suffix,
        metadata: j.metadata,
        status: viewJob(j, this.files, this.timings, now).status,
      })),
      deployments: [...this.deployments.values()].map((d) => ({
        name: d.name,
        model: d.model.name,
        sku: d.sku,
        state: this.deploymentState(d),
      })),
      requests: Object.fromEntries(this.requests),
    };
  }
}
