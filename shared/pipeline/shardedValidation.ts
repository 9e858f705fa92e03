import { createHash } from 'node:crypto';
import * as df from 'durable-functions';
import { z } from 'zod';
import { type AzureOpenAITrainingType, type Catalog, TASKS, TRAINING_PROVIDERS } from '../catalog';
import {
  type DatasetFile,
  fileDigest,
  mergeShards,
  planShards,
  prepareValidation,
  renderValidationMarkdown,
  type ShardPlan,
  type ShardResult,
  type ValidateDatasetInput,
  validateShard,
} from '../datasets';
import { createEvent, type EventPublisher } from '../events';
import type { RunStore, ShardResultStore } from './ports';
import { DataChangedError, type DropStore } from './ports';
import { summarizeProblems, type ValidationOutcome } from './validation';

/**
 * Sharded intake (issue 16): a drop whose JSONL data is over the threshold is validated as a
 * durable fan-out of byte-range shards instead of inside the intake function. See
 * docs/validation.md, "Sharded intake", for the flow, the limits and the decisions.
 *
 * This module holds the contracts (names, zod schemas), the deterministic orchestrator and the
 * activities' work; functions/ registers them (one file each) and intake.ts starts the
 * orchestration and owns the finish path both validation paths share.
 */

export const VALIDATE_DROP_SHARDED = 'validateDropSharded';
export const SHARD_ACTIVITIES = {
  validateShard: 'validateDataShard',
  digestDataFile: 'digestDataFile',
  recordValidationProgress: 'recordValidationProgress',
  finishShardedValidation: 'finishShardedValidation',
} as const;

export interface ShardingSettings {
  /** Data bytes (train + eval) from which intake fans out instead of validating inline. */
  thresholdBytes: number;
  /** Nominal bytes per shard. */
  shardBytes: number;
  /** Shard activities of one validation running at once. */
  parallelism: number;
}

/** More shards than this and the shard size grows: bounds the orchestration's history and the finish input. */
export const MAX_SHARDS = 4096;
/** Progress events per validation, at most (one per 5% of shards). */
export const PROGRESS_STEPS = 20;
/** Budget for shard results carried inline in activity outputs (and so in the finish activity's input). */
export const INLINE_RESULTS_BUDGET = 256 * 1024;
/** A shard result inline in the activity output is at most this big; bigger ones go to a blob. */
export const INLINE_RESULT_MAX = 4 * 1024;

/** The orchestration's instance id: one per manifest version (URL + ETag), so a redelivered event finds it. */
export function validationIdFor(manifestUrl: string, etag: string): string {
  return `validation-${createHash('sha256').update(`${manifestUrl}\n${etag}`).digest('hex').slice(0, 32)}`;
}

const fileSchema = z.object({
  /** Name relative to the drop folder (what the report shows). */
  name: z.string().min(1),
  blobName: z.string().min(1),
  size: z.number().int().nonnegative(),
  /** The version listed at intake: every read insists on it. */
  etag: z.string().min(1),
  role: z.enum(['train', 'eval']),
});
export type ShardedFile = z.infer<typeof fileSchema>;

export const shardedValidationInputSchema = z.object({
  validationId: z.string().regex(/^validation-[0-9a-f]{32}$/),
  team: z.string().min(1),
  dataset: z.string().min(1),
  drop: z.object({
    url: z.string().min(1),
    etag: z.string(),
    /** The manifest's bytes, base64 (at most 64 KiB: manifest.ts). */
    content: z.string(),
  }),
  settings: z.object({
    model: z.string().min(1),
    task: z.enum(TASKS),
    provider: z.enum(TRAINING_PROVIDERS),
    registerTo: z.string(),
    trainingDuration: z.string().optional(),
    contextLength: z.number().int().positive().optional(),
  }),
  files: z.array(fileSchema).min(1),
  shardBytes: z.number().int().positive(),
  parallelism: z.number().int().positive(),
  polling: z.object({ retryFirstSeconds: z.number().positive(), retryAttempts: z.number().int().positive() }),
});
export type ShardedValidationInput = z.infer<typeof shardedValidationInputSchema>;

const planSchema = z.object({
  file: z.string(),
  index: z.number().int().nonnegative(),
  start: z.number().int().nonnegative(),
  end: z.number().int().nonnegative(),
});

export const shardTaskInputSchema = z.object({
  validationId: z.string().min(1),
  settings: shardedValidationInputSchema.shape.settings,
  file: fileSchema,
  plan: planSchema,
  /** Inline the result in the output when it serializes to at most this many bytes. */
  inlineLimit: z.number().int().nonnegative(),
});
export type ShardTaskInput = z.infer<typeof shardTaskInputSchema>;

