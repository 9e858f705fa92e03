import {
  buildSchema,
  type DocumentNode,
  type ExecutionResult,
  execute,
  type GraphQLError,
  getOperationAST,
  parse,
  validate,
} from 'graphql';
import { z } from 'zod';
import { iso } from './http';
import { type EmulatorModel, type EmulatorRun, type EmulatorState, finetuneConfigSchema, viewRun } from './state';

/**
 * The Foundation Model Fine-tuning GraphQL API, executed by graphql-js (the reference
 * implementation) over the part of the service's schema the SDK uses: arguments are bound by the
 * argument's name whatever the variable is called, only the selected fields are returned, and
 * object fields come back as the service shapes them (`dataPrepConfig` and `experimentTracker` are
 * JSON objects, `{}` when unset: the SDK does `'clusterId' in dataPrepConfig`).
 * The SDK's input objects are declared with the fields it sends; their values are checked further
 * by zod in the resolvers, with the service's messages.
 */

export const SCHEMA_SDL = /* GraphQL */ `
  scalar JSON

  type Query {
    getFinetunesPaginated(getFinetunesPaginatedData: GetFinetunesPaginatedInput!): FinetunesPage!
    getFinetuneEvents(getFinetuneEventsData: GetFinetuneEventsInput!): [FinetuneEvent!]!
    getFinetuneConstants: FinetuneConstants!
  }

  type Mutation {
    createFinetune(createFinetuneData: CreateFinetuneInput!): Finetune!
    stopFinetunes(getFinetunesData: GetFinetunesInput!, stopFinetunesData: StopFinetunesInput): [Finetune!]!
  }

  input CreateFinetuneInput {
    config: JSON!
  }
  input GetFinetunesPaginatedInput {
    filters: JSON
    includeDeleted: Boolean
    limit: Int
    cursor: String
    entity: JSON
  }
  input GetFinetunesInput {
    filters: JSON!
    includeDeleted: Boolean
    entity: JSON
  }
  input StopFinetunesInput {
    reason: String
  }
  input GetFinetuneEventsInput {
    name: String!
  }

  type FinetunesPage {
    cursor: String
    hasNextPage: Boolean!
    finetunes: [Finetune!]!
  }

  type Finetune {
    id: String!
    name: String!
    status: String!
    createdById: String
    createdByEmail: String
    createdAt: String
    updatedAt: String
    startedAt: String
    completedAt: String
    estimatedEndTime: String
    reason: String
    isDeleted: Boolean
    details: FinetuneDetails
  }

  type FinetuneDetails {
    model: String
    taskType: String
    trainDataPath: String
    saveFolder: String
    evalDataPath: String
    evalPrompts: [String!]
    trainingDuration: String
    learningRate: Float
    contextLength: Int
    dataPrepConfig: JSON
    experimentTracker: JSON
    customWeightsPath: String
    formattedFinetuningEvents: [FinetuneEvent!]
  }

  type FinetuneEvent {
    eventType: String!
    eventTime: String!
    eventMessage: String
  }

  type FinetuneConstants {
    models: [FinetuneModel!]!
  }

  type FinetuneModel {
    name: String!
    displayName: String
    maxContextLength: Int
  }
`;

export interface GraphqlContext {
  state: EmulatorState;
  models: EmulatorModel[];
  userEmail: string;
  dataMustExist?: boolean;
}

/** A resolver's refusal: the service's message and code, and the HTTP status it answers with. */
class ServiceError extends Error {
  constructor(
    message: string,
    readonly code = 'BAD_USER_INPUT',
    readonly httpStatus = 200,
  ) {
    super(message);
  }
}

/** A parsed request: the document and the root field it selects (what faults and counters key on). */
export interface PreparedGraphql {
  document: DocumentNode;
  operationName?: string;
  rootField: string;
}

export interface GraphqlResponse {
  status: number;
  body: { data?: unknown; errors?: unknown[] };
}

const schema = buildSchema(SCHEMA_SDL);

