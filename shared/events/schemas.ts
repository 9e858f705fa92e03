import { z } from 'zod';
import { RUN_STATUSES } from '../runStatus';
import type { EventType } from './types';

/**
 * The `data` of each event type. Written as plain shapes so producers can validate strictly
 * (an unknown key is a typo or a field that belongs here first) and consumers loosely (an older
 * consumer keeps accepting events that gained a field). Add fields as optional; never rename.
 */

const isoTime = z.iso.datetime({ offset: true });
const url = z.url();
const nonEmpty = z.string().min(1);
const runStatus = z.enum(RUN_STATUSES);

const reportUrls = z.strictObject({
  json: url,
  markdown: url,
});

const problem = z.strictObject({
  code: nonEmpty,
  message: z.string(),
  line: z.number().int().positive().optional(),
});

const datasetBase = {
  runId: nonEmpty,
  team: nonEmpty,
  dataset: nonEmpty,
  /** The blob URL of the manifest (`datasets/{team}/{dataset}/run.json`), never with a SAS token. */
  manifestUrl: url,
  manifestEtag: nonEmpty.optional(),
  reports: reportUrls,
};

const datasetValidatedShape = {
  ...datasetBase,
  model: nonEmpty,
  task: z.enum(['chat', 'instruction', 'continued_pretraining']),
  rows: z.number().int().nonnegative().optional(),
  tokens: z.number().int().nonnegative().optional(),
  estimatedBillableTokens: z.number().int().nonnegative().optional(),
  warningCounts: z.record(z.string(), z.number().int().nonnegative()).optional(),
};

const datasetRejectedShape = {
  ...datasetBase,
  /** Absent when the manifest was too malformed to name one. */
  model: nonEmpty.optional(),
  task: z.string().optional(),
  errorSummary: z.strictObject({
    errorCounts: z.record(z.string(), z.number().int().nonnegative()),
    /** The first few problems, for a human-readable notification. */
    firstErrors: z.array(problem).max(20),
  }),
};

const runBase = {
  runId: nonEmpty,
  team: nonEmpty,
  dataset: nonEmpty,
  model: nonEmpty,
  /** The training provider's name for the run (Databricks: the fine-tuning run name). */
  providerRunName: nonEmpty.optional(),
  status: runStatus,
  /** The provider's own status string, for humans; `status` is the normalised one. */
  rawStatus: z.string().optional(),
  submittedAt: isoTime.optional(),
  startedAt: isoTime.optional(),
  endedAt: isoTime.optional(),
};

const runSubmittedShape = { ...runBase, providerRunName: nonEmpty, submittedAt: isoTime };

const runStatusChangedShape = {
  ...runBase,
  previousStatus: runStatus,
  /** 1 for the first change the orchestration observed, 2 for the next…: part of the event id. */
  sequence: z.number().int().positive(),
};

const runCompletedShape = {
  ...runBase,
  /** Unity Catalog full name (`catalog.schema.model`) the provider registered, when it did. */
  registeredModel: nonEmpty.optional(),
  registeredVersion: nonEmpty.optional(),
  mlflowExperimentId: nonEmpty.optional(),
  mlflowRunId: nonEmpty.optional(),
};

const runFailedShape = { ...runBase, reason: nonEmpty };
const runCancelledShape = { ...runBase, reason: z.string().optional() };
const runTimedOutShape = { ...runBase, reason: z.string().optional(), deadline: isoTime };

