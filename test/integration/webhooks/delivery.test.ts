import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ServiceBusStandIn } from '../../../local/servicebus/broker';
import { VirtualClock } from '../../../local/servicebus/clock';
import { standInTopicScheduler } from '../../../local/servicebus/scheduler';
import { startWebhookInbox, type WebhookInbox } from '../../../local/webhookInbox';
import { createEvent, SUBSCRIPTIONS, type TunedropEvent, toServiceBusMessage } from '../../../shared/events';
import { safePost } from '../../../shared/net/outbound';
import {
  createWebhookServices,
  type DeliveryScheduler,
  deliveryIdFor,
  TableDeliveryStore,
  TopicDeliveryScheduler,
  verifyWebhook,
  WebhookError,
  type WebhookServices,
  type WebhookSubscriptionWithSecret,
} from '../../../shared/webhooks';

const connectionString = () => inject('azurite').connectionString;
const tableClient = (name: string) =>
  TableClient.fromConnectionString(connectionString(), name, { allowInsecureConnection: true });

function completedEvent(runId: string, team = 'nlp'): TunedropEvent {
  return createEvent('tunedrop.run.completed', {
    subject: runId,
    team,
    model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
    time: '2026-01-01T00:00:00Z',
    data: {
      runId,
      team,
      dataset: 'support-bot',
      model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
      status: 'completed',
      registeredModel: 'ml.nlp.support_bot',
      registeredVersion: '3',
    },
  });
}

/** What the Functions host hands the handler: the message body the publisher sent. */
const asReceived = (event: TunedropEvent) => JSON.parse(JSON.stringify(toServiceBusMessage(event).body)) as unknown;

