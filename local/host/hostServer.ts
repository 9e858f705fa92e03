import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { HttpRoute } from './bindingPlan';
import type { ExtraRouteAuth, HttpRouteHandler, InvokeResult, RegisteredFunction } from './contract';
import type { RpcInvocationResponse } from './coreTypes';
import { describe, LocalHostError } from './errors';
import { type FunctionInvoker, httpResponseOf } from './functionInvoker';
import {
  BodyTooLargeError,
  type HostKeys,
  isAuthorized,
  isSystemAuthorized,
  presentedKey,
  readBody,
  toRpcHttpRequest,
  writeRpcHttpResponse,
} from './http';
import { matchRoute } from './routes';

/**
 * The host's HTTP server: the app's HTTP-triggered functions under the route prefix, the /admin API,
 * and the extra routes extensions mount (e.g. the durable management API). Every route's auth level
 * is checked here, before any handler or function runs.
 */
export interface HostServer {
  /** e.g. http://127.0.0.1:7071; empty until listen() resolved. */
  readonly baseUrl: string;
  addRoute(pathPrefix: string, handler: HttpRouteHandler, auth: ExtraRouteAuth): void;
  /** A system key by name, created on first use. */
  systemKey(name: string): string;
  listen(port: number, hostname: string): Promise<string>;
  close(): Promise<void>;
}

export interface HostServerDeps {
  /** The app's HTTP routes, most specific first. */
  routes: readonly HttpRoute[];
  routePrefix: string;
  keys: HostKeys;
  functions: ReadonlyMap<string, RegisteredFunction>;
  invoker: FunctionInvoker;
  /** Runs a timer function now (the admin API's way to invoke one). */
  fireTimer(functionName: string): Promise<InvokeResult>;
  hostVersion: string;
  hostLog(level: 'error', message: string): void;
}

const adminInvokeSchema = z.object({ input: z.string().optional() });

