import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { TableClient } from '@azure/data-tables';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import type { ApiDeps, WebhookServices } from '../../../shared/api/deps';
import { type AnyRoute, toHttpHandler } from '../../../shared/api/route';
import { API_ROUTES } from '../../../shared/api/routes';
import { type ApiDurableClient, type AppServices, createAppServices } from '../../../shared/compositionRoot';
import { CONTAINERS } from '../../../shared/config/resources';
import { loadSettings } from '../../../shared/config/settings';
import { InMemoryEventPublisher } from '../../../shared/events/publisher';
import { safePost } from '../../../shared/net/outbound';
import { createWebhookServices, type DeliveryAttemptMessage } from '../../../shared/webhooks';
import { TEST_AUTH_SETTINGS, tokenFor } from '../../support/identity';

export const REPO = path.resolve(__dirname, '..', '..', '..');

/** The orchestration client as the API uses it: remembers started instances and raised events. */
export class RecordingDurableClient {
  readonly started = new Map<string, unknown>();
  readonly raised: { instanceId: string; eventName: string }[] = [];
  async getStatus(instanceId: string) {
    return this.started.has(instanceId) ? { instanceId, runtimeStatus: 'Running' } : { instanceId };
  }
  async startNew(_name: string, options: { instanceId: string; input: unknown }) {
    if (this.started.has(options.instanceId)) throw new Error(`instance ${options.instanceId} exists`);
    this.started.set(options.instanceId, options.input);
    return options.instanceId;
  }
  async raiseEvent(instanceId: string, eventName: string) {
    this.raised.push({ instanceId, eventName });
  }
  asClient(): ApiDurableClient {
    return this as unknown as ApiDurableClient;
  }
}

/** Pipeline services on the shared Azurite, events kept in memory. */
export function azuriteServices(
  connectionString: string,
  env: Record<string, string> = {},
): AppServices & { events: InMemoryEventPublisher; connectionString: string } {
  const events = new InMemoryEventPublisher();
  const services = createAppServices(
    loadSettings({ AzureWebJobsStorage: connectionString, ...TEST_AUTH_SETTINGS, ...env }),
    {
      publisher: events,
      outboundPolicy: { allowLoopbackHttp: true },
    },
  );
  return Object.assign(services, { events, connectionString });
}

/** A team configuration in the config container (the example team's, under another id). */
export async function configureTeam(services: AppServices & { connectionString: string }, team: string): Promise<void> {
  await services.ready();
  const config = JSON.parse(readFileSync(path.join(REPO, 'examples', 'teams', 'support.json'), 'utf8'));
  const body = JSON.stringify({ ...config, team, channels: [] });
  const container = BlobServiceClient.fromConnectionString(services.connectionString).getContainerClient(
    CONTAINERS.config,
  );
  await container.createIfNotExists();
  await container.getBlockBlobClient(`teams/${team}.json`).upload(body, Buffer.byteLength(body));
}

export async function uploadBlob(services: AppServices, name: string, content: string | Buffer): Promise<void> {
  await services.drops.write(name, Buffer.from(content), 'application/octet-stream');
}

export function apiDeps(services: AppServices, durable: RecordingDurableClient, webhooks?: WebhookServices): ApiDeps {
  return { ...services.api(() => durable.asClient()), webhooks };
}

/**
 * Call a route the way the Functions host does: a real HttpRequest into the handler, with a dev
 * token for `as` (default platform-admin; null = no credential). `logs` collects the invocation log.
 */
export async function invoke(
  route: AnyRoute,
  deps: ApiDeps,
  init: {
    url?: string;
    params?: Record<string, string>;
    body?: string;
    headers?: Record<string, string>;
    as?: string | null;
    logs?: string[];
  } = {},
): Promise<{ status: number; headers: Headers; text: string; json: () => Record<string, unknown> }> {
  const as = init.as === undefined ? 'platform-admin' : init.as;
  const credential: Record<string, string> = as ? { authorization: `Bearer ${await tokenFor(as)}` } : {};
  const request = new HttpRequest({
    method: route.method,
    url: `http://127.0.0.1/api/${init.url ?? route.route}`,
    params: init.params ?? {},
    headers: { 'content-type': 'application/json', ...credential, ...init.headers },
    ...(init.body !== undefined ? { body: { string: init.body } } : {}),
  });
  const logs: string[] = init.logs ?? [];
  const context = new InvocationContext({
    functionName: route.name,
    logHandler: (_level, ...args) => logs.push(args.join(' ')),
  });
  const response = await toHttpHandler(route, () => deps)(request, context);
  const headers = new Headers(response.headers as Record<string, string> | undefined);
  const text = typeof response.body === 'string' ? response.body : '';
  return { status: response.status ?? 200, headers, text, json: () => JSON.parse(text) };
}

/**
 * A local HTTP server speaking the API: the real route handlers behind a router with the host's
 * function-key check (header or ?code=). Used by the CLI tests.
 */
export async function serveApi(
  deps: ApiDeps,
  key: string,
): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const match = matchRoute(req.method ?? 'GET', url.pathname);
    if (!match) {
      res.writeHead(404).end();
      return;
    }
    const presented = req.headers['x-functions-key'] ?? url.searchParams.get('code');
    if (match.route.authLevel === 'function' && presented !== key) {
      res.writeHead(401).end();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[name] = value;
    const request = new HttpRequest({
      method: req.method ?? 'GET',
      url: url.toString(),
      headers,
      params: match.params,
      body: { bytes: Buffer.concat(chunks) },
    });
    const response = await toHttpHandler(match.route, () => deps)(
      request,
      new InvocationContext({ functionName: match.route.name, logHandler: () => {} }),
    );
    res.writeHead(response.status ?? 200, response.headers as Record<string, string>);
    res.end(typeof response.body === 'string' ? response.body : undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function matchRoute(method: string, pathname: string): { route: AnyRoute; params: Record<string, string> } | undefined {
  for (const route of API_ROUTES) {
    if (route.method !== method) continue;
    const names: string[] = [];
    const pattern = route.route.replace(/[.]/g, '\\.').replace(/\{(\w+)\}/g, (_m, name: string) => {
      names.push(name);
      return '([^/]+)';
    });
    const m = new RegExp(`^/api/${pattern}$`).exec(pathname);
    if (m) return { route, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1] ?? '')])) };
  }
  return undefined;
}

/**
 * The real webhook services (shared/webhooks) on Azurite tables of their own, posting through
 * safePost (loopback http allowed, as in local mode); scheduled attempts are kept in `scheduled`
 * for the test to run with `runAttempt`.
 */
export function realWebhookServices(connectionString: string, retrySchedule: number[] = [0]) {
  const suffix = randomBytes(4).toString('hex');
  const table = (name: string) =>
    TableClient.fromConnectionString(connectionString, `${name}${suffix}`, { allowInsecureConnection: true });
  const scheduled: DeliveryAttemptMessage[] = [];
  const services = createWebhookServices({
    subscriptionsTable: table('apiHooks'),
    deliveriesTable: table('apiDeliveries'),
    scheduler: { schedule: async (message) => void scheduled.push(message) },
    post: safePost,
    policy: { allowLoopbackHttp: true },
    retrySchedule,
  });
  return Object.assign(services, { scheduled });
}
