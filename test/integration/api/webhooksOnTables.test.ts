import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ApiDeps } from '../../../shared/api/deps';
import {
  createWebhookRoute,
  deleteWebhookRoute,
  getWebhookRoute,
  listDeliveriesRoute,
  listWebhooksRoute,
  redeliverRoute,
  rotateWebhookSecretRoute,
  testWebhookRoute,
} from '../../../shared/api/routes/webhooks';
import { safePost } from '../../../shared/net/outbound';
import { datasetEventFor } from '../../../shared/pipeline/datasetEvents';
import { createWebhookServices, type DeliveryAttemptMessage, verifyWebhook } from '../../../shared/webhooks';
import { apiDeps, azuriteServices, invoke, RecordingDurableClient } from './support';

/** The webhook routes over the real stores and delivery engine (shared/webhooks) on Azurite, posting to a local receiver. */
describe('webhook routes on the real subscription and delivery stores', () => {
  const connectionString = inject('azurite').connectionString;
  const suffix = randomUUID().replaceAll('-', '').slice(0, 8);
  const table = (name: string) =>
    TableClient.fromConnectionString(connectionString, `${name}${suffix}`, { allowInsecureConnection: true });
  const scheduled: DeliveryAttemptMessage[] = [];
  const webhooks = createWebhookServices({
    subscriptionsTable: table('apiHooks'),
    deliveriesTable: table('apiDeliveries'),
    scheduler: { schedule: async (message) => void scheduled.push(message) },
    post: safePost,
    policy: { allowLoopbackHttp: true },
    retrySchedule: [0],
  });
  const deps: ApiDeps = apiDeps(azuriteServices(connectionString), new RecordingDurableClient(), webhooks);
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  let answer = 200;
  const receiver = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
    res.writeHead(answer).end();
  });
  let target = '';

  beforeAll(async () => {
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    target = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  it('create → test (signed with the returned secret) → rotate → delete; secrets only in create/rotate', async () => {
    const created = await invoke(createWebhookRoute, deps, {
      body: JSON.stringify({ team: 'hooks-real', url: target }),
    });
    expect(created.status, created.text).toBe(201);
    const sub = created.json() as { id: string; secret: string };

    const tested = await invoke(testWebhookRoute, deps, { params: { id: sub.id } });
    expect(tested.json()).toEqual({ delivered: true, result: '200' });
    const ping = received.at(-1);
    const verified = verifyWebhook(sub.secret, ping?.headers as Record<string, string>, ping?.body ?? '');
    expect(verified.ok).toBe(true);

    const rotated = await invoke(rotateWebhookSecretRoute, deps, { params: { id: sub.id } });
    const newSecret = String(rotated.json().secret);
    expect(newSecret).toMatch(/^whsec_/);
    const readBack = [
      await invoke(getWebhookRoute, deps, { params: { id: sub.id } }),
      await invoke(listWebhooksRoute, deps, { url: 'webhooks?team=hooks-real' }),
    ];
    for (const res of readBack) {
      expect(res.status).toBe(200);
      expect(res.text).toContain(sub.id);
      expect(res.text).not.toContain(sub.secret.slice(6));
      expect(res.text).not.toContain(newSecret.slice(6));
    }
    expect((await invoke(deleteWebhookRoute, deps, { params: { id: sub.id } })).status).toBe(204);
    expect((await invoke(getWebhookRoute, deps, { params: { id: sub.id } })).status).toBe(404);
  });

  it('refuses a private target URL with 422 invalid_target_url', async () => {
    const res = await invoke(createWebhookRoute, deps, {
      body: JSON.stringify({ team: 'hooks-real', url: 'https://10.1.2.3/private?token=abc' }),
    });
    expect(res.status, res.text).toBe(422);
    expect(res.json()).toMatchObject({ code: 'invalid_target_url' });
    expect(res.text).not.toContain('token=abc');
  });

  it('lists a delivery that failed after its last try and redelivers it', async () => {
    const created = await invoke(createWebhookRoute, deps, {
      body: JSON.stringify({ team: 'hooks-fail', url: target }),
    });
    expect(created.status).toBe(201);
    answer = 500;
    const event = datasetEventFor({
      type: 'tunedrop.dataset.rejected',
      runId: 'run-0123456789abcdef0123456789abcdef',
      team: 'hooks-fail',
      dataset: 'd',
      model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
      task: 'chat',
      manifestUrl: 'http://127.0.0.1/datasets/hooks-fail/d/run.json',
      reportUrls: { json: 'http://127.0.0.1/r.json', markdown: 'http://127.0.0.1/r.md' },
      errors: [{ code: 'invalid_manifest', count: 1 }],
      time: new Date().toISOString(),
    });
    await webhooks.deliverEvent(event);
    for (const message of scheduled.splice(0)) await webhooks.runAttempt(message);

    const failed = await invoke(listDeliveriesRoute, deps, { url: 'deliveries?status=failed&team=hooks-fail' });
    expect(failed.status, failed.text).toBe(200);
    const deliveries = failed.json().deliveries as { id: string; status: string; lastResult?: string }[];
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject({ status: 'failed', lastResult: '500' });

    answer = 200;
    const redelivered = await invoke(redeliverRoute, deps, { params: { id: deliveries[0]?.id ?? '' } });
    expect(redelivered.status, redelivered.text).toBe(202);
    for (const message of scheduled.splice(0)) await webhooks.runAttempt(message);
    const after = await invoke(listDeliveriesRoute, deps, { url: 'deliveries?status=failed&team=hooks-fail' });
    expect(after.json().deliveries).toEqual([]);
    const again = await invoke(redeliverRoute, deps, { params: { id: deliveries[0]?.id ?? '' } });
    expect(again.status).toBe(409);
  });
});
