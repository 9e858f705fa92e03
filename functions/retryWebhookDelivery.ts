import { app, type InvocationContext } from '@azure/functions';
import { getServices } from '../shared/compositionRoot';
import { SUBSCRIPTIONS, TOPOLOGY } from '../shared/events/topology';

/** One scheduled webhook delivery attempt (a message from deliverWebhooks or a redeliver). */
export async function retryWebhookDelivery(message: unknown, context: InvocationContext): Promise<void> {
  const webhooks = getServices().webhooks();
  await webhooks.ready();
  const o = await webhooks.runAttempt(message);
  context.log(`webhook ${o.deliveryId} attempt ${o.attempt ?? '-'}: ${o.action} ${o.result ?? ''} (${o.status})`);
}

app.serviceBusTopic('retryWebhookDelivery', {
  topicName: TOPOLOGY.topic.name,
  subscriptionName: SUBSCRIPTIONS.webhookRetries,
  connection: 'ServiceBusConnection',
  handler: retryWebhookDelivery,
});
