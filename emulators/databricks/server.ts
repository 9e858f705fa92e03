import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { defaultCatalog } from '../../shared/catalog';
import { rootField } from '../../shared/training/graphql';
import {
  DEFAULT_TIMINGS,
  type EmulatorModel,
  type EmulatorRun,
  EmulatorState,
  type EmulatorTimings,
  finetuneConfigSchema,
  registeredModelName,
  viewRun,
} from './state';

export interface TrainingEmulatorOptions {
  /** Default: a free port on 127.0.0.1. */
  port?: number;
  /** Bearer token clients must send; default a random `dapi…` string. */
  token?: string;
  /** Virtual clock (ms since epoch); default Date.now. */
  now?: () => number;
  timings?: Partial<EmulatorTimings>;
  /** What getFinetuneConstants reports; default the supported models of the catalog. */
  models?: EmulatorModel[];
  userEmail?: string;
  /**
   * Fail runs whose train/eval data is not in the emulator's volumes (as the service does when it
   * cannot read the data), with FAILED and a reason. Off by default: with zero-copy volume mapping
   * the data never passes through the emulator.
   */
  dataMustExist?: boolean;
}

export interface TrainingEmulator {
  url: string;
  token: string;
  state: EmulatorState;
  stop(): Promise<void>;
}

const GRAPHQL_PATH = '/api/2.0/genai-mapi/graphql';

/**
 * A wire-compatible stand-in for the Databricks services tunedrop uses: the Foundation Model
 * Fine-tuning GraphQL API, the Files API for volumes, and the Unity Catalog model registry calls.
 */
