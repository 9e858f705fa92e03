import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CliIo } from '../../../cli/apiClient';
import { run } from '../../../cli/commands/webhooks';
import { safePost } from '../../../shared/net/outbound';
import { createWebhookServices, verifyWebhook } from '../../../shared/webhooks';
import {
  apiDeps,
  azuriteServices,
  configureTeam,
  RecordingDurableClient,
  serveApi,
} from '../../integration/api/support';
import { tokenFor } from '../../support/identity';

const KEY = 'cli-webhooks-key-0123456789';
let TOKEN = '';

function io(env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  const value: CliIo = {
    stdout: { write: (t: string) => out.push(t) },
    stderr: { write: (t: string) => err.push(t) },
    env,
    cwd: mkdtempSync(path.join(tmpdir(), 'tunedrop-cli-')),
  };
  return { io: value, out: () => out.join(''), err: () => err.join('') };
}

describe('tunedrop webhooks against a local API server over the real webhook stores', () => {
  const connectionString = inject('azurite').connectionString;
  const suffix = randomUUID().replaceAll('-', '').slice(0, 8);
  const table = (name: string) =>
    TableClient.fromConnectionString(connectionString, `${name}${suffix}`, { allowInsecureConnection: true });
  const webhooks = createWebhookServices({
    subscriptionsTable: table('cliHooks'),
    deliveriesTable: table('cliDeliveries'),
    scheduler: { schedule: async () => {} },
    post: safePost,
    policy: { allowLoopbackHttp: true },
  });
  const received: { headers: Record<string, string>; body: string }[] = [];
  const receiver = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    received.push({ headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString('utf8') });
    res.writeHead(204).end();
  });
  let api: Awaited<ReturnType<typeof serveApi>>;
  let target = '';
  const env = () => ({ TUNEDROP_API_URL: api.url, TUNEDROP_API_TOKEN: TOKEN });

  beforeAll(async () => {
    TOKEN = await tokenFor('platform-admin');
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    target = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook?token=abc123`;
    const services = azuriteServices(connectionString);
    await configureTeam(services, 'cli-hooks');
    api = await serveApi(apiDeps(services, new RecordingDurableClient(), webhooks), KEY);
  });
  afterAll(async () => {
    await api.close();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  it('add prints the secret once; list never shows it (nor the URL’s query); test delivers a signed ping; rm deletes', async () => {
    const added = io(env());
    expect(
      await run(['add', '--team', 'cli-hooks', '--url', target, '--events', 'run.completed,run.failed'], added.io),
    ).toBe(0);
    const secret = /Signing secret: (whsec_\S+)/.exec(added.out())?.[1] ?? '';
    const id = /Created (wh_\w+)/.exec(added.out())?.[1] ?? '';
    expect(secret).toMatch(/^whsec_/);
    expect(added.out()).toContain('Store this secret now');
    expect(added.out()).toContain('Events: tunedrop.run.completed, tunedrop.run.failed');
    expect(added.out()).not.toContain('abc123');

    const listed = io(env());
    expect(await run(['list', '--team', 'cli-hooks'], listed.io)).toBe(0);
    expect(listed.out()).toContain(id);
    expect(listed.out()).toContain('/hook?…');
    const json = io(env());
    expect(await run(['list', '--json'], json.io)).toBe(0);
    for (const o of [listed, json]) {
      expect(o.out()).not.toContain(secret.slice(6));
      expect(o.out()).not.toContain('whsec_');
    }

    const tested = io(env());
    expect(await run(['test', id], tested.io)).toBe(0);
    expect(tested.out()).toContain('Delivered: the endpoint answered 204');
    const ping = received.at(-1);
    expect(verifyWebhook(secret, ping?.headers ?? {}, ping?.body ?? '').ok).toBe(true);

    const removed = io(env());
    expect(await run(['rm', id], removed.io)).toBe(0);
    const again = io(env());
    expect(await run(['rm', id], again.io)).toBe(1);
    expect(again.err()).toContain('No such resource');
  });

  it('reports refusals: an unknown event type is a usage error (2), a private URL the API’s problem (1)', async () => {
    const badEvent = io(env());
    expect(await run(['add', '--team', 'cli-hooks', '--url', target, '--events', 'run.exploded'], badEvent.io)).toBe(2);
    expect(badEvent.err()).toContain('unknown event type(s) tunedrop.run.exploded');
    const privateUrl = io(env());
    expect(await run(['add', '--team', 'cli-hooks', '--url', 'https://192.168.1.10/hook'], privateUrl.io)).toBe(1);
    expect(privateUrl.err()).toContain('The webhook target URL is not allowed');
    const missing = io(env());
    expect(await run(['add', '--team', 'cli-hooks'], missing.io)).toBe(2);
  });
});
