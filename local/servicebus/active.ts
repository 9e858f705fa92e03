import { type ServiceBusStandIn, ServiceBusStandInError } from './broker';

/**
 * The stand-in the local runtime is running in this process. A process-wide slot (keyed with
 * Symbol.for) rather than a module variable: the app's compiled code (dist/) and the runtime's
 * sources can be two module instances of this file, and must see the same bus.
 */
const SLOT = Symbol.for('tunedrop.local.serviceBusStandIn');
type Slot = { [SLOT]?: ServiceBusStandIn };

export function setActiveStandIn(standIn: ServiceBusStandIn | undefined): void {
  (globalThis as Slot)[SLOT] = standIn;
}

/** The running stand-in; throws `no_active_stand_in` when the local runtime has none. */
export function activeStandIn(): ServiceBusStandIn {
  const standIn = (globalThis as Slot)[SLOT];
  if (!standIn) {
    throw new ServiceBusStandInError(
      'no_active_stand_in',
      'no Service Bus stand-in is running in this process (start the local runtime with the Service Bus extension)',
    );
  }
  return standIn;
}

export function activeStandInOrUndefined(): ServiceBusStandIn | undefined {
  return (globalThis as Slot)[SLOT];
}