const nameFilter = z.object({ in: z.array(z.string()) }).optional();
const filtersSchema = z.object({
  name: nameFilter,
  status: nameFilter,
  createdAt: z.object({ gte: z.string().optional(), lt: z.string().optional() }).optional(),
  mlflowExperimentId: z.object({ equals: z.string() }).optional(),
});
const paginatedInput = z.object({
  filters: filtersSchema.nullish(),
  includeDeleted: z.boolean().nullish(),
  limit: z.number().int().positive().max(1000).nullish(),
  cursor: z.string().nullish(),
  entity: z.unknown().optional(),
});

/** Parse the request body's document; a document that does not parse is the service's 400. */
export function prepareGraphql(body: unknown): PreparedGraphql | GraphqlResponse {
  const { query, operationName } = (body ?? {}) as { query?: unknown; operationName?: unknown };
  const parseFailed = (message: string): GraphqlResponse => ({
    status: 400,
    body: { errors: [{ message, extensions: { code: 'GRAPHQL_PARSE_FAILED' } }] },
  });
  if (typeof query !== 'string') return parseFailed('Could not parse the GraphQL document: no query.');
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch (e) {
    return parseFailed(`Could not parse the GraphQL document: ${(e as Error).message}`);
  }
  const name = typeof operationName === 'string' ? operationName : undefined;
  const operation = getOperationAST(document, name);
  const first = operation?.selectionSet.selections[0];
  if (!operation || first?.kind !== 'Field') {
    return parseFailed('Could not parse the GraphQL document: expected one operation selecting a field.');
  }
  return { document, operationName: name, rootField: first.name.value };
}

/** Validate and execute a prepared document against the emulator's schema and state. */
export function executeGraphql(
  ctx: GraphqlContext,
  prepared: PreparedGraphql,
  variables: Record<string, unknown> | undefined,
): GraphqlResponse {
  const invalid = validate(schema, prepared.document);
  if (invalid.length)
    return { status: 400, body: { errors: invalid.map((e) => formatError(e, 'GRAPHQL_VALIDATION_FAILED')) } };
  const result = execute({
    schema,
    document: prepared.document,
    operationName: prepared.operationName,
    variableValues: variables ?? {},
    rootValue: rootResolvers(ctx),
  }) as ExecutionResult;
  if (!result.errors?.length) return { status: 200, body: { data: result.data } };
  // Variables that do not coerce never reach a resolver: no data at all, a 400 like the service.
  if (!('data' in result) || result.data === undefined) {
    return {
      status: 400,
      body: { errors: result.errors.map((e) => formatError(e, 'GRAPHQL_VALIDATION_FAILED')) },
    };
  }
  const status = Math.max(
    200,
    ...result.errors.map((e) => (e.originalError instanceof ServiceError ? e.originalError.httpStatus : 200)),
  );
  return { status, body: { data: result.data, errors: result.errors.map((e) => formatError(e)) } };
}

function formatError(error: GraphQLError, fallbackCode = 'INTERNAL_SERVER_ERROR') {
  const original = error.originalError;
  const code = original instanceof ServiceError ? original.code : fallbackCode;
  return {
    message: error.message,
    ...(error.locations ? { locations: error.locations } : {}),
    ...(error.path ? { path: error.path } : {}),
    extensions: { code },
  };
}

/** A variable's invalid value, worded like graphql-js's own coercion errors. */
function invalidInput(argument: string, issue: z.core.$ZodIssue | undefined): ServiceError {
  return new ServiceError(
    `Variable "$${argument}" got invalid value at ${issue?.path.join('.')}: ${issue?.message}`,
    'GRAPHQL_VALIDATION_FAILED',
    400,
  );
}

type Args = Record<string, unknown>;

