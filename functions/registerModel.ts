import { app, type InvocationContext } from '@azure/functions';
import { SUBSCRIPTIONS, TOPOLOGY } from '../shared/events/topology';
import { registerCompletedRun } from '../shared/pipeline/registerModel';
import { getPipelineServices } from '../shared/pipeline/services';

export async function registerModel(message: unknown, context: InvocationContext): Promise<void> {
  const services = getPipelineServices();
  const activities = services.runActivities();
  const unityCatalog = (
    activities.provider as { unityCatalog?: Parameters<typeof registerCompletedRun>[0]['unityCatalog'] }
  ).unityCatalog;
  if (!unityCatalog) throw new Error('the training provider has no Unity Catalog client');
  const registered = await registerCompletedRun(
    {
      unityCatalog,
      runIndex: services.runIndex,
      modelIndex: services.modelIndex,
      publisher: services.publisher,
      alias: services.settings.modelAlias,
    },
    message,
  );
  context.log(`registered ${registered.modelFullName} v${registered.version} as @${services.settings.modelAlias}`);
}

app.serviceBusTopic('registerModel', {
  topicName: TOPOLOGY.topic.name,
  subscriptionName: SUBSCRIPTIONS.registerModel,
  connection: 'ServiceBusConnection',
  handler: registerModel,
});
