import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BlobServiceClient } from '@azure/storage-blob';
import { z } from 'zod';
import { type BlobPathPattern, parseBlobPathPattern, resolveBindingExpressions } from './blobPath';
import { type BlobTriggerFiring, BlobTriggerWatcher } from './blobTrigger';
import type {
  BindingInfo,
  ExtraRouteAuth,
  HostExtension,
  HttpRouteHandler,
  InvokeRequest,
  InvokeResult,
  LocalFunctionHost,
  RegisteredFunction,
} from './contract';
import { type CapturedFunction, installFunctionsCore } from './core';
import type { RpcHttpData, RpcInvocationResponse, RpcLogLevel, RpcParameterBinding, RpcTypedData } from './coreTypes';
import { describe, LocalHostError, statusOf } from './errors';
import {
  type AuthLevel,
  BodyTooLargeError,
  type HostKeys,
  isAuthorized,
  isSystemAuthorized,
  presentedKey,
  readBody,
  toRpcHttpRequest,
  writeRpcHttpResponse,
} from './http';
import { type FunctionLogEntry, invokeThroughWorker } from './invoke';
import { loadEntryPoints, readRoutePrefix, resolveEntryPoints } from './loader';
import { compareRoutes, matchRoute, parseRouteTemplate, type RouteTemplate } from './routes';
import { type HostClock, systemClock, TimerScheduler } from './timerTrigger';
import { fromTypedData, toBytes, toTypedData } from './typedData';

/** Trigger types the host drives itself; everything else must come from an extension. */
export const HOST_TRIGGER_TYPES = ['httpTrigger', 'timerTrigger', 'blobTrigger'] as const;
const HOST_INPUT_TYPES = ['blob'] as const;
const HOST_OUTPUT_TYPES = ['http', 'blob'] as const;

export interface HostLogEntry {
  level: RpcLogLevel;
  /** `host` for the host's own lines; `user`/`system` for a function's logs (context.log / the library). */
  category: 'host' | 'user' | 'system' | 'customMetric';
  functionName?: string;
  invocationId?: string;
  message: string;
}

export type HostLogger = (entry: HostLogEntry) => void;

export interface FunctionHostOptions {
  /** The app's folder: package.json (`main`), host.json. */
  appRoot: string;
  /** AzureWebJobsStorage: every storage binding and the blob receipts use it. */
  storageConnectionString: string;
  /** Default 7071; 0 picks a free port. */
  port?: number;
  /** Listen address; default 127.0.0.1. */
  hostname?: string;
  extensions?: readonly HostExtension[];
  keys?: HostKeys;
  logger?: HostLogger;
  /** Timer trigger clock; default the system clock. */
  clock?: HostClock;
  /** Blob container scan interval; 0 turns background scanning off (call scanBlobs()). Default 1000 ms. */
  blobScanIntervalMs?: number;
  /** Separates blob receipts of apps sharing one storage account; default `tunedrop-local`. */
  hostId?: string;
  /** Overrides host.json `extensions.http.routePrefix`. */
  routePrefix?: string;
  /** Values for `%Name%` in timer schedules (app settings). */
  appSettings?: Readonly<Record<string, string | undefined>>;
  /** The app, already loaded with loadFunctionApp (default: loaded now from appRoot). */
  app?: LoadedFunctionApp;
}

export interface HttpRouteInfo {
  functionName: string;
  methods: string[];
  route: string;
  authLevel: AuthLevel;
  url: string;
}

export interface TimerInfo {
  functionName: string;
  schedule: string;
  runOnStartup: boolean;
  next: Date | undefined;
}

export interface BlobTriggerInfo {
  functionName: string;
  path: string;
  source: string;
}

export interface RunningFunctionHost extends LocalFunctionHost {
  readonly routePrefix: string;
  readonly httpRoutes: readonly HttpRouteInfo[];
  timers(): TimerInfo[];
  readonly blobTriggers: readonly BlobTriggerInfo[];
  readonly extensions: readonly HostExtension[];
  /** Run a timer function now (its schedule is unchanged). Rejects with what the function throws. */
  fireTimer(functionName: string): Promise<InvokeResult>;
  /** One blob container scan now; resolves with the invocations it made. */
  scanBlobs(): Promise<BlobTriggerFiring[]>;
  stop(): Promise<void>;
}