const modelRegisteredShape = {
  runId: nonEmpty,
  team: nonEmpty,
  dataset: nonEmpty,
  /** The base model the run fine-tuned. */
  model: nonEmpty,
  /** Databricks: Unity Catalog `catalog.schema.model`. Azure OpenAI: the fine-tuned model id `<base>.ft-<job>[-<suffix>]`. */
  modelFullName: z.union([
    z.string().regex(/^[^.\s]+\.[^.\s]+\.[^.\s]+$/, 'catalog.schema.model'),
    z.string().regex(/^[A-Za-z0-9.-]+\.ft-[A-Za-z0-9_-]+$/, '<base model>.ft-<job id>[-<suffix>]'),
  ]),
  version: nonEmpty,
  alias: nonEmpty.optional(),
  /** Which training provider trained it; absent means Databricks (events from before the second provider). */
  provider: z.enum(['databricks', 'azure-openai']).optional(),
  /** Azure OpenAI: the deployment created for it, when the team configuration asks for one. */
  deployment: z
    .strictObject({
      name: nonEmpty,
      sku: nonEmpty,
      capacity: z.number().int().positive(),
      provisioningState: nonEmpty,
    })
    .optional(),
  lineage: z.strictObject({
    manifestUrl: url,
    providerRunName: nonEmpty.optional(),
    mlflowExperimentId: nonEmpty.optional(),
    mlflowRunId: nonEmpty.optional(),
  }),
};

/**
 * The provider's model list changed at a catalog refresh. Published once per configured team
 * (subject `catalog`, team = the team) so channels and webhooks filter as usual;
 * `allowedModelsRemoved` names the removed models the team's configuration allowed.
 */
const catalogChangedShape = {
  provider: nonEmpty,
  refreshedAt: isoTime,
  /** The refresh before this one; absent when the previous list was the seed table. */
  previousRefreshedAt: isoTime.optional(),
  added: z.array(nonEmpty),
  removed: z.array(nonEmpty),
  contextLengthChanged: z.array(
    z.strictObject({
      model: nonEmpty,
      from: z.number().int().positive(),
      to: z.number().int().positive(),
    }),
  ),
  allowedModelsRemoved: z.array(nonEmpty),
};

/**
 * A sharded validation's progress (issue 16): cumulative, published as shards finish (at most
 * about 20 per run). Before the data's digests are known the run id is not, so the first one comes
 * when they are.
 */
const datasetValidationProgressShape = {
  runId: nonEmpty,
  team: nonEmpty,
  dataset: nonEmpty,
  model: nonEmpty,
  manifestUrl: url,
  shardsDone: z.number().int().nonnegative(),
  shardsTotal: z.number().int().positive(),
  bytesDone: z.number().int().nonnegative(),
  bytesTotal: z.number().int().nonnegative(),
};

const SHAPES = {
  'tunedrop.dataset.validated': datasetValidatedShape,
  'tunedrop.dataset.rejected': datasetRejectedShape,
  'tunedrop.run.submitted': runSubmittedShape,
  'tunedrop.run.status_changed': runStatusChangedShape,
  'tunedrop.run.completed': runCompletedShape,
  'tunedrop.run.failed': runFailedShape,
  'tunedrop.run.cancelled': runCancelledShape,
  'tunedrop.run.timed_out': runTimedOutShape,
  'tunedrop.model.registered': modelRegisteredShape,
  'tunedrop.catalog.changed': catalogChangedShape,
  'tunedrop.dataset.validation.progress': datasetValidationProgressShape,
} as const satisfies Record<EventType, z.ZodRawShape>;

type Shapes = typeof SHAPES;

/** Strict: what a producer may put in `data` (unknown keys rejected). */
export const EVENT_DATA_SCHEMAS = Object.fromEntries(
  Object.entries(SHAPES).map(([type, shape]) => [type, z.strictObject(shape)]),
) as { [T in EventType]: z.ZodObject<Shapes[T], z.core.$strict> };

/** Loose: what a consumer accepts (unknown keys kept, so producers can add fields first). */
export const EVENT_DATA_SCHEMAS_LOOSE = Object.fromEntries(
  Object.entries(SHAPES).map(([type, shape]) => [type, z.looseObject(shape)]),
) as { [T in EventType]: z.ZodObject<Shapes[T], z.core.$loose> };

export type EventData<T extends EventType> = z.infer<(typeof EVENT_DATA_SCHEMAS)[T]>;
/** What createEvent accepts for `data` (optional fields may be omitted). */
export type EventDataInput<T extends EventType> = z.input<(typeof EVENT_DATA_SCHEMAS)[T]>;
