import { app, type InvocationContext } from '@azure/functions';
import { getServices } from '../shared/compositionRoot';
import { SUBSCRIPTIONS, TOPOLOGY } from '../shared/events/topology';
import { registerCompletedRun } from '../shared/pipeline/registerModel';

export async function registerModel(message: unknown, context: InvocationContext): Promise<void> {
  const deps = getServices().registration();
  const registered = await registerCompletedRun(deps, message);
  context.log(`registered ${registered.modelFullName} v${registered.version}`);
}

app.serviceBusTopic('registerModel', {
  topicName: TOPOLOGY.topic.name,
  subscriptionName: SUBSCRIPTIONS.registerModel,
  connection: 'ServiceBusConnection',
  handler: registerModel,
});