export async function startTrainingEmulator(options: TrainingEmulatorOptions = {}): Promise<TrainingEmulator> {
  const token = options.token ?? `dapi${randomBytes(16).toString('hex')}`;
  const models =
    options.models ??
    defaultCatalog
      .supported()
      .map((m) => ({ name: m.id, displayName: m.id.split('/').pop() ?? m.id, maxContextLength: m.maxContextLength }));
  const state = new EmulatorState(options.now ?? Date.now, { ...DEFAULT_TIMINGS, ...options.timings }, models);
  const userEmail = options.userEmail ?? 'tunedrop@example.com';

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent)
        json(res, 500, { error_code: 'INTERNAL_ERROR', message: e instanceof Error ? e.message : 'error' });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    if (url.pathname === '/__emulator/state' && req.method === 'GET') return json(res, 200, state.snapshot());
    if (req.headers.authorization !== `Bearer ${token}`) {
      await drain(req);
      return json(res, 401, { error_code: 'UNAUTHENTICATED', message: 'Invalid access token.' });
    }
    const route = classify(req.method ?? 'GET', url.pathname);
    if (!route) {
      await drain(req);
      return json(res, 404, {
        error_code: 'ENDPOINT_NOT_FOUND',
        message: `No API found for '${req.method} ${url.pathname}'`,
      });
    }
    // GraphQL dispatches on the document's root field, so the body must be read first.
    let body: unknown;
    let operation = route.operation;
    if (route.kind === 'graphql' || route.kind === 'json') {
      const text = await readText(req);
      try {
        body = text ? JSON.parse(text) : {};
      } catch {
        return json(res, 400, { error_code: 'MALFORMED_REQUEST', message: 'Request body is not JSON.' });
      }
      if (route.kind === 'graphql') {
        const q = (body as { query?: unknown }).query;
        const root = typeof q === 'string' ? rootField(q) : undefined;
        if (!root)
          return json(res, 400, {
            errors: [
              { message: 'Could not parse the GraphQL document.', extensions: { code: 'GRAPHQL_PARSE_FAILED' } },
            ],
          });
        operation = root.field;
      }
    }
    state.requests.set(operation, state.count(operation) + 1);

    const fault = state.takeFault(operation);
    let dropAfterCreate = false;
    if (fault) {
      if (fault.kind === 'status') {
        if (route.kind === 'upload') await drain(req);
        const headers: Record<string, string> =
          fault.retryAfterSec !== undefined ? { 'Retry-After': String(fault.retryAfterSec) } : {};
        const code =
          fault.status === 429
            ? 'REQUEST_LIMIT_EXCEEDED'
            : fault.status >= 500
              ? 'TEMPORARILY_UNAVAILABLE'
              : 'BAD_REQUEST';
        return json(res, fault.status, { error_code: code, message: `Injected HTTP ${fault.status}.` }, headers);
      }
      if (fault.kind === 'graphqlError' && route.kind === 'graphql') {
        return json(res, 200, {
          data: null,
          errors: [{ message: fault.message, path: [operation], extensions: { code: fault.code } }],
        });
      }
      if (fault.kind === 'delay') await new Promise((r) => setTimeout(r, fault.ms));
      if (fault.kind === 'dropAfterCreate') dropAfterCreate = true;
    }

    state.materialize();
    switch (route.kind) {
      case 'graphql': {
        const variables = ((body as { variables?: unknown }).variables ?? {}) as Record<string, unknown>;
        const result = graphql(operation, variables);
        if (dropAfterCreate && 'data' in result) {
          // The run exists now; the client never hears about it.
          res.socket?.destroy();
          return;
        }
        if ('data' in result) return json(res, 200, { data: { [operation]: result.data } });
        return json(res, result.httpStatus ?? 200, { data: null, errors: result.errors });
      }
      case 'upload':
        return upload(req, res, route.path, url.searchParams.get('overwrite') !== 'false');
      case 'download':
      case 'head': {
        const file = state.files.get(route.path);
        if (!file) {
          if (route.kind === 'head') return void res.writeHead(404).end();
          return json(res, 404, { error_code: 'NOT_FOUND', message: `The file ${route.path} does not exist.` });
        }
        res.writeHead(200, {
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(file.bytes.length),
          'Last-Modified': new Date(file.modifiedAtMs).toUTCString(),
        });
        return void res.end(route.kind === 'head' ? undefined : file.bytes);
      }
      case 'mkdir':
        await drain(req);
        return json(res, 200, {});
      case 'json':
        return ucRoute(res, route, body);
    }
  }

  type Route =
    | { kind: 'graphql'; operation: string }
    | { kind: 'upload' | 'download' | 'head' | 'mkdir'; operation: string; path: string }
    | { kind: 'json'; operation: string; model?: string; version?: number; alias?: string };

  function classify(method: string, pathname: string): Route | undefined {
    if (pathname === GRAPHQL_PATH && method === 'POST') return { kind: 'graphql', operation: 'graphql' };
    const decoded = decodeURIComponent(pathname);
    if (decoded.startsWith('/api/2.0/fs/files/')) {
      const path = decoded.slice('/api/2.0/fs/files'.length);
      if (method === 'PUT') return { kind: 'upload', operation: 'files.upload', path };
      if (method === 'GET') return { kind: 'download', operation: 'files.download', path };
      if (method === 'HEAD') return { kind: 'head', operation: 'files.head', path };
    }
    if (decoded.startsWith('/api/2.0/fs/directories/') && method === 'PUT') {
      return { kind: 'mkdir', operation: 'files.mkdir', path: decoded.slice('/api/2.0/fs/directories'.length) };
    }
    if (decoded === '/api/2.0/mlflow/unity-catalog/model-versions/set-tag' && method === 'POST')
      return { kind: 'json', operation: 'uc.setTag' };
    let m = /^\/api\/2\.1\/unity-catalog\/models\/([^/]+)\/versions\/(\d+)$/.exec(decoded);
    if (m && method === 'GET')
      return { kind: 'json', operation: 'uc.getModelVersion', model: m[1], version: Number(m[2]) };
    m = /^\/api\/2\.1\/unity-catalog\/models\/([^/]+)\/versions$/.exec(decoded);
    if (m && method === 'GET') return { kind: 'json', operation: 'uc.listModelVersions', model: m[1] };
    m = /^\/api\/2\.1\/unity-catalog\/models\/([^/]+)\/aliases\/([^/]+)$/.exec(decoded);
    if (m && method === 'PUT') return { kind: 'json', operation: 'uc.setAlias', model: m[1], alias: m[2] };
    return undefined;
  }

  // ---- GraphQL ---------------------------------------------------------------------------
  type GqlResult =
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

  function graphql(operation: string, variables: Record<string, unknown>): GqlResult {
    switch (operation) {
      case 'createFinetune': {
        const parsed = z
          .object({ createFinetuneData: z.object({ config: finetuneConfigSchema }) })
          .safeParse(variables);
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
        if (options.dataMustExist) {
          const missing = [config.trainDataPath, config.evalDataPath].find((p) => p && !volumeHas(p));
          if (missing)
            run.failure ??= { status: 'FAILED', reason: `Data path ${missing} does not exist or is not readable.` };
        }
        return { data: runJson(run) };
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
            finetunes: page.map(runJson),
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
        return { data: (runs as EmulatorRun[]).map(runJson) };
      }
      case 'getFinetuneEvents': {
        const parsed = z.object({ getFinetuneEventsData: z.object({ name: z.string() }) }).safeParse(variables);
        if (!parsed.success)
          return gqlError('getFinetuneEventsData.name is required', 'GRAPHQL_VALIDATION_FAILED', 400);
        const run = state.runs.get(parsed.data.getFinetuneEventsData.name);
        if (!run) return gqlError(`Finetune run ${parsed.data.getFinetuneEventsData.name} not found`, 'NOT_FOUND');
        return { data: eventsJson(run) };
      }
      case 'getFinetuneConstants':
        return { data: { models } };
      default:
        return gqlError(`Cannot query field "${operation}" on type "Query".`, 'GRAPHQL_VALIDATION_FAILED', 400);
    }
  }

  /** A file, or a folder with at least one file, in the emulator's volumes. */
  function volumeHas(dbfsPath: string): boolean {
    const path = dbfsPath.replace(/^dbfs:/, '').replace(/\/+$/, '');
    if (state.files.has(path)) return true;
    for (const p of state.files.keys()) if (p.startsWith(`${path}/`)) return true;
    return false;
  }

  function eventsJson(run: EmulatorRun) {
    return viewRun(run, state.now()).events.map((e) => ({
      eventType: e.type,
      eventTime: iso(e.atMs),
      eventMessage: e.message,
    }));
  }

  function runJson(run: EmulatorRun) {
    const view = viewRun(run, state.now());
    const c = run.config;
    return {
      id: run.id,
      name: run.name,
      status: view.status,
      createdById: 'user-1',
      createdByEmail: userEmail,
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
        formattedFinetuningEvents: eventsJson(run),
      },
    };
  }

  // ---- Files API -------------------------------------------------------------------------
  async function upload(req: IncomingMessage, res: ServerResponse, path: string, overwrite: boolean): Promise<void> {
    if (!/^\/Volumes\/[^/]+\/[^/]+\/[^/]+\/.+/.test(path) || path.split('/').includes('..')) {
      await drain(req);
      return json(res, 400, { error_code: 'INVALID_PARAMETER_VALUE', message: `Invalid volume path ${path}.` });
    }
    if (!overwrite && state.files.has(path)) {
      await drain(req);
      return json(res, 409, { error_code: 'ALREADY_EXISTS', message: `The file ${path} already exists.` });
    }
    const chunks: Buffer[] = [];
    const hash = createHash('sha256');
    let received = 0;
    for await (const chunk of req) {
      chunks.push(chunk as Buffer);
      hash.update(chunk as Buffer);
      received += (chunk as Buffer).length;
      state.uploadProgress.set(path, received);
    }
    state.files.set(path, {
      path,
      bytes: Buffer.concat(chunks),
      sha256: hash.digest('hex'),
      chunks: chunks.length,
      chunked: req.headers['content-length'] === undefined,
      modifiedAtMs: state.now(),
    });
    res.writeHead(204).end();
  }

  // ---- Unity Catalog ---------------------------------------------------------------------
  function versionJson(fullName: string, version: number) {
    const v = state.findVersion(fullName, version);
    if (!v) return undefined;
    const [catalog, schema, model] = fullName.split('.');
    const aliases = [...(state.aliases.get(fullName) ?? new Map<string, number>())]
      .filter(([, n]) => n === v.version)
      .map(([alias_name, version_num]) => ({ alias_name, version_num }));
    return {
      model_name: model,
      catalog_name: catalog,
      schema_name: schema,
      version: v.version,
      source: v.source,
      run_id: v.runId ?? null,
      status: state.versionStatus(v),
      storage_location: `abfss://uc@emulator.dfs.core.windows.net/models/${fullName}/${v.version}`,
      created_at: v.createdAtMs,
      updated_at: v.createdAtMs,
      aliases,
    };
  }

  function ucRoute(res: ServerResponse, route: Extract<Route, { kind: 'json' }>, body: unknown) {
    const notFound = (what: string) =>
      json(res, 404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message: `${what} does not exist.` });
    switch (route.operation) {
      case 'uc.getModelVersion': {
        const v = versionJson(route.model ?? '', route.version ?? 0);
        return v ? json(res, 200, v) : notFound(`Model version ${route.model}/${route.version}`);
      }
      case 'uc.listModelVersions': {
        const versions = state.modelVersions.get(route.model ?? '');
        if (!versions) return notFound(`Registered model ${route.model}`);
        return json(res, 200, { model_versions: versions.map((v) => versionJson(v.fullName, v.version)) });
      }
      case 'uc.setAlias': {
        const parsed = z.object({ version_num: z.number().int().positive() }).safeParse(body);
        if (!parsed.success)
          return json(res, 400, { error_code: 'INVALID_PARAMETER_VALUE', message: 'version_num is required.' });
        const fullName = route.model ?? '';
        if (!state.findVersion(fullName, parsed.data.version_num))
          return notFound(`Model version ${fullName}/${parsed.data.version_num}`);
        const aliases = state.aliases.get(fullName) ?? new Map<string, number>();
        aliases.set(route.alias ?? '', parsed.data.version_num);
        state.aliases.set(fullName, aliases);
        const [catalog_name, schema_name, model_name] = fullName.split('.');
        return json(res, 200, {
          alias_name: route.alias,
          version_num: parsed.data.version_num,
          catalog_name,
          schema_name,
          model_name,
        });
      }
      case 'uc.setTag': {
        const parsed = z
          .object({
            name: z.string(),
            version: z.string().regex(/^\d+$/),
            key: z.string().min(1).max(250),
            value: z.string().max(5000),
          })
          .safeParse(body);
        if (!parsed.success)
          return json(res, 400, {
            error_code: 'INVALID_PARAMETER_VALUE',
            message: `Invalid set-tag request: ${parsed.error.issues[0]?.message}`,
          });
        const v = state.findVersion(parsed.data.name, Number(parsed.data.version));
        if (!v) return notFound(`Model version ${parsed.data.name}/${parsed.data.version}`);
        v.tags.set(parsed.data.key, parsed.data.value);
        return json(res, 200, {});
      }
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    state,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export { registeredModelName };

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function drain(req: IncomingMessage): Promise<void> {
  for await (const _ of req) {
    // discard
  }
}
