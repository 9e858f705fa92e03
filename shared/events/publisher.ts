import type { ServiceBusMessage, ServiceBusSender } from '@azure/service-bus';
import { CLOUDEVENTS_CONTENT_TYPE, cloudEventSchema, EventError, type TunedropEvent } from './cloudEvent';

/** The one way the app announces facts. Azure: ServiceBusEventPublisher; local: the Service Bus stand-in's publisher. */
export interface EventPublisher {
  publish(event: TunedropEvent): Promise<void>;
  publishMany?(events: readonly TunedropEvent[]): Promise<void>;
  /** Resolves when the bus can be reached with the app's identity (health); rejects otherwise. */
  checkReachable?(): Promise<void>;
}

/** The Service Bus message fields tunedrop sets; the same mapping feeds the real topic and the local stand-in. */
export interface EventMessage {
  messageId: string;
  subject: string;
  contentType: typeof CLOUDEVENTS_CONTENT_TYPE;
  body: TunedropEvent;
  applicationProperties: { type: string; team: string; model?: string };
}

/**
 * Event → Service Bus message: messageId = event id (duplicate detection), subject = run id,
 * application properties type/team/model for the subscriptions' correlation filters.
 */
export function toServiceBusMessage(event: TunedropEvent): EventMessage {
  const checked = cloudEventSchema.safeParse(event);
  if (!checked.success) {
    throw new EventError(
      'invalid_event',
      'refusing to publish an event that is not a valid envelope',
      checked.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
    );
  }
  const applicationProperties: EventMessage['applicationProperties'] = { type: event.type, team: event.team };
  if (event.model !== undefined) applicationProperties.model = event.model;
  return {
    messageId: event.id,
    subject: event.subject,
    contentType: CLOUDEVENTS_CONTENT_TYPE,
    body: event,
    applicationProperties,
  };
}

/** What the adapter needs from `ServiceBusSender` (lets tests hand it a recording sender). */
export type EventSender = Pick<ServiceBusSender, 'sendMessages'> &
  Partial<Pick<ServiceBusSender, 'createMessageBatch'>>;

/** Production adapter: publishes to the Service Bus topic through an `@azure/service-bus` sender. */
export class ServiceBusEventPublisher implements EventPublisher {
  constructor(private readonly sender: EventSender) {}

  async publish(event: TunedropEvent): Promise<void> {
    await this.sender.sendMessages(toServiceBusMessage(event) satisfies ServiceBusMessage);
  }

  /**
   * Opens (or reuses) the AMQP sender link to the topic and asks its maximum message size: fails
   * when the namespace cannot be reached or refuses the app's identity. Sends nothing.
   */
  async checkReachable(): Promise<void> {
    await this.sender.createMessageBatch?.();
  }

  /** One send call: Service Bus accepts the batch atomically (all or none, 256 KB on Standard). */
  async publishMany(events: readonly TunedropEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.sender.sendMessages(events.map((e) => toServiceBusMessage(e) satisfies ServiceBusMessage));
  }
}

/** Keeps published events in memory (unit tests of code that publishes). */
export class InMemoryEventPublisher implements EventPublisher {
  readonly events: TunedropEvent[] = [];
  async publish(event: TunedropEvent): Promise<void> {
    toServiceBusMessage(event);
    this.events.push(event);
  }
  async publishMany(events: readonly TunedropEvent[]): Promise<void> {
    for (const e of events) await this.publish(e);
  }
}
