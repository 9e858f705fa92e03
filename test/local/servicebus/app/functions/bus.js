const { app } = require('@azure/functions');

// Test-only functions on the topology's subscriptions; they record into this process.
const record = (entry) => {
  globalThis.__serviceBusTestApp ??= [];
  globalThis.__serviceBusTestApp.push(entry);
};

app.serviceBusTopic('registerModelAlwaysFails', {
  topicName: 'training-events',
  subscriptionName: 'register-model',
  connection: 'ServiceBusConnection',
  handler: async (_message, context) => {
    record({ fn: 'registerModelAlwaysFails', deliveryCount: context.triggerMetadata.deliveryCount });
    throw new Error('model registry unavailable');
  },
});

app.serviceBusTopic('notifyTeams', {
  topicName: 'training-events',
  subscriptionName: 'notify-teams',
  connection: 'ServiceBusConnection',
  handler: async (message, context) => {
    record({
      fn: 'notifyTeams',
      message,
      triggerMetadata: context.triggerMetadata,
      retryCount: context.retryContext ? context.retryContext.retryCount : undefined,
    });
  },
});
