import { randomBytes } from 'node:crypto';
import type { HostExtension, LocalFunctionHost } from '../host/contract';
import type { Clock } from './clock';
import { DurableEngine } from './engine';
import { DurableEngineError } from './errors';
import {
  clientInputData,
  createDurableHttpHandler,
  DURABLE_RPC_PREFIX,
  DURABLE_SYSTEM_KEY,
  DURABLE_WEBHOOK_PATH,
} from './http-api';
import { DurableStore } from './store';

/**
 * A client-only engine on a task hub's storage (it never dispatches or runs functions): start,
 * status, raise, terminate, purge — e.g. for a CLI next to a running `tunedrop dev`, whose engine
 * picks new work up from storage.
 */
export function openDurableClient(connectionString: string, taskHub = DEFAULT_TASK_HUB): DurableEngine {
  return new DurableEngine({
    store: DurableStore.fromConnectionString(connectionString, taskHub),
    invoke: async () => {
      throw new DurableEngineError('durable_engine_stopped', 'a client-only durable engine runs no functions');
    },
  });
}

export interface DurableExtensionOptions {
  /** Task hub name (letters and digits); state lives in the Azurite table `<taskHub>Instances`. Default 'tunedrop' (the TUNEDROP_TASK_HUB default in Azure). */
  taskHub?: string;
  /** Storage for durable state; default: the host's AzureWebJobsStorage connection string. */
  connectionString?: string;
  /** Default: the system clock. Tests pass a VirtualClock (autoAdvance or advanced by hand). */
  clock?: Clock;
  pollIntervalMs?: number;
  maxConcurrentActivities?: number;
  /** .NET TimeSpan strings the SDK uses to split long timers (defaults 6.00:00:00 and 3.00:00:00, as in Azure Storage). */
  maximumShortTimerDuration?: string;
  longRunningTimerIntervalDuration?: string;
  /**
   * Give the client binding an rpcBaseUrl (default true), as the extension does for out-of-proc workers:
   * the JS DurableClient then calls <host>/runtime/webhooks/durabletask/... directly. Without it the client
   * uses the management URL templates, which durable-functions rewrites to http://localhost:7071 unless
   * WEBSITE_HOSTNAME is set.
   */
  useRpcBaseUrl?: boolean;
  log?(message: string): void;
}

export interface DurableExtension extends HostExtension {
  /** The running engine: the programmatic client API (startNew, getStatus, waitForCompletion, raiseEvent, terminate, purge). */
  readonly engine: DurableEngine;
}

export const DEFAULT_TASK_HUB = 'tunedrop';

/**
 * The durable engine as a local-host extension: drives orchestrationTrigger and activityTrigger
 * functions, supplies the durableClient input binding and serves the durable HTTP API on the host.
 */
export function createDurableExtension(options: DurableExtensionOptions = {}): DurableExtension {
  const taskHub = options.taskHub ?? DEFAULT_TASK_HUB;
  let engine: DurableEngine | undefined;
  let host: LocalFunctionHost | undefined;
  // The in-process client's endpoint: a path only the durableClient binding data carries.
  const rpcSecret = randomBytes(24).toString('base64url');
  const rpcPath = `${DURABLE_RPC_PREFIX}/${rpcSecret}`;

  const requireEngine = (): DurableEngine => {
    if (!engine) throw new DurableEngineError('durable_engine_stopped', 'The durable extension has not been started.');
    return engine;
  };

  return {
    name: 'durable',
    triggerTypes: ['orchestrationTrigger', 'activityTrigger'],
    inputBindingTypes: ['durableClient', 'orchestrationClient'],
    get engine() {
      return requireEngine();
    },
    inputBindingValue() {
      if (!host) throw new DurableEngineError('durable_engine_stopped', 'The durable extension has not been started.');
      return clientInputData(
        host.baseUrl,
        taskHub,
        options.useRpcBaseUrl ?? true,
        host.systemKey(DURABLE_SYSTEM_KEY),
        rpcPath,
      );
    },
    async start(started: LocalFunctionHost) {
      host = started;
      const store = DurableStore.fromConnectionString(
        options.connectionString ?? started.storageConnectionString,
        taskHub,
      );
      engine = new DurableEngine({
        store,
        invoke: (request) => started.invoke(request),
        functionKind: (name) => started.functions.get(name)?.trigger.type,
        clock: options.clock,
        pollIntervalMs: options.pollIntervalMs,
        maxConcurrentActivities: options.maxConcurrentActivities,
        maximumShortTimerDuration: options.maximumShortTimerDuration,
        longRunningTimerIntervalDuration: options.longRunningTimerIntervalDuration,
        log: options.log,
      });
      const systemKey = () => started.systemKey(DURABLE_SYSTEM_KEY);
      // As in Azure: the management API needs the durabletask_extension system key (or the master key).
      started.addRoute(
        DURABLE_WEBHOOK_PATH,
        createDurableHttpHandler(requireEngine, () => started.baseUrl, systemKey),
        {
          level: 'system',
          systemKey: DURABLE_SYSTEM_KEY,
        },
      );
      started.addRoute(
        DURABLE_RPC_PREFIX,
        createDurableHttpHandler(requireEngine, () => started.baseUrl, systemKey, rpcPath),
        { level: 'unguessable', secret: rpcSecret },
      );
      await engine.start();
    },
    async stop() {
      await engine?.stop();
    },
  };
}
