import { describe, expect, inject, it } from 'vitest';
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
import { apiDeps, azuriteServices, InMemoryWebhookServices, invoke, RecordingDurableClient } from './support';

/**
 * Webhook routes against the shared contracts (shared/webhooks/contracts.ts). The store here
 * deliberately returns secrets from get/list, like a careless implementation: the API must strip them.
 */
describe('webhook subscription and delivery routes', () => {
  const services = azuriteServices(inject('azurite').connectionString);
  const webhooks = new InMemoryWebhookServices();
  const deps: ApiDeps = apiDeps(services, new RecordingDurableClient(), webhooks);

  it('returns the secret only when creating and rotating', async () => {
    const created = await invoke(createWebhookRoute, deps, {
      body: JSON.stringify({ team: 'hooks', url: 'https://example.com/hook', eventTypes: ['tunedrop.run.completed'] }),
    });
    expect(created.status, created.text).toBe(201);
    const sub = created.json() as { id: string; secret: string };
    expect(sub.secret).toMatch(/^whsec_/);
    expect(created.headers.get('location')).toBe(`/api/webhooks/${sub.id}`);

    const rotated = await invoke(rotateWebhookSecretRoute, deps, { params: { id: sub.id } });
    expect(rotated.status).toBe(200);
    const newSecret = String(rotated.json().secret);
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(sub.secret);

    const [listed, listedAll, shown, tested] = [
      await invoke(listWebhooksRoute, deps, { url: 'webhooks?team=hooks' }),
      await invoke(listWebhooksRoute, deps),
      await invoke(getWebhookRoute, deps, { params: { id: sub.id } }),
      await invoke(testWebhookRoute, deps, { params: { id: sub.id } }),
    ];
    const responses = [listed, listedAll, shown, tested].filter((r) => r !== undefined);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect((listed?.json().webhooks as { id: string }[] | undefined)?.map((w) => w.id)).toEqual([sub.id]);
    expect(shown?.json()).toMatchObject({ id: sub.id, team: 'hooks', eventTypes: ['tunedrop.run.completed'] });
    expect(tested?.json()).toEqual({ delivered: true, result: '200' });
    expect(webhooks.tests).toEqual([sub.id]);
    const deleted = await invoke(deleteWebhookRoute, deps, { params: { id: sub.id } });
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    for (const res of [...responses, deleted]) {
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

  it('rejects a bad subscription body with 422 and the offending paths (never the URL)', async () => {
    const res = await invoke(createWebhookRoute, deps, {
      body: JSON.stringify({ team: 'hooks', url: 'not a url?token=s3cr3t', eventTypes: ['tunedrop.nope'] }),
    });
    expect(res.status).toBe(422);
    expect((res.json().errors as { path: string }[]).map((e) => e.path).sort()).toEqual([
      'body.eventTypes.0',
      'body.url',
    ]);
    expect(res.text).not.toContain('s3cr3t');
  });

  it('lists failed deliveries page by page and redelivers only failed ones', async () => {
    const subscriptionId = 'wh_0123456789abcdef0123';
    const failed = [1, 2, 3].map(() => webhooks.addDelivery('hooks', 'failed', subscriptionId));
    const succeeded = webhooks.addDelivery('hooks', 'succeeded', subscriptionId);
    const first = await invoke(listDeliveriesRoute, deps, { url: 'deliveries?status=failed&team=hooks&pageSize=2' });
    const firstBody = first.json() as { deliveries: { id: string }[]; nextLink?: string };
    expect(firstBody.deliveries).toHaveLength(2);
    expect(firstBody.nextLink).toBe('/api/deliveries?status=failed&team=hooks&pageSize=2&continuationToken=2');
    const second = await invoke(listDeliveriesRoute, deps, { url: (firstBody.nextLink ?? '').replace('/api/', '') });
    const secondBody = second.json() as { deliveries: { id: string }[]; nextLink?: string };
    expect(secondBody.nextLink).toBeUndefined();
    expect([...firstBody.deliveries, ...secondBody.deliveries].map((d) => d.id).sort()).toEqual(
      failed.map((d) => d.id).sort(),
    );

    const redelivered = await invoke(redeliverRoute, deps, { params: { id: failed[0]?.id ?? '' } });
    expect(redelivered.status).toBe(202);
    expect(redelivered.json()).toMatchObject({ status: 'pending', attempts: 0 });
    const notFailed = await invoke(redeliverRoute, deps, { params: { id: succeeded.id } });
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
