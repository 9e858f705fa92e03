import type { ServiceBusMessage, ServiceBusSender } from '@azure/service-bus';

/**
 * A message scheduled onto the events topic for later: a retry of work one consumer could not
 * finish (a webhook attempt, a notification). Its content type routes it to that consumer's
 * subscription only (topology.json); its message id must be unique per retry, or the topic's
 * duplicate detection drops it.
 */
export interface ScheduledTopicMessage {
  messageId: string;
  contentType: string;
  subject: string;
  body: unknown;
}

export interface TopicScheduler {
  schedule(message: ScheduledTopicMessage, at: Date): Promise<void>;
}

export type ScheduleSender = Pick<ServiceBusSender, 'scheduleMessages'>;

/** Azure: `ServiceBusSender.scheduleMessages` on the events topic. */
export function serviceBusTopicScheduler(sender: ScheduleSender): TopicScheduler {
  return {
    async schedule(message, at) {
      await sender.scheduleMessages(message satisfies ServiceBusMessage, at);
    },
  };
}
