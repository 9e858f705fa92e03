import type { TopicScheduler } from '../../shared/events/scheduler';
import { activeStandIn } from './active';
import type { ServiceBusStandIn } from './broker';

/** Local: scheduled messages on the Service Bus stand-in (or the running one, found at schedule time). */
export function standInTopicScheduler(
  standIn: ServiceBusStandIn | (() => ServiceBusStandIn) = activeStandIn,
): TopicScheduler {
  return {
    async schedule(message, at) {
      const bus = typeof standIn === 'function' ? standIn() : standIn;
      await bus.schedule({ ...message }, at);
    },
  };
}
