import type { LoadedFunctionApp } from './bindingPlan';
import type { BlobTriggerFiring } from './blobTrigger';
import type { HostExtension, InvokeResult, LocalFunctionHost } from './contract';
import type { RpcLogLevel } from './coreTypes';
import type { AuthLevel, HostKeys } from './http';
import type { HostClock } from './timerTrigger';

/** The local host's public shapes: its options, its log lines, and what a running host exposes. */

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
