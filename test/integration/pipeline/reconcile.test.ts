import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { type AzureOpenAIEmulator, startAzureOpenAIEmulator } from '../../../emulators/azure-openai';
import { startTrainingEmulator, type TrainingEmulator } from '../../../emulators/databricks';
import { InMemoryEventPublisher } from '../../../shared/events';
import {
  type ReconcileDeps,
  type RunInstanceStatus,
  reconcileRun,
  reconcileRuns,
} from '../../../shared/pipeline/reconcile';
import { RunIndex, type RunRecord } from '../../../shared/registry/runIndex';
import { AzureOpenAITrainingProvider } from '../../../shared/training/azureOpenAI';
import { DATABRICKS_PROVIDER, DatabricksTrainingProvider } from '../../../shared/training/databricks';

/**
 * The reconciler (shared/pipeline/reconcile.ts) on real parts: the run index on Azurite, the
 * Databricks and Azure OpenAI adapters against their emulators (official `openai` SDK inside the
 * Azure OpenAI adapter), one virtual clock for all. Only the durable instance status is set by the
 * test (the port RunInstances), as the orchestration ending is what is simulated.
 */
let t = Date.parse('2026-11-30T06:00:00Z');
const clock = () => t;
const MIN = 60_000;

let azure: AzureOpenAIEmulator;
let databricks: TrainingEmulator;
let azureProvider: AzureOpenAITrainingProvider;
let databricksProvider: DatabricksTrainingProvider;

beforeAll(async () => {
  azure = await startAzureOpenAIEmulator({ now: clock });
  databricks = await startTrainingEmulator({ now: clock });
  const sleep = async (ms: number) => {
    t += ms;
  };
  azureProvider = new AzureOpenAITrainingProvider({
    endpoint: azure.url,
    auth: { apiKey: azure.apiKey },
    sleep,
    now: clock,
    random: () => 0.5,
    filePollMs: 5_000,
  });
  databricksProvider = new DatabricksTrainingProvider({
    workspaceUrl: databricks.url,
    auth: databricks.token,
    experimentDir: '/Shared/tunedrop',
    now: clock,
    random: () => 0.5,
    sleep,
  });
});
afterAll(async () => {
  await azure?.stop();
  await databricks?.stop();
});

let index: RunIndex;
let publisher: InMemoryEventPublisher;
let instances: Map<string, RunInstanceStatus>;

beforeEach(async () => {
  azure.state.clearFaults();
  databricks.state.clearFaults();
  // A table per test: a pass sees only this test's runs.
  const table = TableClient.fromConnectionString(
    inject('azurite').connectionString,
    `reconcile${randomBytes(6).toString('hex')}`,
    { allowInsecureConnection: true },
  );
  index = new RunIndex(table);
  await index.ensure();
  publisher = new InMemoryEventPublisher();
  instances = new Map();
});

const deps = (over: Partial<ReconcileDeps> = {}): ReconcileDeps => ({
  provider: databricksProvider,
  providerName: DATABRICKS_PROVIDER,
  azureOpenAI: azureProvider,
  publisher,
  runIndex: index,
  instances: { status: async (runId) => instances.get(runId) },
  now: () => new Date(t),
  ...over,
});

const jsonl = () =>
  Readable.from(
    Array.from(
      { length: 12 },
      (_, i) =>
        `${JSON.stringify({
          messages: [
            { role: 'user', content: `Q${i}?` },
            { role: 'assistant', content: `A${i}.` },
          ],
        })}\n`,
    ),
  );

/** An Azure OpenAI job on the emulator (file staged, job created), and its run in the index as the orchestration left it. */
async function azureRun(runId: string, over: Partial<RunRecord> = {}): Promise<RunRecord> {
  const file = await azureProvider.stageFile(runId, 'train', jsonl);
  const ref = await azureProvider.create(
    { model: 'gpt-4o-mini-2024-07-18', task: 'chat', trainDataPath: file.id, registerTo: 'unused.unused' },
    runId,
  );
  return seed(runId, { provider: 'azure-openai', providerRunName: ref.name, model: 'gpt-4o-mini-2024-07-18', ...over });
}

async function databricksRun(runId: string, over: Partial<RunRecord> = {}): Promise<RunRecord> {
  const ref = await databricksProvider.create(
    {
      model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
      task: 'chat',
      trainDataPath: 'dbfs:/Volumes/ml/tunedrop/staging/train.jsonl',
      registerTo: 'ml.support',
    },
    runId,
  );
  return seed(runId, { providerRunName: ref.name, ...over });
}

