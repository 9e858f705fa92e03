import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadDrop } from '../../cli/uploadDrop';
import type { LocalRuntime } from '../../local/runtime';
import type { WebhookInbox } from '../../local/webhookInbox';
import { CONTAINERS } from '../../shared/config/resources';
import { apiAs, type FanoutSetup, type LocalProvider, startFanoutRuntime, waitForEvents } from './support';

/**
 * The catalog the service keeps current, end to end on the local runtime: the provider emulator
 * stops offering a model the example team may train → the refreshCatalog timer publishes
 * tunedrop.catalog.changed → it reaches the team's Teams and Slack channels and a webhook → the
 * API lists the model as withdrawn with the catalog's source and age → a drop naming the model is
 * refused with model_not_supported naming the refresh date.
 */
const WITHDRAWN = 'mistralai/Mistral-7B-Instruct-v0.2';
let setup: FanoutSetup | undefined;
let runtime: LocalRuntime;
let provider: LocalProvider;
let inbox: WebhookInbox;

// The team's admin: subscribing is its action (the catalog list is any signed-in caller's).
const api = apiAs(() => runtime);

beforeAll(async () => {
  setup = await startFanoutRuntime({ TUNEDROP_WEBHOOK_RETRY_SECONDS: '0,1,1', TUNEDROP_NOTIFY_RETRY_SECONDS: '0,1,1' });
  ({ runtime, provider, inbox } = setup);
}, 60_000);

afterAll(async () => {
  await setup?.stop();
});

describe('catalog refresh (local runtime)', () => {
  it('emulator drops a model → catalog.changed delivered → API says withdrawn → a drop naming it is refused', async () => {
    expect(runtime.host.timers().find((t) => t.functionName === 'refreshCatalog')).toMatchObject({
      runOnStartup: true,
    });
    const created = await api<{ id: string; secret: string }>('POST', 'webhooks', {
      team: 'support',
      url: `${inbox.url}/inbox/webhooks/catalog`,
      eventTypes: ['tunedrop.catalog.changed'],
    });
    inbox.trust('catalog', created.secret);

    expect(provider.emulator.state.withdrawModel(WITHDRAWN)).toBe(true);
    const before = Date.now();
    await runtime.host.fireTimer('refreshCatalog');
    const events = await waitForEvents((es) => es.some((e) => e.type === 'tunedrop.catalog.changed'), 20_000);
    const changed = events.filter((e) => e.type === 'tunedrop.catalog.changed');
    expect(changed).toHaveLength(1);
    const event = changed[0];
    if (event?.type !== 'tunedrop.catalog.changed') throw new Error('no catalog.changed');
    expect(event).toMatchObject({ team: 'support', subject: 'catalog' });
    expect(event.data).toMatchObject({ removed: [WITHDRAWN], allowedModelsRemoved: [WITHDRAWN], added: [] });
    const refreshDate = event.data.refreshedAt.slice(0, 10);

    const webhook = await inbox.waitFor(
      (e) => e.kind === 'webhooks' && e.name === 'catalog' && (e.json as { id?: string })?.id === event.id,
      20_000,
    );
    expect(webhook.verified).toBe(true);
    const card = await inbox.waitFor((e) => e.kind === 'teams' && e.summary.includes('removed'), 20_000);
    expect(card.status).toBe(202);
    const slack = await inbox.waitFor((e) => e.kind === 'slack' && e.summary.includes('removed'), 20_000);
    expect(slack.status).toBe(200);

    // Told once: another refresh (as the daily timer or a restart would do) publishes nothing new.
    await runtime.host.fireTimer('refreshCatalog');
    await new Promise((r) => setTimeout(r, 500));
    expect((await waitForEvents(() => true, 1000)).filter((e) => e.type === 'tunedrop.catalog.changed')).toHaveLength(
      1,
    );

    const models = await api<{
      models: { id: string; status: string }[];
      source: { kind: string; refreshedAt: string; ageSeconds: number; description: string };
    }>('GET', 'models');
    expect(models.models.find((m) => m.id === WITHDRAWN)?.status).toBe('withdrawn');
    expect(models.source).toMatchObject({
      kind: 'provider',
      description: expect.stringMatching(/^provider, refreshed/),
    });
    expect(Date.parse(models.source.refreshedAt)).toBeGreaterThanOrEqual(before - 1000);

    const folder = mkdtempSync(path.join(tmpdir(), 'td-withdrawn-'));
    const row = (i: number) => JSON.stringify({ prompt: `Question ${i}?`, response: `Answer ${i}.` });
    writeFileSync(path.join(folder, 'train.jsonl'), `${Array.from({ length: 20 }, (_, i) => row(i)).join('\n')}\n`);
    writeFileSync(
      path.join(folder, 'run.json'),
      JSON.stringify({ model: WITHDRAWN, task: 'instruction', train: 'train.jsonl', contextLength: 16 }),
    );
    const datasets = BlobServiceClient.fromConnectionString(runtime.host.storageConnectionString).getContainerClient(
      CONTAINERS.datasets,
    );
    await uploadDrop(datasets, folder, 'support', 'withdrawn-model');
    const rejectedEvents = await waitForEvents(
      (es) => es.some((e) => e.type === 'tunedrop.dataset.rejected' && e.data.dataset === 'withdrawn-model'),
      30_000,
    );
    const rejected = rejectedEvents.find(
      (e) => e.type === 'tunedrop.dataset.rejected' && e.data.dataset === 'withdrawn-model',
    );
    if (rejected?.type !== 'tunedrop.dataset.rejected') throw new Error('no rejection');
    expect(rejected.data.errorSummary.errorCounts).toMatchObject({ model_not_supported: 1 });
    const message = rejected.data.errorSummary.firstErrors.find((e) => e.code === 'model_not_supported')?.message;
    expect(message).toContain('no longer offered');
    expect(message).toContain(refreshDate);
  }, 120_000);
});