/** A shard result as plain JSON: the row hash and line lists as base64 Float64Arrays (16 bytes a row). */
const encodedShardResultSchema = z.object({
  file: z.string(),
  index: z.number().int().nonnegative(),
  alignedStart: z.number().int(),
  alignedEnd: z.number().int(),
  lines: z.number().int().nonnegative(),
  rows: z.number().int().nonnegative(),
  validRows: z.number().int().nonnegative(),
  blankLines: z.number().int().nonnegative(),
  tokens: z.number().int().nonnegative(),
  histogram: z.object({
    buckets: z.array(z.tuple([z.number(), z.number(), z.number()])),
    total: z.number(),
    min: z.number(),
    max: z.number(),
  }),
  issues: z.array(
    z.object({ code: z.string(), count: z.number(), lines: z.array(z.number()), message: z.string() }).passthrough(),
  ),
  rowHashes: z.string(),
  rowLines: z.string(),
});
type EncodedShardResult = z.infer<typeof encodedShardResultSchema>;

export const shardOutputSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('done'),
    file: z.string(),
    index: z.number().int().nonnegative(),
    bytes: z.number().int().nonnegative(),
    /** The result itself (small), or where it is (`ref`, in the shard result store). */
    result: encodedShardResultSchema.optional(),
    ref: z.string().optional(),
  }),
  z.object({ kind: z.literal('data_changed'), file: z.string() }),
]);
export type ShardOutput = z.infer<typeof shardOutputSchema>;

export const digestTaskInputSchema = z.object({ validationId: z.string().min(1), file: fileSchema });
export const digestOutputSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('done'),
    file: z.string(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: z.number(),
  }),
  z.object({ kind: z.literal('data_changed'), file: z.string() }),
]);
export type DigestOutput = z.infer<typeof digestOutputSchema>;

export const progressInputSchema = z.object({
  runId: z.string().min(1),
  validationId: z.string().min(1),
  team: z.string().min(1),
  dataset: z.string().min(1),
  model: z.string().min(1),
  task: z.string().min(1),
  manifestUrl: z.string().min(1),
  shardsDone: z.number().int().nonnegative(),
  shardsTotal: z.number().int().positive(),
  bytesDone: z.number().int().nonnegative(),
  bytesTotal: z.number().int().nonnegative(),
  time: z.string(),
});
export type ProgressInput = z.infer<typeof progressInputSchema>;

export const finishInputSchema = z.object({
  input: shardedValidationInputSchema,
  outcome: z.discriminatedUnion('kind', [
    z.object({
      kind: z.literal('merged'),
      digests: z.array(digestOutputSchema),
      shards: z.array(shardOutputSchema),
    }),
    z.object({
      kind: z.literal('failed'),
      code: z.enum(['validation_failed', 'data_changed']),
      message: z.string(),
      /** The run id of the `validating` record, when the caller knows it (the reconciler does). */
      runId: z.string().optional(),
      /** The data's digests when they were known (the run id then follows them, as the `validating` record did). */
      digests: z.array(digestOutputSchema).optional(),
    }),
  ]),
});
export type FinishInput = z.infer<typeof finishInputSchema>;

/** The shard plans of a validation: shardBytes each, grown so no validation has more than MAX_SHARDS. */
export function planValidationShards(input: Pick<ShardedValidationInput, 'files' | 'shardBytes'>): ShardPlan[] {
  const total = input.files.reduce((n, f) => n + f.size, 0);
  const shardBytes = Math.max(input.shardBytes, Math.ceil(total / (MAX_SHARDS - input.files.length)));
  return input.files.flatMap((f) => planShards(f.name, f.size, shardBytes));
}

/** The progress step (0…PROGRESS_STEPS) of `done` shards out of `total`. */
export function progressStep(done: number, total: number): number {
  return Math.floor((done * PROGRESS_STEPS) / total);
}

/** The run id validated data gets (intake.ts validatedRunIdFor), computed from digest outputs. */
export function fileDigestsOf(digests: readonly DigestOutput[]): Record<string, string> {
  return Object.fromEntries(digests.flatMap((d) => (d.kind === 'done' ? [[d.file, d.sha256]] : [])));
}

function activityRetry(polling: ShardedValidationInput['polling']): df.RetryOptions {
  const retry = new df.RetryOptions(polling.retryFirstSeconds * 1000, polling.retryAttempts);
  retry.backoffCoefficient = 2;
  retry.maxRetryIntervalInMilliseconds = 120_000;
  return retry;
}

