import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { configureTunedropApp } from '../../local/appAdapters';
import { freePort } from '../../local/azurite';
import { DEV_EXTENSIONS } from '../../local/dev';
import { startLocalProvider } from '../../local/pipelineDemo';
import { type LocalRuntime, type LocalRuntimeOptions, startLocalRuntime } from '../../local/runtime';
import { activeStandIn } from '../../local/servicebus/active';
import { createServiceBusStandInExtension } from '../../local/servicebus/open';
import { startWebhookInbox, type WebhookInbox } from '../../local/webhookInbox';
import { CONTAINERS } from '../../shared/config/resources';
import type { TunedropEvent } from '../../shared/events';
import { CLOUDEVENTS_CONTENT_TYPE } from '../../shared/events/cloudEvent';
import { TOPOLOGY, type Topology } from '../../shared/events/topology';
import { TEST_AUTH_SETTINGS, tokenFor } from '../support/identity';

/** Shared by the end-to-end tests: the real app (dist/) on the local runtime against the provider emulator. */
export const REPO = path.resolve(__dirname, '..', '..');

/**
 * The app's topology plus one subscription no function consumes, receiving every event: the tests
 * read what was published from it (an audit subscription, as one would add on a real namespace),
 * while the app's own consumers complete their copies.
 */
export const AUDIT_SUBSCRIPTION = 'e2e-audit';
const E2E_TOPOLOGY: Topology = {
  ...TOPOLOGY,
  subscriptions: [
    ...TOPOLOGY.subscriptions,
    {
      name: AUDIT_SUBSCRIPTION,
      maxDeliveryCount: 10,
      lockDuration: 'PT1M',
      deadLetteringOnMessageExpiration: false,
      rules: [{ name: 'events', correlationFilter: { contentType: CLOUDEVENTS_CONTENT_TYPE, properties: {} } }],
    },
  ],
};

/** DEV_EXTENSIONS with the bus opened on E2E_TOPOLOGY. */
const E2E_EXTENSIONS: typeof DEV_EXTENSIONS = [
  (services) =>
    createServiceBusStandInExtension({
      connectionString: services.storageConnectionString,
      log: services.log,
      topology: E2E_TOPOLOGY,
    }),
  ...DEV_EXTENSIONS.slice(1),
];

export type LocalProvider = Awaited<ReturnType<typeof startLocalProvider>>;

/** The master key every e2e runtime started by startPipelineRuntime has. */
export const E2E_MASTER_KEY = 'e2e-master-key-0123456789';

/** Terminates a durable instance through the management API (system routes need the master key) and waits for it. */
export async function terminateInstance(runtime: LocalRuntime, instanceId: string): Promise<void> {
  const instance = `${runtime.host.baseUrl}/runtime/webhooks/durabletask/instances/${instanceId}`;
  const res = await fetch(`${instance}/terminate?reason=operator&code=${E2E_MASTER_KEY}`, { method: 'POST' });
  if (res.status !== 202) throw new Error(`terminate ${instanceId}: HTTP ${res.status}`);
  for (let i = 0; i < 100; i++) {
    const status = (await (await fetch(`${instance}?code=${E2E_MASTER_KEY}`)).json()) as { runtimeStatus?: string };
    if (status.runtimeStatus === 'Terminated') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`instance ${instanceId} never became Terminated`);
}

/** Runs the reconcileRuns timer now, through the host's admin endpoint. */
export async function reconcileNow(runtime: LocalRuntime): Promise<void> {
  const res = await fetch(`${runtime.host.baseUrl}/admin/functions/reconcileRuns`, {
    method: 'POST',
    headers: { 'x-functions-key': E2E_MASTER_KEY, 'content-type': 'application/json' },
    body: '{}',
  });
  if (res.status !== 202) throw new Error(`reconcileRuns: HTTP ${res.status}`);
}

export async function startPipelineRuntime(
  provider: LocalProvider,
  options: {
    storage: LocalRuntimeOptions['storage'];
    port?: number;
    azuritePorts?: LocalRuntimeOptions['azuritePorts'];
    appSettings?: Record<string, string>;
    logger?: LocalRuntimeOptions['logger'];
  },
): Promise<LocalRuntime> {
  return startLocalRuntime({
    appRoot: REPO,
    storage: options.storage,
    azuritePorts: options.azuritePorts,
    port: options.port ?? (await freePort()),
    extensions: E2E_EXTENSIONS,
    keys: { master: E2E_MASTER_KEY, host: [], functions: {} },
    blobScanIntervalMs: 200,
    // The dev issuer as the trusted tenant: API calls carry dev tokens through the real checks.
    appSettings: { ...TEST_AUTH_SETTINGS, ...provider.appSettings, ...options.appSettings },
    configureApp: configureTunedropApp,
    environment: process.env,
    ...(options.logger ? { logger: options.logger } : {}),
  });
}

/** Everything published so far, in publish order (peeked from the audit subscription). */
export async function publishedEvents(): Promise<TunedropEvent[]> {
  return (await activeStandIn().peek(AUDIT_SUBSCRIPTION)).map(
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

/**
 * An example team (examples/teams/{team}.json) into the config container, its Teams and Slack
 * channels pointed at `inboxUrl` — or, without one, no channels, so no test posts to a port where
 * a developer's `npm start` inbox may be listening.
 */
export async function seedExampleTeam(
  connectionString: string,
  inboxUrl?: string,
  teamName: 'support' | 'assist' = 'support',
): Promise<void> {
  const team = JSON.parse(readFileSync(path.join(REPO, 'examples', 'teams', `${teamName}.json`), 'utf8')) as {
    channels: { name: string; kind: string; url: string }[];
  };
  team.channels = inboxUrl ? team.channels.map((c) => ({ ...c, url: `${inboxUrl}/inbox/${c.kind}/${c.name}` })) : [];
  const config = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(CONTAINERS.config);
  await config.createIfNotExists();
  const body = JSON.stringify(team);
  await config.getBlockBlobClient(`teams/${teamName}.json`).upload(body, Buffer.byteLength(body));
}

/**
 * The HTTP API of `runtime()` as `principal` (a dev token; default the example team's admin): JSON
 * in and out, and anything but a 2xx throws with the status and the body.
 */
export function apiAs(runtime: () => LocalRuntime, principal = 'support-admin') {
  return async <T = Record<string, unknown>>(method: string, route: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${runtime().host.baseUrl}/api/${route}`, {
      method,
      headers: { authorization: `Bearer ${await tokenFor(principal)}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} /api/${route} → ${response.status} ${text}`);
    return (text ? JSON.parse(text) : {}) as T;
  };
}

export interface FanoutSetup {
  provider: LocalProvider;
  inbox: WebhookInbox;
  runtime: LocalRuntime;
  stop(): Promise<void>;
}

/**
 * What the fan-out tests run on: the provider emulators, a webhook inbox on a free port, the
 * runtime in memory (with `appSettings`, e.g. shortened retries) and the example team with its
 * Teams and Slack channels pointed at the inbox.
 */
export async function startFanoutRuntime(appSettings: Record<string, string>): Promise<FanoutSetup> {
  const provider = await startLocalProvider();
  const inbox = await startWebhookInbox({ port: 0 });
  const runtime = await startPipelineRuntime(provider, { storage: 'memory', appSettings });
  await seedExampleTeam(runtime.host.storageConnectionString, inbox.url);
  return {
    provider,
    inbox,
    runtime,
    stop: async () => {
      await runtime.stop();
      await inbox.stop();
      await provider.stop();
    },
  };
}
