import type { TunedropEvent } from '../../events/cloudEvent';
import { type EventPublisher, toServiceBusMessage } from '../../events/publisher';
import type { PublishResult, ServiceBusStandIn } from './broker';

/** Local adapter of the EventPublisher port: the same message mapping as ServiceBusEventPublisher, into the stand-in. */
export class StandInEventPublisher implements EventPublisher {
  constructor(private readonly standIn: ServiceBusStandIn) {}

  async publish(event: TunedropEvent): Promise<void> {
    await this.publishWithResult(event);
  }

  async publishMany(events: readonly TunedropEvent[]): Promise<void> {
    for (const e of events) await this.publishWithResult(e);
  }

  /** publish, and say whether the topic kept it or dropped it as a duplicate (tests and diagnostics). */
  publishWithResult(event: TunedropEvent): Promise<PublishResult> {
    return this.standIn.publish(toServiceBusMessage(event));
  }
}
