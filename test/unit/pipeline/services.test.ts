import { describe, expect, inject, it } from 'vitest';
import { createAppServices } from '../../../shared/compositionRoot';
import { loadSettings } from '../../../shared/config/settings';
import { createEvent, InMemoryEventPublisher } from '../../../shared/events';

const AZURE = {
  AzureWebJobsStorage__accountName: 'tunedropstore',
  AzureWebJobsStorage__credential: 'managedidentity',
};

const event = () =>
  createEvent('tunedrop.run.submitted', {
    team: 'support',
    subject: 'runs/run-1',
    time: new Date(0).toISOString(),
    data: {
      runId: 'run-1',
      team: 'support',
      dataset: 'd',
      model: 'm',
      status: 'pending',
      providerRunName: 'p',
      submittedAt: new Date(0).toISOString(),
    } as never,
  });

describe('composition root', () => {
  it('without a Service Bus namespace, refuses to publish and names the setting (no connection before the first publish)', async () => {
    const services = createAppServices(loadSettings(AZURE));
    await expect(services.publisher.publish(event())).rejects.toThrow(/ServiceBusConnection__fullyQualifiedNamespace/);
  });

  it('builds one topic sender, shared by the event publisher and the retry schedulers', () => {
    const services = createAppServices(
      loadSettings({ ...AZURE, ServiceBusConnection__fullyQualifiedNamespace: 'tunedrop.servicebus.windows.net' }),
    );
    const sender = services.topicSender();
    expect(sender.entityPath).toBe('training-events');
    expect(services.topicSender()).toBe(sender);
  });

  it('uses the adapters a hosting runtime hands in, and Azure rules otherwise', async () => {
    const azure = createAppServices(loadSettings(AZURE));
    expect(azure.outboundPolicy).toEqual({ allowLoopbackHttp: false });
    const publisher = new InMemoryEventPublisher();
    const local = createAppServices(loadSettings(AZURE), { publisher, outboundPolicy: { allowLoopbackHttp: true } });
    await local.publisher.publish(event());
    expect(publisher.events.map((e) => e.type)).toEqual(['tunedrop.run.submitted']);
    expect(local.outboundPolicy.allowLoopbackHttp).toBe(true);
    expect(local.notifications().retry?.scheduler).toBe(local.topicScheduler);
  });

  it('retries a failed ready() on the next call instead of keeping the rejection', async () => {
    // Azurite with a wrong account key: every storage call fails at once (403), nothing is retried by the SDK.
    const { connectionString } = inject('azurite');
    const wrongKey = connectionString.replace(
      /AccountKey=[^;]+/,
      `AccountKey=${Buffer.alloc(64, 1).toString('base64')}`,
    );
    const services = createAppServices(loadSettings({ AzureWebJobsStorage: wrongKey }));
    const first = services.ready();
    await expect(first).rejects.toThrow();
    const second = services.ready();
    expect(second).not.toBe(first);
    await expect(second).rejects.toThrow();
  });
});