/**
 * The orchestration: deterministic control flow only. Digests and shards start together; at most
 * `parallelism` shards run at once (a sliding window over Task.any). When the digests are in, the
 * run id is known: the run is recorded `validating` and progress events follow as shards finish.
 * The merge and the finish (report, run index, dataset.validated / dataset.rejected, trainingRun)
 * are one activity. Anything failing past its retries ends as a coded rejection, so the run is
 * never left `validating`; a data file replaced mid-read ends as `data_changed`.
 *
 * `runIdOf` is intake's validatedRunIdFor (passed in: intake.ts imports this module).
 */
export function createShardedValidationOrchestrator(
  runIdOf: (drop: { url: string; content: Buffer }, fileDigests: Record<string, string>) => string,
) {
  return function* validateDropSharded(context: df.OrchestrationContext): Generator<df.Task, unknown, unknown> {
    const input = shardedValidationInputSchema.parse(context.df.getInput());
    const retry = activityRetry(input.polling);
    const plans = planValidationShards(input);
    const fileOf = new Map(input.files.map((f) => [f.name, f]));
    const bytesTotal = input.files.reduce((n, f) => n + f.size, 0);
    const inlineLimit = Math.min(INLINE_RESULT_MAX, Math.floor(INLINE_RESULTS_BUDGET / plans.length));
    const drop = { url: input.drop.url, content: Buffer.from(input.drop.content, 'base64') };

    const digests: DigestOutput[] = [];
    const shards: ShardOutput[] = [];
    let runId: string | undefined;
    let bytesDone = 0;
    let lastStep = -1;
    let tracking = true;
    const finish = (outcome: FinishInput['outcome']) =>
      context.df.callActivityWithRetry(SHARD_ACTIVITIES.finishShardedValidation, retry, { input, outcome });

    try {
      // Only fresh tasks ever go into a compound (Task.any/all): the SDK puts every child's action
      // into a compound's action, so an already scheduled task in a new compound would be scheduled
      // again. New work is scheduled with Task.any([...new tasks, a timer due now]) — it resumes at
      // once — and shards are awaited one by one, oldest first (a task already scheduled can be
      // yielded on its own). Digests are looked at as shards finish and awaited at the end.
      const digestTasks = input.files.map((file) =>
        context.df.callActivityWithRetry(SHARD_ACTIVITIES.digestDataFile, retry, {
          validationId: input.validationId,
          file,
        }),
      );
      const window: df.Task[] = [];
      let next = 0;
      function* schedule(extra: df.Task[]): Generator<df.Task, void, unknown> {
        const fresh = [...extra];
        while (next < plans.length && window.length < input.parallelism) {
          const plan = plans[next++] as ShardPlan;
          const task: ShardTaskInput = {
            validationId: input.validationId,
            settings: input.settings,
            file: fileOf.get(plan.file) as ShardedFile,
            plan,
            inlineLimit,
          };
          const shardTask = context.df.callActivityWithRetry(SHARD_ACTIVITIES.validateShard, retry, task);
          window.push(shardTask);
          fresh.push(shardTask);
        }
        if (fresh.length === 0) return;
        const now = context.df.createTimer(context.df.currentUtcDateTime);
        const first = yield context.df.Task.any([...fresh, now]);
        if (first !== now) now.cancel();
      }
      const takeDigests = (): DigestOutput | undefined => {
        for (const t of digestTasks) {
          if (t.isFaulted) throw t.result;
          if (!t.isCompleted) continue;
          const digest = digestOutputSchema.parse(t.result);
          if (digest.kind === 'data_changed') return digest;
          if (!digests.some((d) => d.file === digest.file)) digests.push(digest);
        }
        return undefined;
      };
      yield* schedule(digestTasks);

      while (window.length > 0) {
        const oldest = window.shift() as df.Task;
        const shard = shardOutputSchema.parse(yield oldest);
        if (shard.kind === 'data_changed') return yield* changed(shard.file);
        shards.push(shard);
        bytesDone += shard.bytes;
        yield* schedule([]);
        const changedDigest = takeDigests();
        if (changedDigest) return yield* changed(changedDigest.file);
        if (!runId && digests.length === input.files.length) runId = runIdOf(drop, fileDigestsOf(digests));
        const step = progressStep(shards.length, plans.length);
        if (runId && tracking && step > lastStep && shards.length < plans.length) {
          lastStep = step;
          const progress: ProgressInput = {
            runId,
            validationId: input.validationId,
            team: input.team,
            dataset: input.dataset,
            model: input.settings.model,
            task: input.settings.task,
            manifestUrl: input.drop.url,
            shardsDone: shards.length,
            shardsTotal: plans.length,
            bytesDone,
            bytesTotal,
            time: context.df.currentUtcDateTime.toISOString(),
          };
          const answer = (yield context.df.callActivityWithRetry(
            SHARD_ACTIVITIES.recordValidationProgress,
            retry,
            progress,
          )) as { tracking?: boolean } | undefined;
          tracking = answer?.tracking !== false;
        }
      }
      for (const t of digestTasks) {
        if (!t.isCompleted && !t.isFaulted) yield t;
      }
      const changedDigest = takeDigests();
      if (changedDigest) return yield* changed(changedDigest.file);
      return yield finish({ kind: 'merged', digests, shards });
    } catch (err) {
      const message = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim().slice(0, 500);
      return yield finish({
        kind: 'failed',
        code: 'validation_failed',
        message: `Sharded validation failed after retries: ${message || 'unknown error'}. Upload run.json again to retry.`,
        ...(digests.length === input.files.length ? { digests } : {}),
      });
    }

    function* changed(file: string): Generator<df.Task, unknown, unknown> {
      return yield finish({
        kind: 'failed',
        code: 'data_changed',
        message: `${file} was replaced while it was being validated; the drop was not validated. A run.json uploaded after the new data starts its own validation.`,
        ...(digests.length === input.files.length ? { digests } : {}),
      });
    }
  };
}

