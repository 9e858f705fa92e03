import { z } from 'zod';
import type { ProviderModelInfo } from '../catalog';
import { TASKS } from '../catalog/models';
import {
  CREATE_FINETUNE,
  GET_FINETUNE_CONSTANTS,
  GET_FINETUNE_EVENTS,
  GET_FINETUNES_PAGINATED,
  GRAPHQL_PATH,
  STOP_FINETUNES,
} from './graphql';
import { type DatabricksConnection, DatabricksHttp } from './http';
import {
  isProviderError,
  isTerminalStatus,
  ProviderError,
  parseProviderResponse,
  providerTaskType,
  type RunStatus,
  runLabelFor,
  type TrainingProvider,
  type TrainingRunEvent,
  type TrainingRunInfo,
  type TrainingRunRef,
  type TrainingRunSpec,
} from './provider';
import { UnityCatalogClient } from './unityCatalog';

export const DATABRICKS_PROVIDER = 'databricks';

/** Where the service writes checkpoints; the SDK always sends this template. */
const SAVE_FOLDER = 'dbfs:/databricks/mlflow-tracking/{mlflow_experiment_id}/{mlflow_run_id}/artifacts';

/** Databricks run status → our normalized status. Unknown words count as pending (not terminal). */
export const DATABRICKS_STATUS_MAP: Record<string, RunStatus> = {
  PENDING: 'pending',
  SCHEDULED: 'queued',
  QUEUED: 'queued',
  STARTING: 'running',
  RUNNING: 'running',
  TERMINATING: 'running',
  STOPPING: 'running',
  COMPLETED: 'completed',
  STOPPED: 'cancelled',
  FAILED_PULL: 'failed',
  FAILED: 'failed',
  UNKNOWN: 'pending',
};

export function normalizeDatabricksStatus(raw: string): RunStatus {
  return DATABRICKS_STATUS_MAP[raw.toUpperCase()] ?? 'pending';
}

export interface DatabricksProviderOptions extends DatabricksConnection {
  /** MLflow experiment folder used when a spec has none, e.g. `/Shared/tunedrop`. */
  experimentDir: string;
  /** How far back the idempotency lookup searches; default 14 days. */
  lookbackMs?: number;
}

const id = z.union([z.string(), z.number()]).transform(String);

const mlflowSchema = z.object({
  experimentPath: z.string().nullish(),
  modelRegistryPath: z.string().nullish(),
  mlflowExperimentId: id.nullish(),
  mlflowRunId: id.nullish(),
});

const eventSchema = z.object({ eventType: z.string(), eventTime: z.string(), eventMessage: z.string().nullish() });

const finetuneSchema = z.object({
  id: id,
  name: z.string(),
  status: z.string(),
  createdAt: z.string().nullish(),
  updatedAt: z.string().nullish(),
  startedAt: z.string().nullish(),
  completedAt: z.string().nullish(),
  estimatedEndTime: z.string().nullish(),
  reason: z.string().nullish(),
  details: z
    .object({
      model: z.string().nullish(),
      taskType: z.string().nullish(),
      experimentTracker: z.object({ mlflow: mlflowSchema.nullish() }).nullish(),
    })
    .nullish(),
});
type Finetune = z.infer<typeof finetuneSchema>;

const pageSchema = z.object({
  cursor: z.string().nullish(),
  hasNextPage: z.boolean().nullish(),
  finetunes: z.array(finetuneSchema),
});

const graphqlResponseSchema = z.object({
  data: z.record(z.string(), z.unknown()).nullish(),
  errors: z
    .array(
      z.object({ message: z.string().optional(), extensions: z.object({ code: z.string().optional() }).nullish() }),
    )
    .nullish(),
});

const specSchema = z.object({
  model: z.string().min(1),
  task: z.enum(TASKS),
  trainDataPath: z.string().min(1),
  evalDataPath: z.string().min(1).optional(),
  registerTo: z.string().regex(/^[^.\s]+\.[^.\s]+(\.[^.\s]+)?$/, 'expected catalog.schema or catalog.schema.model'),
  trainingDuration: z
    .string()
    .regex(/^\d[\d_]*(ep|tok|ba)$/, 'expected a duration like 3ep, 10000tok or 500ba')
    .optional(),
  learningRate: z.number().positive().optional(),
  contextLength: z.number().int().positive().optional(),
  customWeightsPath: z.string().min(1).optional(),
  dataPrepClusterId: z.string().min(1).optional(),
  experimentPath: z.string().startsWith('/').optional(),
});

/**
 * TrainingProvider over the Databricks Foundation Model Fine-tuning GraphQL API.
 *
 * Idempotency: the service names runs itself and its create input has no name or client token,
 * so the key is carried in the one free-form field the service keeps, the MLflow experiment path
 * (`<experimentDir>/<label from key>`). `create` first looks for a recent run with that experiment
 * path, and after a failed or lost create response looks again before trying anew.
 */
