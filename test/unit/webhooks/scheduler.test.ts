import type { ServiceBusMessage } from '@azure/service-bus';
import { describe, expect, it } from 'vitest';
import { ServiceBusStandIn } from '../../../local/servicebus/broker';
import { VirtualClock } from '../../../local/servicebus/clock';
import { standInTopicScheduler } from '../../../local/servicebus/scheduler';
import { createEvent, SUBSCRIPTIONS, subscriptionMatches, TOPOLOGY, toServiceBusMessage } from '../../../shared/events';
import { serviceBusTopicScheduler } from '../../../shared/events/scheduler';
import { defaultJitter } from '../../../shared/webhooks/delivery';
import {
  type AttemptSender,
  parseAttemptMessage,
  TopicDeliveryScheduler,
  toAttemptMessage,
  WEBHOOK_ATTEMPT_CONTENT_TYPE,
} from '../../../shared/webhooks/scheduler';

const deliveryId = 'dl_0123456789abcdef0123456789abcdef01234567';

/** The slice of ServiceBusSender the adapter uses, recording its calls. */
class RecordingSender implements AttemptSender {
  readonly calls: { messages: ServiceBusMessage | ServiceBusMessage[]; at: Date }[] = [];
  async scheduleMessages(messages: ServiceBusMessage | ServiceBusMessage[], at: Date): Promise<Long[]> {
    this.calls.push({ messages, at });
    return [];
  }
}
type Long = Awaited<ReturnType<AttemptSender['scheduleMessages']>>[number];

const subscription = (name: string) => {
  const s = TOPOLOGY.subscriptions.find((x) => x.name === name);
  if (!s) throw new Error(name);
  return s;
};

describe('delivery attempt scheduling', () => {
  it('schedules exactly the attempt message the webhook-retries subscription filters on', async () => {
    const sender = new RecordingSender();
    const at = new Date('2026-01-01T00:05:00Z');
    await new TopicDeliveryScheduler(serviceBusTopicScheduler(sender)).schedule(
      { deliveryId, attempt: 3, generation: 0 },
      at,
    );
    expect(sender.calls).toEqual([
      {
        messages: {
          messageId: `${deliveryId}:3`,
          contentType: 'application/vnd.tunedrop.webhook-attempt+json',
          subject: deliveryId,
          body: { deliveryId, attempt: 3, generation: 0 },
        },
        at,
      },
    ]);
    expect(toAttemptMessage({ deliveryId, attempt: 1, generation: 2 }).messageId).toBe(`${deliveryId}:r2:1`);
  });

  it('routes attempt messages to webhook-retries only, and events never there', () => {
    const attempt = toAttemptMessage({ deliveryId, attempt: 2, generation: 0 });
    const routed = TOPOLOGY.subscriptions.filter((s) => subscriptionMatches(s, attempt)).map((s) => s.name);
    expect(routed).toEqual([SUBSCRIPTIONS.webhookRetries]);
    const event = toServiceBusMessage(
      createEvent('tunedrop.run.failed', {
        subject: 'run-1',
        team: 'nlp',
        time: '2026-01-01T00:00:00Z',
        data: { runId: 'run-1', team: 'nlp', dataset: 'd', model: 'm', status: 'failed', reason: 'x' },
      }),
    );
    expect(subscriptionMatches(subscription(SUBSCRIPTIONS.webhooks), event)).toBe(true);
    expect(subscriptionMatches(subscription(SUBSCRIPTIONS.webhookRetries), event)).toBe(false);
    expect(subscriptionMatches(subscription(SUBSCRIPTIONS.webhooks), attempt)).toBe(false);
  });

  it('schedules on the stand-in: invisible until due, a repeat of the same attempt is dropped as duplicate', async () => {
    const clock = new VirtualClock();
    const bus = await ServiceBusStandIn.open({ clock });
    const scheduler = new TopicDeliveryScheduler(standInTopicScheduler(bus));
    const at = new Date(clock.now() + 5_000);
    await scheduler.schedule({ deliveryId, attempt: 2, generation: 0 }, at);
    await scheduler.schedule({ deliveryId, attempt: 2, generation: 0 }, at);
    expect(await bus.receive(SUBSCRIPTIONS.webhookRetries)).toEqual([]);
    clock.advance(5_000);
    const due = await bus.receive(SUBSCRIPTIONS.webhookRetries, { maxMessages: 5 });
    expect(due.map((m) => [m.messageId, m.contentType, m.body])).toEqual([
      [`${deliveryId}:2`, WEBHOOK_ATTEMPT_CONTENT_TYPE, { deliveryId, attempt: 2, generation: 0 }],
    ]);
    await bus.close();
  });

  it('parses attempt messages from objects, JSON text and bytes, and codes anything else', () => {
    const m = { deliveryId, attempt: 2, generation: 0 };
    expect(parseAttemptMessage(m)).toEqual(m);
    expect(parseAttemptMessage(JSON.stringify(m))).toEqual(m);
    expect(parseAttemptMessage(Buffer.from(JSON.stringify(m)))).toEqual(m);
    for (const bad of ['{', { ...m, attempt: 0 }, { ...m, deliveryId: 'x' }, { ...m, extra: 1 }, null]) {
      expect(() => parseAttemptMessage(bad)).toThrow(/invalid_attempt_message/);
    }
  });
});

describe('retry jitter', () => {
  it('adds at most 10 % to delays of a minute or more and leaves short ones exact', () => {
    for (let i = 0; i < 200; i++) {
      const d = defaultJitter(300);
      expect(d).toBeGreaterThanOrEqual(300);
      expect(d).toBeLessThan(330);
    }
    expect(new Set(Array.from({ length: 20 }, () => defaultJitter(3600))).size).toBeGreaterThan(1);
    expect(defaultJitter(5)).toBe(5);
    expect(defaultJitter(0)).toBe(0);
  });
});
