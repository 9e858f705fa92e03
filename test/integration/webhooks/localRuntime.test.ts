import { copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureTunedropApp } from '../../../local/appAdapters';
import { freePort } from '../../../local/azurite';
import { DEV_EXTENSIONS } from '../../../local/dev';
import { type LocalRuntime, startLocalRuntime } from '../../../local/runtime';
import { activeStandIn } from '../../../local/servicebus/active';
import { standInTopicScheduler } from '../../../local/servicebus/scheduler';
import { startWebhookInbox, type WebhookInbox } from '../../../local/webhookInbox';
import { TABLES } from '../../../shared/config/resources';
import { createEvent, SUBSCRIPTIONS, toServiceBusMessage } from '../../../shared/events';
import { safePost } from '../../../shared/net/outbound';
import { createWebhookServices, TopicDeliveryScheduler, type WebhookServices } from '../../../shared/webhooks';

/**
 * functions/deliverWebhooks and functions/retryWebhookDelivery as the local runtime runs them
 * (compiled dist/, local Functions host, Service Bus stand-in with real scheduled messages) against
 * the local webhook inbox. Retry schedule 0,1,1 s. The app root holds just these two functions
 * (dist/ symlinked), so the test does not depend on the rest of functions/.
 */
const REPO = path.resolve(__dirname, '..', '..', '..');
let appRoot: string;
let runtime: LocalRuntime;
let inbox: WebhookInbox;
let api: WebhookServices;

function statusChanged(runId: string, sequence: number) {
  return createEvent('tunedrop.run.status_changed', {
    subject: runId,
    team: 'runtime-team',
    time: '2026-11-27T10:00:00Z',
    data: {
      runId,
      team: 'runtime-team',
      dataset: 'bot',
      model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
      status: 'running',
      previousStatus: 'queued',
      sequence,
    },
  });
}

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  inbox = await startWebhookInbox({ port: 0 });
  appRoot = mkdtempSync(path.join(os.tmpdir(), 'tunedrop-webhooks-app-'));
  symlinkSync(path.join(REPO, 'dist'), path.join(appRoot, 'dist'), 'dir');
  copyFileSync(path.join(REPO, 'host.json'), path.join(appRoot, 'host.json'));
  writeFileSync(path.join(appRoot, 'package.json'), JSON.stringify({ main: 'dist/functions/*Webhook*.js' }));
  runtime = await startLocalRuntime({
    appRoot,
    storage: 'memory',
    port: await freePort(),
    extensions: DEV_EXTENSIONS,
    keys: { master: 'webhooks-test-master-key-0123', host: [], functions: {} },
    appSettings: { TUNEDROP_WEBHOOK_RETRY_SECONDS: '0,1,1' },
    configureApp: configureTunedropApp,
    environment: process.env,
  });
  const table = (name: string) =>
    TableClient.fromConnectionString(runtime.storage.connectionString, name, { allowInsecureConnection: true });
  // What the HTTP API does: the same tables and scheduler the functions use.
  api = createWebhookServices({
    subscriptionsTable: table(TABLES.webhookSubscriptions),
    deliveriesTable: table(TABLES.webhookDeliveries),
    scheduler: new TopicDeliveryScheduler(standInTopicScheduler()),
    post: safePost,
    policy: { allowLoopbackHttp: true },
  });
  await api.ready();
}, 60_000);

afterAll(async () => {
  await runtime?.stop();
  await inbox?.stop();
  if (appRoot) rmSync(appRoot, { recursive: true, force: true });
});

describe('webhook delivery on the local runtime', () => {
  it('delivers and verifies; a receiver that is down gets retries, then the delivery is failed and redelivered', async () => {
    const sub = await api.subscriptions.create({ team: 'runtime-team', url: `${inbox.url}/inbox/webhooks/rt` });
    inbox.trust('rt', sub.secret);
    const first = statusChanged('run-rt-1', 1);
    await activeStandIn().publish(toServiceBusMessage(first));
    const delivered = await inbox.waitFor((e) => e.headers['webhook-id'] === first.id, 10_000);
    expect(delivered).toMatchObject({ verified: true, summary: 'tunedrop.run.status_changed run-rt-1' });

    inbox.setDown('rt', true);
    const second = statusChanged('run-rt-1', 2);
    const t0 = Date.now();
    await activeStandIn().publish(toServiceBusMessage(second));
    const failed = await until(async () => {
      const page = await api.deliveries.listDeliveries({ status: 'failed', team: 'runtime-team' });
      return page.deliveries.find((d) => d.eventId === second.id);
    }, 15_000);
    const elapsed = Date.now() - t0;
    expect(failed).toMatchObject({ attempts: 3, lastResult: '503' });
    expect(
      inbox
        .received()
        .filter((e) => e.headers['webhook-id'] === second.id)
        .map((e) => e.status),
    ).toEqual([503, 503, 503]);
    expect(elapsed).toBeGreaterThanOrEqual(2000);
    console.log(`three attempts on a 0,1,1 s schedule until failed: ${elapsed} ms`);

    inbox.setDown('rt', false);
    await api.deliveries.redeliver(failed.id);
    const redelivered = await inbox.waitFor((e) => e.headers['webhook-id'] === second.id && e.status === 200, 10_000);
    expect(redelivered.verified).toBe(true);
    expect(
      await until(async () => {
        const d = await api.deliveries.getDelivery(failed.id);
        return d?.status === 'succeeded' ? d : undefined;
      }, 5_000),
    ).toMatchObject({ attempts: 1, lastResult: '200' });
    expect(await activeStandIn().peekDeadLetters(SUBSCRIPTIONS.webhooks)).toEqual([]);
    expect(await activeStandIn().peekDeadLetters(SUBSCRIPTIONS.webhookRetries)).toEqual([]);
  }, 40_000);
});
