import { TABLES } from '../config/resources';
import { safePost } from '../net/outbound';
import { getPipelineServices } from '../pipeline/services';
import { createWebhookServices, type WebhookServices } from './index';
import { TopicDeliveryScheduler } from './scheduler';

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
    scheduler: new TopicDeliveryScheduler(pipeline.topicScheduler()),
    post: safePost,
    policy: pipeline.outboundPolicy,
    retrySchedule: settings.webhookRetrySeconds,
  });
  return cached;
}
