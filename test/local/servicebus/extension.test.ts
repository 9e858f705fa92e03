import { describe, expect, it } from 'vitest';
import type { InvokeRequest } from '../../../local/host/contract';
import { MAX_DELIVERY_COUNT_EXCEEDED, ServiceBusStandIn } from '../../../local/servicebus/broker';
import { VirtualClock } from '../../../local/servicebus/clock';
import { ServiceBusTriggerExtension } from '../../../local/servicebus/extension';
import { StandInEventPublisher } from '../../../local/servicebus/publisher';
import { createEvent } from '../../../shared/events/cloudEvent';
import { SUBSCRIPTIONS } from '../../../shared/events/topology';
import { CLOUDEVENTS, type Handler, hostWith, measureDeliveryLatency } from './testHost';

const runId = 'run-0123456789abcdef0123456789abcdef';
const base = { runId, team: 'nlp', dataset: 'bot', model: 'meta-llama/Meta-Llama-3.1-8B-Instruct' };
const completedEvent = createEvent('tunedrop.run.completed', {
  subject: runId,
  team: 'nlp',
  model: base.model,
  time: '2026-11-27T10:00:00Z',
  data: { ...base, status: 'completed', registeredModel: 'ml.nlp.bot', registeredVersion: '1' },
});

describe('serviceBusTrigger extension on the stand-in', () => {
  it('dead-letters after maxDeliveryCount when the handler always throws', async () => {
    const clock = new VirtualClock();
    const standIn = await ServiceBusStandIn.open({ clock });
    const calls: InvokeRequest[] = [];
    const ext = new ServiceBusTriggerExtension({ standIn });
    await ext.start(
      hostWith({
        registerModel: {
          subscription: SUBSCRIPTIONS.registerModel,
          handler: async (req) => {
            calls.push(req);
            throw new Error('registry down');
          },
        },
      }),
    );
    await new StandInEventPublisher(standIn).publish(completedEvent);
    await ext.drain();
    await ext.stop();
    const max = standIn.subscription(SUBSCRIPTIONS.registerModel).maxDeliveryCount;
    expect(calls.map((c) => c.triggerMetadata?.DeliveryCount)).toEqual(Array.from({ length: max }, (_, i) => i + 1));
    expect(calls.map((c) => c.retryCount)).toEqual(Array.from({ length: max }, (_, i) => i));
    const dead = await standIn.peekDeadLetters(SUBSCRIPTIONS.registerModel);
    expect(dead).toMatchObject([{ messageId: completedEvent.id, deadLetterReason: MAX_DELIVERY_COUNT_EXCEEDED }]);
    expect(await standIn.peek(SUBSCRIPTIONS.registerModel)).toEqual([]);
  });

  it('passes the event as the trigger value with Service Bus trigger metadata, and completes on success', async () => {
    const clock = new VirtualClock(Date.parse('2026-11-27T10:00:05Z'));
    const standIn = await ServiceBusStandIn.open({ clock });
    const seen: InvokeRequest[] = [];
    const ext = new ServiceBusTriggerExtension({ standIn });
    const handler: Handler = async (req) => {
      seen.push(req);
    };
    await ext.start(
      hostWith({
        registerModel: { subscription: SUBSCRIPTIONS.registerModel, handler },
        deliverWebhooks: { subscription: SUBSCRIPTIONS.webhooks, handler },
      }),
    );
    expect(ext.bindings.map((b) => b.subscription).sort()).toEqual(['register-model', 'webhooks']);
    await new StandInEventPublisher(standIn).publish(completedEvent);
    await ext.drain();
    await ext.stop();
    expect(seen.map((r) => r.functionName).sort()).toEqual(['deliverWebhooks', 'registerModel']);
    const req = seen.find((r) => r.functionName === 'registerModel')!;
    expect(req.triggerValue).toEqual(completedEvent);
    expect(req.retryCount).toBe(0);
    expect(req.triggerMetadata).toMatchObject({
      MessageId: completedEvent.id,
      DeliveryCount: 1,
      EnqueuedTimeUtc: '2026-11-27T10:00:05.000Z',
      Subject: runId,
      ContentType: 'application/cloudevents+json',
      ApplicationProperties: { type: 'tunedrop.run.completed', team: 'nlp', model: base.model },
    });
    expect(await standIn.peek(SUBSCRIPTIONS.registerModel)).toEqual([]);
    expect(await standIn.peek(SUBSCRIPTIONS.webhooks)).toEqual([]);
  });

  it('delivers a scheduled message only once the clock reaches its time', async () => {
    const clock = new VirtualClock();
    const standIn = await ServiceBusStandIn.open({ clock });
    const seen: string[] = [];
    const ext = new ServiceBusTriggerExtension({ standIn });
    await ext.start(
      hostWith({
        hooks: {
          subscription: SUBSCRIPTIONS.webhooks,
          handler: async (req) => {
            seen.push(String(req.triggerMetadata?.MessageId));
          },
        },
      }),
    );
    await standIn.schedule(
      { contentType: CLOUDEVENTS, messageId: 'retry-1', body: {} },
      new Date(clock.now() + 30_000),
    );
    await ext.drain();
    expect(seen).toEqual([]);
    clock.advance(30_000);
    await ext.drain();
    expect(seen).toEqual(['retry-1']);
    await ext.stop();
  });

  it('honours maxConcurrentCalls', async () => {
    const standIn = await ServiceBusStandIn.open({ clock: new VirtualClock() });
    let running = 0;
    let peak = 0;
    let handled = 0;
    const ext = new ServiceBusTriggerExtension({ standIn, maxConcurrentCalls: 3 });
    await ext.start(
      hostWith({
        hooks: {
          subscription: SUBSCRIPTIONS.webhooks,
          handler: async () => {
            running++;
            peak = Math.max(peak, running);
            await new Promise((r) => setTimeout(r, 5));
            running--;
            handled++;
          },
        },
      }),
    );
    for (let i = 0; i < 12; i++) await standIn.publish({ contentType: CLOUDEVENTS, messageId: `m${i}`, body: i });
    await ext.drain();
    await ext.stop();
    expect(handled).toBe(12);
    expect(peak).toBe(3);
  });

  it('delivers without being asked once started (real clock), and reports the latency', async () => {
    const standIn = await ServiceBusStandIn.open();
    const { latencies } = await measureDeliveryLatency(standIn, 20, 'live');
    console.log(
      `publish → handler latency (in-memory store): p50 ${latencies[10]?.toFixed(2)} ms, max ${latencies[19]?.toFixed(2)} ms`,
    );
    expect(latencies).toHaveLength(20);
  });

  it('refuses trigger bindings the topology does not know, with coded errors', async () => {
    const standIn = await ServiceBusStandIn.open();
    const noop: Handler = async () => {};
    await expect(
      new ServiceBusTriggerExtension({ standIn }).start(hostWith({ f: { subscription: 'nope', handler: noop } })),
    ).rejects.toMatchObject({ code: 'unknown_subscription', functionName: 'f' });
    await expect(
      new ServiceBusTriggerExtension({ standIn }).start(
        hostWith({ f: { subscription: SUBSCRIPTIONS.webhooks, topic: 'other-topic', handler: noop } }),
      ),
    ).rejects.toMatchObject({ code: 'unknown_topic' });
  });
});

