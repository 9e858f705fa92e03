import type { TunedropEvent } from '../../shared/events/cloudEvent';
import { type EventPublisher, toServiceBusMessage } from '../../shared/events/publisher';
import { activeStandIn } from './active';
import type { PublishResult, ServiceBusStandIn } from './broker';

/** Local adapter of the EventPublisher port: the same message mapping as ServiceBusEventPublisher, into the stand-in. */
export class StandInEventPublisher implements EventPublisher {
  /** A stand-in, or a function that finds it at publish time (the app is loaded before the bus starts). */
  constructor(private readonly standIn: ServiceBusStandIn | (() => ServiceBusStandIn)) {}

  async publish(event: TunedropEvent): Promise<void> {
    await this.publishWithResult(event);
  }

  async publishMany(events: readonly TunedropEvent[]): Promise<void> {
    for (const e of events) await this.publishWithResult(e);
  }

  /** The stand-in keeps its state in storage (Azurite): reachable when that store answers. */
  async checkReachable(): Promise<void> {
    const standIn = typeof this.standIn === 'function' ? this.standIn() : this.standIn;
    await standIn.checkReachable();
  }

  /** publish, and say whether the topic kept it or dropped it as a duplicate (tests and diagnostics). */
  publishWithResult(event: TunedropEvent): Promise<PublishResult> {
    const message = toServiceBusMessage(event);
    const standIn = typeof this.standIn === 'function' ? this.standIn() : this.standIn;
    return standIn.publish(message);
  }
}

/** What functions/ uses in local mode: publishes into whichever stand-in the local runtime runs in this process. */
export function localEventPublisher(): StandInEventPublisher {
  return new StandInEventPublisher(activeStandIn);
}
