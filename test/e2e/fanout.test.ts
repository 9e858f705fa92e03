import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadDrop } from '../../cli/uploadDrop';
import type { LocalRuntime } from '../../local/runtime';
import type { InboxEntry, WebhookInbox } from '../../local/webhookInbox';
import { CONTAINERS } from '../../shared/config/resources';
import { apiAs, type FanoutSetup, type LocalProvider, REPO, startFanoutRuntime, waitForEvents } from './support';

/**
 * The fan-out on the local runtime: a completed run is registered (alias + lineage tags in the
 * provider emulator's Unity Catalog), the team's Teams and Slack channels get a card at a local
 * receiver, and a webhook subscription made through the HTTP API gets signed deliveries that the
 * inbox verifies. A receiver that is down: retried on schedule, recorded failed, listed by the
 * API, redelivered once it is back.
 */
let setup: FanoutSetup | undefined;
let runtime: LocalRuntime;
let provider: LocalProvider;
let inbox: WebhookInbox;

// The team's admin: subscribing and redelivering are its actions.
const api = apiAs(() => runtime);

async function subscribe(name: string, eventTypes?: string[]): Promise<string> {
  const created = await api<{ id: string; secret: string }>('POST', 'webhooks', {
    team: 'support',
    url: `${inbox.url}/inbox/webhooks/${name}`,
    ...(eventTypes ? { eventTypes } : {}),
  });
  inbox.trust(name, created.secret);
  return created.id;
}

async function drop(example: string, dataset: string): Promise<void> {
  const datasets = BlobServiceClient.fromConnectionString(runtime.host.storageConnectionString).getContainerClient(
    CONTAINERS.datasets,
  );
  await uploadDrop(datasets, path.join(REPO, 'examples', example), 'support', dataset);
}

const webhookFor = (name: string, type: string, runId: string) => (e: InboxEntry) =>
  e.kind === 'webhooks' &&
  e.name === name &&
  (e.json as { type?: string; subject?: string } | undefined)?.type === type &&
  (e.json as { subject?: string }).subject === runId;

beforeAll(async () => {
  setup = await startFanoutRuntime({
    TUNEDROP_POLL_INITIAL_SECONDS: '1',
    TUNEDROP_POLL_MAX_SECONDS: '3',
    TUNEDROP_WEBHOOK_RETRY_SECONDS: '0,1,1',
    TUNEDROP_NOTIFY_RETRY_SECONDS: '0,1,1',
  });
  ({ runtime, provider, inbox } = setup);
}, 60_000);

afterAll(async () => {
  await setup?.stop();
});