const httpTriggerSchema = z.object({
  type: z.literal('httpTrigger'),
  authLevel: z.enum(['anonymous', 'function', 'admin']).default('anonymous'),
  methods: z.array(z.string().min(1)).optional(),
  route: z.string().optional(),
});
const timerTriggerSchema = z.object({
  type: z.literal('timerTrigger'),
  schedule: z.string().min(1),
  runOnStartup: z.boolean().optional(),
});
const blobTriggerSchema = z.object({
  type: z.literal('blobTrigger'),
  path: z.string().min(3),
  source: z.enum(['LogsAndContainerScan', 'EventGrid']).optional(),
});
const blobBindingSchema = z.object({ type: z.literal('blob'), path: z.string().min(3) });

interface HttpRoute {
  functionName: string;
  methods: Set<string> | undefined;
  template: RouteTemplate;
  authLevel: AuthLevel;
}

let activeHost: RunningFunctionHost | undefined;
let hostStarting = false;

/**
 * Start the local Functions host for one app: load its entry points through the real
 * @azure/functions programming model, check every trigger and binding has someone to drive it,
 * run appStart hooks, listen, start the extensions, then timers and blob scans.
 * One host per process at a time (as the worker runs one app per process).
 */
export async function startFunctionHost(options: FunctionHostOptions): Promise<RunningFunctionHost> {
  if (activeHost || hostStarting) {
    throw new LocalHostError('host_already_running', 'a local host is already running in this process; stop it first');
  }
  hostStarting = true;
  try {
    return await startHost(options);
  } finally {
    hostStarting = false;
  }
}

