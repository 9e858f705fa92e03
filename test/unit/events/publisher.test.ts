import type { OperationOptionsBase, ServiceBusMessage, ServiceBusMessageBatch } from '@azure/service-bus';
import { describe, expect, it } from 'vitest';
import { createEvent } from '../../../shared/events/cloudEvent';
import { type EventSender, ServiceBusEventPublisher } from '../../../shared/events/publisher';

/** Implements the slice of ServiceBusSender the adapter uses and records what it is given. */
class RecordingSender implements EventSender {
  readonly calls: (ServiceBusMessage | ServiceBusMessage[])[] = [];
  async sendMessages(
    messages: ServiceBusMessage | ServiceBusMessage[] | ServiceBusMessageBatch | unknown,
    _options?: OperationOptionsBase,
  ): Promise<void> {
    this.calls.push(messages as ServiceBusMessage | ServiceBusMessage[]);
  }
}

const runId = 'run-0123456789abcdef0123456789abcdef';
const completed = createEvent('tunedrop.run.completed', {
  subject: runId,
  team: 'nlp',
  model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
  time: '2026-11-27T12:00:00Z',
  data: {
    runId,
    team: 'nlp',
    dataset: 'support-bot',
    model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
    status: 'completed',
    registeredModel: 'ml.nlp.support_bot',
    registeredVersion: '3',
    mlflowRunId: 'abc',
  },
});

describe('ServiceBusEventPublisher (@azure/service-bus adapter)', () => {
  it('maps an event to exactly the message the topic and its filters expect', async () => {
    const sender = new RecordingSender();
    await new ServiceBusEventPublisher(sender).publish(completed);
    expect(sender.calls).toEqual([
      {
        messageId: completed.id,
        subject: runId,
        contentType: 'application/cloudevents+json',
        body: completed,
        applicationProperties: {
          type: 'tunedrop.run.completed',
          team: 'nlp',
          model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
        },
      },
    ]);
  });

  it('omits the model property when the event has no model, and sends a batch in one call', async () => {
    const rejected = createEvent('tunedrop.dataset.rejected', {
      subject: runId,
      team: 'nlp',
      time: '2026-11-27T12:00:00Z',
      data: {
        runId,
        team: 'nlp',
        dataset: 'support-bot',
        manifestUrl: 'https://acct.blob.core.windows.net/datasets/nlp/support-bot/run.json',
        reports: { json: 'https://a/r.json', markdown: 'https://a/r.md' },
        errorSummary: {
          errorCounts: { invalid_manifest: 1 },
          firstErrors: [{ code: 'invalid_manifest', message: 'bad' }],
        },
      },
    });
    const sender = new RecordingSender();
    await new ServiceBusEventPublisher(sender).publishMany([rejected, completed]);
    expect(sender.calls).toHaveLength(1);
    const [first, second] = sender.calls[0] as ServiceBusMessage[];
    expect(first?.applicationProperties).toEqual({ type: 'tunedrop.dataset.rejected', team: 'nlp' });
    expect(second?.messageId).toBe(completed.id);
  });

  it('refuses to send something that is not an event', async () => {
    const sender = new RecordingSender();
    const notAnEvent = { ...completed, specversion: '0.3' } as unknown as typeof completed;
    await expect(new ServiceBusEventPublisher(sender).publish(notAnEvent)).rejects.toMatchObject({
      code: 'invalid_event',
    });
    expect(sender.calls).toHaveLength(0);
  });
});
