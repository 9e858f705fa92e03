import { TableClient } from '@azure/data-tables';
import type { Topology } from '../../events/topology';
import { ServiceBusStandIn } from './broker';
import type { Clock } from './clock';
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
