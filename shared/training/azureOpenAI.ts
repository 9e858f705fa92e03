import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { getBearerTokenProvider, type TokenCredential } from '@azure/identity';
import { APIConnectionError, APIConnectionTimeoutError, APIError, AzureOpenAI } from 'openai';
import { z } from 'zod';
import { AZURE_OPENAI_LIMITS, defaultCatalog, type ProviderModelInfo } from '../catalog';
import { type HttpLogEntry, parseRetryAfter } from './http';
import {
  isProviderError,
  isTerminalStatus,
  ProviderError,
  parseProviderResponse,
  providerErrorCodeFor,
  type RunStatus,
  secureProviderEndpoint,
  type TrainingProvider,
  type TrainingRunEvent,
  type TrainingRunInfo,
  type TrainingRunRef,
  type TrainingRunSpec,
} from './provider';
import { RetryBudget, type RetryPolicy } from './retry';

export const AZURE_OPENAI_PROVIDER = 'azure-openai';

/** Entra ID scope of Azure OpenAI (Cognitive Services) data-plane calls. */
export const AZURE_OPENAI_SCOPE = 'https://cognitiveservices.azure.com/.default';

/** The data-plane API version this adapter speaks (fine-tuning with `method`, job metadata, checkpoints). */
export const DEFAULT_AZURE_OPENAI_API_VERSION = '2025-04-01-preview';

/** The job metadata key that carries tunedrop's run id (the idempotency key). */
export const RUN_ID_METADATA_KEY = 'tunedrop_run_id';

export type AzureOpenAIAuth = { apiKey: string } | { credential: TokenCredential };

export interface AzureOpenAIProviderOptions {
  /** `https://<resource>.openai.azure.com` (or `.cognitiveservices.azure.com`). */
  endpoint: string;
  auth: AzureOpenAIAuth;
  apiVersion?: string;
  /** `standard` (regional, data-resident) or `globalstandard` (Global training). Default: the service's. */
  trainingType?: 'standard' | 'globalstandard';
  /** Per-request timeout; default 60 s (uploads: 30 min). */
  timeoutMs?: number;
  /** The one retry budget for 429/5xx/transport failures (the SDK's own retries are off). */
  retry?: Partial<RetryPolicy>;
  /** How long an uploaded file may take to be processed; default 30 min. */
  fileProcessingTimeoutMs?: number;
  /** Poll interval while a file is processed; default 5 s. */
  filePollMs?: number;
  /** How many newest jobs the idempotency lookup scans; default 500. */
  lookupLimit?: number;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  random?: () => number;
  log?: (entry: HttpLogEntry) => void;
}

/** Azure OpenAI job status → our normalized status. Unknown words count as pending (not terminal). */
export const AZURE_OPENAI_STATUS_MAP: Record<string, RunStatus> = {
  pending: 'pending',
  validating_files: 'pending',
  notRunning: 'pending',
  queued: 'queued',
  running: 'running',
  pausing: 'running',
  paused: 'running',
  resuming: 'running',
  cancelling: 'running',
  succeeded: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
  canceled: 'cancelled',
};

export function normalizeAzureOpenAIStatus(raw: string): RunStatus {
  return AZURE_OPENAI_STATUS_MAP[raw] ?? AZURE_OPENAI_STATUS_MAP[raw.toLowerCase()] ?? 'pending';
}

const fileSchema = z.object({
  id: z.string(),
  filename: z.string().nullish(),
  bytes: z.number().nullish(),
  purpose: z.string().nullish(),
  status: z.string().nullish(),
  status_details: z.string().nullish(),
  created_at: z.number().nullish(),
});
export type AzureOpenAIFile = z.infer<typeof fileSchema>;

const jobSchema = z.object({
  id: z.string(),
  status: z.string(),
  model: z.string(),
  created_at: z.number().nullish(),
  finished_at: z.number().nullish(),
  estimated_finish: z.number().nullish(),
  fine_tuned_model: z.string().nullish(),
  training_file: z.string().nullish(),
  validation_file: z.string().nullish(),
  trained_tokens: z.number().nullish(),
  seed: z.number().nullish(),
  suffix: z.string().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  error: z.object({ code: z.string().nullish(), message: z.string().nullish(), param: z.string().nullish() }).nullish(),
});
export type AzureOpenAIJob = z.infer<typeof jobSchema>;

