import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadDrop } from '../../cli/uploadDrop';
import { startLocalProvider } from '../../local/pipelineDemo';
import type { LocalRuntime } from '../../local/runtime';
import { CONTAINERS } from '../../shared/config/resources';
import type { TunedropEvent } from '../../shared/events';
import { tokenFor } from '../support/identity';
import {
  E2E_MASTER_KEY,
  type LocalProvider,
  publishedEvents,
  REPO,
  reconcileNow,
  seedExampleTeam,
  startPipelineRuntime,
  terminateInstance,
  waitForEvents,
} from './support';

/**
 * No run is stranded (issue 12 item 1), on the local runtime with the real functions/, the durable
 * engine replaying durable-functions' own orchestrator code, and the provider emulator. Activity
 * retries are shortened (1 s, 2 attempts) so the persistent-failure case takes seconds.
 */
const MASTER_KEY = E2E_MASTER_KEY;
let runtime: LocalRuntime;
let provider: LocalProvider;

beforeAll(async () => {
  provider = await startLocalProvider();
  runtime = await startPipelineRuntime(provider, {
    storage: 'memory',
    appSettings: {
      TUNEDROP_POLL_INITIAL_SECONDS: '1',
      TUNEDROP_POLL_MAX_SECONDS: '2',
      TUNEDROP_ACTIVITY_RETRY_FIRST_SECONDS: '1',
      TUNEDROP_ACTIVITY_RETRY_ATTEMPTS: '2',
    },
  });
  await seedExampleTeam(runtime.host.storageConnectionString);
  await seedExampleTeam(runtime.host.storageConnectionString, undefined, 'assist');
}, 60_000);

afterAll(async () => {
  await runtime?.stop();
  await provider?.stop();
});

async function drop(
  dataset: string,
  { example, team }: { example: string; team: string } = { example: 'sql-instructions', team: 'support' },
): Promise<{ runId: string; providerRunName: string }> {
  const datasets = BlobServiceClient.fromConnectionString(runtime.host.storageConnectionString).getContainerClient(
    CONTAINERS.datasets,
  );
  await uploadDrop(datasets, path.join(REPO, 'examples', example), team, dataset);
  const events = await waitForEvents(
    (es) => es.some((e) => e.type === 'tunedrop.run.submitted' && e.data.dataset === dataset),
    45_000,
  );
  const submitted = events.find((e) => e.type === 'tunedrop.run.submitted' && e.data.dataset === dataset);
  return {
    runId: submitted?.subject ?? '',
    providerRunName: (submitted?.data as { providerRunName?: string } | undefined)?.providerRunName ?? '',
  };
}

