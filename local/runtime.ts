import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { connectionStringFor, DEV_ACCOUNT_NAME, freePort, type RunningAzurite, startAzurite } from './azurite';
import type { HostExtension } from './host/contract';
import { type FunctionHostOptions, loadFunctionApp, type RunningFunctionHost, startFunctionHost } from './host/host';
import { resolveEntryPoints } from './host/loader';

/** What an extension factory gets: the storage the runtime started, so history/state can live there. */
export interface RuntimeServices {
  storageConnectionString: string;
  appRoot: string;
  /** A line for the runtime's logger (the host's category); never pass secrets or message bodies. */
  log(message: string): void;
}

/** An extension, or a function that builds one once storage is up (the durable engine and the bus need storage). */
export type ExtensionSource = HostExtension | ((services: RuntimeServices) => HostExtension | Promise<HostExtension>);

export interface LocalRuntimeOptions
  extends Omit<FunctionHostOptions, 'storageConnectionString' | 'extensions' | 'appRoot'> {
  appRoot: string;
  /**
   * `memory`: a fresh in-memory Azurite; `{ location }`: Azurite persisting under that folder
   * (`npm start` uses `.tunedrop/azurite`); `{ connectionString }`: storage someone else runs
   * (tests share the global Azurite).
   */
  storage: 'memory' | { location: string } | { connectionString: string };
  /** Fixed Azurite ports (default: free ports). */
  azuritePorts?: { blob: number; queue: number; table: number };
  extensions?: readonly ExtensionSource[];
  /**
   * Runs after the app is loaded and the extensions are built, before the host starts: the place
   * to hand the app the runtime's adapters (tunedrop: local/appAdapters.ts configureTunedropApp).
   */
  configureApp?: (services: RuntimeServices) => void | Promise<void>;
  /**
   * Where app settings go for the app's code to read (Azure puts them in the environment).
   * `tunedrop dev` passes process.env; `AzureWebJobsStorage` is always set to the runtime's storage.
   */
  environment?: Record<string, string | undefined>;
}

export interface StartupTimings {
  /** Azurite started and listening (about 0 when storage was given). */
  storageMs: number;
  /** The app's entry points required and their registrations captured. */
  appLoadMs: number;
  /** Extensions built, bindings checked, appStart hooks, HTTP listening, extensions, timers and blob watchers started. */
  hostMs: number;
  totalMs: number;
}

export interface LocalRuntime {
  host: RunningFunctionHost;
  storage: { connectionString: string; endpoints?: RunningAzurite['endpoints']; location?: string };
  startup: StartupTimings;
  stop(): Promise<void>;
}

/** Azurite, the app's code, extensions and the local Functions host, started in that order and stopped in reverse. */
export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const t0 = performance.now();
  const appRoot = path.resolve(options.appRoot);
  resolveEntryPoints(appRoot); // an unbuilt app fails here, before Azurite starts
  let azurite: Promise<RunningAzurite> | undefined;
  let connectionString: string;
  let endpoints: RunningAzurite['endpoints'] | undefined;
  let location: string | undefined;
  if (typeof options.storage === 'object' && 'connectionString' in options.storage) {
    connectionString = options.storage.connectionString;
  } else {
    location = options.storage === 'memory' ? undefined : path.resolve(options.storage.location);
    const ports = options.azuritePorts ?? { blob: await freePort(), queue: await freePort(), table: await freePort() };
    // Kept storage comes back after an Azurite crash; in-memory storage would come back empty, so not that.
    azurite = startAzurite({
      ...(location ? { location, restartOnExit: true } : {}),
      ports,
      log: (message) => options.logger?.({ level: 'warning', category: 'host', message }),
    });
    azurite.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
    endpoints = azuriteEndpoints(ports);
    connectionString = connectionStringFor(endpoints);
  }

  let running: RunningAzurite | undefined;
  try {
    const settings: Record<string, string | undefined> = {
      FUNCTIONS_WORKER_RUNTIME: 'node',
      ...options.appSettings,
      AzureWebJobsStorage: connectionString,
    };
    if (options.environment) Object.assign(options.environment, settings);

    running = await azurite;
    const t1 = performance.now();
    // Loading the app while Azurite boots was measured slower on 2 cores (both are CPU-bound), so: in turn.
    const app = loadFunctionApp(appRoot, options.logger);
    const t2 = performance.now();

    const services: RuntimeServices = {
      storageConnectionString: connectionString,
      appRoot,
      log: (message) => options.logger?.({ level: 'information', category: 'host', message }),
    };
    const extensions: HostExtension[] = [];
    for (const source of options.extensions ?? []) {
      extensions.push(typeof source === 'function' ? await source(services) : source);
    }
    await options.configureApp?.(services);
    const {
      storage: _storage,
      azuritePorts: _ports,
      environment: _env,
      configureApp: _configure,
      ...hostOptions
    } = options;
    const host = await startFunctionHost({
      ...hostOptions,
      appRoot,
      app,
      appSettings: settings,
      storageConnectionString: connectionString,
      extensions,
    });
    const t3 = performance.now();
    const azuriteRef = running;
    return {
      host,
      storage: { connectionString, ...(endpoints ? { endpoints } : {}), ...(location ? { location } : {}) },
      startup: { storageMs: t1 - t0, appLoadMs: t2 - t1, hostMs: t3 - t2, totalMs: t3 - t0 },
      async stop() {
        try {
          await host.stop();
        } finally {
          await azuriteRef?.stop();
        }
      },
    };
  } catch (err) {
    await (running ?? (await azurite?.catch(() => undefined)))?.stop();
    throw err;
  }
}

function azuriteEndpoints(ports: { blob: number; queue: number; table: number }): RunningAzurite['endpoints'] {
  return {
    blob: `http://127.0.0.1:${ports.blob}/${DEV_ACCOUNT_NAME}`,
    queue: `http://127.0.0.1:${ports.queue}/${DEV_ACCOUNT_NAME}`,
    table: `http://127.0.0.1:${ports.table}/${DEV_ACCOUNT_NAME}`,
  };
}