const pageSchema = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), has_more: z.boolean().nullish() });

const eventSchema = z.object({
  id: z.string(),
  created_at: z.number(),
  level: z.string().nullish(),
  message: z.string().nullish(),
  type: z.string().nullish(),
});

const checkpointSchema = z.object({
  id: z.string(),
  created_at: z.number(),
  fine_tuned_model_checkpoint: z.string(),
  step_number: z.number(),
  metrics: z.record(z.string(), z.number().nullish()).nullish(),
});
export type AzureOpenAICheckpoint = z.infer<typeof checkpointSchema>;

const modelSchema = z.object({
  id: z.string(),
  capabilities: z.object({ fine_tune: z.boolean().nullish() }).passthrough().nullish(),
});

const specSchema = z.object({
  model: z.string().min(1),
  task: z.literal('chat', { message: 'Azure OpenAI fine-tuning offers the chat task only' }),
  trainDataPath: z.string().regex(/^file-[A-Za-z0-9_-]+$/, 'expected an uploaded file id (file-…)'),
  evalDataPath: z
    .string()
    .regex(/^file-[A-Za-z0-9_-]+$/, 'expected an uploaded file id (file-…)')
    .optional(),
  trainingDuration: z
    .string()
    .regex(/^[1-9]\d*ep$/, 'Azure OpenAI trains in whole epochs: use e.g. "3ep"')
    .optional(),
  batchSize: z.number().int().positive().optional(),
  learningRateMultiplier: z.number().positive().optional(),
  seed: z.number().int().nonnegative().optional(),
  suffix: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,20}$/, 'suffix: up to 20 of a-z, A-Z, 0-9, - and _ (the run label takes the rest)')
    .optional(),
  learningRate: z.undefined({ message: 'Azure OpenAI takes learningRateMultiplier, not learningRate' }).optional(),
  contextLength: z.undefined({ message: 'Azure OpenAI has no contextLength setting' }).optional(),
  customWeightsPath: z.undefined({ message: 'Azure OpenAI has no customWeightsPath' }).optional(),
});

/**
 * The label a run's job carries in its `suffix` (≤ 40 chars, [A-Za-z0-9_-]): the caller's readable
 * suffix (≤ 20) plus a hash of the idempotency key, so two runs never share one.
 */
export function azureSuffixFor(idempotencyKey: string, readable?: string): string {
  const hash = createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 12);
  const suffix = readable ? `${readable}-td${hash}` : `td${hash}`;
  if (!AZURE_OPENAI_LIMITS.suffixPattern.test(suffix))
    throw new ProviderError('bad_request', `invalid suffix "${suffix}"`);
  return suffix;
}

/** The upload's file name: it carries the run id's hash, so a re-upload for the same run finds the first. */
export function azureFileNameFor(idempotencyKey: string, role: 'train' | 'eval'): string {
  const hash = createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 24);
  return `tunedrop-${hash}-${role}.jsonl`;
}

/**
 * TrainingProvider over Azure OpenAI fine-tuning (the official `openai` SDK's `AzureOpenAI` client).
 *
 * Files: `stageFile` streams a blob into `POST /files` (a multipart body built chunk by chunk, never
 * buffered whole) and waits until the service has processed it; a file the service rejects is a
 * `file_rejected` ProviderError carrying the service's reason.
 *
 * Idempotency: the service has no client token. Every job carries the run id in its metadata
 * (`tunedrop_run_id`) and a run-specific `suffix`; its training file is uploaded under a name
 * derived from the run id. Before creating, and after a failed or lost create response, `create`
 * lists jobs (metadata filter, checked again client-side) and adopts one whose metadata names the
 * run, or — for a service that drops metadata — whose suffix and training file id match.
 */
