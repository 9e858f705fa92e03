import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { ProviderModelInfo } from '../catalog';
import { TASK_INFO, type Task } from '../catalog/models';
import { isTerminalStatus, type ProviderRunStatus } from '../runStatus';

/**
 * The training provider port. Implementations: Databricks Foundation Model Fine-tuning (no new runs
 * after 2026-08-14) and Azure OpenAI fine-tuning (shared/training/azureOpenAI.ts).
 */
export interface TrainingProvider {
  /**
   * Submit a run. Idempotent: the same key always resolves to the same run, even when a previous
   * attempt's response was lost after the provider accepted it.
   */
  create(spec: TrainingRunSpec, idempotencyKey: string): Promise<TrainingRunRef>;
  get(ref: TrainingRunRef): Promise<TrainingRunInfo>;
  events(ref: TrainingRunRef): Promise<TrainingRunEvent[]>;
  /** Cancel a run; ProviderError `already_finished` when it is already terminal. */
  cancel(ref: TrainingRunRef): Promise<void>;
  listModels(): Promise<ProviderModelInfo[]>;
}

export interface TrainingRunSpec {
  /** Model id as the catalog knows it (Hugging Face style). */
  model: string;
  task: Task;
  /** Provider-side path, e.g. `dbfs:/Volumes/ml/tunedrop/datasets/team/ds/train.jsonl` (see staging). */
  trainDataPath: string;
  evalDataPath?: string;
  /** Unity Catalog `catalog.schema` or `catalog.schema.model`. */
  registerTo: string;
  /** `3ep`, `10000tok`, `500ba`. */
  trainingDuration?: string;
  learningRate?: number;
  contextLength?: number;
  customWeightsPath?: string;
  /** Data-prep cluster for a Delta table `trainDataPath` (DBR 12.2 LTS ML or later). */
  dataPrepClusterId?: string;
  /** MLflow experiment folder; the run's experiment is `<experimentPath>/<runName>`. */
  experimentPath?: string;
  /** Azure OpenAI: `batch_size`. */
  batchSize?: number;
  /** Azure OpenAI: `learning_rate_multiplier` (the service scales its own base rate). */
  learningRateMultiplier?: number;
  /** Azure OpenAI: `seed`, for reproducibility. */
  seed?: number;
  /** Azure OpenAI: a readable part of the fine-tuned model name (the adapter adds the run's label). */
  suffix?: string;
}

/** How a run is addressed at the provider (Databricks: the server-assigned run name; Azure OpenAI: the job id). */
export interface TrainingRunRef {
  provider: string;
  name: string;
}

/** What a provider reports, in the run's own words (a subset of shared/runStatus.ts's list). */
export type RunStatus = ProviderRunStatus;
export { isTerminalStatus };

export interface TrainingRunInfo {
  ref: TrainingRunRef;
  status: RunStatus;
  /** The provider's own status word, e.g. `TERMINATING`. */
  rawStatus: string;
  createdAt?: string;
  startedAt?: string;
  completedAt?: string;
  updatedAt?: string;
  estimatedEndTime?: string;
  /** Failure or cancellation reason, as the provider words it. */
  reason?: string;
  /** Where the model is registered: full three-level name, and the version once it exists. */
  registeredModel?: { name: string; version?: number };
  mlflow?: { experimentId?: string; runId?: string; experimentPath?: string };
}

export interface TrainingRunEvent {
  type: string;
  time: string;
  message: string;
}

export const PROVIDER_ERROR_CODES = [
  'rate_limited',
  'unavailable',
  'bad_request',
  'unauthorized',
  'not_found',
  'already_finished',
  'graphql_error',
  'timeout',
  'invalid_response',
  /** The provider refused a training/validation file after upload (Azure OpenAI file status `error`). */
  'file_rejected',
] as const;
export type ProviderErrorCode = (typeof PROVIDER_ERROR_CODES)[number];

/** The error code of a provider's HTTP status (the Databricks and Azure OpenAI clients both map this way). */
export function providerErrorCodeFor(status: number): ProviderErrorCode {
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'unavailable';
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 404) return 'not_found';
  return 'bad_request';
}

const RETRYABLE: ReadonlySet<ProviderErrorCode> = new Set(['rate_limited', 'unavailable', 'timeout']);

/** A coded provider failure. Messages never carry credentials. */
export class ProviderError extends Error {
  readonly retryable: boolean;
  constructor(
    readonly code: ProviderErrorCode,
    message: string,
    readonly details: { status?: number; operation?: string; retryAfterMs?: number; providerCode?: string } = {},
  ) {
    super(message);
    this.name = 'ProviderError';
    this.retryable = RETRYABLE.has(code);
  }
}

export function isProviderError(e: unknown, code?: ProviderErrorCode): e is ProviderError {
  return e instanceof ProviderError && (code === undefined || e.code === code);
}

/** A provider's answer checked against its schema: a shape we do not know is `invalid_response`, naming where. */
export function parseProviderResponse<T>(schema: z.ZodType<T>, value: unknown, operation: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ProviderError(
      'invalid_response',
      `${operation}: unexpected response shape at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
      { operation },
    );
  }
  return r.data;
}

/** Hosts a credential may reach over plain http: this machine (the emulators). */
export function isLoopbackHost(hostname: string): boolean {
  return ['127.0.0.1', 'localhost', '[::1]'].includes(hostname);
}

/**
 * A provider endpoint that carries a credential: a URL, https unless it is this machine.
 * `names.invalid` / `names.insecure` say what the endpoint is in the two refusals.
 */
export function secureProviderEndpoint(raw: string, names: { invalid: string; insecure: string }): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ProviderError('bad_request', `invalid ${names.invalid} "${raw}"`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new ProviderError('bad_request', `the ${names.insecure} must be https (got ${url.protocol}//${url.host})`);
  }
  return url;
}

/** Our task word → the provider's task type. */
export function providerTaskType(task: Task): string {
  return TASK_INFO[task].providerTaskType;
}

/**
 * A stable, provider-safe run label derived from the idempotency key: lower-case, [a-z0-9-],
 * ≤ 48 chars, with a hash suffix so two keys that slug alike never collide.
 */
export function runLabelFor(idempotencyKey: string): string {
  const hash = createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 10);
  const slug = idempotencyKey
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 30)
    .replace(/-+$/g, '');
  return `td-${slug ? `${slug}-` : ''}${hash}`;
}
