import { app, type InvocationContext } from '@azure/functions';
import { getServices } from '../shared/compositionRoot';
import { SUBSCRIPTIONS, TOPOLOGY } from '../shared/events/topology';
import { deliverNotifications } from '../shared/notify';

export async function notifyTeams(message: unknown, context: InvocationContext): Promise<void> {
  const outcome = await deliverNotifications(
    getServices().notifications((line) => context.log(line)),
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
