import path from 'node:path';
import { CONTAINERS, TABLES } from '../../shared/config/resources';
import { TOPOLOGY } from '../../shared/events/topology';
import { ACTIVITIES, TRAINING_RUN_ORCHESTRATION } from '../../shared/pipeline/runContracts';
import { INFRA_DIR, readBicep, stringValue, variableValue } from './bicep';
import type { InfraFacts } from './functionRegistrations';

/** What infra/ provisions and wires, read from the Bicep and from the shared definitions it loads. */
export async function infraFacts(): Promise<InfraFacts> {
  const main = await readBicep(path.join(INFRA_DIR, 'main.bicep'));
  const literal = (name: string) => {
    const node = variableValue(main, name);
    const value = node && stringValue(node);
    if (!value) throw new Error(`main.bicep: var ${name} is not a string literal`);
    return value;
  };
  return {
    intakeFunctionName: literal('intakeFunctionName'),
    orchestrationName: TRAINING_RUN_ORCHESTRATION,
    activityNames: Object.values(ACTIVITIES),
    datasetsContainer: CONTAINERS.datasets,
    manifestName: literal('manifestName'),
    containers: Object.values(CONTAINERS),
    tables: Object.values(TABLES),
    topicName: TOPOLOGY.topic.name,
    subscriptionNames: TOPOLOGY.subscriptions.map((s) => s.name),
    // Bicep sets AzureWebJobsStorage__* (api.bicep) and ServiceBusConnection__* (main.bicep).
    connections: ['AzureWebJobsStorage', 'ServiceBusConnection'],
  };
}
