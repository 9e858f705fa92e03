import path from 'node:path';
import type { TunedropEvent } from '../../shared/events';
import { freePort } from '../../shared/local/azurite';
import { DEV_EXTENSIONS } from '../../shared/local/dev';
import type { startLocalProvider } from '../../shared/local/pipelineDemo';
import { type LocalRuntime, type LocalRuntimeOptions, startLocalRuntime } from '../../shared/local/runtime';
import { activeStandIn } from '../../shared/local/servicebus/active';

/** Shared by the end-to-end tests: the real app (dist/) on the local runtime against the provider emulator. */
export const REPO = path.resolve(__dirname, '..', '..');

export type LocalProvider = Awaited<ReturnType<typeof startLocalProvider>>;

export async function startPipelineRuntime(
  provider: LocalProvider,
  options: {
    storage: LocalRuntimeOptions['storage'];
    port?: number;
    azuritePorts?: LocalRuntimeOptions['azuritePorts'];
    appSettings?: Record<string, string>;
  },
): Promise<LocalRuntime> {
  return startLocalRuntime({
    appRoot: REPO,
    storage: options.storage,
    azuritePorts: options.azuritePorts,
    port: options.port ?? (await freePort()),
    extensions: DEV_EXTENSIONS,
    keys: { master: 'e2e-master-key-0123456789', host: [], functions: {} },
    blobScanIntervalMs: 200,
    appSettings: { TUNEDROP_MODE: 'local', ...provider.appSettings, ...options.appSettings },
    environment: process.env,
  });
}

/**
 * Everything published so far, read from the `webhooks` subscription: it receives every event and
 * has no consumer yet, so messages stay there in publish order.
 */
export async function publishedEvents(): Promise<TunedropEvent[]> {
  return (await activeStandIn().peek('webhooks')).map(
    (m) => (typeof m.body === 'string' ? JSON.parse(m.body) : m.body) as TunedropEvent,
  );
}

export async function waitForEvents(
  predicate: (events: TunedropEvent[]) => boolean,
  timeoutMs: number,
): Promise<TunedropEvent[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = await publishedEvents();
    if (predicate(events)) return events;
    if (Date.now() > deadline) throw new Error(`timed out; saw ${events.map((e) => e.type).join(', ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
