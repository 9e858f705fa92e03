import { app, type InvocationContext } from '@azure/functions';
import { SUBSCRIPTIONS, TOPOLOGY } from '../shared/events/topology';
import type { OutboundPost } from '../shared/net/contracts';
import { safePost } from '../shared/net/outbound';
import {
  DEFAULT_NOTIFY_RETRY_SECONDS,
  deliverNotifications,
  NOTIFICATIONS_TABLE,
  NotificationLog,
} from '../shared/notify';
import { getPipelineServices } from '../shared/pipeline/services';

let notificationLog: NotificationLog | undefined;

export async function notifyTeams(message: unknown, context: InvocationContext): Promise<void> {
  const services = getPipelineServices();
  notificationLog ??= new NotificationLog(services.table(NOTIFICATIONS_TABLE));
  const post: OutboundPost = (url, body, headers, policy) =>
    safePost(url, body, headers, { ...policy, ...services.outboundPolicy });
  const outcome = await deliverNotifications(
    {
      config: services.config,
      runIndex: services.runIndex,
      log: notificationLog,
      post,
      links: { publicBaseUrl: services.settings.publicBaseUrl, databricksHost: services.settings.databricks?.host },
      trace: (line) => context.log(line),
      retry: {
        scheduler: services.topicScheduler(),
        delaysSeconds: services.settings.notifyRetrySeconds ?? DEFAULT_NOTIFY_RETRY_SECONDS,
      },
    },
    message,
  );
  const summary = outcome.nothingToDo
    ? `nothing to send (${outcome.nothingToDo})`
    : outcome.retryScheduled
      ? `retry ${outcome.retryScheduled.attempt} at ${outcome.retryScheduled.at} for ${outcome.retryScheduled.channels.join(', ')}`
      : `sent to ${outcome.sent.map((c) => `"${c}"`).join(', ') || 'no new channel'}${outcome.alreadySent.length ? `; already sent: ${outcome.alreadySent.join(', ')}` : ''}`;
  context.log(`${outcome.eventType} ${outcome.eventId} (run ${outcome.runId}, team ${outcome.team}): ${summary}`);
}

app.serviceBusTopic('notifyTeams', {
  topicName: TOPOLOGY.topic.name,
  subscriptionName: SUBSCRIPTIONS.notifyTeams,
  connection: 'ServiceBusConnection',
  handler: notifyTeams,
});
