import { z } from 'zod';
import { iso } from './http';
import { type EmulatorModel, type EmulatorRun, type EmulatorState, finetuneConfigSchema, viewRun } from './state';

/** The Foundation Model Fine-tuning GraphQL API: one resolver per root field the SDK uses. */

export interface GraphqlContext {
  state: EmulatorState;
  models: EmulatorModel[];
  userEmail: string;
  dataMustExist?: boolean;
}

export type GqlResult =
  | { data: unknown }
  | { errors: { message: string; extensions: { code: string } }[]; httpStatus?: number };

const gqlError = (message: string, code = 'BAD_USER_INPUT', httpStatus?: number): GqlResult => ({
  errors: [{ message, extensions: { code } }],
  httpStatus,
});

const nameFilter = z.object({ in: z.array(z.string()) }).optional();
const paginatedInput = z.object({
  getFinetunesPaginatedData: z.object({
    filters: z
      .object({
        name: nameFilter,
        status: nameFilter,
        createdAt: z.object({ gte: z.string().optional(), lt: z.string().optional() }).optional(),
        mlflowExperimentId: z.object({ equals: z.string() }).optional(),
      })
      .default({}),
    includeDeleted: z.boolean().optional(),
    limit: z.number().int().positive().max(1000).nullish(),
    cursor: z.string().optional(),
    entity: z.unknown().optional(),
  }),
});

export function resolveGraphql(ctx: GraphqlContext, operation: string, variables: Record<string, unknown>): GqlResult {
  const { state, models } = ctx;
  switch (operation) {
    case 'createFinetune': {
      const parsed = z.object({ createFinetuneData: z.object({ config: finetuneConfigSchema }) }).safeParse(variables);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return gqlError(
          `Variable "$createFinetuneData" got invalid value at ${issue?.path.join('.')}: ${issue?.message}`,
          'GRAPHQL_VALIDATION_FAILED',
          400,
        );
      }
      const config = parsed.data.createFinetuneData.config;
      if (!models.some((m) => m.name.toLowerCase() === config.model.toLowerCase()))
        return gqlError(`Model ${config.model} is not supported for fine-tuning.`);
      if (!/^(dbfs:)?\/Volumes\/[^/]+\/[^/]+\/[^/]+\/.+/.test(config.trainDataPath)) {
        return gqlError(
          `trainDataPath must be a Unity Catalog volume path (dbfs:/Volumes/<catalog>/<schema>/<volume>/...), got ${config.trainDataPath}.`,
        );
      }
      if (config.trainingDuration && !/^\d[\d_]*(ep|tok|ba)$/.test(config.trainingDuration))
        return gqlError(`Invalid trainingDuration ${config.trainingDuration}.`);
      const registry = config.experimentTracker?.mlflow.modelRegistryPath;
      if (!registry || !/^[^.]+\.[^.]+(\.[^.]+)?$/.test(registry))
        return gqlError('modelRegistryPath must be catalog.schema or catalog.schema.model.');
      const run = state.createRun(config);
      if (ctx.dataMustExist) {
        const missing = [config.trainDataPath, config.evalDataPath].find((p) => p && !volumeHas(state, p));
        if (missing)
          run.failure ??= { status: 'FAILED', reason: `Data path ${missing} does not exist or is not readable.` };
      }
      return { data: runJson(ctx, run) };
    }
    case 'getFinetunesPaginated': {
      const parsed = paginatedInput.safeParse(variables);
      if (!parsed.success)
        return gqlError(
          `Invalid getFinetunesPaginatedData: ${parsed.error.issues[0]?.message}`,
          'GRAPHQL_VALIDATION_FAILED',
          400,
        );
      const { filters, limit, cursor } = parsed.data.getFinetunesPaginatedData;
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
        data: {
          cursor: hasNextPage ? Buffer.from(String(offset + size)).toString('base64url') : null,
          hasNextPage,
          finetunes: page.map((r) => runJson(ctx, r)),
        },
      };
    }
    case 'stopFinetunes': {
      const parsed = z
        .object({ getFinetunesData: z.object({ filters: z.object({ name: nameFilter }) }) })
        .safeParse(variables);
      if (!parsed.success || !parsed.data.getFinetunesData.filters.name)
        return gqlError('stopFinetunes needs filters.name.in', 'GRAPHQL_VALIDATION_FAILED', 400);
      const names = parsed.data.getFinetunesData.filters.name.in;
      const runs = names.map((n) => state.runs.get(n));
      const missing = names.filter((_, i) => !runs[i]);
      if (missing.length) return gqlError(`Finetune run(s) not found: ${missing.join(', ')}`, 'NOT_FOUND');
      const now = state.now();
      for (const r of runs as EmulatorRun[]) {
        const status = viewRun(r, now).status;
        if (['COMPLETED', 'FAILED', 'FAILED_PULL', 'STOPPED'].includes(status)) {
          return gqlError(`Run ${r.name} has already finished with status ${status} and cannot be stopped.`);
        }
      }
      for (const r of runs as EmulatorRun[]) r.stopRequestedAtMs ??= now;
      return { data: (runs as EmulatorRun[]).map((r) => runJson(ctx, r)) };
    }
    case 'getFinetuneEvents': {
      const parsed = z.object({ getFinetuneEventsData: z.object({ name: z.string() }) }).safeParse(variables);
      if (!parsed.success) return gqlError('getFinetuneEventsData.name is required', 'GRAPHQL_VALIDATION_FAILED', 400);
      const run = state.runs.get(parsed.data.getFinetuneEventsData.name);
      if (!run) return gqlError(`Finetune run ${parsed.data.getFinetuneEventsData.name} not found`, 'NOT_FOUND');
      return { data: eventsJson(state, run) };
    }
    case 'getFinetuneConstants':
      return { data: { models } };
    default:
      return gqlError(`Cannot query field "${operation}" on type "Query".`, 'GRAPHQL_VALIDATION_FAILED', 400);
  }
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
      dataPrepConfig: c.dataPrepConfig ?? null,
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