describe('fan-out: registration, Teams/Slack cards, signed webhooks (local runtime)', () => {
  it('registers the model with alias and lineage, posts the cards and delivers verified webhooks', async () => {
    await subscribe('all-events');
    await drop('support-bot', 'bot');
    const events = await waitForEvents((es) => es.some((e) => e.type === 'tunedrop.model.registered'), 90_000);
    const registered = events.find((e) => e.type === 'tunedrop.model.registered');
    if (!registered) throw new Error('no model.registered event');
    const runId = registered.subject;
    const { modelFullName, version } = registered.data as { modelFullName: string; version: string };

    const snapshot = provider.emulator.state.snapshot() as {
      aliases: Record<string, Record<string, number>>;
      modelVersions: { fullName: string; tags: Record<string, string> }[];
    };
    expect(snapshot.aliases[modelFullName]).toEqual({ candidate: Number(version) });
    const modelVersion = snapshot.modelVersions.find((v) => v.fullName === modelFullName);
    expect(modelVersion?.tags).toMatchObject({
      'tunedrop.run_id': runId,
      'tunedrop.team': 'support',
      'tunedrop.dataset_url': expect.stringMatching(/\/datasets\/support\/bot\/run\.json$/),
      'tunedrop.dataset_sha256': expect.stringMatching(/^[0-9a-f]{64}$/),
      'tunedrop.validation_report_url': expect.stringContaining(`/reports/support/bot/${runId}/`),
    });

    const card = await inbox.waitFor((e) => e.kind === 'teams' && e.summary.includes(modelFullName), 20_000);
    expect(card.status).toBe(202);
    expect(card.summary).toContain('Model registered');
    const slack = await inbox.waitFor((e) => e.kind === 'slack' && e.summary.includes(modelFullName), 20_000);
    expect(slack.status).toBe(200);

    for (const type of ['tunedrop.dataset.validated', 'tunedrop.run.submitted', 'tunedrop.model.registered']) {
      const delivery = await inbox.waitFor(webhookFor('all-events', type, runId), 20_000);
      expect(delivery.verified, `${type} delivery verified`).toBe(true);
      expect(delivery.headers['webhook-id']).toBe(events.find((e) => e.type === type && e.subject === runId)?.id);
    }
    const run = await api<{ status: string; registeredModel?: string }>('GET', `runs/${runId}`);
    expect(run).toMatchObject({ registeredModel: modelFullName });
    const registry = await api<{ models: Record<string, unknown>[] }>(
      'GET',
      `registered-models?model=${encodeURIComponent(modelFullName)}`,
    );
    expect(registry.models).toEqual([
      expect.objectContaining({
        modelFullName,
        version,
        alias: 'candidate',
        runId,
        team: 'support',
        dataset: 'bot',
        baseModel: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
        datasetSha256: modelVersion?.tags['tunedrop.dataset_sha256'],
      }),
    ]);
  }, 120_000);

  it('retries a receiver that is down, records the delivery failed, and redelivers it once it is back', async () => {
    const subscriptionId = await subscribe('flaky', ['tunedrop.run.submitted']);
    inbox.setDown('flaky', true);
    await drop('sql-instructions', 'sql-flaky');
    const events = await waitForEvents(
      (es) => es.some((e) => e.type === 'tunedrop.run.submitted' && e.data.dataset === 'sql-flaky'),
      30_000,
    );
    const submitted = events.find((e) => e.type === 'tunedrop.run.submitted' && e.data.dataset === 'sql-flaky');
    const runId = submitted?.subject ?? '';

    type Page = { deliveries: { id: string; subscriptionId: string; subject: string; attempts: number }[] };
    const deadline = Date.now() + 30_000;
    let failed: Page['deliveries'][number] | undefined;
    while (!failed && Date.now() < deadline) {
      const page = await api<Page>('GET', 'deliveries?status=failed&team=support');
      failed = page.deliveries.find((d) => d.subscriptionId === subscriptionId && d.subject === runId);
      if (!failed) await new Promise((r) => setTimeout(r, 250));
    }
    expect(failed, 'the delivery is listed as failed').toBeDefined();
    expect(failed?.attempts).toBe(3);
    const refused = inbox.received().filter(webhookFor('flaky', 'tunedrop.run.submitted', runId));
    expect(refused.map((e) => e.status)).toEqual([503, 503, 503]);

    inbox.setDown('flaky', false);
    await api('POST', `deliveries/${failed?.id}/redeliver`);
    const delivered = await inbox.waitFor(
      (e) => webhookFor('flaky', 'tunedrop.run.submitted', runId)(e) && e.status === 200,
      20_000,
    );
    expect(delivered.verified).toBe(true);
    expect(delivered.headers['webhook-id']).toBe(submitted?.id);
    const after = await api<{ status: string }>('GET', `deliveries?team=support`);
    expect(JSON.stringify(after)).not.toContain('whsec_');
  }, 120_000);

  it('a Slack channel that is down gets the card on a scheduled retry; Teams gets it once', async () => {
    inbox.setDown('ml-alerts', true);
    const folder = mkdtempSync(path.join(tmpdir(), 'td-flaky-'));
    writeFileSync(path.join(folder, 'train.jsonl'), 'not json\n');
    writeFileSync(
      path.join(folder, 'run.json'),
      JSON.stringify({ model: 'mistralai/Mistral-7B-Instruct-v0.2', task: 'instruction', train: 'train.jsonl' }),
    );
    const datasets = BlobServiceClient.fromConnectionString(runtime.host.storageConnectionString).getContainerClient(
      CONTAINERS.datasets,
    );
    await uploadDrop(datasets, folder, 'support', 'slack-flaky');
    const about = (e: InboxEntry) => e.body.includes('slack-flaky');
    await inbox.waitFor((e) => e.kind === 'slack' && about(e) && e.status === 503, 30_000);
    inbox.setDown('ml-alerts', false);
    const delivered = await inbox.waitFor((e) => e.kind === 'slack' && about(e) && e.status === 200, 30_000);
    expect(delivered.summary).toContain('Dataset rejected');
    expect(inbox.received().filter((e) => e.kind === 'teams' && about(e))).toHaveLength(1);
  }, 60_000);
});
