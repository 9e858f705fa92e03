import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
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
import { datasetEventFor } from '../../../shared/pipeline/datasetEvents';
import { verifyWebhook } from '../../../shared/webhooks';
import {
  apiDeps,
  azuriteServices,
  configureTeam,
  invoke,
  RecordingDurableClient,
  realWebhookServices,
} from './support';

/** The webhook routes over the real stores and delivery engine (shared/webhooks) on Azurite, posting to a local receiver. */
describe('webhook subscription and delivery routes', () => {
  const connectionString = inject('azurite').connectionString;
  const services = azuriteServices(connectionString);
  const webhooks = realWebhookServices(connectionString);
  const deps: ApiDeps = apiDeps(services, new RecordingDurableClient(), webhooks);
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
    // Subscriptions only for configured teams (before the first request: the team directory caches).
    for (const team of ['hooks', 'hooks-fail', 'careless']) await configureTeam(services, team);
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    target = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  const rejectedEvent = (team: string, n: number) =>
    datasetEventFor({
      type: 'tunedrop.dataset.rejected',
      runId: `run-${String(n).padStart(32, '0')}`,
      team,
      dataset: 'd',
      model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
      task: 'chat',
      manifestUrl: `http://127.0.0.1/datasets/${team}/d/run.json`,
      reportUrls: { json: 'http://127.0.0.1/r.json', markdown: 'http://127.0.0.1/r.md' },
      errors: [{ code: 'invalid_manifest', count: 1 }],
      time: new Date(Date.UTC(2026, 10, 27, 10, 0, n)).toISOString(),
    });

  it('create → test (signed with the returned secret) → rotate → delete; the secret only in create/rotate', async () => {
    const created = await invoke(createWebhookRoute, deps, {
      body: JSON.stringify({ team: 'hooks', url: target, eventTypes: ['tunedrop.run.completed'] }),
    });
    expect(created.status, created.text).toBe(201);
    const sub = created.json() as { id: string; secret: string };
    expect(sub.secret).toMatch(/^whsec_/);
    expect(created.headers.get('location')).toBe(`/api/webhooks/${sub.id}`);

    const tested = await invoke(testWebhookRoute, deps, { params: { id: sub.id } });
    expect(tested.json()).toEqual({ delivered: true, result: '200' });
    const ping = received.at(-1);
    expect(verifyWebhook(sub.secret, ping?.headers as Record<string, string>, ping?.body ?? '').ok).toBe(true);

    const rotated = await invoke(rotateWebhookSecretRoute, deps, { params: { id: sub.id } });
    expect(rotated.status).toBe(200);
    const newSecret = String(rotated.json().secret);
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(sub.secret);

    const readBack = [
      await invoke(getWebhookRoute, deps, { params: { id: sub.id } }),
      await invoke(listWebhooksRoute, deps, { url: 'webhooks?team=hooks' }),
      await invoke(listWebhooksRoute, deps),
      await invoke(testWebhookRoute, deps, { params: { id: sub.id } }),
    ];
    expect(readBack.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(readBack[0]?.json()).toMatchObject({ id: sub.id, team: 'hooks', eventTypes: ['tunedrop.run.completed'] });
    expect((readBack[1]?.json().webhooks as { id: string }[] | undefined)?.map((w) => w.id)).toEqual([sub.id]);
    const deleted = await invoke(deleteWebhookRoute, deps, { params: { id: sub.id } });
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    for (const res of [...readBack, deleted]) {
      expect(res.text).not.toContain('whsec_');
      expect(res.text).not.toContain(sub.secret.slice(6));
      expect(res.text).not.toContain(newSecret.slice(6));
    }
    expect((await invoke(deleteWebhookRoute, deps, { params: { id: sub.id } })).status).toBe(404);
    expect((await invoke(getWebhookRoute, deps, { params: { id: sub.id } })).json()).toMatchObject({
      code: 'not_found',
    });
    expect((await invoke(testWebhookRoute, deps, { params: { id: sub.id } })).status).toBe(404);
  });

  it('never answers with a secret even when a store hands one back (responses are parsed without it)', async () => {
    const created = await webhooks.subscriptions.create({ team: 'careless', url: target });
    const careless: ApiDeps = apiDeps(services, new RecordingDurableClient(), {
      ...webhooks,
      subscriptions: {
        ...webhooks.subscriptions,
        create: (input) => webhooks.subscriptions.create(input),
        delete: (id) => webhooks.subscriptions.delete(id),
        rotateSecret: (id) => webhooks.subscriptions.rotateSecret(id),
        get: async (id) => ({ ...(await webhooks.subscriptions.get(id)), secret: created.secret }) as never,
        list: async (q) =>
          (await webhooks.subscriptions.list(q)).map((w) => ({ ...w, secret: created.secret })) as never,
      },
    });
    const responses = [
      await invoke(getWebhookRoute, careless, { params: { id: created.id } }),
      await invoke(listWebhooksRoute, careless, { url: 'webhooks?team=careless' }),
    ];
    for (const res of responses) {
      expect(res.status).toBe(200);
      expect(res.text).toContain(created.id);
      expect(res.text).not.toContain(created.secret.slice(6));
    }
  });

  it('rejects a bad subscription body with 422 and the offending paths (never the URL), a private target with invalid_target_url', async () => {
    const bad = await invoke(createWebhookRoute, deps, {
      body: JSON.stringify({ team: 'hooks', url: 'not a url?token=s3cr3t', eventTypes: ['tunedrop.nope'] }),
    });
    expect(bad.status).toBe(422);
    expect((bad.json().errors as { path: string }[]).map((e) => e.path).sort()).toEqual([
      'body.eventTypes.0',
      'body.url',
    ]);
    expect(bad.text).not.toContain('s3cr3t');

    const privateTarget = await invoke(createWebhookRoute, deps, {
      body: JSON.stringify({ team: 'hooks', url: 'https://10.1.2.3/private?token=abc' }),
    });
    expect(privateTarget.status, privateTarget.text).toBe(422);
    expect(privateTarget.json()).toMatchObject({ code: 'invalid_target_url' });
    expect(privateTarget.text).not.toContain('token=abc');

    const withCredentials = await invoke(createWebhookRoute, deps, {
      body: JSON.stringify({ team: 'hooks', url: 'https://ci-bot:hunter2@hooks.example.com/in' }),
    });
    expect(withCredentials.status, withCredentials.text).toBe(422);
    expect(withCredentials.json()).toMatchObject({ code: 'invalid_target_url' });
    expect(withCredentials.text).not.toContain('hunter2');
    const listed = await invoke(listWebhooksRoute, deps, { url: 'webhooks?team=hooks' });
    expect(listed.text).not.toContain('hunter2');
  });

  it('lists deliveries that failed after their last try, page by page, and redelivers only failed ones', async () => {
    const created = await invoke(createWebhookRoute, deps, {
      body: JSON.stringify({ team: 'hooks-fail', url: target }),
    });
    expect(created.status).toBe(201);
    answer = 500;
    for (const n of [1, 2, 3]) await webhooks.deliverEvent(rejectedEvent('hooks-fail', n));
    for (const message of webhooks.scheduled.splice(0)) await webhooks.runAttempt(message);

    const first = await invoke(listDeliveriesRoute, deps, {
      url: 'deliveries?status=failed&team=hooks-fail&pageSize=2',
    });
    expect(first.status, first.text).toBe(200);
    const firstBody = first.json() as { deliveries: { id: string; lastResult?: string }[]; nextLink?: string };
    expect(firstBody.deliveries).toHaveLength(2);
    expect(firstBody.deliveries[0]).toMatchObject({ status: 'failed', lastResult: '500' });
    expect(firstBody.nextLink).toMatch(
      /^\/api\/deliveries\?status=failed&team=hooks-fail&pageSize=2&continuationToken=/,
    );
    const second = await invoke(listDeliveriesRoute, deps, { url: (firstBody.nextLink ?? '').replace('/api/', '') });
    const secondBody = second.json() as { deliveries: { id: string }[]; nextLink?: string };
    const failed = [...firstBody.deliveries, ...secondBody.deliveries];
    expect(new Set(failed.map((d) => d.id)).size).toBe(3);

    answer = 200;
    const redelivered = await invoke(redeliverRoute, deps, { params: { id: failed[0]?.id ?? '' } });
    expect(redelivered.status, redelivered.text).toBe(202);
    expect(redelivered.json()).toMatchObject({ status: 'pending', attempts: 0 });
    for (const message of webhooks.scheduled.splice(0)) await webhooks.runAttempt(message);
    const after = await invoke(listDeliveriesRoute, deps, { url: 'deliveries?status=failed&team=hooks-fail' });
    expect((after.json().deliveries as unknown[]).length).toBe(2);
    const notFailed = await invoke(redeliverRoute, deps, { params: { id: failed[0]?.id ?? '' } });
    expect(notFailed.status).toBe(409);
    expect(notFailed.json()).toMatchObject({ code: 'delivery_not_failed' });
    expect((await invoke(redeliverRoute, deps, { params: { id: 'dl_0000000000000000' } })).status).toBe(404);
  });

  it('answers 503 webhooks_unavailable where webhook delivery is not deployed', async () => {
    const without = apiDeps(services, new RecordingDurableClient());
    const res = await invoke(listWebhooksRoute, without);
    expect(res.status).toBe(503);
    expect(res.json()).toMatchObject({ code: 'webhooks_unavailable' });
  });
});
