import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { DataSourceRegistry } from './dataSources';

/**
 * In-memory state of the training-provider emulator. Everything time-dependent is computed from
 * the injected clock when asked (never from timers), so a test with a virtual clock drives a run
 * from PENDING to COMPLETED by moving the clock.
 */

export interface EmulatorTimings {
  pendingMs: number;
  queuedMs: number;
  startingMs: number;
  /** RUNNING until TRAIN_FINISHED. */
  trainingMs: number;
  /** TRAIN_FINISHED (checkpoint uploading, still RUNNING) → COMPLETED. */
  uploadMs: number;
  /** UC model version PENDING_REGISTRATION → READY, from completion. */
  registrationMs: number;
  /** STOPPING → STOPPED after a cancel. */
  stoppingMs: number;
}

export const DEFAULT_TIMINGS: EmulatorTimings = {
  pendingMs: 5_000,
  queuedMs: 30_000,
  startingMs: 60_000,
  trainingMs: 600_000,
  uploadMs: 60_000,
  registrationMs: 30_000,
  stoppingMs: 10_000,
};

/** Seconds instead of minutes, for the local runtime on a real clock. */
export const FAST_TIMINGS: EmulatorTimings = {
  pendingMs: 1_000,
  queuedMs: 2_000,
  startingMs: 2_000,
  trainingMs: 10_000,
  uploadMs: 2_000,
  registrationMs: 2_000,
  stoppingMs: 1_000,
};

export interface EmulatorModel {
  name: string;
  displayName: string;
  maxContextLength: number;
}

export const TASK_TYPES = ['CHAT_COMPLETION', 'INSTRUCTION_FINETUNE', 'CONTINUED_PRETRAIN'] as const;

