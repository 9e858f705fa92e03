import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { type LoadedFunctionApp, loadFunctionApp, planBindings } from './bindingPlan';
import { BlobTriggerWatcher } from './blobTrigger';
import type { HostExtension, InvokeResult } from './contract';
import { installFunctionsCore } from './core';
import type { RpcLogLevel } from './coreTypes';
import { describe, LocalHostError } from './errors';
import { createFunctionInvoker, toInvokeResult } from './functionInvoker';
import { createHostServer } from './hostServer';
import type { FunctionHostOptions, HostLogger, HttpRouteInfo, RunningFunctionHost } from './hostTypes';
import { readRoutePrefix } from './loader';
import { clearActiveHost, setActiveHost, startingHost } from './processGuard';
import { compareRoutes } from './routes';
import { systemClock, TimerScheduler } from './timerTrigger';

/**
 * The host's lifecycle: wire the loaded app's binding plan (bindingPlan.ts), the invoker
 * (functionInvoker.ts), the HTTP + admin server (hostServer.ts), timers, blob scans and extensions
 * together; start them in order and stop them in reverse.
 */

export { HOST_TRIGGER_TYPES, type LoadedFunctionApp, loadFunctionApp } from './bindingPlan';
export type {
  BlobTriggerInfo,
  FunctionHostOptions,
  HostLogEntry,
  HostLogger,
  HttpRouteInfo,
  RunningFunctionHost,
  TimerInfo,
} from './hostTypes';

/**
 * Start the local Functions host for one app: load its entry points through the real
 * @azure/functions programming model, check every trigger and binding has someone to drive it,
 * run appStart hooks, listen, start the extensions, then timers and blob scans.
 * One host per process at a time (as the worker runs one app per process).
 */
export function startFunctionHost(options: FunctionHostOptions): Promise<RunningFunctionHost> {
  return startingHost(() => startHost(options));
}

async function startHost(options: FunctionHostOptions): Promise<RunningFunctionHost> {
  const log: HostLogger = options.logger ?? (() => {});
  const hostLog = (level: RpcLogLevel, message: string) => log({ level, category: 'host', message });
  const appRoot = path.resolve(options.appRoot);
  const extensions = options.extensions ?? [];
  const clock = options.clock ?? systemClock;
  const routePrefix = (options.routePrefix ?? readRoutePrefix(appRoot)).replace(/^\/+|\/+$/g, '');

  const app: LoadedFunctionApp = options.app ?? loadFunctionApp(appRoot, log);
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
  const routes = plan.http.sort((a, b) => compareRoutes(a.template, b.template));

  const blobClient = BlobServiceClient.fromConnectionString(options.storageConnectionString);
  const invoker = createFunctionInvoker({ core, functions, plan, blobClient, log });

  const timers = new TimerScheduler({
    clock,
    watches: plan.timers,
    invoke: async (functionName, info) => {
      const { response } = await invoker.invokeCaptured(functionName, { json: JSON.stringify(info) }, {});
      return toInvokeResult(response);
    },
    log: (level, message) => hostLog(level, message),
  });
  const fireTimer = (functionName: string) => timers.fire(functionName) as Promise<InvokeResult>;

  const blobWatcher = new BlobTriggerWatcher({
    connectionString: options.storageConnectionString,
    hostId: options.hostId ?? 'tunedrop-local',
    watches: plan.blobs,
    invoke: ({ functionName, content, triggerMetadata }) =>
      invoker.invokeCaptured(functionName, { bytes: content }, triggerMetadata),
    log: (level, message) => hostLog(level, message),
  });

  const server = createHostServer({
    routes,
    routePrefix,
    keys: options.keys ?? {},
    functions,
    invoker,
    fireTimer,
    hostVersion: core.api.hostVersion,
    hostLog,
  });

  // appStart runs once the app is loaded, before any invocation (as in the worker).
  const appHookContext = (): object => ({
    hookData: core.appLevelOnlyHookData,
    appHookData: core.appHookData,
    functionAppDirectory: appRoot,
  });
  for (const hook of [...core.hooks.appStart]) await hook(appHookContext());

  const baseUrl = await server.listen(options.port ?? 7071, options.hostname ?? '127.0.0.1');
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
      return server.baseUrl;
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
    invoke: invoker.invoke,
    addRoute: server.addRoute,
    systemKey: server.systemKey,
    fireTimer,
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
      await server.close();
      clearActiveHost(host);
    },
  };
  setActiveHost(host);

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