function rootResolvers(ctx: GraphqlContext): Record<string, (args: Args) => unknown> {
  const { state, models } = ctx;
  return {
    createFinetune(args) {
      const parsed = z.object({ config: finetuneConfigSchema }).safeParse(args.createFinetuneData);
      if (!parsed.success) throw invalidInput('createFinetuneData', parsed.error.issues[0]);
      const config = parsed.data.config;
      if (!models.some((m) => m.name.toLowerCase() === config.model.toLowerCase()))
        throw new ServiceError(`Model ${config.model} is not supported for fine-tuning.`);
      const clusterId = (config.dataPrepConfig as { clusterId?: unknown } | undefined)?.clusterId;
      const isTable = /^[A-Za-z_][\w-]*\.[A-Za-z_][\w-]*\.[A-Za-z_][\w-]*$/.test(config.trainDataPath);
      if (isTable) {
        // A Delta table is read on the data-prep cluster the run names (issue 14).
        if (typeof clusterId !== 'string')
          throw new ServiceError(`Training from Delta table ${config.trainDataPath} needs dataPrepConfig.clusterId.`);
        if (!state.dataSources.tables.has(config.trainDataPath.toLowerCase()))
          throw new ServiceError(`Table ${config.trainDataPath} does not exist or is not readable.`);
        if (!state.dataSources.clusters.has(clusterId)) throw new ServiceError(`Cluster ${clusterId} does not exist.`);
      } else if (!/^(dbfs:)?\/Volumes\/[^/]+\/[^/]+\/[^/]+\/.+/.test(config.trainDataPath)) {
        throw new ServiceError(
          `trainDataPath must be a Unity Catalog volume path (dbfs:/Volumes/<catalog>/<schema>/<volume>/...), got ${config.trainDataPath}.`,
        );
      }
      if (config.trainingDuration && !/^\d[\d_]*(ep|tok|ba)$/.test(config.trainingDuration))
        throw new ServiceError(`Invalid trainingDuration ${config.trainingDuration}.`);
      const registry = config.experimentTracker?.mlflow.modelRegistryPath;
      if (!registry || !/^[^.]+\.[^.]+(\.[^.]+)?$/.test(registry))
        throw new ServiceError('modelRegistryPath must be catalog.schema or catalog.schema.model.');
      const run = state.createRun(config);
      if (ctx.dataMustExist) {
        const missing = isTable
          ? undefined
          : [config.trainDataPath, config.evalDataPath].find((p) => p && !volumeHas(state, p));
        if (missing)
          run.failure ??= { status: 'FAILED', reason: `Data path ${missing} does not exist or is not readable.` };
      }
      state.changed();
      return runJson(ctx, run);
    },
    getFinetunesPaginated(args) {
      const parsed = paginatedInput.safeParse(args.getFinetunesPaginatedData);
      if (!parsed.success) throw invalidInput('getFinetunesPaginatedData', parsed.error.issues[0]);
      const { limit, cursor } = parsed.data;
      const filters = parsed.data.filters ?? {};
      const now = state.now();
      const gte = filters.createdAt?.gte ? Date.parse(filters.createdAt.gte) : undefined;
      const lt = filters.createdAt?.lt ? Date.parse(filters.createdAt.lt) : undefined;
      const all = [...state.runs.values()]
        .filter((r) => r.createdAtMs <= now)
        .filter((r) => !filters.name || filters.name.in.includes(r.name))
        .filter((r) => !filters.status || filters.status.in.includes(viewRun(r, now).status))
        .filter((r) => !filters.mlflowExperimentId || filters.mlflowExperimentId.equals === r.mlflowExperimentId)
        .filter((r) => (gte === undefined || r.createdAtMs >= gte) && (lt === undefined || r.createdAtMs < lt))
        .sort((a, b) => b.createdAtMs - a.createdAtMs || b.id.localeCompare(a.id));
      const offset = cursor ? Number(Buffer.from(cursor, 'base64url').toString()) || 0 : 0;
      const size = limit ?? 100;
      const page = all.slice(offset, offset + size);
      const hasNextPage = offset + size < all.length;
      return {
        cursor: hasNextPage ? Buffer.from(String(offset + size)).toString('base64url') : null,
        hasNextPage,
        finetunes: page.map((r) => runJson(ctx, r)),
      };
    },
    stopFinetunes(args) {
      const parsed = z.object({ filters: filtersSchema }).safeParse(args.getFinetunesData);
      const filters = parsed.success ? parsed.data.filters : undefined;
      if (!filters || (!filters.name && !filters.mlflowExperimentId))
        throw new ServiceError(
          'stopFinetunes needs filters.name.in or filters.mlflowExperimentId',
          'GRAPHQL_VALIDATION_FAILED',
          400,
        );
      const now = state.now();
      let runs: EmulatorRun[];
      if (filters.name) {
        const names = filters.name.in;
        const found = names.map((n) => state.runs.get(n));
        const missing = names.filter((_, i) => !found[i]);
        if (missing.length) throw new ServiceError(`Finetune run(s) not found: ${missing.join(', ')}`, 'NOT_FOUND');
        runs = found as EmulatorRun[];
      } else {
        runs = [...state.runs.values()].filter(
          (r) => r.mlflowExperimentId === filters.mlflowExperimentId?.equals && !isFinished(viewRun(r, now).status),
        );
      }
      for (const r of runs) {
        const status = viewRun(r, now).status;
        if (isFinished(status)) {
          throw new ServiceError(`Run ${r.name} has already finished with status ${status} and cannot be stopped.`);
        }
      }
      for (const r of runs) r.stopRequestedAtMs ??= now;
      state.changed();
      return runs.map((r) => runJson(ctx, r));
    },
    getFinetuneEvents(args) {
      const parsed = z.object({ name: z.string() }).safeParse(args.getFinetuneEventsData);
      if (!parsed.success) throw invalidInput('getFinetuneEventsData', parsed.error.issues[0]);
      const run = state.runs.get(parsed.data.name);
      if (!run) throw new ServiceError(`Finetune run ${parsed.data.name} not found`, 'NOT_FOUND');
      return eventsJson(state, run);
    },
    getFinetuneConstants() {
      return { models };
    },
  };
}

