import { trigger } from '@azure/functions';
import type { InvokeRequest, InvokeResult, LocalFunctionHost, RegisteredFunction } from '../../../local/host/contract';
import type { ServiceBusStandIn } from '../../../local/servicebus/broker';
import { ServiceBusTriggerExtension } from '../../../local/servicebus/extension';
import { CLOUDEVENTS_CONTENT_TYPE } from '../../../shared/events/cloudEvent';
import { SUBSCRIPTIONS, TOPOLOGY } from '../../../shared/events/topology';

export type Handler = (request: InvokeRequest) => Promise<unknown>;

/**
 * A LocalFunctionHost that calls plain handlers (the extension tested alone, without the real host). The trigger binding
 * is the one @azure/functions' own `trigger.serviceBusTopic` builds for `app.serviceBusTopic`.
 */
export function hostWith(handlers: Record<string, { subscription: string; topic?: string; handler: Handler }>) {
  const functions = new Map<string, RegisteredFunction>();
  for (const [name, h] of Object.entries(handlers)) {
    const binding = trigger.serviceBusTopic({
      topicName: h.topic ?? TOPOLOGY.topic.name,
      subscriptionName: h.subscription,
      connection: 'ServiceBusConnection',
    });
    const info = { ...binding, direction: 'in' as const };
    functions.set(name, { name, bindings: { [binding.name]: info }, triggerBindingName: binding.name, trigger: info });
  }
  const host: LocalFunctionHost = {
    baseUrl: 'http://127.0.0.1:0',
    functions,
    storageConnectionString: '',
    addRoute: () => {},
    systemKey: (name) => `test-${name}`,
    async invoke(request): Promise<InvokeResult> {
      const h = handlers[request.functionName];
      if (!h) throw new Error(`no function ${request.functionName}`);
      return { returnValue: await h.handler(request), outputs: {} };
    },
  };
  return host;
}

/** The `webhooks` subscription admits CloudEvents only (its correlation filter is on contentType). */
export const CLOUDEVENTS = CLOUDEVENTS_CONTENT_TYPE;

/**
 * Publish `count` messages one at a time through a started trigger extension to a handler on the
 * `webhooks` subscription, timing publish → handler for each. Returns the sorted latencies (ms)
 * and the whole run's duration; the extension is drained and stopped.
 */
export async function measureDeliveryLatency(
  standIn: ServiceBusStandIn,
  count: number,
  idPrefix: string,
): Promise<{ latencies: number[]; totalMs: number }> {
  const latencies: number[] = [];
  let sentAt = 0;
  let resolveNext: () => void = () => {};
  const ext = new ServiceBusTriggerExtension({ standIn });
  await ext.start(
    hostWith({
      hooks: {
        subscription: SUBSCRIPTIONS.webhooks,
        handler: async () => {
          latencies.push(performance.now() - sentAt);
          resolveNext();
        },
      },
    }),
  );
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const delivered = new Promise<void>((r) => {
      resolveNext = r;
    });
    sentAt = performance.now();
    await Promise.all([
      standIn.publish({ contentType: CLOUDEVENTS, messageId: `${idPrefix}-${i}`, body: { i } }),
      delivered,
    ]);
  }
  const totalMs = performance.now() - started;
  await ext.drain();
  await ext.stop();
  return { latencies: latencies.sort((a, b) => a - b), totalMs };
}
