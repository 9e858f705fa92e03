import { ManagedIdentityCredential } from '@azure/identity';
import { ServiceBusClient } from '@azure/service-bus';
import { TABLES } from '../config/resources';
import type { Settings } from '../config/settings';
import { TOPOLOGY } from '../events/topology';
import { safePost } from '../net/outbound';
import { getPipelineServices } from '../pipeline/services';
import { createWebhookServices, type WebhookServices } from './index';
import { type DeliveryScheduler, ServiceBusDeliveryScheduler, StandInDeliveryScheduler } from './scheduler';

let cached: WebhookServices | undefined;

/**
 * Webhook services for functions/: tables and settings from the pipeline's composition root;
 * http to loopback allowed only in local mode; attempts scheduled on the real topic in Azure and
 * on the local Service Bus stand-in otherwise. The functions log the outcomes each call returns.
 */
export function getWebhookServices(): WebhookServices {
  if (cached) return cached;
  const pipeline = getPipelineServices();
  const { settings } = pipeline;
  cached = createWebhookServices({
    subscriptionsTable: pipeline.table(TABLES.webhookSubscriptions),
    deliveriesTable: pipeline.table(TABLES.webhookDeliveries),
    scheduler: schedulerFor(settings),
    post: safePost,
    policy: { allowLoopbackHttp: settings.mode === 'local' },
    retrySchedule: settings.webhookRetrySeconds,
  });
  return cached;
}

function schedulerFor(settings: Settings): DeliveryScheduler {
  if (settings.mode === 'local') return new StandInDeliveryScheduler();
  const sb = settings.serviceBus;
  if (!sb)
    throw new Error('ServiceBusConnection__fullyQualifiedNamespace is not set: webhook retries cannot be scheduled');
  const client =
    'connectionString' in sb
      ? new ServiceBusClient(sb.connectionString)
      : new ServiceBusClient(
          sb.fullyQualifiedNamespace,
          sb.clientId ? new ManagedIdentityCredential({ clientId: sb.clientId }) : new ManagedIdentityCredential(),
        );
  return new ServiceBusDeliveryScheduler(client.createSender(TOPOLOGY.topic.name));
}