function isFinished(status: string): boolean {
  return ['COMPLETED', 'FAILED', 'FAILED_PULL', 'STOPPED'].includes(status);
}

/** A file, or a folder with at least one file, in the emulator's volumes. */
function volumeHas(state: EmulatorState, dbfsPath: string): boolean {
  const path = dbfsPath.replace(/^dbfs:/, '').replace(/\/+$/, '');
  if (state.files.has(path)) return true;
  for (const p of state.files.keys()) if (p.startsWith(`${path}/`)) return true;
  return false;
}

function eventsJson(state: EmulatorState, run: EmulatorRun) {
  return viewRun(run, state.now()).events.map((e) => ({
    eventType: e.type,
    eventTime: iso(e.atMs),
    eventMessage: e.message,
  }));
}

function runJson(ctx: GraphqlContext, run: EmulatorRun) {
  const view = viewRun(run, ctx.state.now());
  const c = run.config;
  return {
    id: run.id,
    name: run.name,
    status: view.status,
    createdById: 'user-1',
    createdByEmail: ctx.userEmail,
    createdAt: iso(run.createdAtMs),
    updatedAt: iso(view.updatedAtMs),
    startedAt: view.startedAtMs !== undefined ? iso(view.startedAtMs) : null,
    completedAt: view.completedAtMs !== undefined ? iso(view.completedAtMs) : null,
    estimatedEndTime: view.estimatedEndMs !== undefined ? iso(view.estimatedEndMs) : null,
    reason: view.reason ?? null,
    isDeleted: false,
    details: {
      model: c.model,
      taskType: c.taskType ?? 'INSTRUCTION_FINETUNE',
      trainDataPath: c.trainDataPath,
      saveFolder: c.saveFolder
        .replace('{mlflow_experiment_id}', run.mlflowExperimentId)
        .replace('{mlflow_run_id}', run.mlflowRunId),
      evalDataPath: c.evalDataPath ?? null,
      evalPrompts: c.evalPrompts ?? null,
      trainingDuration: c.trainingDuration ?? '1ep',
      learningRate: c.learningRate ?? 5e-7,
      contextLength: c.contextLength ?? null,
      dataPrepConfig: c.dataPrepConfig ?? {},
      customWeightsPath: c.customWeightsPath ?? null,
      experimentTracker: {
        mlflow: {
          experimentPath: run.experimentPath,
          modelRegistryPath: c.experimentTracker?.mlflow.modelRegistryPath ?? null,
          mlflowExperimentId: run.mlflowExperimentId,
          mlflowRunId: run.mlflowRunId,
        },
      },
      formattedFinetuningEvents: eventsJson(ctx.state, run),
    },
  };
}