async function startHost(options: FunctionHostOptions): Promise<RunningFunctionHost> {
  const log: HostLogger = options.logger ?? (() => {});
  const hostLog = (level: RpcLogLevel, message: string) => log({ level, category: 'host', message });
  const appRoot = path.resolve(options.appRoot);
  const extensions = options.extensions ?? [];
  const keys = options.keys ?? {};
  const clock = options.clock ?? systemClock;
  const routePrefix = (options.routePrefix ?? readRoutePrefix(appRoot)).replace(/^\/+|\/+$/g, '');

  const app = options.app ?? loadFunctionApp(appRoot, log);
  const core = installFunctionsCore();
  if (app.appRoot !== appRoot || app.generation !== core.generation) {
    throw new LocalHostError(
      'app_load_failed',
      `the loaded app (${app.appRoot}) is not the one in this process's registrations any more; load it again`,
    );
  }
  core.systemLog = (level, category, message) => log({ level, category, message });
  const functions = new Map(app.functions);
  const plan = planBindings(functions, extensions, options.appSettings ?? {});

  const routes: HttpRoute[] = plan.http.sort((a, b) => compareRoutes(a.template, b.template));
  const extraRoutes: { prefix: string; handler: HttpRouteHandler; auth: ExtraRouteAuth }[] = [];
  const systemKeys: Record<string, string> = { ...keys.system };
  /** The auth level of an extra route, checked before its handler runs (Azure: system routes need their system key). */
  const extraRouteAllows = (auth: ExtraRouteAuth, rest: string, key: string | undefined): boolean => {
    if (auth.level === 'system') return isSystemAuthorized(auth.systemKey, key, { ...keys, system: systemKeys });
    if (auth.level === 'admin') return isAuthorized('admin', '', key, keys);
    // The secret is the path's first segment; compare it in constant time.
    const presented = Buffer.from(rest.split('/').filter(Boolean)[0] ?? '');
    const secret = Buffer.from(auth.secret);
    return presented.length === secret.length && timingSafeEqual(presented, secret);
  };

  const blobClient = BlobServiceClient.fromConnectionString(options.storageConnectionString);

  async function invokeCaptured(
    functionName: string,
    triggerData: RpcTypedData | null | undefined,
    triggerMetadata: Record<string, unknown>,
    extra: { retryCount?: number; bindingData?: Record<string, unknown> } = {},
  ): Promise<{ response: RpcInvocationResponse; fn: RegisteredFunction }> {
    const captured = core.functions.get(functionName);
    const fn = functions.get(functionName);
    if (!captured || !fn) throw new LocalHostError('function_not_found', `no function named "${functionName}"`);
    const invocationId = randomUUID();
    const started = performance.now();
    const executed = (outcome: string) =>
      `Executed 'Functions.${functionName}' (${outcome}, Id=${invocationId}, Duration=${Math.round(performance.now() - started)}ms)`;
    try {
      const bindingData = { ...stringValues(triggerMetadata), ...extra.bindingData };
      const inputData: RpcParameterBinding[] = [{ name: fn.triggerBindingName, data: triggerData ?? null }];
      for (const [name, binding] of Object.entries(fn.bindings)) {
        if (name === fn.triggerBindingName || binding.direction !== 'in') continue;
        inputData.push({ name, data: await inputBindingData(fn, binding, bindingData) });
      }
      const response = await invokeThroughWorker(
        core,
        captured,
        {
          invocationId,
          inputData,
          triggerMetadata: toTypedMetadata(triggerMetadata),
          ...(extra.retryCount !== undefined
            ? { retryContext: { retryCount: extra.retryCount, maxRetryCount: -1 } }
            : {}),
        },
        (entry: FunctionLogEntry) => log(entry),
      );
      await writeOutputs(fn, response, bindingData);
      log({ level: 'information', category: 'host', functionName, invocationId, message: executed('Succeeded') });
      return { response, fn };
    } catch (err) {
      log({
        level: 'error',
        category: 'host',
        functionName,
        invocationId,
        message: `${executed('Failed')}: ${describe(err)}`,
      });
      throw err;
    }
  }

  async function inputBindingData(
    fn: RegisteredFunction,
    binding: BindingInfo,
    bindingData: Record<string, unknown>,
  ): Promise<RpcTypedData | null | undefined> {
    const extension = plan.inputOwners.get(binding.type);
    if (extension) return toTypedData(await extension.inputBindingValue?.(binding, fn));
    if (binding.type === 'blob') {
      const { path: template } = blobBindingSchema.parse(binding);
      const blobPath = resolveBindingExpressions(template, bindingData);
      const [container, ...rest] = blobPath.split('/');
      try {
        return {
          bytes: await blobClient
            .getContainerClient(container ?? '')
            .getBlobClient(rest.join('/'))
            .downloadToBuffer(),
        };
      } catch (err) {
        if (statusOf(err) === 404) return null; // a missing blob binds as null, as in Azure
        throw err;
      }
    }
    return undefined;
  }

  async function writeOutputs(
    fn: RegisteredFunction,
    response: RpcInvocationResponse,
    bindingData: Record<string, unknown>,
  ): Promise<void> {
    const values: [string, RpcTypedData | null | undefined][] = (response.outputData ?? []).map((o) => [
      o.name ?? '',
      o.data,
    ]);
    if (fn.bindings.$return && fn.bindings.$return.type !== 'http') values.push(['$return', response.returnValue]);
    for (const [name, data] of values) {
      const binding = fn.bindings[name];
      if (!binding || binding.type === 'http' || data === null || data === undefined) continue;
      const value = fromTypedData(data);
      const extension = plan.outputOwners.get(binding.type);
      if (extension?.handleOutput) {
        await extension.handleOutput(binding, fn, value);
      } else if (binding.type === 'blob') {
        const { path: template } = blobBindingSchema.parse(binding);
        const blobPath = resolveBindingExpressions(template, bindingData);
        const [container, ...rest] = blobPath.split('/');
        const bytes = toBytes(value);
        const containerClient = blobClient.getContainerClient(container ?? '');
        // Like the Functions blob output binding: the container is created on first write.
        await containerClient.createIfNotExists();
        await containerClient.getBlockBlobClient(rest.join('/')).upload(bytes, bytes.length);
      }
    }
  }

  function toInvokeResult(response: RpcInvocationResponse): InvokeResult {
    const outputs: Record<string, unknown> = {};
    for (const o of response.outputData ?? []) {
      if (o.name) outputs[o.name] = fromTypedData(o.data);
    }
    return { returnValue: fromTypedData(response.returnValue), outputs };
  }

  async function invoke(request: InvokeRequest): Promise<InvokeResult> {
    const { response } = await invokeCaptured(
      request.functionName,
      toTypedData(request.triggerValue),
      request.triggerMetadata ?? {},
      request.retryCount !== undefined ? { retryCount: request.retryCount } : {},
    );
    return toInvokeResult(response);
  }

  const timers = new TimerScheduler({
    clock,
    watches: plan.timers,
    invoke: async (functionName, info) => {
      const { response } = await invokeCaptured(functionName, { json: JSON.stringify(info) }, {});
      return toInvokeResult(response);
    },
    log: (level, message) => hostLog(level, message),
  });

  const blobWatcher = new BlobTriggerWatcher({
    connectionString: options.storageConnectionString,
    hostId: options.hostId ?? 'tunedrop-local',
    watches: plan.blobs,
    invoke: ({ functionName, content, triggerMetadata }) =>
      invokeCaptured(functionName, { bytes: content }, triggerMetadata),
    log: (level, message) => hostLog(level, message),
  });

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
        ({ response, fn } = await invokeCaptured(route.functionName, { http }, triggerMetadata, {
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

  const adminInvokeSchema = z.object({ input: z.string().optional() });

  async function handleAdmin(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (!isAuthorized('admin', '', presentedKey(req, url), keys)) {
      res.statusCode = 401;
      res.end();
      return;
    }
    if (url.pathname === '/admin/host/status' && req.method === 'GET') {
      sendJson(res, 200, { state: 'Running', version: core.api.hostVersion });
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
        ? timers.fire(fn.name)
        : invoke({ functionName: fn.name, triggerValue: parsed.data.input });
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
  let baseUrl = '';
  const baseUrlOf = () => baseUrl || 'http://127.0.0.1';

  // appStart runs once the app is loaded, before any invocation (as in the worker).
  const appHookContext = (): object => ({
    hookData: core.appLevelOnlyHookData,
    appHookData: core.appHookData,
    functionAppDirectory: appRoot,
  });
  for (const hook of [...core.hooks.appStart]) await hook(appHookContext());

  const hostname = options.hostname ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        new LocalHostError('listen_failed', `cannot listen on ${hostname}:${options.port ?? 7071}: ${err.message}`),
      ),
    );
    server.listen(options.port ?? 7071, hostname, () => resolve());
  });
  const address = server.address() as AddressInfo;
  baseUrl = `http://${hostname.includes(':') ? `[${hostname}]` : hostname}:${address.port}`;

  const httpRoutes: HttpRouteInfo[] = routes.map((r) => ({
    functionName: r.functionName,
    methods: r.methods ? [...r.methods] : ['*'],
    route: r.template.template,
    authLevel: r.authLevel,
    url: `${baseUrl}/${[routePrefix, r.template.template].filter(Boolean).join('/')}`,
  }));

  let stopped = false;
  const started: HostExtension[] = [];
  const host: RunningFunctionHost = {
    get baseUrl() {
      return baseUrl;
    },
    functions,
    storageConnectionString: options.storageConnectionString,
    routePrefix,
    httpRoutes,
    blobTriggers: plan.blobs.map((b) => ({ functionName: b.functionName, path: b.pattern.path, source: b.source })),
    extensions,
    timers: () =>
      timers.nextOccurrences().map((t) => ({
        functionName: t.functionName,
        schedule: t.schedule,
        runOnStartup: plan.timers.find((w) => w.functionName === t.functionName)?.runOnStartup ?? false,
        next: t.next,
      })),
    invoke,
    addRoute(pathPrefix, handler, auth) {
      const prefix = `/${pathPrefix.replace(/^\/+/, '')}`;
      extraRoutes.push({ prefix, handler, auth });
      extraRoutes.sort((a, b) => b.prefix.length - a.prefix.length);
    },
    systemKey(name) {
      systemKeys[name] ??= randomBytes(32).toString('base64url');
      return systemKeys[name];
    },
    fireTimer: (functionName) => timers.fire(functionName) as Promise<InvokeResult>,
    scanBlobs: () => blobWatcher.scan(),
    async stop() {
      if (stopped) return;
      stopped = true;
      await blobWatcher.stop();
      await timers.stop();
      for (const extension of [...started].reverse()) {
        await extension
          .stop()
          .catch((err: unknown) => hostLog('error', `extension ${extension.name}: ${describe(err)}`));
      }
      for (const hook of [...core.hooks.appTerminate]) {
        await Promise.resolve(hook(appHookContext())).catch((err: unknown) =>
          hostLog('error', `appTerminate hook: ${describe(err)}`),
        );
      }
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (activeHost === host) activeHost = undefined;
    },
  };
  activeHost = host;

  try {
    for (const extension of extensions) {
      await extension.start(host);
      started.push(extension);
    }
    await blobWatcher.start();
    await timers.start();
    if ((options.blobScanIntervalMs ?? 1000) > 0) blobWatcher.startPolling(options.blobScanIntervalMs ?? 1000);
  } catch (err) {
    await host.stop();
    throw err;
  }
  return host;
}

export interface LoadedFunctionApp {
  readonly appRoot: string;
  readonly files: readonly string[];
  readonly functions: ReadonlyMap<string, RegisteredFunction>;
  /** Which load of this process's registrations this is (a later load replaces them). */
  readonly generation: number;
}

/**
 * Load an app's entry points and capture its registrations, without storage or a server: the
 * runtime does this while Azurite boots. Pass the result as `app` to startFunctionHost.
 */
export function loadFunctionApp(appRoot: string, logger?: HostLogger): LoadedFunctionApp {
  if (activeHost) {
    throw new LocalHostError('host_already_running', 'a local host is already running in this process; stop it first');
  }
  const root = path.resolve(appRoot);
  const core = installFunctionsCore();
  const { files } = resolveEntryPoints(root);
  core.reset();
  const log = logger ?? (() => {});
  core.systemLog = (level, category, message) => log({ level, category, message });
  core.acceptingRegistrations = true;
  try {
    loadEntryPoints(root, files);
  } finally {
    core.acceptingRegistrations = false;
  }
  if (core.functions.size === 0) {
    throw new LocalHostError(
      'no_functions',
      `the app under ${root} registered no functions. If @azure/functions was used before the local host ` +
        'started (it then switches to "test mode" for the whole process), start the host first or call ' +
        'installFunctionsCore() before loading app code',
    );
  }
  if (!core.programmingModel) {
    throw new LocalHostError('no_programming_model', 'functions were registered but no programming model was set');
  }
  const functions = new Map<string, RegisteredFunction>();
  for (const captured of core.functions.values()) functions.set(captured.metadata.name, toRegistered(captured));
  return { appRoot: root, files, functions, generation: core.generation };
}

interface BindingPlan {
  http: HttpRoute[];
  timers: { functionName: string; schedule: string; runOnStartup: boolean }[];
  blobs: { functionName: string; pattern: BlobPathPattern; source: string }[];
  triggerOwners: Map<string, HostExtension>;
  inputOwners: Map<string, HostExtension>;
  outputOwners: Map<string, HostExtension>;
}

/** Decide who drives every trigger and binding; any binding nobody handles fails startup, listing all of them. */
function planBindings(
  functions: ReadonlyMap<string, RegisteredFunction>,
  extensions: readonly HostExtension[],
  appSettings: Readonly<Record<string, string | undefined>>,
): BindingPlan {
  const problems: {
    code: 'unhandled_trigger' | 'unhandled_binding' | 'invalid_binding' | 'duplicate_route';
    line: string;
  }[] = [];
  const claim = (map: Map<string, HostExtension>, type: string, extension: HostExtension, what: string) => {
    const other = map.get(type);
    if (other) {
      problems.push({
        code: 'invalid_binding',
        line: `${what} type "${type}" is claimed by both ${other.name} and ${extension.name}`,
      });
    }
    map.set(type, extension);
  };
  const triggerOwners = new Map<string, HostExtension>();
  const inputOwners = new Map<string, HostExtension>();
  const outputOwners = new Map<string, HostExtension>();
  for (const extension of extensions) {
    for (const t of extension.triggerTypes) claim(triggerOwners, t, extension, 'trigger');
    for (const t of extension.inputBindingTypes) claim(inputOwners, t, extension, 'input binding');
    for (const t of extension.outputBindingTypes ?? []) claim(outputOwners, t, extension, 'output binding');
  }
  const handledTriggers = [...HOST_TRIGGER_TYPES, ...[...triggerOwners].map(([t, e]) => `${t} (${e.name})`)];

  const plan: BindingPlan = { http: [], timers: [], blobs: [], triggerOwners, inputOwners, outputOwners };
  for (const fn of functions.values()) {
    const type = fn.trigger.type;
    try {
      if (type === 'httpTrigger') {
        const t = httpTriggerSchema.parse(fn.trigger);
        const template = parseRouteTemplate(t.route ?? fn.name);
        const methods = t.methods ? new Set(t.methods.map((m) => m.toUpperCase())) : undefined;
        const clash = plan.http.find(
          (r) =>
            r.template.template.toLowerCase() === template.template.toLowerCase() &&
            (!r.methods || !methods || [...methods].some((m) => r.methods?.has(m))),
        );
        if (clash) {
          problems.push({
            code: 'duplicate_route',
            line: `function "${fn.name}": route "${template.template}" is also served by "${clash.functionName}"`,
          });
        }
        plan.http.push({ functionName: fn.name, methods, template, authLevel: t.authLevel });
      } else if (type === 'timerTrigger') {
        const t = timerTriggerSchema.parse(fn.trigger);
        const schedule = t.schedule.replace(/^%(.+)%$/, (_w, name: string) => {
          const value = appSettings[name];
          if (!value) throw new Error(`timer schedule refers to app setting "${name}", which is not set`);
          return value;
        });
        plan.timers.push({ functionName: fn.name, schedule, runOnStartup: t.runOnStartup ?? false });
      } else if (type === 'blobTrigger') {
        const t = blobTriggerSchema.parse(fn.trigger);
        plan.blobs.push({
          functionName: fn.name,
          pattern: parseBlobPathPattern(t.path),
          source: t.source ?? 'LogsAndContainerScan',
        });
      } else if (!triggerOwners.has(type)) {
        problems.push({
          code: 'unhandled_trigger',
          line: `function "${fn.name}": trigger type "${type}" is not handled by the local host or any extension (handled: ${handledTriggers.join(', ')})`,
        });
      }
    } catch (err) {
      problems.push({ code: 'invalid_binding', line: `function "${fn.name}": ${describe(err)}` });
    }
    for (const [name, binding] of Object.entries(fn.bindings)) {
      if (name === fn.triggerBindingName) continue;
      const known =
        binding.direction === 'in'
          ? (HOST_INPUT_TYPES as readonly string[]).includes(binding.type) || inputOwners.has(binding.type)
          : (binding.type === 'http' && type === 'httpTrigger') ||
            binding.type === 'blob' ||
            outputOwners.has(binding.type);
      if (!known) {
        problems.push({
          code: 'unhandled_binding',
          line: `function "${fn.name}": ${binding.direction === 'in' ? 'input' : 'output'} binding "${name}" of type "${binding.type}" is not supported locally (host: ${[...(binding.direction === 'in' ? HOST_INPUT_TYPES : HOST_OUTPUT_TYPES)].join(', ')}; extensions: ${[...(binding.direction === 'in' ? inputOwners : outputOwners).keys()].join(', ') || 'none'})`,
        });
      } else if (binding.type === 'blob') {
        const parsed = blobBindingSchema.safeParse(binding);
        if (!parsed.success)
          problems.push({
            code: 'invalid_binding',
            line: `function "${fn.name}": blob binding "${name}" needs a "path"`,
          });
      }
    }
  }
  if (problems.length > 0) {
    const first = problems.find((p) => p.code === 'unhandled_trigger') ?? (problems[0] as (typeof problems)[number]);
    throw new LocalHostError(
      first.code,
      `the app cannot start locally:\n  ${problems.map((p) => p.line).join('\n  ')}`,
    );
  }
  return plan;
}

function toRegistered(captured: CapturedFunction): RegisteredFunction {
  const bindings: Record<string, BindingInfo> = {};
  let triggerBindingName = '';
  for (const [name, raw] of Object.entries(captured.metadata.bindings)) {
    const type = String(raw.type ?? '');
    bindings[name] = { ...raw, type, direction: raw.direction ?? 'in' };
    if (/trigger$/i.test(type)) triggerBindingName = name;
  }
  const trigger = bindings[triggerBindingName];
  if (!trigger) {
    throw new LocalHostError('invalid_binding', `function "${captured.metadata.name}" has no trigger binding`);
  }
  return {
    name: captured.metadata.name,
    bindings,
    triggerBindingName,
    trigger,
    ...(captured.metadata.retryOptions !== undefined ? { retryOptions: captured.metadata.retryOptions } : {}),
  };
}

function httpResponseOf(fn: RegisteredFunction, response: RpcInvocationResponse): RpcHttpData | undefined {
  if (fn.bindings.$return?.type === 'http') return response.returnValue?.http ?? undefined;
  const name = Object.entries(fn.bindings).find(([, b]) => b.direction === 'out' && b.type === 'http')?.[0];
  return response.outputData?.find((o) => o.name === name)?.data?.http ?? undefined;
}

function toTypedMetadata(metadata: Record<string, unknown>): Record<string, RpcTypedData> {
  const out: Record<string, RpcTypedData> = {};
  for (const [key, value] of Object.entries(metadata)) {
    const typed = toTypedData(value);
    if (typed) out[key] = typed;
  }
  return out;
}

function stringValues(metadata: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[key] = String(value);
  }
  return out;
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
