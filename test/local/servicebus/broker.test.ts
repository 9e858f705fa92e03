import { describe, expect, it } from 'vitest';
import { MAX_DELIVERY_COUNT_EXCEEDED, ServiceBusStandIn, TTL_EXPIRED } from '../../../local/servicebus/broker';
import { VirtualClock } from '../../../local/servicebus/clock';
import { StandInEventPublisher } from '../../../local/servicebus/publisher';
import { MemoryBrokerStore } from '../../../local/servicebus/store';
import { createEvent } from '../../../shared/events/cloudEvent';
import { TOPOLOGY, type Topology, topologySchema } from '../../../shared/events/topology';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

const smallTopology: Topology = topologySchema.parse({
  topic: {
    name: 'test-topic',
    requiresDuplicateDetection: true,
    duplicateDetectionHistoryTimeWindow: 'PT10M',
    defaultMessageTimeToLive: 'PT1H',
  },
  subscriptions: [
    {
      name: 'all',
      maxDeliveryCount: 3,
      lockDuration: 'PT30S',
      deadLetteringOnMessageExpiration: true,
      rules: [{ name: 'all', sqlFilter: '1=1' }],
    },
    {
      name: 'no-dlq-on-expiry',
      maxDeliveryCount: 3,
      lockDuration: 'PT30S',
      deadLetteringOnMessageExpiration: false,
      rules: [{ name: 'all', sqlFilter: '1=1' }],
    },
  ],
});

async function open(topology = smallTopology, store = new MemoryBrokerStore()) {
  const clock = new VirtualClock();
  const bus = await ServiceBusStandIn.open({ topology, store, clock });
  return { bus, clock, store };
}