describe('serviceBusTrigger lock renewal', () => {
  it('keeps the lock of a running handler even when the clock jumps past the lock duration', async () => {
    const clock = new VirtualClock();
    const standIn = await ServiceBusStandIn.open({ clock });
    const deliveries: string[] = [];
    let release: () => void = () => {};
    const blocked = new Promise<void>((r) => {
      release = r;
    });
    const ext = new ServiceBusTriggerExtension({ standIn });
    await ext.start(
      hostWith({
        hooks: {
          subscription: SUBSCRIPTIONS.webhooks,
          handler: async (req) => {
            const id = String(req.triggerMetadata?.MessageId);
            deliveries.push(`${id}#${req.triggerMetadata?.DeliveryCount}`);
            if (id === 'slow') await blocked;
          },
        },
      }),
    );
    await standIn.publish({ contentType: CLOUDEVENTS, messageId: 'slow', body: 1 });
    await new Promise((r) => setImmediate(r));
    clock.advance(5 * 60_000); // five lock durations while "slow" is still being handled
    await standIn.publish({ contentType: CLOUDEVENTS, messageId: 'next', body: 2 }); // a delivery pass runs
    await new Promise((r) => setTimeout(r, 20));
    release();
    await ext.drain();
    await ext.stop();
    expect(deliveries.sort()).toEqual(['next#1', 'slow#1']);
    expect(await standIn.peek(SUBSCRIPTIONS.webhooks)).toEqual([]);
    expect(await standIn.peekDeadLetters(SUBSCRIPTIONS.webhooks)).toEqual([]);
  });
});