describe('webhook delivery on Azurite, the Service Bus stand-in and a real receiver', () => {
  const clock = new VirtualClock(Date.parse('2026-01-01T00:00:00Z'));
  const now = () => new Date(clock.now());
  let bus: ServiceBusStandIn;
  let inbox: WebhookInbox;
  let webhooks: WebhookServices;
  let ok: WebhookSubscriptionWithSecret;
  let flaky: WebhookSubscriptionWithSecret;
  let failedOnly: WebhookSubscriptionWithSecret;
  let otherTeam: WebhookSubscriptionWithSecret;
  const suffix = Date.now().toString(36);

  const build = (scheduler: DeliveryScheduler) =>
    createWebhookServices({
      subscriptionsTable: tableClient(`whSubs${suffix}`),
      deliveriesTable: tableClient(`whDeliveries${suffix}`),
      scheduler,
      post: safePost,
      policy: { allowLoopbackHttp: true, responseTimeoutMs: 2000 },
      retrySchedule: [0, 5, 300],
      now,
      jitter: (d) => d,
    });

  /** Run every attempt message that is due, like functions/retryWebhookDelivery does. */
  async function runDueAttempts(): Promise<string[]> {
    const ran: string[] = [];
    for (;;) {
      const messages = await bus.receive(SUBSCRIPTIONS.webhookRetries, { maxMessages: 10 });
      if (messages.length === 0) return ran;
      for (const m of messages) {
        const outcome = await webhooks.runAttempt(m.body);
        ran.push(`${m.messageId} ${outcome.action} ${outcome.result ?? ''}`.trim());
        await bus.complete(m);
      }
    }
  }
  const hitsFor = (name: string) => inbox.received().filter((e) => e.kind === 'webhooks' && e.name === name);

  beforeAll(async () => {
    bus = await ServiceBusStandIn.open({ clock });
    inbox = await startWebhookInbox({ port: 0, now });
    webhooks = build(new TopicDeliveryScheduler(standInTopicScheduler(bus)));
    await webhooks.ready();
    const target = (name: string) => `${inbox.url}/inbox/webhooks/${name}`;
    ok = await webhooks.subscriptions.create({
      team: 'nlp',
      url: target('ok'),
      eventTypes: ['tunedrop.run.completed'],
    });
    flaky = await webhooks.subscriptions.create({ team: 'nlp', url: target('flaky'), description: 'goes down' });
    failedOnly = await webhooks.subscriptions.create({
      team: 'nlp',
      url: target('failed-only'),
      eventTypes: ['tunedrop.run.failed'],
    });
    otherTeam = await webhooks.subscriptions.create({ team: 'vision', url: target('vision') });
    for (const s of [ok, flaky, failedOnly, otherTeam]) inbox.trust(s.url.split('/').at(-1)!, s.secret);
  });
  afterAll(async () => {
    await inbox?.stop();
    await bus?.close();
  });

  it('delivers a signed event to each matching endpoint; a down endpoint retries on schedule, then fails', async () => {
    inbox.setDown('flaky', true);
    const event = completedEvent('run-delivery-1');
    const outcomes = await webhooks.deliverEvent(asReceived(event));
    expect(outcomes.map((o) => [o.subscriptionId, o.status, o.result]).sort()).toEqual(
      [
        [ok.id, 'succeeded', '200'],
        [flaky.id, 'retrying', '503'],
      ].sort(),
    );
    expect(hitsFor('failed-only')).toHaveLength(0);
    expect(hitsFor('vision')).toHaveLength(0);

    const [delivered] = hitsFor('ok');
    expect(delivered).toMatchObject({ verified: true, status: 200 });
    expect(delivered?.headers['webhook-id']).toBe(event.id);
    expect(delivered?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(delivered!.body)).toEqual(event);
    expect(verifyWebhook(ok.secret, delivered!.headers, delivered!.body, { now: now() }).ok).toBe(true);

    // The retry is a scheduled message: invisible now, due after the schedule's 5 s.
    const flakyId = deliveryIdFor(flaky.id, event.id);
    expect((await bus.peek(SUBSCRIPTIONS.webhookRetries)).map((m) => m.messageId)).toEqual([`${flakyId}:2`]);
    expect(await runDueAttempts()).toEqual([]);
    expect(await bus.peek(SUBSCRIPTIONS.webhooks)).toEqual([]);

    // The same bus message again (redelivery): nothing is sent twice.
    await webhooks.deliverEvent(asReceived(event));
    expect(hitsFor('ok')).toHaveLength(1);
    expect(hitsFor('flaky')).toHaveLength(1);

    clock.advance(5_000);
    expect(await runDueAttempts()).toEqual([`${flakyId}:2 attempted 503`]);
    clock.advance(299_000);
    expect(await runDueAttempts()).toEqual([]);
    clock.advance(1_000);
    expect(await runDueAttempts()).toEqual([`${flakyId}:3 attempted 503`]);
    expect(hitsFor('flaky')).toHaveLength(3);
    expect(new Set(hitsFor('flaky').map((e) => e.headers['webhook-id']))).toEqual(new Set([event.id]));

    const failed = await webhooks.deliveries.listDeliveries({ status: 'failed', team: 'nlp' });
    expect(failed.deliveries.map((d) => d.id)).toContain(flakyId);
    expect(await webhooks.deliveries.getDelivery(flakyId)).toMatchObject({
      status: 'failed',
      attempts: 3,
      lastResult: '503',
      eventType: 'tunedrop.run.completed',
      subject: 'run-delivery-1',
    });
    expect((await webhooks.deliveries.getDelivery(deliveryIdFor(ok.id, event.id)))?.status).toBe('succeeded');
  });

  it('redelivers a failed delivery: attempts start over and it succeeds once the endpoint is back', async () => {
    const event = completedEvent('run-delivery-1');
    const flakyId = deliveryIdFor(flaky.id, event.id);
    await expect(webhooks.deliveries.redeliver(deliveryIdFor(ok.id, event.id))).rejects.toMatchObject({
      code: 'delivery_not_failed',
    });
    await expect(webhooks.deliveries.redeliver('dl_doesnotexist00000000')).rejects.toMatchObject({
      code: 'delivery_not_found',
    });
    inbox.setDown('flaky', false);
    const reset = await webhooks.deliveries.redeliver(flakyId);
    expect(reset).toMatchObject({ status: 'pending', attempts: 0 });
    expect(JSON.stringify(reset)).not.toMatch(/payload|generation|etag/);
    // A message of the first round, and one this round already ran, do nothing.
    expect(await webhooks.runAttempt({ deliveryId: flakyId, attempt: 2, generation: 0 })).toMatchObject({
      action: 'skipped',
    });
    expect(await runDueAttempts()).toEqual([`${flakyId}:r1:1 attempted 200`]);
    expect(await webhooks.runAttempt({ deliveryId: flakyId, attempt: 1, generation: 1 })).toMatchObject({
      action: 'skipped',
      status: 'succeeded',
    });
    expect(hitsFor('flaky').at(-1)).toMatchObject({ verified: true, status: 200 });
    expect(await webhooks.deliveries.getDelivery(flakyId)).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('marks a delivery failed at once on 410 Gone, without retries', async () => {
    const goneServer = http.createServer((_req, res) => res.writeHead(410).end('gone'));
    await new Promise<void>((r) => goneServer.listen(0, '127.0.0.1', r));
    try {
      const port = (goneServer.address() as AddressInfo).port;
      await webhooks.subscriptions.create({ team: 'team-410', url: `http://127.0.0.1:${port}/hook` });
      const before = (await bus.peek(SUBSCRIPTIONS.webhookRetries)).length;
      const [outcome] = await webhooks.deliverEvent(asReceived(completedEvent('run-410', 'team-410')));
      expect(outcome).toMatchObject({ status: 'failed', result: '410' });
      expect(await webhooks.deliveries.getDelivery(outcome!.deliveryId)).toMatchObject({
        status: 'failed',
        attempts: 1,
      });
      expect((await bus.peek(SUBSCRIPTIONS.webhookRetries)).length).toBe(before);
    } finally {
      await new Promise((r) => goneServer.close(r));
    }
  });

  it('waits as long as a Retry-After asks when that is longer than the schedule', async () => {
    const busy = http.createServer((_req, res) => res.writeHead(503, { 'retry-after': '120' }).end('busy'));
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    try {
      const port = (busy.address() as AddressInfo).port;
      await webhooks.subscriptions.create({ team: 'team-busy', url: `http://127.0.0.1:${port}/hook` });
      const [outcome] = await webhooks.deliverEvent(asReceived(completedEvent('run-busy', 'team-busy')));
      const delivery = await webhooks.deliveries.getDelivery(outcome!.deliveryId);
      expect(delivery).toMatchObject({ status: 'retrying', lastResult: '503' });
      expect(Date.parse(delivery!.nextAttemptAt!) - clock.now()).toBe(120_000);
    } finally {
      await new Promise((r) => busy.close(r));
    }
  });

  it('fails a retry whose subscription was deleted meanwhile', async () => {
    const gone = await webhooks.subscriptions.create({ team: 'gone-team', url: `${inbox.url}/not-an-inbox-route` });
    const event = completedEvent('run-gone', 'gone-team');
    // The inbox answers 404 off its routes; 404 is retried, so delete the subscription before the retry.
    const [first] = await webhooks.deliverEvent(asReceived(event));
    expect(first).toMatchObject({ status: 'retrying', result: '404' });
    expect(await webhooks.subscriptions.delete(gone.id)).toBe(true);
    clock.advance(5_000);
    await runDueAttempts();
    expect(await webhooks.deliveries.getDelivery(first!.deliveryId)).toMatchObject({
      status: 'failed',
      lastResult: 'subscription_deleted',
    });
  });

  it('throws when the next attempt cannot be scheduled, without re-sending to endpoints that succeeded', async () => {
    inbox.setDown('flaky', true);
    let scheduleCalls = 0;
    const broken = build({
      schedule: async () => {
        scheduleCalls++;
        throw new Error('service bus unavailable');
      },
    });
    const event = completedEvent('run-delivery-2');
    await expect(broken.deliverEvent(asReceived(event))).rejects.toThrow(/could not be recorded/);
    expect(scheduleCalls).toBe(1);
    expect(hitsFor('ok').filter((e) => e.headers['webhook-id'] === event.id)).toHaveLength(1);
    // The bus redelivers the event to a healthy instance: the failed endpoint is tried again, the other is not.
    const outcomes = await webhooks.deliverEvent(asReceived(event));
    expect(outcomes.find((o) => o.subscriptionId === ok.id)).toMatchObject({ action: 'skipped', status: 'succeeded' });
    expect(outcomes.find((o) => o.subscriptionId === flaky.id)).toMatchObject({
      action: 'attempted',
      status: 'retrying',
    });
    expect(hitsFor('ok').filter((e) => e.headers['webhook-id'] === event.id)).toHaveLength(1);
    inbox.setDown('flaky', false);
  });

  it('refuses a message that is not a tunedrop CloudEvent with a coded error (the bus retries, then dead-letters)', async () => {
    await expect(webhooks.deliverEvent({ type: 'tunedrop.run.completed', data: {} })).rejects.toMatchObject({
      code: 'invalid_event',
    });
    await expect(webhooks.deliverEvent('not json')).rejects.toMatchObject({ code: 'invalid_event' });
    await expect(webhooks.runAttempt({ deliveryId: 'nope' })).rejects.toMatchObject({
      code: 'invalid_attempt_message',
    });
  });

  it('runs a scheduled attempt even when the attempt before it failed to record its result', async () => {
    const lagSub = await webhooks.subscriptions.create({ team: 'team-lag', url: `${inbox.url}/inbox/webhooks/lag` });
    inbox.trust('lag', lagSub.secret);
    inbox.setDown('lag', true);
    const realTable = tableClient(`whDeliveries${suffix}`);
    let failUpdates = 1;
    const flakyTable = new Proxy(realTable, {
      get(target, prop, receiver) {
        if (prop === 'updateEntity' && failUpdates > 0) {
          failUpdates--;
          return async () => {
            throw new Error('storage unavailable');
          };
        }
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const lagging = createWebhookServices({
      subscriptionsTable: tableClient(`whSubs${suffix}`),
      deliveriesTable: flakyTable,
      scheduler: new TopicDeliveryScheduler(standInTopicScheduler(bus)),
      post: safePost,
      policy: { allowLoopbackHttp: true },
      retrySchedule: [0, 5, 300],
      now,
      jitter: (d) => d,
    });
    const event = completedEvent('run-lag', 'team-lag');
    const id = deliveryIdFor(lagSub.id, event.id);
    await expect(lagging.deliverEvent(asReceived(event))).rejects.toThrow(/could not be recorded/);
    expect(await webhooks.deliveries.getDelivery(id)).toMatchObject({ status: 'pending', attempts: 0 });
    clock.advance(5_000);
    expect((await runDueAttempts()).filter((line) => line.startsWith(id))).toEqual([`${id}:2 attempted 503`]);
    expect(await webhooks.deliveries.getDelivery(id)).toMatchObject({ status: 'retrying', attempts: 2 });
    // The event's bus redelivery now finds the delivery under way and sends nothing.
    const [again] = await webhooks.deliverEvent(asReceived(event));
    expect(again).toMatchObject({ action: 'skipped', status: 'retrying' });
    expect(hitsFor('lag')).toHaveLength(2);
  });

  it('sends a signed test ping on demand', async () => {
    expect(await webhooks.deliveries.sendTest(otherTeam.id)).toEqual({ delivered: true, result: '200' });
    const ping = hitsFor('vision').at(-1);
    expect(ping).toMatchObject({ verified: true, summary: `tunedrop.webhook.test ${otherTeam.id}` });
    await expect(webhooks.deliveries.sendTest('wh_nosuchsubscription0000')).rejects.toBeInstanceOf(WebhookError);
  });

  it('signs with both secrets during a rotation overlap; the new secret alone verifies', async () => {
    const rotated = await webhooks.subscriptions.rotateSecret(otherTeam.id);
    expect(rotated?.secret).toMatch(/^whsec_/);
    expect(rotated?.secret).not.toBe(otherTeam.secret);
    await webhooks.deliverEvent(asReceived(completedEvent('run-rotation', 'vision')));
    const hit = hitsFor('vision').at(-1)!;
    expect(hit.headers['webhook-signature']?.split(' ')).toHaveLength(2);
    expect(verifyWebhook(rotated!.secret, hit.headers, hit.body, { now: now() }).ok).toBe(true);
    expect(verifyWebhook(otherTeam.secret, hit.headers, hit.body, { now: now() }).ok).toBe(true);
    inbox.trust('vision', rotated!.secret);
  });
});

describe('webhook subscriptions on Azurite', () => {
  const suffix = Date.now().toString(36);
  const build = (allowLoopbackHttp: boolean) =>
    createWebhookServices({
      subscriptionsTable: tableClient(`whSubStore${suffix}`),
      deliveriesTable: tableClient(`whDelStore${suffix}`),
      scheduler: { schedule: async () => {} },
      post: safePost,
      policy: { allowLoopbackHttp },
    });
  const azure = build(false);
  const local = build(true);
  // No ready(): the stores create their tables on first use (the HTTP API never calls ready()).

  it('returns the secret at create and rotate only', async () => {
    const created = await azure.subscriptions.create({
      team: 'store-team',
      url: 'https://hooks.example.com/tunedrop',
      eventTypes: ['tunedrop.run.failed', 'tunedrop.run.completed', 'tunedrop.run.failed'],
      description: 'ci',
    });
    expect(created.id).toMatch(/^wh_[A-Za-z0-9]{24}$/);
    expect(created.secret).toMatch(/^whsec_/);
    expect(created.eventTypes).toEqual(['tunedrop.run.failed', 'tunedrop.run.completed']);
    const got = await azure.subscriptions.get(created.id);
    const listed = await azure.subscriptions.list({ team: 'store-team' });
    expect(got).toEqual({ ...created, secret: undefined, eventTypes: created.eventTypes });
    expect(listed.map((s) => s.id)).toEqual([created.id]);
    for (const view of [got, listed, await azure.subscriptions.list({})]) {
      expect(JSON.stringify(view)).not.toContain('whsec_');
      expect(JSON.stringify(view)).not.toContain(created.secret.slice(6));
    }
    const rotated = await azure.subscriptions.rotateSecret(created.id);
    expect(rotated?.secret).not.toBe(created.secret);
    expect(JSON.stringify(await azure.subscriptions.get(created.id))).not.toContain('whsec_');
    expect(await azure.subscriptions.rotateSecret('wh_missing000000000000000')).toBeUndefined();
    expect(await azure.subscriptions.delete(created.id)).toBe(true);
    expect(await azure.subscriptions.delete(created.id)).toBe(false);
    expect(await azure.subscriptions.get(created.id)).toBeUndefined();
  });

  it.each([
    ['http://hooks.example.com/x', 'scheme_not_allowed'],
    ['https://10.1.2.3/x', 'blocked_address'],
    ['https://169.254.169.254/latest', 'blocked_address'],
    ['https://[::1]/x', 'blocked_address'],
    ['http://127.0.0.1:7072/inbox/webhooks/x', 'blocked_address'],
  ])('refuses %s at create time in Azure mode (%s)', async (url, reason) => {
    await expect(azure.subscriptions.create({ team: 'store-team', url })).rejects.toMatchObject({
      code: 'invalid_target_url',
      reason,
    });
  });

  it('accepts http to loopback in local mode only', async () => {
    const created = await local.subscriptions.create({
      team: 'store-team',
      url: 'http://127.0.0.1:7072/inbox/webhooks/x',
    });
    expect(created.url).toBe('http://127.0.0.1:7072/inbox/webhooks/x');
    await expect(local.subscriptions.create({ team: 'store-team', url: 'http://10.0.0.1/x' })).rejects.toMatchObject({
      code: 'invalid_target_url',
    });
  });
});

describe('delivery store on Azurite', () => {
  it('keeps a body larger than one Table property, byte for byte, and lists without it', async () => {
    const store = new TableDeliveryStore(tableClient(`whBig${Date.now().toString(36)}`));
    await store.ensure();
    // Multi-byte characters across several properties and past Azurite's 64 KiB request chunks.
    const payload = `${'a'.repeat(29_999)}${'😀'.repeat(30_000)}`;
    const at = '2026-01-01T00:00:00.000Z';
    const record = {
      id: 'dl_bigbodybigbodybigbody01',
      subscriptionId: 'wh_bigbodybigbodybigbody01',
      team: 'nlp',
      eventId: 'evt',
      eventType: 'tunedrop.run.completed' as const,
      subject: 'run-big',
      status: 'pending' as const,
      attempts: 0,
      generation: 0,
      payload,
      createdAt: at,
      updatedAt: at,
    };
    expect(await store.create(record)).toBe(true);
    expect(await store.create(record)).toBe(false);
    const read = await store.get(record.id);
    expect(read?.payload).toBe(payload);
    const stale = read!;
    expect(await store.update({ ...stale, status: 'succeeded', attempts: 1 })).toBe('updated');
    expect(await store.update({ ...stale, status: 'failed' })).toBe('conflict');
    const page = await store.list({ team: 'nlp' });
    expect(page.deliveries).toEqual([expect.objectContaining({ id: record.id, status: 'succeeded' })]);
    expect(JSON.stringify(page)).not.toMatch(/payload|YWFh/);
  });
});
