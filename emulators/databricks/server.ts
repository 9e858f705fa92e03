import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultCatalog } from '../../shared/catalog';
import { getCluster, getTable, listDirectory } from './dataSources';
import { makeDirectory, sendFile, uploadFile } from './files';
import { executeGraphql, type GraphqlContext, type PreparedGraphql, prepareGraphql } from './graphql';
import { drain, json, readText } from './http';
import { persistState } from './persistence';
import { classify } from './router';
import { DEFAULT_TIMINGS, type EmulatorModel, EmulatorState, type EmulatorTimings, registeredModelName } from './state';
import { unityCatalogRoute } from './unityCatalog';

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
  /**
   * Keep runs, files and model versions in this folder and load them from it on start, so a
   * restarted emulator still knows the runs it accepted (`npm start` uses `<data>/databricks-emulator`).
   * Default: memory only.
   */
  stateDir?: string;
  /** Told when a held fault (holdResponseAfterCreate) has done its work and the answer is withheld. */
  onHold?: (operation: string) => void;
}

export interface TrainingEmulator {
  url: string;
  token: string;
  state: EmulatorState;
  stop(): Promise<void>;
}

/**
 * A wire-compatible stand-in for the Databricks services tunedrop uses: the Foundation Model
 * Fine-tuning GraphQL API, the Files API for volumes, and the Unity Catalog model registry calls.
 */
export async function startTrainingEmulator(options: TrainingEmulatorOptions = {}): Promise<TrainingEmulator> {
  const token = options.token ?? `dapi${randomBytes(16).toString('hex')}`;
  const models =
    options.models ??
    defaultCatalog
      .forProvider('databricks')
      .supported()
      .map((m) => ({ name: m.id, displayName: m.id.split('/').pop() ?? m.id, maxContextLength: m.maxContextLength }));
  const state = new EmulatorState(options.now ?? Date.now, { ...DEFAULT_TIMINGS, ...options.timings }, models);
  const userEmail = options.userEmail ?? 'tunedrop@example.com';
  if (options.stateDir) persistState(state, options.stateDir);

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent)
        json(res, 500, { error_code: 'INTERNAL_ERROR', message: e instanceof Error ? e.message : 'error' });
      else res.destroy();
    });
  });

  const graphqlContext: GraphqlContext = { state, models, userEmail, dataMustExist: options.dataMustExist };

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
    let prepared: PreparedGraphql | undefined;
    if (route.kind === 'graphql' || route.kind === 'json') {
      const text = await readText(req);
      try {
        body = text ? JSON.parse(text) : {};
      } catch {
        return json(res, 400, { error_code: 'MALFORMED_REQUEST', message: 'Request body is not JSON.' });
      }
      if (route.kind === 'graphql') {
        const parsed = prepareGraphql(body);
        if (!('document' in parsed)) return json(res, parsed.status, parsed.body);
        prepared = parsed;
        operation = parsed.rootField;
      }
    }
    state.requests.set(operation, state.count(operation) + 1);

    const fault = state.takeFault(operation);
    let dropAfterCreate = false;
    let holdAfterCreate = false;
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
      if (fault.kind === 'holdAfterCreate') holdAfterCreate = true;
    }

    state.materialize();
    switch (route.kind) {
      case 'graphql': {
        const variables = (body as { variables?: Record<string, unknown> | null }).variables ?? undefined;
        const result = executeGraphql(graphqlContext, prepared as PreparedGraphql, variables);
        if (dropAfterCreate && !result.body.errors) {
          // The run exists now; the client never hears about it.
          res.socket?.destroy();
          return;
        }
        if (holdAfterCreate && !result.body.errors) {
          // The run exists (and is persisted); the answer never leaves.
          options.onHold?.(operation);
          return;
        }
        return json(res, result.status, result.body);
      }
      case 'upload':
        return uploadFile(state, req, res, route.path, url.searchParams.get('overwrite') !== 'false');
      case 'download':
      case 'head':
        return sendFile(state, res, route.path, route.kind === 'head', req.headers.range);
      case 'mkdir':
        return makeDirectory(req, res);
      case 'listdir':
        return listDirectory(state, req, res, route.path);
      case 'table':
        return getTable(state.dataSources, res, route.fullName);
      case 'cluster':
        return getCluster(state.dataSources, res, url.searchParams.get('cluster_id'));
      case 'json':
        return unityCatalogRoute(state, res, route, body);
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