// ---------------------------------------------------------------------------------------------
// The activities' work (all of the I/O).

export interface ShardedValidationDeps {
  drops: Pick<DropStore, 'openRange'>;
  shardResults: ShardResultStore;
  runIndex: RunStore;
  publisher: EventPublisher;
  /** The catalog as last refreshed from the provider. */
  catalog(): Promise<Catalog>;
  /** The Databricks workspace region (validator's region rule). */
  region?: string;
  azureOpenAI?: { region?: string; trainingType?: AzureOpenAITrainingType };
}

/** The validator's input for this drop (the same arguments the inline validator gets). */
async function validatorInput(
  deps: ShardedValidationDeps,
  settings: ShardedValidationInput['settings'],
  files: ShardedFile[],
): Promise<ValidateDatasetInput> {
  const onAzure = settings.provider === 'azure-openai';
  return {
    model: settings.model,
    task: settings.task,
    contextLength: settings.contextLength,
    provider: settings.provider,
    region: onAzure ? deps.azureOpenAI?.region : deps.region,
    trainingType: onAzure ? deps.azureOpenAI?.trainingType : undefined,
    trainingDuration: settings.trainingDuration,
    catalog: await deps.catalog(),
    files: files.map((f) => datasetFileOf(deps, f)),
  };
}

function datasetFileOf(deps: Pick<ShardedValidationDeps, 'drops'>, f: ShardedFile): DatasetFile {
  return {
    name: f.name,
    size: f.size,
    role: f.role,
    open: () => deps.drops.openRange(f.blobName, 0, { etag: f.etag }),
    openRange: (start) => deps.drops.openRange(f.blobName, start, { etag: f.etag }),
  };
}

function encodeShardResult(r: ShardResult): EncodedShardResult {
  const b64 = (values: number[]) => Buffer.from(Float64Array.from(values).buffer).toString('base64');
  return { ...r, issues: r.issues.map((g) => ({ ...g })), rowHashes: b64(r.rowHashes), rowLines: b64(r.rowLines) };
}

function decodeShardResult(e: EncodedShardResult): ShardResult {
  const numbers = (text: string) => {
    const bytes = Buffer.from(text, 'base64');
    return Array.from(new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8));
  };
  return {
    ...e,
    issues: e.issues as ShardResult['issues'],
    rowHashes: numbers(e.rowHashes),
    rowLines: numbers(e.rowLines),
  };
}

function resultName(validationId: string, plan: ShardPlan): string {
  return `${validationId}/${createHash('sha256').update(plan.file).digest('hex').slice(0, 16)}-${plan.index}.json`;
}

/** One shard: range reads of its lines (only the listed version of the file), validated; the result inline or by reference. */
export async function validateShardActivity(deps: ShardedValidationDeps, task: ShardTaskInput): Promise<ShardOutput> {
  try {
    const bytes = task.plan.end - task.plan.start;
    // Worker threads as the single pass picks them (2 for 8 MB or more); shards of one process take
    // turns on that process's warm pool of validation threads (datasets/engine.ts).
    const input = await validatorInput(deps, task.settings, [task.file]);
    const prepared = prepareValidation(input);
    const file = input.files[0] as DatasetFile;
    const result = encodeShardResult(await validateShard(prepared, file, task.plan));
    const body = JSON.stringify(result);
    const out = { kind: 'done' as const, file: task.plan.file, index: task.plan.index, bytes };
    if (Buffer.byteLength(body) <= task.inlineLimit) return { ...out, result };
    const ref = resultName(task.validationId, task.plan);
    await deps.shardResults.write(ref, Buffer.from(body));
    return { ...out, ref };
  } catch (err) {
    if (isDataChanged(err)) return { kind: 'data_changed', file: task.file.name };
    throw err;
  }
}

