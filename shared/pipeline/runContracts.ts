import { z } from 'zod';
import { TASKS, TRAINING_PROVIDERS } from '../catalog';

/** Names of the trainingRun orchestration and its activities (functions/ registers them under these names). */
export const TRAINING_RUN_ORCHESTRATION = 'trainingRun';
export const ACTIVITIES = {
  stageTrainingData: 'stageTrainingData',
  submitTrainingRun: 'submitTrainingRun',
  getTrainingRunStatus: 'getTrainingRunStatus',
  cancelTrainingRun: 'cancelTrainingRun',
  recordRunEvent: 'recordRunEvent',
} as const;
export const CANCEL_EVENT = 'cancel';

/** The event that announces each way a run ends (timed_out has its own path: the deadline). */
export const TERMINAL_EVENT = {
  completed: 'tunedrop.run.completed',
  failed: 'tunedrop.run.failed',
  cancelled: 'tunedrop.run.cancelled',
} as const;

export const PROVIDER_STATUSES = ['pending', 'queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export const TERMINAL_PROVIDER_STATUSES = ['completed', 'failed', 'cancelled'] as const;

/** What the orchestration starts with; built by intake once the data validated. */
export const trainingRunInputSchema = z.object({
  runId: z.string().min(1),
  team: z.string().min(1),
  dataset: z.string().min(1),
  model: z.string().min(1),
  task: z.enum(TASKS),
  manifestUrl: z.string(),
  reportUrl: z.string(),
  registerTo: z.string(),
  /** Blob names in the datasets container (train may be a folder for continued pretraining). */
  trainBlob: z.string(),
  evalBlob: z.string().optional(),
  /**
   * Data already in Databricks, passed to the service as it is (no staging): `dbfs:/Volumes/…`
   * or a Delta table `catalog.schema.table` (issue 14). When set, trainBlob is empty.
   */
  trainDataPath: z.string().optional(),
  evalDataPath: z.string().optional(),
  /** The data-prep cluster the service reads a Delta table with. */
  dataPrepClusterId: z.string().optional(),
  datasetSha256: z.string(),
  trainingDuration: z.string().optional(),
  learningRate: z.number().optional(),
  contextLength: z.number().int().optional(),
  customWeightsPath: z.string().optional(),
  /** The training provider (team configuration or manifest); runs started before the second provider have none. */
  provider: z.enum(TRAINING_PROVIDERS).default('databricks'),
  /** Azure OpenAI hyperparameters. */
  batchSize: z.number().int().optional(),
  learningRateMultiplier: z.number().optional(),
  seed: z.number().int().optional(),
  suffix: z.string().optional(),
  polling: z.object({
    initialSeconds: z.number().positive(),
    maxSeconds: z.number().positive(),
    /** How the engine retries a failing activity (first delay, doubling to 120 s; attempts) before the run fails. */
    retryFirstSeconds: z.number().positive().optional(),
    retryAttempts: z.number().int().positive().optional(),
  }),
  /** Give up (cancel, run.timed_out) after this many hours from submission. */
  deadlineHours: z.number().positive(),
});
export type TrainingRunInput = z.infer<typeof trainingRunInputSchema>;

export const stagedDataSchema = z.object({
  trainDataPath: z.string(),
  evalDataPath: z.string().optional(),
  /** The provider refused the data (Azure OpenAI file status `error`): the run fails with this reason. */
  rejected: z.string().optional(),
});
export type StagedData = z.infer<typeof stagedDataSchema>;

/** The provider's view of a run, as activities return it to the orchestrator. */
export const runStateSchema = z.object({
  providerRunName: z.string(),
  status: z.enum(PROVIDER_STATUSES),
  rawStatus: z.string(),
  reason: z.string().optional(),
  registeredModel: z.string().optional(),
  registeredVersion: z.string().optional(),
  mlflowExperimentId: z.string().optional(),
  mlflowRunId: z.string().optional(),
});
export type RunState = z.infer<typeof runStateSchema>;

export const submitInputSchema = trainingRunInputSchema.extend({ staged: stagedDataSchema });
export type SubmitInput = z.infer<typeof submitInputSchema>;

export const runRefInputSchema = z.object({
  runId: z.string(),
  providerRunName: z.string(),
  provider: z.enum(TRAINING_PROVIDERS).optional(),
});
export type RunRefInput = z.infer<typeof runRefInputSchema>;

export const cancelResultSchema = z.object({ alreadyFinished: z.boolean() });

/** One announcement: update the run index and publish the event (both idempotent). */
export const recordRunEventInputSchema = z.object({
  type: z.enum([
    'tunedrop.run.submitted',
    'tunedrop.run.status_changed',
    'tunedrop.run.completed',
    'tunedrop.run.failed',
    'tunedrop.run.cancelled',
    'tunedrop.run.timed_out',
  ]),
  /** Distinguishes facts of the same type for the deterministic event id (e.g. the change's sequence number). */
  factKey: z.string(),
  /** Orchestration time of the fact (deterministic). */
  time: z.string(),
  run: trainingRunInputSchema.pick({
    runId: true,
    team: true,
    dataset: true,
    model: true,
    task: true,
    manifestUrl: true,
    reportUrl: true,
    registerTo: true,
  }),
  state: runStateSchema.optional(),
  previousStatus: z.enum(PROVIDER_STATUSES).optional(),
  status: z.enum([...PROVIDER_STATUSES, 'timed_out']),
});
export type RecordRunEventInput = z.infer<typeof recordRunEventInputSchema>;
