import { TableClient } from '@azure/data-tables';
import { describe, expect, inject, it } from 'vitest';
import type { InvokeRequest } from '../../../local/host/contract';
import { ServiceBusStandIn } from '../../../local/servicebus/broker';
import { VirtualClock } from '../../../local/servicebus/clock';
import { ServiceBusTriggerExtension } from '../../../local/servicebus/extension';
import { openServiceBusStandInOnStorage } from '../../../local/servicebus/open';
import { TableBrokerStore } from '../../../local/servicebus/store';
import { SUBSCRIPTIONS } from '../../../shared/events/topology';
import { CLOUDEVENTS, hostWith, measureDeliveryLatency } from './testHost';

async function storeOn(tableName: string) {
  const table = TableClient.fromConnectionString(inject('azurite').connectionString, tableName, {
    allowInsecureConnection: true,
  });
  const store = new TableBrokerStore(table);
  await store.ensure();
  return store;
}

describe('Service Bus stand-in on Azurite tables', () => {
  it('keeps messages, locks, dead letters and duplicate history across a restart', async () => {
    const clock = new VirtualClock(Date.parse('2026-11-27T10:00:00Z'));
    const big = { text: 'é'.repeat(70_000), nested: { list: [1, 2, 3] } };
    const first = await ServiceBusStandIn.open({ store: await storeOn('sbRestart'), clock });
    const props = (type: string) => ({ type, team: 'nlp', model: 'm' });
    await first.publish({
      messageId: 'a',
      body: big,
      applicationProperties: props('tunedrop.run.completed'),
      subject: 'run-1',
      contentType: 'application/cloudevents+json',
    });
    await first.publish({
      contentType: CLOUDEVENTS,
      messageId: 'b',
      body: { n: 2 },
      applicationProperties: props('tunedrop.run.failed'),
    });
    await first.schedule(
      { contentType: CLOUDEVENTS, messageId: 'c', body: 'later', applicationProperties: props('tunedrop.run.failed') },
      new Date(clock.now() + 60_000),
    );
    const [inflight] = await first.receive('register-model');
    expect(inflight?.messageId).toBe('a');
    const [poison] = await first.receive('notify-teams');
    await first.deadLetter(poison!, { deadLetterReason: 'test' });
    await first.close(); // "crash": 'a' locked, never completed

    const second = await ServiceBusStandIn.open({ store: await storeOn('sbRestart'), clock });
    const [redelivered] = await second.receive('register-model');
    expect(redelivered).toMatchObject({
      messageId: 'a',
      deliveryCount: 2,
      subject: 'run-1',
      contentType: 'application/cloudevents+json',
      applicationProperties: props('tunedrop.run.completed'),
      enqueuedTimeUtc: new Date('2026-11-27T10:00:00Z'),
    });
    expect(JSON.stringify(redelivered?.body).length).toBe(JSON.stringify(big).length);
    expect(redelivered?.body).toEqual(big);
    await second.complete(redelivered!);
    expect((await second.peekDeadLetters('notify-teams')).map((m) => [m.messageId, m.deadLetterReason])).toEqual([
      ['a', 'test'],
    ]);
    expect((await second.peek('notify-teams')).map((m) => m.messageId)).toEqual(['b', 'c']);
    expect((await second.publish({ contentType: CLOUDEVENTS, messageId: 'b', body: {} })).status).toBe('duplicate');
    expect((await second.publish({ contentType: CLOUDEVENTS, messageId: 'd', body: {} })).sequenceNumber).toBe(4);
    clock.advance(60_000);
    expect((await second.receive('notify-teams', { maxMessages: 5 })).map((m) => m.messageId)).toEqual(['b', 'c']);
    await second.close();

    const third = await ServiceBusStandIn.open({ store: await storeOn('sbRestart'), clock });
    expect(await third.peek('register-model')).toEqual([]);
    expect((await third.peek('webhooks')).map((m) => m.messageId)).toEqual(['a', 'b', 'c', 'd']);
    await third.close();
  });
});

describe('serviceBusTrigger extension on Azurite', () => {
  it('redelivers a message whose handler was cut off by a runtime restart (at-least-once)', async () => {
    const connectionString = inject('azurite').connectionString;
    const first = await openServiceBusStandInOnStorage({ connectionString, tableName: 'sbCrash' });
    let invoked: (value: InvokeRequest) => void = () => {};
    const firstInvocation = new Promise<InvokeRequest>((r) => {
      invoked = r;
    });
    const hung = new ServiceBusTriggerExtension({ standIn: first, stopTimeoutMs: 0 });
    await hung.start(
      hostWith({
        hooks: {
          subscription: SUBSCRIPTIONS.webhooks,
          handler: (req) => {
            invoked(req);
            return new Promise(() => {}); // the process "dies" mid-handler
          },
        },
      }),
    );
    await first.publish({ contentType: CLOUDEVENTS, messageId: 'evt-1', body: { n: 1 } });
    expect((await firstInvocation).triggerMetadata?.DeliveryCount).toBe(1);
    await first.close(); // no complete ever reached storage

    const second = await openServiceBusStandInOnStorage({ connectionString, tableName: 'sbCrash' });
    const seen: InvokeRequest[] = [];
    const ext = new ServiceBusTriggerExtension({ standIn: second });
    await ext.start(
      hostWith({
        hooks: {
          subscription: SUBSCRIPTIONS.webhooks,
          handler: async (req) => {
            seen.push(req);
          },
        },
      }),
    );
    await ext.drain();
    await ext.stop();
    expect(seen.map((r) => [r.triggerMetadata?.MessageId, r.triggerMetadata?.DeliveryCount, r.triggerValue])).toEqual([
      ['evt-1', 2, { n: 1 }],
    ]);
    expect(await second.peek(SUBSCRIPTIONS.webhooks)).toEqual([]);
    await hung.stop();
  });

  it('measures publish → handler latency with the table store', async () => {
    const standIn = await openServiceBusStandInOnStorage({
      connectionString: inject('azurite').connectionString,
      tableName: 'sbLatency',
    });
    const n = 30;
    const { latencies, totalMs } = await measureDeliveryLatency(standIn, n, 'lat');
    console.log(
      `Azurite table store: publish → handler p50 ${latencies[n / 2]?.toFixed(1)} ms, p95 ${latencies[Math.floor(n * 0.95)]?.toFixed(1)} ms; ${(totalMs / n).toFixed(1)} ms per message end to end`,
    );
    expect(latencies).toHaveLength(n);
    expect(await standIn.peek(SUBSCRIPTIONS.webhooks)).toEqual([]);
    await standIn.close();
  });
});
