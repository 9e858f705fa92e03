import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { HttpRouteHandler } from '../host/contract';
import type { DurableEngine } from './engine';
import { DurableEngineError } from './errors';
import { type DurableClientInputData, RUNTIME_STATUSES, type RuntimeStatus, TERMINAL_STATUSES } from './wire';

/** Where the Durable Functions extension serves its HTTP API on a Functions host. */
export const DURABLE_WEBHOOK_PATH = '/runtime/webhooks/durabletask';
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const ID_PLACEHOLDER = 'INSTANCEID';

/** Where the in-process durable client reaches the engine, under a per-process secret segment. */
export const DURABLE_RPC_PREFIX = '/runtime/durabletask-rpc';

/** The system key the durable HTTP API needs in Azure (Functions → App keys → System keys). */
export const DURABLE_SYSTEM_KEY = 'durabletask_extension';

/**
 * The management URLs of one instance (HttpManagementPayload), as startNew and
 * createCheckStatusResponse return them: like Azure's, they carry the system key as `code`.
 */
export function managementUrls(origin: string, taskHub: string, instanceId: string, systemKey: string) {
  const base = `${origin}${DURABLE_WEBHOOK_PATH}`;
  const id = encodeURIComponent(instanceId);
  const query = `taskHub=${encodeURIComponent(taskHub)}&connection=Storage&code=${encodeURIComponent(systemKey)}`;
  return {
    id: instanceId,
    statusQueryGetUri: `${base}/instances/${id}?${query}`,
    sendEventPostUri: `${base}/instances/${id}/raiseEvent/{eventName}?${query}`,
    terminatePostUri: `${base}/instances/${id}/terminate?reason={text}&${query}`,
    rewindPostUri: `${base}/instances/${id}/rewind?reason={text}&${query}`,
    purgeHistoryDeleteUri: `${base}/instances/${id}?${query}`,
    restartPostUri: `${base}/instances/${id}/restart?${query}`,
    suspendPostUri: `${base}/instances/${id}/suspend?reason={text}&${query}`,
    resumePostUri: `${base}/instances/${id}/resume?reason={text}&${query}`,
  };
}

/**
 * The durableClient input binding value: what df.getClient(context) builds its DurableClient from.
 * `rpcPath` is where the in-process client talks to the engine without a key (Azure: the RPC
 * endpoint only reachable inside the worker; here a path with a secret segment).
 */
export function clientInputData(
  origin: string,
  taskHub: string,
  useRpcBaseUrl: boolean,
  systemKey: string,
  rpcPath: string,
): DurableClientInputData {
  const base = `${origin}${DURABLE_WEBHOOK_PATH}`;
  const urls = managementUrls(origin, taskHub, ID_PLACEHOLDER, systemKey);
  return {
    taskHubName: taskHub,
    creationUrls: {
      createNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]`,
      waitOnNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}`,
    },
    managementUrls: { ...urls, id: ID_PLACEHOLDER },
    baseUrl: base,
    requiredQueryStringParameters: `taskHub=${encodeURIComponent(taskHub)}&connection=Storage&code=${encodeURIComponent(systemKey)}`,
    ...(useRpcBaseUrl ? { rpcBaseUrl: `${origin}${rpcPath}/` } : {}),
    httpBaseUrl: base,
  };
}

const listQuerySchema = z.object({
  runtimeStatus: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (!v) return undefined;
      const statuses = v.split(',').map((s) => s.trim());
      for (const s of statuses) {
        if (!RUNTIME_STATUSES.includes(s as RuntimeStatus)) {
          ctx.addIssue({ code: 'custom', message: `unknown runtimeStatus '${s}'` });
          return z.NEVER;
        }
      }
      return statuses as RuntimeStatus[];
    }),
  createdTimeFrom: z.iso.datetime({ offset: true }).optional(),
  createdTimeTo: z.iso.datetime({ offset: true }).optional(),
  showInput: z.enum(['true', 'false']).optional(),
  showHistory: z.enum(['true', 'false']).optional(),
  returnInternalServerErrorOnFailure: z.enum(['true', 'false']).optional(),
});

const waitQuerySchema = z.object({
  timeout: z.coerce.number().positive().max(3600).optional(),
  pollingInterval: z.coerce.number().positive().optional(),
});

/**
 * The Durable Functions HTTP API (both the public webhook routes and the RPC routes the JS
 * DurableClient uses when rpcBaseUrl is set: they share one shape under /runtime/webhooks/durabletask).
 */
export function createDurableHttpHandler(
  engine: () => DurableEngine,
  fallbackOrigin: () => string,
  systemKey: () => string,
  basePath: string = DURABLE_WEBHOOK_PATH,
): HttpRouteHandler {
  return async (req, res) => {
    try {
      await route(engine(), req, res, fallbackOrigin(), systemKey(), basePath);
    } catch (err) {
      if (err instanceof DurableEngineError) {
        sendJson(res, statusForCode(err.code), { code: err.code, message: err.message });
      } else {
        sendJson(res, 500, {
          code: 'durable_internal_error',
          message: err instanceof Error ? err.message : String(err),
        });
      }
    }
  };
}

