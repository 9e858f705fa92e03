import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RunningFunctionHost, startFunctionHost } from '../../../local/host/host';
import { activeStandIn } from '../../../local/servicebus/active';
import { MAX_DELIVERY_COUNT_EXCEEDED } from '../../../local/servicebus/broker';
import { VirtualClock } from '../../../local/servicebus/clock';
import type { ServiceBusTriggerExtension } from '../../../local/servicebus/extension';
import { createServiceBusStandInExtension } from '../../../local/servicebus/open';
import { localEventPublisher } from '../../../local/servicebus/publisher';
import { createEvent } from '../../../shared/events/cloudEvent';
import { SUBSCRIPTIONS } from '../../../shared/events/topology';

const APP = path.resolve(__dirname, 'app');
type Recorded = { fn: string; [key: string]: unknown };
const recorded = (fn: string) =>
  ((globalThis as { __serviceBusTestApp?: Recorded[] }).__serviceBusTestApp ?? []).filter((r) => r.fn === fn);

const runId = 'run-00000000000000000000000000000e2e';
const base = { runId, team: 'nlp', dataset: 'bot', model: 'meta-llama/Meta-Llama-3.1-8B-Instruct' };
const time = '2026-11-27T10:00:00Z';

describe('serviceBusTrigger on the real local host', () => {
  const clock = new VirtualClock(Date.parse(time));
  let host: RunningFunctionHost;
  let bus: ServiceBusTriggerExtension;

  beforeAll(async () => {
    const connectionString = inject('azurite').connectionString;
    bus = await createServiceBusStandInExtension({ connectionString, tableName: 'sbHostE2e', clock });
    host = await startFunctionHost({
      appRoot: APP,
      storageConnectionString: connectionString,
      port: 0,
      extensions: [bus],
      blobScanIntervalMs: 0,
    });
  });
  afterAll(async () => {
    await host?.stop();
  });

  it('finds the app.serviceBusTopic functions and their subscriptions', () => {
    expect(bus.bindings.map((b) => [b.functionName, b.subscription]).sort()).toEqual([
      ['notifyTeams', 'notify-teams'],
      ['registerModelAlwaysFails', 'register-model'],
    ]);
  });

  it('routes by correlation filter and hands the handler the event with Service Bus trigger metadata', async () => {
    const publisher = localEventPublisher();
    const completed = createEvent('tunedrop.run.completed', {
      subject: runId,
      team: 'nlp',
      model: base.model,
      time,
      data: { ...base, status: 'completed', registeredModel: 'ml.nlp.bot', registeredVersion: '1' },
    });
    const changed = createEvent('tunedrop.run.status_changed', {
      subject: runId,
      team: 'nlp',
      model: base.model,
      time,
      data: { ...base, status: 'running', previousStatus: 'queued', sequence: 1 },
    });
    await publisher.publish(changed); // webhooks only: no function here listens there
    await publisher.publish(completed);
    expect((await publisher.publishWithResult(completed)).status).toBe('duplicate');
    await bus.drain();

    const notified = recorded('notifyTeams');
    expect(notified).toHaveLength(1);
    expect(notified[0]?.message).toEqual(completed);
    expect(notified[0]?.retryCount).toBe(0);
    expect(notified[0]?.triggerMetadata).toMatchObject({
      messageId: completed.id,
      deliveryCount: 1,
      subject: runId,
      contentType: 'application/cloudevents+json',
      enqueuedTimeUtc: '2026-11-27T10:00:00.000Z',
      applicationProperties: { type: 'tunedrop.run.completed', team: 'nlp', model: base.model },
    });
    expect(await activeStandIn().peek(SUBSCRIPTIONS.notifyTeams)).toEqual([]);
    expect((await activeStandIn().peek(SUBSCRIPTIONS.webhooks)).map((m) => m.messageId)).toEqual([
      changed.id,
      completed.id,
    ]);
  });

  it('dead-letters the message after maxDeliveryCount when the handler always throws', async () => {
    const attempts = recorded('registerModelAlwaysFails').map((r) => r.deliveryCount);
    const max = activeStandIn().subscription(SUBSCRIPTIONS.registerModel).maxDeliveryCount;
    expect(attempts).toEqual(Array.from({ length: max }, (_, i) => i + 1));
    const dead = await activeStandIn().peekDeadLetters(SUBSCRIPTIONS.registerModel);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ deadLetterReason: MAX_DELIVERY_COUNT_EXCEEDED, deliveryCount: max });
  });
});