export function createHostServer(deps: HostServerDeps): HostServer {
  const { routes, routePrefix, keys, functions, invoker, hostLog } = deps;
  const extraRoutes: { prefix: string; handler: HttpRouteHandler; auth: ExtraRouteAuth }[] = [];
  const systemKeys: Record<string, string> = { ...keys.system };
  let baseUrl = '';
  const baseUrlOf = () => baseUrl || 'http://127.0.0.1';

  /** The auth level of an extra route, checked before its handler runs (Azure: system routes need their system key). */
  const extraRouteAllows = (auth: ExtraRouteAuth, rest: string, key: string | undefined): boolean => {
    if (auth.level === 'system') return isSystemAuthorized(auth.systemKey, key, { ...keys, system: systemKeys });
    if (auth.level === 'admin') return isAuthorized('admin', '', key, keys);
    // The secret is the path's first segment; compare it in constant time.
    const presented = Buffer.from(rest.split('/').filter(Boolean)[0] ?? '');
    const secret = Buffer.from(auth.secret);
    return presented.length === secret.length && timingSafeEqual(presented, secret);
  };

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL, rest: string): Promise<void> {
    let segments: string[];
    try {
      segments = rest === '' ? [] : rest.split('/').map(decodeURIComponent);
    } catch {
      res.statusCode = 400;
      res.end();
      return;
    }
    if (segments.at(-1) === '') segments.pop();
    const method = (req.method ?? 'GET').toUpperCase();
    for (const route of routes) {
      if (route.methods && !route.methods.has(method)) continue;
      const params = matchRoute(route.template, segments);
      if (!params) continue;
      if (!isAuthorized(route.authLevel, route.functionName, presentedKey(req, url), keys)) {
        res.statusCode = 401;
        res.end();
        return;
      }
      const body = await readBody(req);
      const http = toRpcHttpRequest(req, url, params, body);
      const query = Object.fromEntries(url.searchParams);
      const triggerMetadata: Record<string, unknown> = { ...params, Query: query, Headers: http.headers ?? {} };
      let response: RpcInvocationResponse;
      let fn: RegisteredFunction;
      try {
        ({ response, fn } = await invoker.invokeCaptured(route.functionName, { http }, triggerMetadata, {
          bindingData: { ...query, ...params },
        }));
      } catch {
        // Logged by invokeCaptured; like Azure, the client gets a bare 500.
        res.statusCode = 500;
        res.end();
        return;
      }
      writeRpcHttpResponse(res, httpResponseOf(fn, response));
      return;
    }
    res.statusCode = 404;
    res.end();
  }

  async function handleAdmin(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (!isAuthorized('admin', '', presentedKey(req, url), keys)) {
      res.statusCode = 401;
      res.end();
      return;
    }
    if (url.pathname === '/admin/host/status' && req.method === 'GET') {
      sendJson(res, 200, { state: 'Running', version: deps.hostVersion });
      return;
    }
    const m = /^\/admin\/functions\/([^/]+)$/.exec(url.pathname);
    const fn = m ? functions.get(decodeURIComponent(m[1] as string)) : undefined;
    if (!fn || req.method !== 'POST' || fn.trigger.type === 'httpTrigger') {
      res.statusCode = 404;
      res.end();
      return;
    }
    const parsed = adminInvokeSchema.safeParse(safeJson((await readBody(req)).toString('utf8') || '{}'));
    if (!parsed.success) {
      sendJson(res, 400, { code: 'invalid_request', message: 'body must be {"input"?: string}' });
      return;
    }
    // Like Azure: accepted now, run in the background.
    res.statusCode = 202;
    res.end();
    const run =
      fn.trigger.type === 'timerTrigger'
        ? deps.fireTimer(fn.name)
        : invoker.invoke({ functionName: fn.name, triggerValue: parsed.data.input });
    run.catch((err: unknown) => hostLog('error', `${fn.name}: ${describe(err)}`));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrlOf());
    const pathname = url.pathname;
    const extra = extraRoutes.find(
      (r) => pathname === r.prefix || pathname.startsWith(r.prefix.endsWith('/') ? r.prefix : `${r.prefix}/`),
    );
    if (extra) {
      if (!extraRouteAllows(extra.auth, pathname.slice(extra.prefix.length), presentedKey(req, url))) {
        res.statusCode = 401;
        res.end();
        return;
      }
      return extra.handler(req, res);
    }
    if (pathname.startsWith('/admin/')) return handleAdmin(req, res, url);
    const prefix = routePrefix ? `/${routePrefix}` : '';
    if (pathname === prefix || pathname.startsWith(`${prefix}/`)) {
      return handleApi(req, res, url, pathname.slice(prefix.length + 1));
    }
    if (pathname === '/') {
      sendJson(res, 200, { name: 'tunedrop local Functions host', functions: [...functions.keys()] });
      return;
    }
    res.statusCode = 404;
    res.end();
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.statusCode = err instanceof BodyTooLargeError ? 413 : 500;
        res.end();
      } else {
        res.destroy();
      }
      if (!(err instanceof BodyTooLargeError)) hostLog('error', `request failed: ${describe(err)}`);
    });
  });

  return {
    get baseUrl() {
      return baseUrl;
    },
    addRoute(pathPrefix, handler, auth) {
      const prefix = `/${pathPrefix.replace(/^\/+/, '')}`;
      extraRoutes.push({ prefix, handler, auth });
      extraRoutes.sort((a, b) => b.prefix.length - a.prefix.length);
    },
    systemKey(name) {
      systemKeys[name] ??= randomBytes(32).toString('base64url');
      return systemKeys[name];
    },
    async listen(port, hostname) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err) =>
          reject(new LocalHostError('listen_failed', `cannot listen on ${hostname}:${port}: ${err.message}`)),
        );
        server.listen(port, hostname, () => resolve());
      });
      const address = server.address() as AddressInfo;
      baseUrl = `http://${hostname.includes(':') ? `[${hostname}]` : hostname}:${address.port}`;
      return baseUrl;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
