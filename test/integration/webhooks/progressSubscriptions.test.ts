import { TableClient } from '@azure/data-tables';
import { describe, expect, inject, it } from 'vitest';
import { TableWebhookSubscriptionStore } from '../../../shared/webhooks/subscriptions';

/**
 * Progress events of sharded validations (issue 16) are many per run: a webhook subscription gets
 * them only when it names the type; one without an eventTypes list gets every other type.
 */
describe('webhook subscriptions and tunedrop.dataset.validation.progress (Azurite)', () => {
  it('delivers progress only to subscriptions that name it', async () => {
    const table = TableClient.fromConnectionString(
      inject('azurite').connectionString,
      `progresshooks${Date.now().toString(36)}`,
      { allowInsecureConnection: true },
    );
    const store = new TableWebhookSubscriptionStore(table, { policy: { allowLoopbackHttp: true } });
    const all = await store.create({ team: 'nlp', url: 'http://127.0.0.1:9/all' });
    const progress = await store.create({
      team: 'nlp',
      url: 'http://127.0.0.1:9/progress',
      eventTypes: ['tunedrop.dataset.validation.progress', 'tunedrop.dataset.validated'],
    });
    const ids = async (type: Parameters<typeof store.matching>[1]) =>
      (await store.matching('nlp', type)).map((s) => s.id).sort();
    expect(await ids('tunedrop.dataset.validation.progress')).toEqual([progress.id]);
    expect(await ids('tunedrop.dataset.validated')).toEqual([all.id, progress.id].sort());
    expect(await ids('tunedrop.run.completed')).toEqual([all.id]);
  });
});
