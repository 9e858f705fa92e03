import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../../shared/config/settings';
import { createPipelineServices } from '../../../shared/pipeline/services';

const AZURE = {
  TUNEDROP_MODE: 'azure',
  AzureWebJobsStorage__accountName: 'tunedropstore',
  AzureWebJobsStorage__credential: 'managedidentity',
};

describe('composition root in Azure mode', () => {
  it('refuses to start without a Service Bus namespace, naming the setting and no value', () => {
    expect(() => createPipelineServices(loadSettings(AZURE))).toThrow(/ServiceBusConnection__fullyQualifiedNamespace/);
  });

  it('builds one topic sender, shared by the event publisher and the webhook scheduler', () => {
    const services = createPipelineServices(
      loadSettings({ ...AZURE, ServiceBusConnection__fullyQualifiedNamespace: 'tunedrop.servicebus.windows.net' }),
    );
    const sender = services.topicSender();
    expect(sender.entityPath).toBe('training-events');
    expect(services.topicSender()).toBe(sender);
  });
});
