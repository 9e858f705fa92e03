import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { type AzureOpenAIEmulator, startAzureOpenAIEmulator } from '../../../emulators/azure-openai';
import { startTrainingEmulator, type TrainingEmulator } from '../../../emulators/databricks';
import { InMemoryEventPublisher } from '../../../shared/events';
import { type ReconcileDeps, type RunInstanceStatus, reconcileRuns } from '../../../shared/pipeline/reconcile';
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