describe('Service Bus stand-in', () => {
  it('dead-letters after maxDeliveryCount abandons, with the documented reason', async () => {
    const { bus } = await open();
    await bus.publish({ messageId: 'm1', body: { n: 1 } });
    const deliveries: number[] = [];
    for (let i = 0; i < 5; i++) {
      const [m] = await bus.receive('all');
      if (!m) break;
      deliveries.push(m.deliveryCount);
      await bus.abandon(m);
    }
    expect(deliveries).toEqual([1, 2, 3]);
    const [dead] = await bus.peekDeadLetters('all');
    expect(dead).toMatchObject({
      messageId: 'm1',
      body: { n: 1 },
      deliveryCount: 3,
      deadLetterReason: MAX_DELIVERY_COUNT_EXCEEDED,
      deadLetterErrorDescription: 'Message could not be consumed after 3 delivery attempts.',
    });
    expect(await bus.peek('all')).toEqual([]);
  });

  it('treats an expired lock like an abandon, and refuses to complete with a lost lock', async () => {
    const { bus, clock } = await open();
    await bus.publish({ messageId: 'm1', body: 'x' });
    const [first] = await bus.receive('all');
    expect(await bus.receive('all')).toEqual([]); // locked: invisible to other receivers
    clock.advance(30 * SECOND);
    const [second] = await bus.receive('all');
    expect(second?.deliveryCount).toBe(2);
    await expect(bus.complete(first!)).rejects.toMatchObject({ code: 'message_lock_lost' });
    await bus.complete(second!);
    clock.advance(MINUTE);
    expect(await bus.receive('all')).toEqual([]);
    expect(await bus.peekDeadLetters('all')).toEqual([]);
  });

  it('drops a duplicate messageId at the topic within the window and accepts it again after', async () => {
    const { bus, clock } = await open();
    expect((await bus.publish({ messageId: 'dup', body: 1 })).status).toBe('enqueued');
    clock.advance(9 * MINUTE);
    const again = await bus.publish({ messageId: 'dup', body: 2 });
    expect(again).toMatchObject({ status: 'duplicate', subscriptions: [] });
    // dropped at the topic: no subscription got a second copy
    expect((await bus.peek('all')).map((m) => m.body)).toEqual([1]);
    expect((await bus.peek('no-dlq-on-expiry')).map((m) => m.body)).toEqual([1]);
    // the window counts from the accepted send, not the dropped one
    clock.advance(1 * MINUTE);
    expect((await bus.publish({ messageId: 'dup', body: 3 })).status).toBe('enqueued');
    expect((await bus.peek('all')).map((m) => m.body)).toEqual([1, 3]);
  });

  it('routes by the topology correlation filters: only matching subscriptions get a copy', async () => {
    const { bus } = await open(TOPOLOGY);
    const publisher = new StandInEventPublisher(bus);
    const base = { runId: 'run-1', team: 'nlp', dataset: 'd', model: 'm' };
    const completed = createEvent('tunedrop.run.completed', {
      subject: 'run-1',
      team: 'nlp',
      model: 'm',
      time: '2026-11-27T10:00:00Z',
      data: { ...base, status: 'completed' },
    });
    const changed = createEvent('tunedrop.run.status_changed', {
      subject: 'run-1',
      team: 'nlp',
      model: 'm',
      time: '2026-11-27T09:00:00Z',
      data: { ...base, status: 'running', previousStatus: 'queued', sequence: 1 },
    });
    expect((await publisher.publishWithResult(completed)).subscriptions.sort()).toEqual([
      'notify-teams',
      'register-model',
      'webhooks',
    ]);
    expect((await publisher.publishWithResult(changed)).subscriptions).toEqual(['webhooks']);
    const [forRegister] = await bus.receive('register-model', { maxMessages: 10 });
    expect(forRegister).toMatchObject({
      messageId: completed.id,
      subject: 'run-1',
      contentType: 'application/cloudevents+json',
      applicationProperties: { type: 'tunedrop.run.completed', team: 'nlp', model: 'm' },
      body: completed,
    });
    expect(await bus.receive('register-model')).toEqual([]);
    expect((await bus.receive('webhooks', { maxMessages: 10 })).map((m) => m.messageId)).toEqual([
      completed.id,
      changed.id,
    ]);
    // the same event published again (a replay) is dropped by id
    expect((await publisher.publishWithResult(completed)).status).toBe('duplicate');
  });

  it('delivers a scheduled message at its time, not before, and can cancel one', async () => {
    const { bus, clock } = await open();
    const at = new Date(clock.now() + 5 * MINUTE);
    const seq = await bus.schedule({ messageId: 'later', body: 'later' }, at);
    const cancelled = await bus.schedule({ messageId: 'never', body: 'never' }, at);
    await bus.cancelScheduled(cancelled!);
    expect(bus.nextDeliveryTime('all')).toBe(at.getTime());
    clock.advance(5 * MINUTE - 1);
    expect(await bus.receive('all')).toEqual([]);
    clock.advance(1);
    const [m] = await bus.receive('all', { maxMessages: 5 });
    expect(m).toMatchObject({
      messageId: 'later',
      sequenceNumber: seq,
      enqueuedTimeUtc: at,
      scheduledEnqueueTimeUtc: at,
    });
    expect(await bus.receive('all')).toEqual([]);
  });

  it('expires messages by time-to-live: dead-letter where the subscription says so, drop elsewhere', async () => {
    const { bus, clock } = await open();
    await bus.publish({ messageId: 'short', body: 's', timeToLive: 2 * MINUTE });
    await bus.publish({ messageId: 'long', body: 'l' });
    clock.advance(2 * MINUTE);
    expect((await bus.receive('all', { maxMessages: 5 })).map((m) => m.messageId)).toEqual(['long']);
    expect(await bus.peekDeadLetters('all')).toMatchObject([{ messageId: 'short', deadLetterReason: TTL_EXPIRED }]);
    expect((await bus.peek('no-dlq-on-expiry')).map((m) => m.messageId)).toEqual(['long']);
    expect(await bus.peekDeadLetters('no-dlq-on-expiry')).toEqual([]);
  });

  it('dead-letters on request and resubmits from the dead-letter queue into that subscription only', async () => {
    const { bus } = await open();
    await bus.publish({ messageId: 'poison', body: { bad: true } });
    const [m] = await bus.receive('all');
    await bus.deadLetter(m!, { deadLetterReason: 'invalid_event', deadLetterErrorDescription: 'data.runId: required' });
    const [dead] = await bus.peekDeadLetters('all');
    expect(dead).toMatchObject({ deadLetterReason: 'invalid_event', deliveryCount: 1 });
    await bus.resubmitDeadLetter('all', dead!.sequenceNumber);
    expect(await bus.peekDeadLetters('all')).toEqual([]);
    const [again] = await bus.receive('all');
    expect(again).toMatchObject({ messageId: 'poison', deliveryCount: 1, body: { bad: true } });
    // the other subscription still has its own untouched copy
    expect((await bus.peek('no-dlq-on-expiry')).map((x) => x.deliveryCount)).toEqual([0]);
    await expect(bus.resubmitDeadLetter('all', 999)).rejects.toMatchObject({ code: 'message_not_found' });
  });

  it('redelivers what a crashed instance had locked (restart on the same store)', async () => {
    const store = new MemoryBrokerStore();
    const first = await open(smallTopology, store);
    await first.bus.publish({ messageId: 'inflight', body: 1 });
    await first.bus.publish({ messageId: 'waiting', body: 2 });
    const [m] = await first.bus.receive('all');
    expect(m?.messageId).toBe('inflight');
    await first.bus.close(); // the handler never completed
    const second = await open(smallTopology, store);
    const again = await second.bus.receive('all', { maxMessages: 5 });
    expect(again.map((x) => [x.messageId, x.deliveryCount])).toEqual([
      ['inflight', 2],
      ['waiting', 1],
    ]);
    // duplicate detection history survives too
    expect((await second.bus.publish({ messageId: 'inflight', body: 1 })).status).toBe('duplicate');
    await expect(first.bus.publish({ body: 1 })).rejects.toMatchObject({ code: 'stand_in_closed' });
  });

  it('rejects bad input with coded errors', async () => {
    const { bus } = await open();
    await expect(bus.receive('nope')).rejects.toMatchObject({ code: 'unknown_subscription' });
    await expect(bus.publish({ body: 1, messageId: 'x'.repeat(200) })).rejects.toMatchObject({
      code: 'invalid_message',
    });
  });
});

describe('Service Bus stand-in bodies', () => {
  it('hands receivers the body as the SDK puts it on the wire (JSON), not the sender object', async () => {
    const { bus } = await open();
    const sent = { at: new Date('2026-11-27T10:00:00Z'), missing: undefined, list: [1] };
    await bus.publish({ messageId: 'wire', body: sent });
    sent.list.push(2);
    const [m] = await bus.receive('all');
    expect(m?.body).toStrictEqual({ at: '2026-11-27T10:00:00.000Z', list: [1] });
    await expect(bus.publish({ body: { n: 1n } })).rejects.toMatchObject({ code: 'invalid_message' });
  });
});
