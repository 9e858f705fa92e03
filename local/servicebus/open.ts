import { TableClient } from '@azure/data-tables';
import type { Topology } from '../../shared/events/topology';
import { setActiveStandIn } from './active';
import { ServiceBusStandIn } from './broker';
import type { Clock } from './clock';
import { ServiceBusTriggerExtension, type ServiceBusTriggerExtensionOptions } from './extension';
import { TableBrokerStore } from './store';

/** Local-only table (no Azure counterpart: in Azure the state lives in Service Bus itself). */
export const STAND_IN_TABLE = 'tunedropLocalServiceBus';

export interface OpenOnStorageOptions {
  /** Azurite connection string (the local host's AzureWebJobsStorage). */
  connectionString: string;
  tableName?: string;
  clock?: Clock;
  topology?: Topology;
}

/** The stand-in as the local runtime runs it: state in an Azurite table, so it survives a restart. */
export async function openServiceBusStandInOnStorage(options: OpenOnStorageOptions): Promise<ServiceBusStandIn> {
  const table = TableClient.fromConnectionString(options.connectionString, options.tableName ?? STAND_IN_TABLE, {
    allowInsecureConnection: true,
  });
  const store = new TableBrokerStore(table);
  await store.ensure();
  return ServiceBusStandIn.open({
    store,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.topology ? { topology: options.topology } : {}),
  });
}

export type StandInExtensionOptions = OpenOnStorageOptions &
  Omit<ServiceBusTriggerExtensionOptions, 'standIn' | 'ownsStandIn'>;

/**
 * The extension as the local runtime lists it (local/dev.ts DEV_EXTENSIONS):
 *   (services) => createServiceBusStandInExtension({ connectionString: services.storageConnectionString })
 * It opens the stand-in on Azurite, makes it the process's active bus (localEventPublisher()), and
 * closes it on stop.
 */
export async function createServiceBusStandInExtension(
  options: StandInExtensionOptions,
): Promise<ServiceBusTriggerExtension> {
  const { connectionString, tableName, clock, topology, ...extensionOptions } = options;
  const standIn = await openServiceBusStandInOnStorage({
    connectionString,
    ...(tableName ? { tableName } : {}),
    ...(clock ? { clock } : {}),
    ...(topology ? { topology } : {}),
  });
  // Active from now, not only from start(): another extension (the durable engine) may start first and publish.
  setActiveStandIn(standIn);
  return new ServiceBusTriggerExtension({ ...extensionOptions, standIn, ownsStandIn: true });
}