async function route(
  engine: DurableEngine,
  req: IncomingMessage,
  res: ServerResponse,
  fallbackOrigin: string,
  systemKey: string,
  basePath: string,
) {
  const url = new URL(req.url ?? '/', 'http://local');
  const at = url.pathname.indexOf(basePath);
  const rest = at >= 0 ? url.pathname.slice(at + basePath.length) : url.pathname;
  const segments = rest
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => decodeURIComponent(s));
  const method = (req.method ?? 'GET').toUpperCase();
  const origin = req.headers.host ? `http://${req.headers.host}` : fallbackOrigin;
  const query = Object.fromEntries(url.searchParams);
  const [head, id, action, extra] = segments;

  if (head === 'orchestrators' && method === 'POST' && id) {
    const input = await readJsonBody(req);
    const instanceId = await engine.startNew(id, { instanceId: action, input });
    const payload = managementUrls(origin, engine.taskHub, instanceId, systemKey);
    const wait = parseQuery(waitQuerySchema, query);
    if (wait.timeout !== undefined && wait.pollingInterval !== undefined) {
      // The "create and wait" URL: answer with the output if it finishes within the timeout.
      const status = await engine
        .waitForCompletion(instanceId, wait.timeout * 1000)
        .catch((err: unknown) =>
          err instanceof DurableEngineError && err.code === 'durable_timeout' ? undefined : Promise.reject(err),
        );
      if (status?.runtimeStatus === 'Completed') return sendJson(res, 200, status.output);
      if (status) return sendJson(res, 200, status);
    }
    sendJson(res, 202, payload, { Location: payload.statusQueryGetUri, 'Retry-After': '5' });
    return;
  }
  if (head === 'instances' && id === undefined) {
    const filter = parseQuery(listQuerySchema, query);
    const criteria = {
      runtimeStatus: filter.runtimeStatus,
      createdTimeFrom: filter.createdTimeFrom ? new Date(filter.createdTimeFrom) : undefined,
      createdTimeTo: filter.createdTimeTo ? new Date(filter.createdTimeTo) : undefined,
    };
    if (method === 'GET') {
      const list = await engine.listInstances(criteria);
      sendJson(res, 200, filter.showInput === 'false' ? list.map((s) => ({ ...s, input: null })) : list);
      return;
    }
    if (method === 'DELETE') {
      if (!criteria.createdTimeFrom) {
        throw new DurableEngineError(
          'durable_invalid_request',
          "Please provide value for 'createdTimeFrom' parameter.",
        );
      }
      const deleted = await engine.purgeBy(criteria);
      sendJson(res, deleted > 0 ? 200 : 404, { instancesDeleted: deleted });
      return;
    }
  }
  if (head === 'instances' && id !== undefined && action === undefined) {
    if (method === 'GET') {
      const flags = parseQuery(listQuerySchema, query);
      const status = await engine.getStatus(id, {
        showHistory: flags.showHistory === 'true',
        showInput: flags.showInput !== 'false',
      });
      if (!status) {
        sendJson(res, 404, { code: 'durable_instance_not_found', message: `No instance with ID '${id}' found.` });
        return;
      }
      const running = !TERMINAL_STATUSES.has(status.runtimeStatus);
      const failedAs500 = status.runtimeStatus === 'Failed' && flags.returnInternalServerErrorOnFailure === 'true';
      const location = `${origin}${url.pathname}${url.search}`;
      sendJson(
        res,
        running ? 202 : failedAs500 ? 500 : 200,
        status,
        running ? { Location: location, 'Retry-After': '5' } : {},
      );
      return;
    }
    if (method === 'DELETE') {
      const deleted = await engine.purge(id);
      sendJson(res, deleted > 0 ? 200 : 404, { instancesDeleted: deleted });
      return;
    }
  }
  if (head === 'instances' && id !== undefined && method === 'POST') {
    if (action === 'raiseEvent' && extra) {
      if (
        !String(req.headers['content-type'] ?? '')
          .toLowerCase()
          .startsWith('application/json')
      ) {
        throw new DurableEngineError('durable_invalid_request', 'Only application/json request content is supported.');
      }
      await engine.raiseEvent(id, extra, await readJsonBody(req));
      sendEmpty(res, 202);
      return;
    }
    if (action === 'terminate') {
      await engine.terminate(id, query.reason ?? '');
      sendEmpty(res, 202);
      return;
    }
    if (action === 'suspend' || action === 'resume' || action === 'rewind' || action === 'restart') {
      throw new DurableEngineError('durable_not_supported', `${action} is not supported by the local durable engine.`);
    }
  }
  if (head === 'entities') {
    throw new DurableEngineError(
      'durable_not_supported',
      'Durable entities are not supported by the local durable engine.',
    );
  }
  sendJson(res, 404, {
    code: 'durable_route_not_found',
    message: `No durable API route for ${method} ${url.pathname}`,
  });
}

function parseQuery<T extends z.ZodType>(schema: T, query: Record<string, string>): z.infer<T> {
  const parsed = schema.safeParse(query);
  if (!parsed.success) {
    throw new DurableEngineError(
      'durable_invalid_request',
      parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
    );
  }
  return parsed.data;
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new DurableEngineError('durable_invalid_request', 'Request body is too large.');
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new DurableEngineError('durable_invalid_request', 'Request body is not valid JSON.');
  }
}

function statusForCode(code: DurableEngineError['code']): number {
  switch (code) {
    case 'durable_instance_not_found':
      return 404;
    case 'durable_instance_exists':
      return 409;
    case 'durable_instance_not_running':
      return 410;
    case 'durable_instance_running':
      return 412;
    case 'durable_not_supported':
      return 501;
    case 'durable_engine_stopped':
      return 503;
    case 'durable_timeout':
      return 504;
    default:
      return 400;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
  res.end(text);
}

function sendEmpty(res: ServerResponse, status: number) {
  res.writeHead(status, { 'Content-Length': '0' });
  res.end();
}