async function seed(runId: string, over: Partial<RunRecord>): Promise<RunRecord> {
  const time = new Date(t).toISOString();
  const record: RunRecord = {
    runId,
    team: 'assist',
    dataset: 'travel',
    model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
    task: 'chat',
    status: 'running',
    manifestUrl: `http://127.0.0.1/datasets/assist/${runId}/run.json`,
    reportUrl: `http://127.0.0.1/reports/assist/${runId}.json`,
    registerTo: 'ml.assist',
    createdAt: time,
    updatedAt: time,
    ...over,
  };
  await index.upsert(record);
  return record;
}

const eventsOf = (runId: string) => publisher.events.filter((e) => e.subject === runId).map((e) => e.type);
const azureStatus = (id: string) =>
  (azure.state.snapshot() as { jobs: { id: string; status: string }[] }).jobs.find((j) => j.id === id)?.status;

describe('the reconciler asks each run its own provider', () => {
  it('Azure OpenAI run, orchestration terminated, job still running: the job is cancelled, run.cancelled once', async () => {
    const run = await azureRun('run-aoai-terminated');
    t += 5 * MIN; // validated, queued, running
    expect(azureStatus(run.providerRunName as string)).toBe('running');
    instances.set(run.runId, { runtimeStatus: 'Terminated' });

    const first = await reconcileRuns(deps());
    expect(first.errors).toEqual([]);
    expect(first.repaired).toEqual([
      expect.objectContaining({
        runId: run.runId,
        previousStatus: 'running',
        status: 'cancelled',
        instance: 'Terminated',
        providerStatus: 'running',
        providerRunCancelled: true,
      }),
    ]);
    expect(['cancelling', 'cancelled']).toContain(azureStatus(run.providerRunName as string));
    expect(await index.get(run.runId)).toMatchObject({
      status: 'cancelled',
      reason: "the run's orchestration was terminated; the provider run was cancelled",
      providerRunName: run.providerRunName,
    });
    const cancelled = publisher.events.find((e) => e.subject === run.runId);
    expect(cancelled?.data).toMatchObject({ status: 'cancelled', providerRunName: run.providerRunName });

    // The next pass finds nothing to do: the run is terminal in the index.
    t += MIN;
    const second = await reconcileRuns(deps());
    expect(second).toMatchObject({ checked: 0, repaired: [], errors: [] });
    expect(eventsOf(run.runId)).toEqual(['tunedrop.run.cancelled']);
  });

  it('Azure OpenAI job that succeeded after its orchestration failed: run.completed with the fine-tuned model, once', async () => {
    const run = await azureRun('run-aoai-succeeded');
    instances.set(run.runId, { runtimeStatus: 'Failed', output: 'Activity getTrainingRunStatus failed: boom' });
    t += 60 * MIN; // the default timings: ~34 minutes to succeeded
    expect(azureStatus(run.providerRunName as string)).toBe('succeeded');

    const report = await reconcileRuns(deps());
    expect(report.repaired).toEqual([
      expect.objectContaining({ status: 'completed', providerStatus: 'succeeded', providerRunCancelled: false }),
    ]);
    const stored = await index.get(run.runId);
    expect(stored).toMatchObject({ status: 'completed', registeredModel: expect.stringMatching(/^gpt-4o-mini/) });
    expect(publisher.events).toHaveLength(1);
    expect(publisher.events[0]).toMatchObject({
      type: 'tunedrop.run.completed',
      data: { registeredModel: stored?.registeredModel, providerRunName: run.providerRunName },
    });
    await reconcileRuns(deps());
    expect(eventsOf(run.runId)).toEqual(['tunedrop.run.completed']);
  });

  it('Azure OpenAI job that failed at the service, instance gone past the grace: run.failed with the service reason', async () => {
    azure.state.failNextJob('Out of quota for Global training.', 'quotaExceeded');
    await azureRun('run-aoai-failed');
    t += 60 * MIN;
    const report = await reconcileRuns(deps());
    expect(report.repaired[0]).toMatchObject({ status: 'failed', instance: 'missing', providerRunCancelled: false });
    expect(publisher.events.map((e) => [e.type, (e.data as { reason?: string }).reason])).toEqual([
      ['tunedrop.run.failed', 'quotaExceeded: Out of quota for Global training.'],
    ]);
  });

  it('an Azure OpenAI run where this deployment has no Azure OpenAI connection: an error, the run left as it was', async () => {
    const run = await azureRun('run-aoai-unconfigured');
    instances.set(run.runId, { runtimeStatus: 'Failed' });
    const report = await reconcileRuns(deps({ azureOpenAI: undefined }));
    expect(report.repaired).toEqual([]);
    expect(report.errors).toEqual([{ runId: run.runId, message: 'no Azure OpenAI connection is configured' }]);
    expect((await index.get(run.runId))?.status).toBe('running');
    expect(publisher.events).toEqual([]);
    expect(azureStatus(run.providerRunName as string)).not.toMatch(/cancel/);
  });

  it('a run naming a provider nobody knows is an error, never a call to the Databricks provider', async () => {
    const run = await seed('run-unknown-provider', { provider: 'vertex', providerRunName: 'job-1' });
    instances.set(run.runId, { runtimeStatus: 'Failed' });
    const databricksCalls = () => [...databricks.state.requests.values()].reduce((a, b) => a + b, 0);
    const calls = databricksCalls();
    const report = await reconcileRuns(deps());
    expect(report.errors).toEqual([{ runId: run.runId, message: 'unknown training provider "vertex"' }]);
    expect(publisher.events).toEqual([]);
    expect(databricksCalls()).toBe(calls);
  });

  it('a Databricks run (no provider field: from before the second provider) still goes to Databricks', async () => {
    const run = await databricksRun('run-dbx-terminated');
    t += 2 * MIN;
    instances.set(run.runId, { runtimeStatus: 'Terminated' });
    const report = await reconcileRuns(deps({ azureOpenAI: undefined }));
    expect(report.repaired[0]).toMatchObject({ status: 'cancelled', providerRunCancelled: true });
    const runs = (databricks.state.snapshot() as { runs: { name: string; status: string }[] }).runs;
    expect(['STOPPING', 'STOPPED']).toContain(runs.find((r) => r.name === run.providerRunName)?.status);
    expect(eventsOf(run.runId)).toEqual(['tunedrop.run.cancelled']);
  });
});