/** The create input's config, as the SDK sends it (unknown fields are refused like a GraphQL schema would). */
export const finetuneConfigSchema = z
  .object({
    model: z.string().min(1),
    taskType: z.enum(TASK_TYPES).optional(),
    trainDataPath: z.string().min(1),
    saveFolder: z.string().min(1),
    evalDataPath: z.string().nullish(),
    evalPrompts: z.array(z.string()).nullish(),
    trainingDuration: z.string().nullish(),
    learningRate: z.number().nullish(),
    contextLength: z.number().int().nullish(),
    customWeightsPath: z.string().nullish(),
    dataPrepConfig: z.record(z.string(), z.unknown()).nullish(),
    disableCredentialsCheck: z.boolean().nullish(),
    experimentTracker: z
      .object({
        mlflow: z
          .object({
            experimentPath: z.string().optional(),
            modelRegistryPath: z.string().optional(),
            createExperimentAndRun: z.boolean().optional(),
          })
          .strict(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type FinetuneConfig = z.infer<typeof finetuneConfigSchema>;

export interface InjectedRunFailure {
  reason: string;
  status: 'FAILED' | 'FAILED_PULL';
}

export interface EmulatorRun {
  id: string;
  name: string;
  createdAtMs: number;
  config: FinetuneConfig;
  experimentPath: string;
  mlflowExperimentId: string;
  mlflowRunId: string;
  timings: EmulatorTimings;
  failure?: InjectedRunFailure;
  stopRequestedAtMs?: number;
}

export interface RunView {
  status: string;
  startedAtMs?: number;
  completedAtMs?: number;
  updatedAtMs: number;
  estimatedEndMs?: number;
  reason?: string;
  events: { type: string; atMs: number; message: string }[];
  /** When a model version gets registered (completed runs only). */
  registeredAtMs?: number;
}

/** Status, timestamps and events of a run at time `now`. */
export function viewRun(run: EmulatorRun, now: number): RunView {
  const t = run.timings;
  const c = run.createdAtMs;
  const tQueued = c + t.pendingMs;
  const tStarting = tQueued + t.queuedMs;
  const tRunning = tStarting + t.startingMs;
  const tTrainFinished = tRunning + t.trainingMs;
  const tCompleted = tTrainFinished + t.uploadMs;
  const events: RunView['events'] = [{ type: 'CREATED', atMs: c, message: 'Run created.' }];

  const failAt = run.failure
    ? run.failure.status === 'FAILED_PULL'
      ? tStarting + t.startingMs / 2
      : tRunning + t.trainingMs / 2
    : undefined;
  const stopAt = run.stopRequestedAtMs;
  const endAt = Math.min(failAt ?? Number.POSITIVE_INFINITY, stopAt ?? Number.POSITIVE_INFINITY, tCompleted);

  const started = now >= tRunning && tRunning <= endAt ? tRunning : undefined;
  if (started !== undefined) events.push({ type: 'STARTED', atMs: tRunning, message: 'Training started.' });

  if (failAt !== undefined && endAt === failAt && now >= failAt && run.failure) {
    events.push({ type: 'FAILED', atMs: failAt, message: run.failure.reason });
    return {
      status: run.failure.status,
      startedAtMs: started,
      completedAtMs: failAt,
      updatedAtMs: failAt,
      reason: run.failure.reason,
      events,
    };
  }
  if (stopAt !== undefined && endAt === stopAt && now >= stopAt) {
    const stoppedAt = stopAt + t.stoppingMs;
    if (now < stoppedAt) return { status: 'STOPPING', startedAtMs: started, updatedAtMs: stopAt, events };
    events.push({ type: 'STOPPED', atMs: stoppedAt, message: 'Run stopped by user.' });
    return {
      status: 'STOPPED',
      startedAtMs: started,
      completedAtMs: stoppedAt,
      updatedAtMs: stoppedAt,
      reason: 'Run stopped by user.',
      events,
    };
  }
  if (now >= tTrainFinished) {
    events.push({
      type: 'TRAIN_FINISHED',
      atMs: tTrainFinished,
      message: 'Training finished; uploading the checkpoint.',
    });
  }
  if (now >= tCompleted) {
    events.push({ type: 'COMPLETED', atMs: tCompleted, message: 'Run completed and the model was registered.' });
    return {
      status: 'COMPLETED',
      startedAtMs: started,
      completedAtMs: tCompleted,
      updatedAtMs: tCompleted,
      events,
      registeredAtMs: tCompleted,
    };
  }
  const [status, since] =
    now >= tRunning
      ? ['RUNNING', tRunning]
      : now >= tStarting
        ? ['STARTING', tStarting]
        : now >= tQueued
          ? ['QUEUED', tQueued]
          : ['PENDING', c];
  return { status, startedAtMs: started, updatedAtMs: since, estimatedEndMs: tCompleted, events };
}

export interface ModelVersionRecord {
  fullName: string;
  version: number;
  runId?: string;
  source: string;
  createdAtMs: number;
  readyAtMs: number;
  failRegistration: boolean;
  tags: Map<string, string>;
}

export interface StoredFile {
  path: string;
  bytes: Buffer;
  sha256: string;
  /** How many chunks the body arrived in, and whether it came chunked (no Content-Length). */
  chunks: number;
  chunked: boolean;
  modifiedAtMs: number;
}

export type FaultAction =
  | { kind: 'status'; status: number; retryAfterSec?: number }
  | { kind: 'graphqlError'; message: string; code: string }
  | { kind: 'delay'; ms: number }
  | { kind: 'dropAfterCreate' }
  | { kind: 'holdAfterCreate' };

export interface Fault {
  /** Operation name (`createFinetune`, `files.upload`, `uc.setAlias`, ...) or `*`. */
  operation: string;
  remaining: number;
  action: FaultAction;
}

export interface DurableEmulatorState {
  version: 1;
  nextId: number;
  runs: EmulatorRun[];
  files: (Omit<StoredFile, 'bytes'> & { size: number })[];
  modelVersions: (Omit<ModelVersionRecord, 'tags'> & { tags: Record<string, string> })[];
  aliases: Record<string, Record<string, number>>;
}

export class EmulatorState {
  readonly runs = new Map<string, EmulatorRun>();
  readonly files = new Map<string, StoredFile>();
  /** Bytes received so far per upload path, updated chunk by chunk (lets tests prove streaming). */
  readonly uploadProgress = new Map<string, number>();
  readonly modelVersions = new Map<string, ModelVersionRecord[]>();
  readonly aliases = new Map<string, Map<string, number>>();
  readonly requests = new Map<string, number>();
  /** Unity Catalog tables and clusters the data-source APIs serve (issue 14). */
  readonly dataSources = new DataSourceRegistry();
  /** Every ranged read served (lets tests prove a volume file was streamed by range). */
  readonly rangeReads: { path: string; start: number; end: number }[] = [];
  readonly faults: Fault[] = [];
  private readonly pendingFailures: InjectedRunFailure[] = [];
  private nextId = 1;
  /** Called after every change to what the service would keep (runs, files, versions, aliases, tags). */
  onChange?: () => void;

  constructor(
    readonly now: () => number,
    readonly timings: EmulatorTimings,
    readonly models: EmulatorModel[],
  ) {}

  // ---- the model list (getFinetuneConstants) ---------------------------------------------
  /**
   * The service stops offering a model (its maintenance policy retires models over time): later
   * getFinetuneConstants answers omit it and createFinetune refuses it. False when it was not offered.
   */
  withdrawModel(name: string): boolean {
    const at = this.models.findIndex((m) => m.name.toLowerCase() === name.toLowerCase());
    if (at < 0) return false;
    this.models.splice(at, 1);
    return true;
  }

  // ---- fault injection -------------------------------------------------------------------
  rateLimit(count: number, retryAfterSec: number, operation = '*'): void {
    this.faults.push({ operation, remaining: count, action: { kind: 'status', status: 429, retryAfterSec } });
  }
  serverError(count: number, status = 500, operation = '*', retryAfterSec?: number): void {
    this.faults.push({ operation, remaining: count, action: { kind: 'status', status, retryAfterSec } });
  }
  graphqlError(count: number, message: string, code = 'INTERNAL_SERVER_ERROR', operation = '*'): void {
    this.faults.push({ operation, remaining: count, action: { kind: 'graphqlError', message, code } });
  }
  slow(count: number, ms: number, operation = '*'): void {
    this.faults.push({ operation, remaining: count, action: { kind: 'delay', ms } });
  }
  /** Accept the next create(s), then drop the connection instead of answering. */
  dropResponseAfterCreate(count = 1): void {
    this.faults.push({ operation: 'createFinetune', remaining: count, action: { kind: 'dropAfterCreate' } });
  }
  /**
   * Accept the next create(s), then never answer: the run exists at the service while its caller
   * still waits (the crash test kills the caller in that window). The connection stays open until
   * the caller goes away.
   */
  holdResponseAfterCreate(count = 1): void {
    this.faults.push({ operation: 'createFinetune', remaining: count, action: { kind: 'holdAfterCreate' } });
  }
  /** The next created run(s) fail (FAILED mid-training, or FAILED_PULL while starting). */
  failNextRun(reason: string, status: InjectedRunFailure['status'] = 'FAILED'): void {
    this.pendingFailures.push({ reason, status });
  }
  failRun(name: string, reason: string, status: InjectedRunFailure['status'] = 'FAILED'): void {
    const run = this.runs.get(name);
    if (run) run.failure = { reason, status };
  }
  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Take the first matching fault, if any. */
  takeFault(operation: string): FaultAction | undefined {
    const i = this.faults.findIndex((f) => f.remaining > 0 && (f.operation === '*' || f.operation === operation));
    const fault = this.faults[i];
    if (!fault) return undefined;
    fault.remaining--;
    if (fault.remaining <= 0) this.faults.splice(i, 1);
    return fault.action;
  }

  changed(): void {
    this.onChange?.();
  }

  count(operation: string): number {
    return this.requests.get(operation) ?? 0;
  }

  // ---- runs ------------------------------------------------------------------------------
  createRun(config: FinetuneConfig): EmulatorRun {
    const seq = this.nextId++;
    const slug = config.model
      .split('/')
      .pop()!
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '');
    const suffix = randomBytes(3).toString('hex');
    const name = `${slug}-${suffix}`;
    const experimentPath = (config.experimentTracker?.mlflow.experimentPath ?? '/Users/me@example.com/{}').replace(
      '{}',
      name,
    );
    const run: EmulatorRun = {
      id: `ft-${String(seq).padStart(6, '0')}`,
      name,
      createdAtMs: this.now(),
      config,
      experimentPath,
      mlflowExperimentId: String(1_000_000 + hashNumber(experimentPath)),
      mlflowRunId: createHash('sha256').update(`${name}/${seq}`).digest('hex').slice(0, 32),
      timings: { ...this.timings },
      failure: this.pendingFailures.shift(),
    };
    this.runs.set(name, run);
    return run;
  }

  /** Create UC model versions for runs that completed by now (registration happens at completion). */
  materialize(): void {
    const now = this.now();
    let added = false;
    for (const run of this.runs.values()) {
      const view = viewRun(run, now);
      if (view.registeredAtMs === undefined) continue;
      const fullName = registeredModelName(run);
      if (!fullName) continue;
      const versions = this.modelVersions.get(fullName) ?? [];
      if (versions.some((v) => v.runId === run.mlflowRunId)) continue;
      this.addVersion(fullName, {
        runId: run.mlflowRunId,
        createdAtMs: view.registeredAtMs,
        readyAtMs: view.registeredAtMs + run.timings.registrationMs,
        source: `dbfs:/databricks/mlflow-tracking/${run.mlflowExperimentId}/${run.mlflowRunId}/artifacts/model`,
      });
      added = true;
    }
    if (added) this.changed();
  }

  /** Register a model version directly (for registry tests that need no run). */
  addModelVersion(
    fullName: string,
    options: { runId?: string; readyInMs?: number; failRegistration?: boolean } = {},
  ): ModelVersionRecord {
    const now = this.now();
    return this.addVersion(fullName, {
      runId: options.runId,
      createdAtMs: now,
      readyAtMs: now + (options.readyInMs ?? 0),
      failRegistration: options.failRegistration,
      source: 'dbfs:/databricks/mlflow-tracking/0/0/artifacts/model',
    });
  }

  private addVersion(
    fullName: string,
    v: { runId?: string; createdAtMs: number; readyAtMs: number; source: string; failRegistration?: boolean },
  ): ModelVersionRecord {
    const versions = this.modelVersions.get(fullName) ?? [];
    const record: ModelVersionRecord = {
      fullName,
      version: versions.length + 1,
      runId: v.runId,
      source: v.source,
      createdAtMs: v.createdAtMs,
      readyAtMs: v.readyAtMs,
      failRegistration: v.failRegistration ?? false,
      tags: new Map(),
    };
    versions.push(record);
    this.modelVersions.set(fullName, versions);
    return record;
  }

  versionStatus(v: ModelVersionRecord): string {
    if (this.now() < v.readyAtMs) return 'PENDING_REGISTRATION';
    return v.failRegistration ? 'FAILED_REGISTRATION' : 'READY';
  }

  findVersion(fullName: string, version: number): ModelVersionRecord | undefined {
    return this.modelVersions.get(fullName)?.find((v) => v.version === version);
  }

  /** What a restart needs (file bytes are kept apart, by sha256: see persistence.ts). */
  toDurable(): DurableEmulatorState {
    return {
      version: 1,
      nextId: this.nextId,
      runs: [...this.runs.values()],
      files: [...this.files.values()].map(({ bytes, ...meta }) => ({ ...meta, size: bytes.length })),
      modelVersions: [...this.modelVersions.values()].flat().map((v) => ({ ...v, tags: Object.fromEntries(v.tags) })),
      aliases: Object.fromEntries([...this.aliases].map(([k, m]) => [k, Object.fromEntries(m)])),
    };
  }

  /** Load what toDurable() wrote; `bytesOf` reads a file's content by its sha256. */
  restore(saved: DurableEmulatorState, bytesOf: (sha256: string) => Buffer): void {
    this.nextId = saved.nextId;
    for (const run of saved.runs) this.runs.set(run.name, run);
    for (const { size: _size, ...meta } of saved.files)
      this.files.set(meta.path, { ...meta, bytes: bytesOf(meta.sha256) });
    for (const v of saved.modelVersions) {
      const versions = this.modelVersions.get(v.fullName) ?? [];
      versions.push({ ...v, tags: new Map(Object.entries(v.tags)) });
      this.modelVersions.set(v.fullName, versions);
    }
    for (const [name, aliases] of Object.entries(saved.aliases))
      this.aliases.set(name, new Map(Object.entries(aliases)));
  }

  /** A JSON snapshot for inspection (also served at GET /__emulator/state). */
  snapshot(): Record<string, unknown> {
    this.materialize();
    const now = this.now();
    return {
      now: new Date(now).toISOString(),
      runs: [...this.runs.values()].map((r) => ({
        name: r.name,
        experimentPath: r.experimentPath,
        status: viewRun(r, now).status,
        config: r.config,
      })),
      files: [...this.files.values()].map((f) => ({
        path: f.path,
        size: f.bytes.length,
        sha256: f.sha256,
        chunks: f.chunks,
      })),
      modelVersions: [...this.modelVersions.values()].flat().map((v) => ({
        fullName: v.fullName,
        version: v.version,
        status: this.versionStatus(v),
        runId: v.runId,
        tags: Object.fromEntries(v.tags),
      })),
      aliases: Object.fromEntries([...this.aliases].map(([k, m]) => [k, Object.fromEntries(m)])),
      requests: Object.fromEntries(this.requests),
    };
  }
}

/** Full UC name a run registers to: `catalog.schema` gets the run name appended. */
export function registeredModelName(run: EmulatorRun): string | undefined {
  const path = run.config.experimentTracker?.mlflow.modelRegistryPath;
  if (!path) return undefined;
  return path.split('.').length === 2 ? `${path}.${run.name}` : path;
}

function hashNumber(s: string): number {
  return Number.parseInt(createHash('sha256').update(s).digest('hex').slice(0, 8), 16) % 1_000_000_000;
}