async function api(
  method: string,
  route: string,
  principal = 'support-admin',
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${runtime.host.baseUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${await tokenFor(principal)}` },
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const terminate = (runId: string) => terminateInstance(runtime, runId);

const providerStatus = (name: string) =>
  (provider.emulator.state.snapshot() as { runs: { name: string; status: string }[] }).runs.find((r) => r.name === name)
    ?.status;

const azureJobStatus = (id: string) =>
  (provider.azureOpenAI.state.snapshot() as { jobs: { id: string; status: string }[] }).jobs.find((j) => j.id === id)
    ?.status;

const reconcile = () => reconcileNow(runtime);

const ofRun = (events: TunedropEvent[], runId: string, type: string) =>
  events.filter((e) => e.subject === runId && e.type === type);

describe('a run whose orchestration cannot go on still ends', () => {
  it('status activity out of retries: provider run cancelled, index failed with the reason, run.failed once', async () => {
    const { runId, providerRunName } = await drop('stranded-status');
    // Every status read fails (GraphQL error), for both attempts of the next status activity.
    provider.emulator.state.graphqlError(
      2,
      'status backend unavailable',
      'INTERNAL_SERVER_ERROR',
      'getFinetunesPaginated',
    );
    const events = await waitForEvents((es) => ofRun(es, runId, 'tunedrop.run.failed').length > 0, 45_000);
    const failed = ofRun(events, runId, 'tunedrop.run.failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]?.data).toMatchObject({
      status: 'failed',
      reason: expect.stringContaining('status backend unavailable'),
    });
    expect(String((failed[0]?.data as { reason?: string } | undefined)?.reason)).toContain(
      'the provider run was cancelled',
    );
    const run = await api('GET', `/api/runs/${runId}`);
    expect(run.body).toMatchObject({ status: 'failed', reason: expect.stringContaining('status backend unavailable') });
    expect(['STOPPING', 'STOPPED']).toContain(providerStatus(providerRunName));
    // Nothing else ends the run later, and nothing is announced twice.
    await new Promise((r) => setTimeout(r, 3000));
    const later = await publishedEvents();
    expect(ofRun(later, runId, 'tunedrop.run.failed')).toHaveLength(1);
    expect(ofRun(later, runId, 'tunedrop.run.completed')).toHaveLength(0);
  }, 90_000);

  it('terminated instance: the reconciler cancels the provider run, ends the run and publishes run.cancelled once', async () => {
    const { runId, providerRunName } = await drop('stranded-terminated');
    await terminate(runId);
    expect((await api('GET', `/api/runs/${runId}`)).body.status).not.toBe('cancelled');

    await reconcile();
    const events = await waitForEvents((es) => ofRun(es, runId, 'tunedrop.run.cancelled').length > 0, 30_000);
    expect(ofRun(events, runId, 'tunedrop.run.cancelled')[0]?.data).toMatchObject({
      status: 'cancelled',
      reason: expect.stringContaining('terminated'),
    });
    expect(await api('GET', `/api/runs/${runId}`)).toMatchObject({ body: { status: 'cancelled' } });
    expect(['STOPPING', 'STOPPED']).toContain(providerStatus(providerRunName));

    // A second pass finds nothing to repair and publishes nothing more.
    await reconcile();
    await new Promise((r) => setTimeout(r, 1500));
    expect(ofRun(await publishedEvents(), runId, 'tunedrop.run.cancelled')).toHaveLength(1);
  }, 90_000);

  it('Azure OpenAI run, orchestration terminated: the reconciler asks Azure OpenAI, cancels the job, run.cancelled once', async () => {
    const { runId, providerRunName } = await drop('stranded-azure', { example: 'assist-tool-calls', team: 'assist' });
    expect(providerRunName).toMatch(/^ftjob-/);
    await terminate(runId);
    await reconcile();
    const events = await waitForEvents((es) => ofRun(es, runId, 'tunedrop.run.cancelled').length > 0, 30_000);
    expect(ofRun(events, runId, 'tunedrop.run.cancelled')[0]?.data).toMatchObject({
      status: 'cancelled',
      providerRunName,
      reason: "the run's orchestration was terminated; the provider run was cancelled",
    });
    expect(['cancelling', 'cancelled']).toContain(azureJobStatus(providerRunName));
    await reconcile();
    await new Promise((r) => setTimeout(r, 1500));
    const later = await publishedEvents();
    expect(ofRun(later, runId, 'tunedrop.run.cancelled')).toHaveLength(1);
    expect(ofRun(later, runId, 'tunedrop.run.failed')).toHaveLength(0);
    expect(await api('GET', `/api/runs/${runId}`, 'platform-admin')).toMatchObject({ body: { status: 'cancelled' } });
  }, 90_000);

  it('cancel on a run whose orchestration ended: 202, the provider run stops, the run ends cancelled', async () => {
    const { runId, providerRunName } = await drop('stranded-cancel');
    await terminate(runId);
    const cancelled = await api('POST', `/api/runs/${runId}/cancel`);
    expect(cancelled.status).toBe(202);
    expect(cancelled.body).toMatchObject({
      status: 'cancelled',
      reason: expect.stringContaining('cancelled on request'),
    });
    expect(['STOPPING', 'STOPPED']).toContain(providerStatus(providerRunName));
    const events = await waitForEvents((es) => ofRun(es, runId, 'tunedrop.run.cancelled').length > 0, 15_000);
    expect(ofRun(events, runId, 'tunedrop.run.cancelled')).toHaveLength(1);
    // Now it is over: a second cancel is refused as for any ended run.
    expect((await api('POST', `/api/runs/${runId}/cancel`)).status).toBe(409);
  }, 90_000);
});

describe('the durable management API on the local runtime (issue 12 item 3)', () => {
  const durable = (path: string, init: RequestInit = {}) =>
    fetch(`${runtime.host.baseUrl}/runtime/webhooks/durabletask${path}`, init);

  it('needs the system key or the master key, like Azure: no listing, terminating or forged starts without it', async () => {
    expect((await durable('/instances')).status).toBe(401);
    expect((await durable('/instances?code=not-the-key')).status).toBe(401);
    const forged = await durable('/orchestrators/trainingRun', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ runId: 'run-forged', registerTo: 'ml.evilteam.stolen' }),
    });
    expect(forged.status).toBe(401);
    expect((await durable('/instances/run-forged/terminate?reason=x', { method: 'POST' })).status).toBe(401);
    expect((await durable('/instances', { method: 'DELETE' })).status).toBe(401);
    // Nothing was started by the forged call.
    expect((await durable(`/instances/run-forged?code=${MASTER_KEY}`)).status).toBe(404);
    // The master key opens it, as in Azure.
    expect((await durable(`/instances?code=${MASTER_KEY}`)).status).toBe(200);
  });
});