export class AzureOpenAITrainingProvider implements TrainingProvider {
  readonly client: AzureOpenAI;
  private readonly retryBudget: RetryBudget;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(private readonly options: AzureOpenAIProviderOptions) {
    const url = secureProviderEndpoint(options.endpoint, {
      invalid: 'Azure OpenAI endpoint',
      insecure: 'Azure OpenAI endpoint',
    });
    const auth =
      'apiKey' in options.auth
        ? { apiKey: options.auth.apiKey }
        : { azureADTokenProvider: getBearerTokenProvider(options.auth.credential, AZURE_OPENAI_SCOPE) };
    this.client = new AzureOpenAI({
      endpoint: `${url.protocol}//${url.host}`,
      apiVersion: options.apiVersion ?? DEFAULT_AZURE_OPENAI_API_VERSION,
      ...auth,
      maxRetries: 0,
      timeout: options.timeoutMs ?? 60_000,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.now = options.now ?? Date.now;
    this.retryBudget = new RetryBudget(options.retry, { sleep: this.sleep, random: options.random ?? Math.random });
  }

  // ---- files -----------------------------------------------------------------------------

  /**
   * Upload one training/validation file for a run and wait until it is processed. Idempotent per
   * (run, role): a processed or processing file of the same name is reused instead of uploaded again.
   */
  async stageFile(
    idempotencyKey: string,
    role: 'train' | 'eval',
    open: () => Readable | Promise<Readable>,
  ): Promise<AzureOpenAIFile> {
    const filename = azureFileNameFor(idempotencyKey, role);
    let file = await this.findFile(filename);
    if (!file || file.status === 'error') file = await this.uploadFile(filename, open);
    return this.waitForFile(file);
  }

  /** `POST /files` with `purpose=fine-tune`, the body streamed from `open()`. Not retried: a stream is single-use. */
  async uploadFile(filename: string, open: () => Readable | Promise<Readable>): Promise<AzureOpenAIFile> {
    const boundary = `----tunedrop${randomBytes(12).toString('hex')}`;
    const source = await open();
    const body = multipartBody(boundary, filename, source);
    const uploaded = await this.call('files.create', false, () =>
      this.client.post('/files', {
        body,
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        timeout: Math.max(this.options.timeoutMs ?? 0, 30 * 60_000),
      }),
    );
    return parseProviderResponse(fileSchema, uploaded, 'files.create');
  }

  async getFile(id: string): Promise<AzureOpenAIFile> {
    return parseProviderResponse(
      fileSchema,
      await this.call('files.retrieve', true, () => this.client.files.retrieve(id)),
      'files.retrieve',
    );
  }

  /** Poll until the file is processed; `file_rejected` with the service's reason when it is not. */
  async waitForFile(file: AzureOpenAIFile): Promise<AzureOpenAIFile> {
    const deadline = this.now() + (this.options.fileProcessingTimeoutMs ?? 30 * 60_000);
    let current = file;
    for (;;) {
      const status = (current.status ?? 'processed').toLowerCase();
      if (status === 'processed' || status === 'succeeded') return current;
      if (status === 'error' || status === 'failed' || status === 'deleted') {
        throw new ProviderError(
          'file_rejected',
          `Azure OpenAI rejected ${current.filename ?? current.id}: ${current.status_details ?? 'no reason given'}`.slice(
            0,
            800,
          ),
          { operation: 'files.retrieve', providerCode: status },
        );
      }
      if (this.now() >= deadline) {
        throw new ProviderError('timeout', `file ${current.id} was not processed in time (status ${current.status})`, {
          operation: 'files.retrieve',
        });
      }
      await this.sleep(this.options.filePollMs ?? 5_000);
      current = await this.getFile(current.id);
    }
  }

  private async findFile(filename: string): Promise<AzureOpenAIFile | undefined> {
    const page = parseProviderResponse(
      pageSchema(fileSchema),
      await this.call('files.list', true, () => this.client.get('/files', { query: { purpose: 'fine-tune' } })),
      'files.list',
    );
    return page.data
      .filter((f) => f.filename === filename && f.status !== 'error' && f.status !== 'deleted')
      .sort((a, b) => (b.created_at ?? 0) - (a.created_at ?? 0))[0];
  }

  // ---- jobs ------------------------------------------------------------------------------

  async create(spec: TrainingRunSpec, idempotencyKey: string): Promise<TrainingRunRef> {
    const parsed = specSchema.safeParse(spec);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ProviderError('bad_request', `invalid training spec: ${issue?.path.join('.')}: ${issue?.message}`);
    }
    if (!idempotencyKey.trim()) throw new ProviderError('bad_request', 'an idempotency key is required');
    if (idempotencyKey.length > 512)
      throw new ProviderError('bad_request', 'the idempotency key is over 512 characters');
    const s = parsed.data;
    const suffix = azureSuffixFor(idempotencyKey, s.suffix);
    const hyperparameters: Record<string, number> = {};
    if (s.trainingDuration) hyperparameters.n_epochs = Number.parseInt(s.trainingDuration, 10);
    if (s.batchSize !== undefined) hyperparameters.batch_size = s.batchSize;
    if (s.learningRateMultiplier !== undefined) hyperparameters.learning_rate_multiplier = s.learningRateMultiplier;
    const body: Record<string, unknown> = {
      model: s.model,
      training_file: s.trainDataPath,
      suffix,
      method: { type: 'supervised', supervised: { hyperparameters } },
      metadata: { [RUN_ID_METADATA_KEY]: idempotencyKey },
    };
    if (s.evalDataPath) body.validation_file = s.evalDataPath;
    if (s.seed !== undefined) body.seed = s.seed;
    if (this.options.trainingType) body.trainingType = this.options.trainingType;

    for (let attempt = 1; ; attempt++) {
      const existing = await this.findJob(idempotencyKey, suffix, s.trainDataPath);
      if (existing) return this.ref(existing.id);
      try {
        // Not retried inside: after a lost response we must look before creating again.
        const created = await this.call('jobs.create', false, () =>
          this.client.fineTuning.jobs.create(
            body as unknown as Parameters<AzureOpenAI['fineTuning']['jobs']['create']>[0],
          ),
        );
        return this.ref(parseProviderResponse(jobSchema, created, 'jobs.create').id);
      } catch (e) {
        await this.retryBudget.retryOrThrow(e, attempt);
      }
    }
  }

  /**
   * The job an earlier attempt created for this run, if any (see the class comment): first the
   * service's metadata filter, then — for a service that dropped the metadata — a scan of the
   * newest jobs for this run's suffix on this run's training file.
   */
  async findJob(idempotencyKey: string, suffix: string, trainingFile: string): Promise<AzureOpenAIJob | undefined> {
    const byMetadata = await this.scanJobs(
      { [RUN_ID_METADATA_KEY]: idempotencyKey },
      (j) => j.metadata?.[RUN_ID_METADATA_KEY] === idempotencyKey,
    );
    if (byMetadata) return byMetadata;
    return this.scanJobs(
      undefined,
      (j) => !j.metadata?.[RUN_ID_METADATA_KEY] && j.training_file === trainingFile && j.suffix === suffix,
    );
  }

  private async scanJobs(
    metadata: Record<string, string> | undefined,
    matches: (job: AzureOpenAIJob) => boolean,
  ): Promise<AzureOpenAIJob | undefined> {
    const limit = this.options.lookupLimit ?? 500;
    let after: string | undefined;
    for (let seen = 0; seen < limit; ) {
      const page = parseProviderResponse(
        pageSchema(jobSchema),
        await this.call('jobs.list', true, () =>
          this.client.get('/fine_tuning/jobs', {
            query: { limit: 100, ...(after ? { after } : {}), ...(metadata ? { metadata } : {}) },
          }),
        ),
        'jobs.list',
      );
      const match = page.data.find(matches);
      if (match) return match;
      seen += page.data.length;
      const last = page.data[page.data.length - 1];
      if (!page.has_more || !last) return undefined;
      after = last.id;
    }
    return undefined;
  }

  async getJob(ref: TrainingRunRef): Promise<AzureOpenAIJob> {
    return parseProviderResponse(
      jobSchema,
      await this.call('jobs.retrieve', true, () => this.client.fineTuning.jobs.retrieve(ref.name)),
      'jobs.retrieve',
    );
  }

  async get(ref: TrainingRunRef): Promise<TrainingRunInfo> {
    const job = await this.getJob(ref);
    const status = normalizeAzureOpenAIStatus(job.status);
    const iso = (sec: number | null | undefined) => (sec ? new Date(sec * 1000).toISOString() : undefined);
    const info: TrainingRunInfo = {
      ref: this.ref(job.id),
      status,
      rawStatus: job.status,
      createdAt: iso(job.created_at),
      completedAt: isTerminalStatus(status) ? iso(job.finished_at) : undefined,
      estimatedEndTime: iso(job.estimated_finish),
    };
    const reason = job.error?.message
      ? `${job.error.code ? `${job.error.code}: ` : ''}${job.error.message}`
      : undefined;
    if (reason && status !== 'completed') info.reason = reason;
    if (status === 'cancelled' && !info.reason) info.reason = 'Job cancelled.';
    // "Registering" a fine-tuned Azure OpenAI model is recording its id; deployment is a separate step.
    if (status === 'completed' && job.fine_tuned_model) info.registeredModel = { name: job.fine_tuned_model };
    return info;
  }

  async events(ref: TrainingRunRef): Promise<TrainingRunEvent[]> {
    const events: TrainingRunEvent[] = [];
    let after: string | undefined;
    for (let page = 0; page < 20; page++) {
      const result = parseProviderResponse(
        pageSchema(eventSchema),
        await this.call('jobs.listEvents', true, () =>
          this.client.get(`/fine_tuning/jobs/${encodeURIComponent(ref.name)}/events`, {
            query: { limit: 100, ...(after ? { after } : {}) },
          }),
        ),
        'jobs.listEvents',
      );
      for (const e of result.data) {
        events.push({
          type: e.type ?? e.level ?? 'message',
          time: new Date(e.created_at * 1000).toISOString(),
          message: e.message ?? '',
        });
      }
      const last = result.data[result.data.length - 1];
      if (!result.has_more || !last) break;
      after = last.id;
    }
    // The service lists newest first; reversed, a stable sort keeps same-second events in order.
    return events.reverse().sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
  }

  /** The job's checkpoints (one per epoch; the service keeps the last three), newest first. */
  async checkpoints(ref: TrainingRunRef): Promise<AzureOpenAICheckpoint[]> {
    const result = parseProviderResponse(
      pageSchema(checkpointSchema),
      await this.call('jobs.checkpoints', true, () =>
        this.client.get(`/fine_tuning/jobs/${encodeURIComponent(ref.name)}/checkpoints`, { query: { limit: 100 } }),
      ),
      'jobs.checkpoints',
    );
    return result.data.sort((a, b) => b.step_number - a.step_number);
  }

  async cancel(ref: TrainingRunRef): Promise<void> {
    const before = await this.getJob(ref);
    if (isTerminalStatus(normalizeAzureOpenAIStatus(before.status))) throw alreadyFinished(ref, before.status);
    try {
      await this.call('jobs.cancel', true, () => this.client.fineTuning.jobs.cancel(ref.name));
    } catch (e) {
      // The service refuses to cancel a job that finished in the meantime; say so precisely.
      if (isProviderError(e, 'bad_request')) {
        const after = await this.getJob(ref);
        if (isTerminalStatus(normalizeAzureOpenAIStatus(after.status))) throw alreadyFinished(ref, after.status);
      }
      throw e;
    }
  }

  /** Base models the resource can fine-tune (`capabilities.fine_tune`), with the catalog's example context. */
  async listModels(): Promise<ProviderModelInfo[]> {
    const page = parseProviderResponse(
      pageSchema(modelSchema),
      await this.call('models.list', true, () => this.client.get('/models')),
      'models.list',
    );
    const out: ProviderModelInfo[] = [];
    for (const m of page.data) {
      if (m.capabilities?.fine_tune !== true) continue;
      const known = defaultCatalog.find(m.id);
      if (known?.provider === 'azure-openai') out.push({ name: known.id, maxContextLength: known.maxContextLength });
    }
    return out;
  }

  // ---- transport -------------------------------------------------------------------------

  /** Delay before retry `attempt` (1-based): Retry-After when given, else exponential with jitter. */
  backoffDelay(attempt: number, retryAfterMs: number | undefined): number {
    return this.retryBudget.backoffDelay(attempt, retryAfterMs);
  }

  /** One SDK call with our retry budget (429, 5xx, transport; Retry-After honoured). Errors become ProviderErrors. */
  private call<T>(operation: string, retry: boolean, fn: () => Promise<T>): Promise<T> {
    const logged = (message: string, error: ProviderError, attempt: number, delayMs?: number) =>
      this.options.log?.({
        level: 'warn',
        message,
        operation,
        attempt,
        code: error.code,
        status: error.details.status,
        ...(delayMs !== undefined ? { delayMs } : {}),
      });
    return this.retryBudget.run(fn, {
      retry,
      normalize: (e) => this.redacted(toProviderError(e, operation, this.now())),
      onGiveUp: (error, attempt) => {
        if (isProviderError(error)) logged('request failed', error, attempt);
      },
      onRetry: (error, attempt, delayMs) => logged('retrying', error, attempt, delayMs),
    });
  }

  private redacted(error: ProviderError): ProviderError {
    const secret = 'apiKey' in this.options.auth ? this.options.auth.apiKey : undefined;
    if (!secret || !error.message.includes(secret)) return error;
    return new ProviderError(error.code, error.message.split(secret).join('***'), error.details);
  }

  private ref(id: string): TrainingRunRef {
    return { provider: AZURE_OPENAI_PROVIDER, name: id };
  }
}

/** An SDK failure as a coded ProviderError: status → code, `retry-after`/`retry-after-ms` kept. */
export function toProviderError(e: unknown, operation: string, now: number): ProviderError {
  if (e instanceof ProviderError) return e;
  if (e instanceof APIConnectionTimeoutError) {
    return new ProviderError('timeout', `${operation}: no response in time`, { operation });
  }
  if (e instanceof APIConnectionError) {
    const cause = e.cause instanceof Error ? ` (${(e.cause as NodeJS.ErrnoException).code ?? e.cause.name})` : '';
    return new ProviderError('unavailable', `${operation}: connection failed${cause}`, { operation });
  }
  if (e instanceof APIError && typeof e.status === 'number') {
    const status = e.status;
    const code = providerErrorCodeFor(status);
    const headers = e.headers;
    const ms = headers?.get('retry-after-ms');
    const retryAfterMs =
      status === 429 || status >= 500
        ? ms && /^\d+$/.test(ms)
          ? Number(ms)
          : parseRetryAfter(headers?.get('retry-after') ?? null, now)
        : undefined;
    const body = e.error as { code?: unknown; message?: unknown } | undefined;
    const providerCode = typeof body?.code === 'string' ? body.code : undefined;
    const message = typeof body?.message === 'string' ? `: ${body.message.slice(0, 500)}` : '';
    return new ProviderError(code, `${operation}: HTTP ${status}${providerCode ? ` ${providerCode}` : ''}${message}`, {
      status,
      operation,
      retryAfterMs,
      providerCode,
    });
  }
  return new ProviderError('unavailable', `${operation}: ${e instanceof Error ? e.name : 'error'}`, { operation });
}

/** A multipart/form-data body (`purpose=fine-tune`, then the file), yielded chunk by chunk from the source stream. */
async function* multipartBody(boundary: string, filename: string, source: Readable): AsyncGenerator<Uint8Array> {
  const safeName = filename.replace(/["\r\n]/g, '_');
  yield Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${safeName}"\r\n` +
      'Content-Type: application/jsonl\r\n\r\n',
  );
  for await (const chunk of source) yield typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
  yield Buffer.from(`\r\n--${boundary}--\r\n`);
}

function alreadyFinished(ref: TrainingRunRef, rawStatus: string): ProviderError {
  return new ProviderError('already_finished', `fine-tuning job ${ref.name} already finished (${rawStatus})`, {
    operation: 'jobs.cancel',
    providerCode: rawStatus,
  });
}
