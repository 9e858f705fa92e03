import { app, type InvocationContext } from '@azure/functions';
import { getServices } from '../shared/compositionRoot';
import { SUBSCRIPTIONS, TOPOLOGY } from '../shared/events/topology';

/** Each event to its team's matching webhook subscriptions; first attempt inline, retries scheduled. */
export async function deliverWebhooks(message: unknown, context: InvocationContext): Promise<void> {
  const webhooks = getServices().webhooks();
  await webhooks.ready();
  const outcomes = await webhooks.deliverEvent(message);
  for (const o of outcomes) {
    context.log(`webhook ${o.deliveryId} → ${o.subscriptionId}: ${o.action} ${o.result ?? ''} (${o.status})`);
  }
}

app.serviceBusTopic('deliverWebhooks', {
  topicName: TOPOLOGY.topic.name,
  subscriptionName: SUBSCRIPTIONS.webhooks,
  connection: 'ServiceBusConnection',
  handler: deliverWebhooks,
});