export class DatabricksTrainingProvider implements TrainingProvider {
  readonly http: DatabricksHttp;
  readonly unityCatalog: UnityCatalogClient;
  private readonly now: () => number;

  constructor(private readonly options: DatabricksProviderOptions) {
    this.http = new DatabricksHttp(options);
    this.unityCatalog = new UnityCatalogClient(this.http, { sleep: options.sleep, now: options.now });
    this.now = options.now ?? Date.now;
  }

  /** The MLflow experiment path that identifies the run of this key. */
  experimentPathFor(spec: Pick<TrainingRunSpec, 'experimentPath'>, idempotencyKey: string): string {
    const dir = (spec.experimentPath ?? this.options.experimentDir).replace(/\/+$/, '');
    return `${dir}/${runLabelFor(idempotencyKey)}`;
  }

  async create(spec: TrainingRunSpec, idempotencyKey: string): Promise<TrainingRunRef> {
    const parsed = specSchema.safeParse(spec);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ProviderError('bad_request', `invalid training spec: ${issue?.path.join('.')}: ${issue?.message}`);
    }
    if (!idempotencyKey.trim()) throw new ProviderError('bad_request', 'an idempotency key is required');
    const experimentPath = this.experimentPathFor(spec, idempotencyKey);
    for (let attempt = 1; ; attempt++) {
      const existing = await this.findByExperimentPath(experimentPath);
      if (existing) return this.ref(existing.name);
      try {
        // Not retried inside the transport: after a lost response we must look before re-creating.
        const data = await this.graphql(
          'createFinetune',
          CREATE_FINETUNE,
          {
            createFinetuneData: { config: this.createConfig(spec, experimentPath) },
          },
          false,
        );
        return this.ref(parseProviderResponse(finetuneSchema, data, 'createFinetune').name);
      } catch (e) {
        await this.http.retryBudget.retryOrThrow(e, attempt);
      }
    }
  }

  async get(ref: TrainingRunRef): Promise<TrainingRunInfo> {
    const run = await this.getRun(ref);
    return this.toInfo(run);
  }

  async events(ref: TrainingRunRef): Promise<TrainingRunEvent[]> {
    const data = await this.graphql('getFinetuneEvents', GET_FINETUNE_EVENTS, {
      getFinetuneEventsData: { name: ref.name },
    });
    const events = parseProviderResponse(z.array(eventSchema), data, 'getFinetuneEvents');
    return events
      .map((e) => ({ type: e.eventType, time: e.eventTime, message: e.eventMessage ?? '' }))
      .sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
  }

  async cancel(ref: TrainingRunRef): Promise<void> {
    const before = await this.getRun(ref);
    if (isTerminalStatus(normalizeDatabricksStatus(before.status))) throw alreadyFinished(ref, before.status);
    let stopped: unknown;
    try {
      stopped = await this.graphql('stopFinetunes', STOP_FINETUNES, {
        getFinetunesData: { filters: { name: { in: [ref.name] } } },
      });
    } catch (e) {
      // The service refuses to stop a run that finished in the meantime; say so precisely.
      if (isProviderError(e) && (e.code === 'graphql_error' || e.code === 'bad_request')) {
        const after = await this.getRun(ref);
        if (isTerminalStatus(normalizeDatabricksStatus(after.status))) throw alreadyFinished(ref, after.status);
      }
      throw e;
    }
    if (parseProviderResponse(z.array(z.object({ name: z.string() })), stopped, 'stopFinetunes').length === 0) {
      throw new ProviderError('not_found', `training run ${ref.name} not found`, { operation: 'stopFinetunes' });
    }
  }

  async listModels(): Promise<ProviderModelInfo[]> {
    const data = await this.graphql('getFinetuneConstants', GET_FINETUNE_CONSTANTS, {});
    const constants = parseProviderResponse(
      z.object({ models: z.array(z.object({ name: z.string(), maxContextLength: z.number().int().positive() })) }),
      data,
      'getFinetuneConstants',
    );
    return constants.models.map((m) => ({ name: m.name, maxContextLength: m.maxContextLength }));
  }

  private ref(name: string): TrainingRunRef {
    return { provider: DATABRICKS_PROVIDER, name };
  }

  private createConfig(spec: TrainingRunSpec, experimentPath: string): Record<string, unknown> {
    const config: Record<string, unknown> = {
      model: spec.model,
      taskType: providerTaskType(spec.task),
      trainDataPath: spec.trainDataPath,
      saveFolder: SAVE_FOLDER,
      evalDataPath: spec.evalDataPath,
      trainingDuration: spec.trainingDuration,
      learningRate: spec.learningRate,
      contextLength: spec.contextLength,
      customWeightsPath: spec.customWeightsPath,
      // As the SDK sends data_prep_cluster_id: an object the service checks for `clusterId`.
      dataPrepConfig: spec.dataPrepClusterId ? { clusterId: spec.dataPrepClusterId } : undefined,
      experimentTracker: {
        mlflow: { experimentPath, modelRegistryPath: spec.registerTo, createExperimentAndRun: true },
      },
    };
    // Like the SDK: absent options are omitted, not sent as null.
    for (const k of Object.keys(config)) if (config[k] === undefined) delete config[k];
    return config;
  }

  private async getRun(ref: TrainingRunRef): Promise<Finetune> {
    const page = await this.listPage({ name: { in: [ref.name] } });
    const run = page.finetunes.find((f) => f.name === ref.name);
    if (!run)
      throw new ProviderError('not_found', `training run ${ref.name} not found`, {
        operation: 'getFinetunesPaginated',
      });
    return run;
  }

  private async findByExperimentPath(experimentPath: string): Promise<Finetune | undefined> {
    const since = new Date(this.now() - (this.options.lookbackMs ?? 14 * 86_400_000)).toISOString();
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const result = await this.listPage({ createdAt: { gte: since } }, cursor);
      const match = result.finetunes.find(
        (f) => f.details?.experimentTracker?.mlflow?.experimentPath === experimentPath,
      );
      if (match) return match;
      if (!result.hasNextPage || !result.cursor) return undefined;
      cursor = result.cursor;
    }
    return undefined;
  }

  private async listPage(filters: Record<string, unknown>, cursor?: string): Promise<z.infer<typeof pageSchema>> {
    const data = await this.graphql('getFinetunesPaginated', GET_FINETUNES_PAGINATED, {
      getFinetunesPaginatedData: { filters, includeDeleted: false, limit: 100, ...(cursor ? { cursor } : {}) },
    });
    return parseProviderResponse(pageSchema, data, 'getFinetunesPaginated');
  }

  private async toInfo(run: Finetune): Promise<TrainingRunInfo> {
    const status = normalizeDatabricksStatus(run.status);
    const mlflow = run.details?.experimentTracker?.mlflow ?? undefined;
    const info: TrainingRunInfo = {
      ref: this.ref(run.name),
      status,
      rawStatus: run.status,
      createdAt: run.createdAt ?? undefined,
      startedAt: run.startedAt ?? undefined,
      completedAt: run.completedAt ?? undefined,
      updatedAt: run.updatedAt ?? undefined,
      estimatedEndTime: run.estimatedEndTime ?? undefined,
      reason: run.reason || undefined,
    };
    if (mlflow) {
      info.mlflow = {
        experimentId: mlflow.mlflowExperimentId ?? undefined,
        runId: mlflow.mlflowRunId ?? undefined,
        experimentPath: mlflow.experimentPath ?? undefined,
      };
      const registerTo = mlflow.modelRegistryPath;
      if (registerTo) {
        // `catalog.schema` registers a model named after the run.
        const name = registerTo.split('.').length === 2 ? `${registerTo}.${run.name}` : registerTo;
        info.registeredModel = { name };
        if (status === 'completed' && mlflow.mlflowRunId) {
          const version = await this.unityCatalog.findVersionByRunId(name, mlflow.mlflowRunId).catch((e: unknown) => {
            if (isProviderError(e, 'not_found')) return undefined;
            throw e;
          });
          if (version) info.registeredModel.version = version.version;
        }
      }
    }
    return info;
  }

  private async graphql(
    operation: string,
    query: string,
    variables: Record<string, unknown>,
    retry = true,
  ): Promise<unknown> {
    const res = await this.http.request({
      method: 'POST',
      path: GRAPHQL_PATH,
      json: { query, variables },
      operation,
      retry,
    });
    const body = parseProviderResponse(graphqlResponseSchema, DatabricksHttp.json(res, operation), operation);
    const first = body.errors?.[0];
    if (first) {
      throw new ProviderError('graphql_error', `${operation}: ${first.message ?? 'GraphQL error'}`.slice(0, 600), {
        status: res.status,
        operation,
        providerCode: first.extensions?.code,
      });
    }
    if (!body.data || !(operation in body.data)) {
      throw new ProviderError('invalid_response', `${operation}: the response has no data.${operation}`, { operation });
    }
    return body.data[operation];
  }
}

function alreadyFinished(ref: TrainingRunRef, rawStatus: string): ProviderError {
  return new ProviderError('already_finished', `training run ${ref.name} already finished (${rawStatus})`, {
    operation: 'stopFinetunes',
    providerCode: rawStatus,
  });
}
