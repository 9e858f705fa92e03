import { TABLES } from '../config/resources';
import { safePost } from '../net/outbound';
import { getPipelineServices, type PipelineServices } from '../pipeline/services';
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
    scheduler: schedulerFor(pipeline),
    post: safePost,
    policy: { allowLoopbackHttp: settings.mode === 'local' },
    retrySchedule: settings.webhookRetrySeconds,
  });
  return cached;
}

function schedulerFor(pipeline: PipelineServices): DeliveryScheduler {
  if (pipeline.settings.mode === 'local') return new StandInDeliveryScheduler();
  return new ServiceBusDeliveryScheduler(pipeline.topicSender());
}