describe('which runs the reconciler repairs, and how', () => {
  it('an orchestration that ended Failed while the job runs: the job is cancelled, failed with the output first line', async () => {
    const run = await azureRun('run-aoai-instance-failed');
    t += 5 * MIN;
    const output = `Activity function 'getTrainingRunStatus' failed: ${'x'.repeat(400)}\n    at stack (a.js:1:1)`;
    instances.set(run.runId, { runtimeStatus: 'Failed', output });
    const logged: string[] = [];
    const report = await reconcileRuns(deps({ log: (m) => logged.push(m) }));
    const reason = `the run's orchestration ended Failed: ${output.split('\n')[0]?.slice(0, 300)}; the provider run was cancelled`;
    expect(report).toEqual({
      checked: 1,
      errors: [],
      repaired: [
        {
          runId: run.runId,
          previousStatus: 'running',
          status: 'failed',
          instance: 'Failed',
          providerStatus: 'running',
          providerRunCancelled: true,
          reason,
        },
      ],
    });
    expect(['cancelling', 'cancelled']).toContain(azureStatus(run.providerRunName as string));
    expect(publisher.events.map((e) => [e.type, (e.data as { reason?: string }).reason])).toEqual([
      ['tunedrop.run.failed', reason],
    ]);
    expect(logged).toEqual([
      `reconciler: run ${run.runId} was running with its orchestration Failed; now failed (provider run cancelled): ${reason}`,
    ]);
  });

  it('an instance output that is an object is shown as JSON; an empty one adds nothing', async () => {
    const a = await databricksRun('run-dbx-object-output');
    const b = await databricksRun('run-dbx-empty-output');
    instances.set(a.runId, { runtimeStatus: 'Failed', output: { error: 'boom' } });
    instances.set(b.runId, { runtimeStatus: 'Completed', output: '' });
    const report = await reconcileRuns(deps());
    const reasonOf = (id: string) => report.repaired.find((r) => r.runId === id)?.reason;
    expect(reasonOf(a.runId)).toBe(
      `the run's orchestration ended Failed: {"error":"boom"}; the provider run was cancelled`,
    );
    expect(reasonOf(b.runId)).toBe(`the run's orchestration ended Completed; the provider run was cancelled`);
  });

  it('a live instance (Running, Pending, ContinuedAsNew, Suspended) is left alone: nothing asked, nothing published', async () => {
    for (const runtimeStatus of ['Running', 'Pending', 'ContinuedAsNew', 'Suspended']) {
      const run = await seed(`run-live-${runtimeStatus}`, { providerRunName: 'not-asked', provider: 'vertex' });
      instances.set(run.runId, { runtimeStatus });
    }
    const report = await reconcileRuns(deps());
    expect(report).toEqual({ checked: 4, repaired: [], errors: [] });
    expect(publisher.events).toEqual([]);
  });

  it('a missing instance waits out the grace after the last update (10 minutes by default), then is repaired', async () => {
    const run = await seed('run-missing', { status: 'submitted' });
    t += 10 * MIN - 1;
    expect((await reconcileRuns(deps())).repaired).toEqual([]);
    expect((await reconcileRuns(deps({ missingGraceMs: 5 * MIN }))).repaired).toHaveLength(1);
    expect(await index.get(run.runId)).toMatchObject({
      status: 'failed',
      reason: "the run's orchestration is missing",
    });
  });

  it('the grace ends exactly at its length', async () => {
    await seed('run-missing-edge', {});
    t += 2 * MIN;
    expect((await reconcileRuns(deps({ missingGraceMs: 2 * MIN + 1 }))).repaired).toEqual([]);
    expect((await reconcileRuns(deps({ missingGraceMs: 2 * MIN }))).repaired).toHaveLength(1);
  });

  it('a run the provider does not know, and a run never named by its provider: failed, saying so, no provider call for the latter', async () => {
    const unknown = await seed('run-not-at-provider', {
      providerRunName: 'meta-llama-3-1-8b-nosuch',
      rawStatus: 'RUNNING',
    });
    const unnamed = await seed('run-unnamed', { provider: 'vertex' });
    instances.set(unknown.runId, { runtimeStatus: 'Failed' });
    instances.set(unnamed.runId, { runtimeStatus: 'Terminated' });
    const report = await reconcileRuns(deps());
    expect(report.errors).toEqual([]);
    const byId = Object.fromEntries(report.repaired.map((r) => [r.runId, r]));
    expect(byId[unknown.runId]).toEqual({
      runId: unknown.runId,
      previousStatus: 'running',
      status: 'failed',
      instance: 'Failed',
      providerStatus: undefined,
      providerRunCancelled: false,
      reason: "the run's orchestration ended Failed; the provider does not know run meta-llama-3-1-8b-nosuch",
    });
    expect(byId[unnamed.runId]).toMatchObject({
      status: 'cancelled',
      reason: "the run's orchestration was terminated",
    });
    const data = (id: string) => publisher.events.find((e) => e.subject === id)?.data as Record<string, unknown>;
    expect(data(unknown.runId)).toMatchObject({ providerRunName: 'meta-llama-3-1-8b-nosuch', rawStatus: 'RUNNING' });
    expect(data(unnamed.runId)).toMatchObject({ providerRunName: 'unknown', rawStatus: 'UNKNOWN' });
  });

  it('cancel on a run whose orchestration failed (the API): cancelled, not failed, the job stopped', async () => {
    const run = await azureRun('run-aoai-cancel-request');
    t += 5 * MIN;
    instances.set(run.runId, { runtimeStatus: 'Failed' });
    const repair = await reconcileRun(deps({ missingGraceMs: 0 }), run, { cancelRequested: true });
    expect(repair).toMatchObject({
      status: 'cancelled',
      providerRunCancelled: true,
      reason: "cancelled on request after the run's orchestration had ended (Failed); the provider run was cancelled",
    });
    expect(eventsOf(run.runId)).toEqual(['tunedrop.run.cancelled']);
  });

  it('a run that is not followed (ended, rejected, still validating) is never repaired, even asked directly', async () => {
    for (const status of ['completed', 'failed', 'cancelled', 'rejected', 'validating'] as const) {
      const run = await seed(`run-not-followed-${status}`, { status, providerRunName: 'x', provider: 'vertex' });
      expect(await reconcileRun(deps({ missingGraceMs: 0 }), run)).toBeUndefined();
    }
    expect(publisher.events).toEqual([]);
  });

  it('a provider that fails to answer (other than not found): an error this pass, the run left as it was', async () => {
    const run = await databricksRun('run-dbx-provider-down');
    instances.set(run.runId, { runtimeStatus: 'Failed' });
    databricks.state.graphqlError(1, 'status backend unavailable', 'INTERNAL_SERVER_ERROR', 'getFinetunesPaginated');
    const report = await reconcileRuns(deps());
    expect(report.repaired).toEqual([]);
    expect(report.errors).toEqual([
      { runId: run.runId, message: expect.stringContaining('status backend unavailable') },
    ]);
    expect((await index.get(run.runId))?.status).toBe('running');
    expect(publisher.events).toEqual([]);
  });

  it('pages through every followed run (more than one page of 100)', async () => {
    for (let i = 0; i < 101; i++) {
      const run = await seed(`run-page-${String(i).padStart(3, '0')}`, { providerRunName: 'x', provider: 'vertex' });
      instances.set(run.runId, { runtimeStatus: 'Running' });
    }
    expect(await reconcileRuns(deps())).toEqual({ checked: 101, repaired: [], errors: [] });
  }, 60_000);
});