/** The file's sha256 (one sequential read of the listed version). */
export async function digestDataFileActivity(
  deps: Pick<ShardedValidationDeps, 'drops'>,
  task: z.infer<typeof digestTaskInputSchema>,
): Promise<DigestOutput> {
  try {
    const digest = await fileDigest(datasetFileOf(deps, task.file));
    return { kind: 'done', file: task.file.name, ...digest };
  } catch (err) {
    if (isDataChanged(err)) return { kind: 'data_changed', file: task.file.name };
    throw err;
  }
}

/** DatasetReadError wraps what the stream threw: look through it for the store's DataChangedError. */
function isDataChanged(err: unknown): boolean {
  if (err instanceof DataChangedError) return true;
  const message = err instanceof Error ? err.message : '';
  return /changed while it was being read/.test(message);
}

/**
 * Progress: the run is recorded `validating` (unless the index already has it past that, e.g. the
 * same bytes ran before), and a progress event is published. `tracking: false` when the run is
 * past validation: no more progress for it.
 */
export async function recordValidationProgressActivity(
  deps: Pick<ShardedValidationDeps, 'runIndex' | 'publisher'>,
  p: ProgressInput,
): Promise<{ tracking: boolean }> {
  const existing = await deps.runIndex.get(p.runId);
  if (existing && existing.status !== 'validating' && existing.status !== 'rejected') return { tracking: false };
  if (existing?.status !== 'validating') {
    await deps.runIndex.upsert({
      runId: p.runId,
      team: p.team,
      dataset: p.dataset,
      model: p.model,
      task: p.task,
      manifestUrl: p.manifestUrl,
      validationId: p.validationId,
      status: 'validating',
      reason: '',
      createdAt: existing?.createdAt ?? p.time,
      updatedAt: p.time,
    });
  }
  await deps.publisher.publish(
    createEvent('tunedrop.dataset.validation.progress', {
      subject: p.runId,
      team: p.team,
      model: p.model,
      time: p.time,
      data: {
        runId: p.runId,
        team: p.team,
        dataset: p.dataset,
        model: p.model,
        manifestUrl: p.manifestUrl,
        shardsDone: p.shardsDone,
        shardsTotal: p.shardsTotal,
        bytesDone: p.bytesDone,
        bytesTotal: p.bytesTotal,
      },
    }),
  );
  return { tracking: true };
}

/** The merged report of a sharded validation: exactly what the single pass gives (durationMs aside). */
export async function mergeShardOutputs(
  deps: ShardedValidationDeps,
  input: ShardedValidationInput,
  digests: readonly DigestOutput[],
  shards: readonly ShardOutput[],
): Promise<ValidationOutcome> {
  const prepared = prepareValidation(await validatorInput(deps, input.settings, input.files));
  const results: ShardResult[] = [];
  for (const s of shards) {
    if (s.kind !== 'done') throw new Error(`shard of ${s.file} did not finish`);
    let encoded = s.result;
    if (!encoded) {
      if (!s.ref) throw new Error(`shard ${s.index} of ${s.file} has neither a result nor a reference`);
      const body = await deps.shardResults.read(s.ref);
      if (!body) throw new Error(`shard result ${s.ref} is missing`);
      encoded = encodedShardResultSchema.parse(JSON.parse(body.toString('utf8')));
    }
    results.push(decodeShardResult(encoded));
  }
  const digestMap = new Map(
    digests.flatMap((d) => (d.kind === 'done' ? [[d.file, { sha256: d.sha256, bytes: d.bytes }] as const] : [])),
  );
  const report = mergeShards(prepared, digestMap, results);
  return {
    ok: report.ok,
    report: report as unknown as ValidationOutcome['report'],
    markdown: renderValidationMarkdown(report),
    fileDigests: Object.fromEntries((report.files ?? []).map((f) => [f.name, f.sha256 ?? ''])),
    errorSummary: summarizeProblems(report.errors).map((e) => ({ ...e, count: report.errorCounts[e.code] ?? e.count })),
  };
}
