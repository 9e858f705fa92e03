import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { type AzureOpenAIEmulator, startAzureOpenAIEmulator } from '../../../emulators/azure-openai';
import { startTrainingEmulator, type TrainingEmulator } from '../../../emulators/databricks';
import { VirtualClock } from '../../../local/durable/clock';
import { createDurableExtension, type DurableExtension } from '../../../local/durable/extension';
import { InMemoryEventPublisher, type TunedropEvent } from '../../../shared/events';
import { eventIdFor } from '../../../shared/events/cloudEvent';
import {
  cancelTrainingRunActivity,
  getTrainingRunStatusActivity,
  type RunActivityDeps,
  recordRunEventActivity,
  stageTrainingDataActivity,
  submitTrainingRunActivity,
} from '../../../shared/pipeline/activities';
import { describeFailure, trainingRunOrchestrator } from '../../../shared/pipeline/orchestration';
import { pollDelaySeconds } from '../../../shared/pipeline/polling';
import {
  ACTIVITIES,
  CANCEL_EVENT,
  recordRunEventInputSchema,
  runRefInputSchema,
  submitInputSchema,
  TRAINING_RUN_ORCHESTRATION,
  type TrainingRunInput,
  trainingRunInputSchema,
} from '../../../shared/pipeline/runContracts';
import { RunIndex } from '../../../shared/registry/runIndex';
import { AzureOpenAITrainingProvider } from '../../../shared/training/azureOpenAI';
import { DATABRICKS_PROVIDER, DatabricksTrainingProvider } from '../../../shared/training/databricks';
import { MiniHost } from '../../local/durable/support/mini-host';

/**
 * The trainingRun orchestration (shared/pipeline/orchestration.ts) replayed by durable-functions'
 * own orchestrator code on the local durable engine, its activities the real ones against the
 * Databricks and Azure OpenAI emulators, the run index on Azurite. One virtual clock for the engine
 * and both emulators, advanced by the engine to the next durable timer: hours of polling run in
 * milliseconds. The provider adapters get one try per call, so an activity's engine retries are
 * the only retries (2 attempts, 1 s apart).
 */
const clock = new VirtualClock(Date.UTC(2026, 10, 30, 6), true);
const now = () => clock.now();
const sleep = async (ms: number) => clock.advance(ms);

/** The event publisher adapter, with a hook per publish and failures on cue: faults land at a known point of the run. */
class HookedPublisher extends InMemoryEventPublisher {
  onPublish?: (event: TunedropEvent) => void;
  /** Publishing an event this matches fails, `times` times. */
  failing?: { match(event: TunedropEvent): boolean; times: number };
  override async publish(event: TunedropEvent): Promise<void> {
    if (this.failing && this.failing.times > 0 && this.failing.match(event)) {
      this.failing.times--;
      throw new Error('topic unavailable');
    }
    await super.publish(event);
    this.onPublish?.(event);
  }
}

let databricks: TrainingEmulator;
let azure: AzureOpenAIEmulator;
let host: MiniHost;
let durable: DurableExtension;
let runIndex: RunIndex;
const publisher = new HookedPublisher();
const blobs = new Map<string, string>();

beforeAll(async () => {
  databricks = await startTrainingEmulator({ now });
  azure = await startAzureOpenAIEmulator({ now });
  runIndex = new RunIndex(
    TableClient.fromConnectionString(inject('azurite').connectionString, `orchestration${randomUUID().slice(0, 8)}`, {
      allowInsecureConnection: true,
    }),
  );
  await runIndex.ensure();
  const deps: RunActivityDeps = {
    provider: new DatabricksTrainingProvider({
      workspaceUrl: databricks.url,
      auth: databricks.token,
      experimentDir: '/Shared/tunedrop',
      retry: { maxAttempts: 1 },
      now,
      sleep,
    }),
    providerName: DATABRICKS_PROVIDER,
    azureOpenAI: new AzureOpenAITrainingProvider({
      endpoint: azure.url,
      auth: { apiKey: azure.apiKey },
      retry: { maxAttempts: 1 },
      filePollMs: 5_000,
      now,
      sleep,
    }),
    staging: {
      config: { mappings: [] },
      datasetsContainer: 'datasets',
      blobs: {
        open: (name) => Readable.from([Buffer.from(blobs.get(name) ?? '')]),
        list: async (prefix) => [...blobs.keys()].filter((k) => k.startsWith(prefix)),
      },
    },
    runIndex,
    publisher,
    experimentRoot: '/Shared/tunedrop',
  };
  host = new MiniHost(inject('azurite').connectionString);
  host.orchestration(TRAINING_RUN_ORCHESTRATION, trainingRunOrchestrator);
  host.activity(ACTIVITIES.stageTrainingData, (input: unknown) =>
    stageTrainingDataActivity(deps, trainingRunInputSchema.parse(input)),
  );
  host.activity(ACTIVITIES.submitTrainingRun, (input: unknown) =>
    submitTrainingRunActivity(deps, submitInputSchema.parse(input)),
  );
  host.activity(ACTIVITIES.getTrainingRunStatus, (input: unknown) =>
    getTrainingRunStatusActivity(deps, runRefInputSchema.parse(input)),
  );
  host.activity(ACTIVITIES.cancelTrainingRun, (input: unknown) =>
    cancelTrainingRunActivity(deps, runRefInputSchema.parse(input)),
  );
  host.activity(ACTIVITIES.recordRunEvent, (input: unknown) =>
    recordRunEventActivity(deps, recordRunEventInputSchema.parse(input)),
  );
  await host.listen();
  durable = createDurableExtension({ taskHub: `Run${randomUUID().slice(0, 8)}`, clock, pollIntervalMs: 20 });
  await durable.start(host);
});

beforeEach(() => {
  databricks.state.clearFaults();
  azure.state.clearFaults();
  publisher.failing = undefined;
  publisher.onPublish = undefined;
});

afterAll(async () => {
  await durable?.stop();
  await host?.close();
  await databricks?.stop();
  await azure?.stop();
});

const chat = (i: number) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: `q${i}` },
      { role: 'assistant', content: `a${i}` },
    ],
  });

function runInput(provider: 'databricks' | 'azure-openai', over: Partial<TrainingRunInput> = {}): TrainingRunInput {
  const runId = `run-${randomUUID().slice(0, 8)}`;
  const azureRun = provider === 'azure-openai';
  if (azureRun) blobs.set(`assist/${runId}/train.jsonl`, Array.from({ length: 12 }, (_, i) => chat(i)).join('\n'));
  return trainingRunInputSchema.parse({
    runId,
    team: azureRun ? 'assist' : 'support',
    dataset: runId,
    model: azureRun ? 'gpt-4o-mini-2024-07-18' : 'meta-llama/Meta-Llama-3.1-8B-Instruct',
    task: 'chat',
    manifestUrl: `http://127.0.0.1/datasets/${runId}/run.json`,
    reportUrl: `http://127.0.0.1/reports/${runId}.json`,
    registerTo: 'ml.support',
    trainBlob: azureRun ? `assist/${runId}/train.jsonl` : '',
    ...(azureRun ? {} : { trainDataPath: 'dbfs:/Volumes/ml/tunedrop/staging/train.jsonl' }),
    datasetSha256: 'ab'.repeat(32),
    provider,
    polling: { initialSeconds: 60, maxSeconds: 600, retryFirstSeconds: 1, retryAttempts: 2 },
    deadlineHours: 24,
    ...over,
  });
}

async function start(input: TrainingRunInput): Promise<string> {
  await runIndex.upsert({
    runId: input.runId,
    team: input.team,
    dataset: input.dataset,
    model: input.model,
    task: input.task,
    status: 'pending',
    provider: input.provider,
    manifestUrl: input.manifestUrl,
    createdAt: new Date(now()).toISOString(),
    updatedAt: new Date(now()).toISOString(),
  });
  return durable.engine.startNew(TRAINING_RUN_ORCHESTRATION, { instanceId: input.runId, input });
}

const eventsOf = (runId: string) => publisher.events.filter((e) => e.subject === runId);
const typesOf = (runId: string) => eventsOf(runId).map((e) => e.type.replace('tunedrop.run.', ''));
const databricksStatus = (name: string) =>
  (databricks.state.snapshot() as { runs: { name: string; status: string }[] }).runs.find((r) => r.name === name)
    ?.status;
const azureStatus = (id: string) =>
  (azure.state.snapshot() as { jobs: { id: string; status: string }[] }).jobs.find((j) => j.id === id)?.status;

/** Once run.submitted of `runId` is published (before the orchestration polls), call `then`. */
function afterSubmitted(runId: string, then: () => void): void {
  publisher.onPublish = (event) => {
    if (event.subject === runId && event.type === 'tunedrop.run.submitted') {
      publisher.onPublish = undefined;
      then();
    }
  };
}

describe('trainingRun: a run that cannot go on still ends (failure paths)', () => {
  it('Azure OpenAI: status activity out of retries → the Azure OpenAI job is cancelled, run.failed once', async () => {
    const input = runInput('azure-openai');
    afterSubmitted(input.runId, () => azure.state.serverError(2, 503, 'jobs.retrieve'));
    await start(input);
    const done = await durable.engine.waitForCompletion(input.runId);
    expect(done.runtimeStatus).toBe('Completed');
    const job = (done.output as { providerRunName: string }).providerRunName;
    expect(done.output).toMatchObject({
      status: 'failed',
      providerRunName: expect.stringMatching(/^ftjob-/),
      reason: expect.stringMatching(
        /^the run's orchestration failed: .*getTrainingRunStatus.*; the provider run was cancelled$/,
      ),
    });
    expect(['cancelling', 'cancelled']).toContain(azureStatus(job));
    expect(typesOf(input.runId)).toEqual(['submitted', 'failed']);
    expect(await runIndex.get(input.runId)).toMatchObject({ status: 'failed', providerRunName: job });
  });

  it('Databricks: status activity out of retries → the run is stopped, run.failed once with the reason', async () => {
    const input = runInput('databricks');
    afterSubmitted(input.runId, () =>
      databricks.state.graphqlError(2, 'status backend unavailable', 'INTERNAL_SERVER_ERROR', 'getFinetunesPaginated'),
    );
    await start(input);
    const done = await durable.engine.waitForCompletion(input.runId);
    const name = (done.output as { providerRunName: string }).providerRunName;
    expect(done.output).toMatchObject({
      status: 'failed',
      reason: expect.stringContaining('status backend unavailable'),
    });
    expect(String((done.output as { reason: string }).reason)).toMatch(/; the provider run was cancelled$/);
    expect(['STOPPING', 'STOPPED']).toContain(databricksStatus(name));
    expect(typesOf(input.runId)).toEqual(['submitted', 'failed']);
    const [submitted, failed] = eventsOf(input.runId);
    expect(failed?.data).toMatchObject({ status: 'failed', providerRunName: name, rawStatus: expect.any(String) });
    // The same event id the reconciler would use: a run is announced failed at most once.
    expect(failed?.id).toBe(eventIdFor('tunedrop.run.failed', input.runId, ''));
    expect(submitted?.id).toBe(eventIdFor('tunedrop.run.submitted', input.runId, 'submitted'));
    // First poll after its delay, then one engine retry after retryFirstSeconds (1 s, backoff 2): a
    // few virtual seconds in all (the engine's clock may also move while an activity runs), not the
    // 5 s default doubled.
    const firstPollMs = pollDelaySeconds(0, input.runId, input.polling) * 1000;
    const retryWaitMs = Date.parse(failed?.time ?? '') - Date.parse(submitted?.time ?? '') - firstPollMs;
    expect(retryWaitMs).toBeGreaterThanOrEqual(1000);
    expect(retryWaitMs).toBeLessThanOrEqual(4500);
  });

  it('submission out of retries: nothing to cancel, run.failed with NOT_SUBMITTED', async () => {
    const input = runInput('databricks');
    databricks.state.serverError(2, 503, 'createFinetune');
    await start(input);
    const done = await durable.engine.waitForCompletion(input.runId);
    expect(done.output).toMatchObject({ status: 'failed', reason: expect.stringContaining('submitTrainingRun') });
    expect((done.output as { providerRunName?: string }).providerRunName).toBeUndefined();
    expect(String((done.output as { reason: string }).reason)).not.toContain('provider run');
    expect(typesOf(input.runId)).toEqual(['failed']);
    expect((done.output as { reason: string }).reason).toBe(
      "the run's orchestration failed: Activity function 'submitTrainingRun' failed: createFinetune: HTTP 503 TEMPORARILY_UNAVAILABLE: Injected HTTP 503.",
    );
    expect(eventsOf(input.runId)[0]?.data).toMatchObject({ rawStatus: 'NOT_SUBMITTED', providerRunName: 'unknown' });
  });

  it('cancelling fails too: the reason says so, and the run still ends failed', async () => {
    const input = runInput('databricks');
    afterSubmitted(input.runId, () => {
      databricks.state.graphqlError(2, 'status backend unavailable', 'INTERNAL_SERVER_ERROR', 'getFinetunesPaginated');
      databricks.state.serverError(10, 503, 'stopFinetunes');
    });
    await start(input);
    const done = await durable.engine.waitForCompletion(input.runId);
    expect(String((done.output as { reason: string }).reason)).toMatch(/; cancelling the provider run failed too$/);
    expect(typesOf(input.runId)).toEqual(['submitted', 'failed']);
  });

  it('a long failure message is cut to 500 characters in the reason', async () => {
    const input = runInput('databricks');
    afterSubmitted(input.runId, () =>
      databricks.state.graphqlError(
        2,
        `backend down ${'z'.repeat(700)}`,
        'INTERNAL_SERVER_ERROR',
        'getFinetunesPaginated',
      ),
    );
    await start(input);
    const done = await durable.engine.waitForCompletion(input.runId);
    const reason = String((done.output as { reason: string }).reason);
    expect(reason).toHaveLength(500);
    expect(reason.startsWith("the run's orchestration failed: ")).toBe(true);
    expect((eventsOf(input.runId)[1]?.data as { reason?: string } | undefined)?.reason).toBe(reason);
  });

  it('the provider run ended but announcing it failed past retries: announced again as it ended, once', async () => {
    const input = runInput('databricks');
    // Both attempts of the completion's announcement fail; the failure path then announces it once more.
    publisher.failing = {
      match: (e) => e.subject === input.runId && e.type === 'tunedrop.run.completed',
      times: 2,
    };
    await start(input);
    const done = await durable.engine.waitForCompletion(input.runId);
    expect(publisher.failing.times).toBe(0);
    publisher.failing = undefined;
    expect(done.output).toMatchObject({ status: 'completed', providerRunName: expect.any(String) });
    expect(typesOf(input.runId).filter((t) => t === 'completed' || t === 'failed')).toEqual(['completed']);
    expect(await runIndex.get(input.runId)).toMatchObject({ status: 'completed' });
  });

  it('even the failure cannot be recorded: the instance fails (left to the reconciler), nothing announced twice', async () => {
    const input = runInput('databricks');
    afterSubmitted(input.runId, () => {
      databricks.state.graphqlError(2, 'status backend unavailable', 'INTERNAL_SERVER_ERROR', 'getFinetunesPaginated');
      publisher.failing = { match: (e) => e.subject === input.runId && e.type === 'tunedrop.run.failed', times: 2 };
    });
    await start(input);
    const done = await durable.engine.waitForCompletion(input.runId);
    publisher.failing = undefined;
    expect(done.runtimeStatus).toBe('Failed');
    expect(typesOf(input.runId)).toEqual(['submitted']);
  });
});

describe('trainingRun: the ways a run ends normally', () => {
  it('Databricks run to completion: submitted, each status change once, completed with the model version', async () => {
    const input = runInput('databricks');
    await start(input);
    const done = await durable.engine.waitForCompletion(input.runId);
    expect(done.output).toMatchObject({ status: 'completed' });
    const types = typesOf(input.runId);
    expect(types[0]).toBe('submitted');
    expect(types.at(-1)).toBe('completed');
    expect(types.filter((t) => t === 'status_changed').length).toBeGreaterThan(1);
    // A change is announced once: each status_changed differs from the one before; the end is not a "change".
    const changes = eventsOf(input.runId).filter((e) => e.type === 'tunedrop.run.status_changed');
    const raws = changes.map((e) => (e.data as { rawStatus?: string }).rawStatus);
    for (let i = 1; i < raws.length; i++) expect(raws[i]).not.toBe(raws[i - 1]);
    for (const e of changes)
      expect(['completed', 'failed', 'cancelled']).not.toContain((e.data as { status: string }).status);
    const ids = eventsOf(input.runId).map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    const completed = eventsOf(input.runId).at(-1);
    expect(completed?.data).toMatchObject({ registeredModel: expect.stringMatching(/^ml\.support\./) });
    expect(await runIndex.get(input.runId)).toMatchObject({ status: 'completed' });
  });

  it('a cancel event: the provider run is stopped once, run.cancelled', async () => {
    const input = runInput('azure-openai');
    const cancelsBefore = azure.state.count('jobs.cancel');
    afterSubmitted(input.runId, () => {
      void durable.engine.raiseEvent(input.runId, CANCEL_EVENT, { requestedBy: 'test' });
    });
    await start(input);
    const done = await durable.engine.waitForCompletion(input.runId);
    expect(done.output).toMatchObject({ status: 'cancelled' });
    expect(typesOf(input.runId).at(-1)).toBe('cancelled');
    expect(typesOf(input.runId).filter((t) => t === 'cancelled')).toHaveLength(1);
    expect(azure.state.count('jobs.cancel') - cancelsBefore).toBe(1);
  });

  it('the deadline passes: the provider run is cancelled, run.timed_out with the reason', async () => {
    const input = runInput('databricks', { deadlineHours: 0.02 });
    await start(input);
    const done = await durable.engine.waitForCompletion(input.runId);
    const name = (done.output as { providerRunName: string }).providerRunName;
    expect(done.output).toMatchObject({
      status: 'timed_out',
      reason: 'no terminal status within 0.02 h; the run was cancelled',
    });
    expect(['STOPPING', 'STOPPED']).toContain(databricksStatus(name));
    expect(typesOf(input.runId).at(-1)).toBe('timed_out');
    expect(eventsOf(input.runId).at(-1)?.id).toBe(eventIdFor('tunedrop.run.timed_out', input.runId, ''));
    expect(await runIndex.get(input.runId)).toMatchObject({ status: 'timed_out' });
  });

  it('a training file the service refuses: run.failed with its reason, nothing submitted', async () => {
    azure.state.rejectNextFile('The file contains content that violates the responsible AI policy.');
    const input = runInput('azure-openai');
    await start(input);
    const done = await durable.engine.waitForCompletion(input.runId);
    expect(done.output).toMatchObject({ status: 'failed', providerRunName: '' });
    expect(typesOf(input.runId)).toEqual(['failed']);
    const rejected = eventsOf(input.runId)[0];
    expect(rejected?.id).toBe(eventIdFor('tunedrop.run.failed', input.runId, ''));
    expect(rejected?.data).toMatchObject({ rawStatus: 'file_rejected' });
    expect((rejected?.data as { providerRunName?: string } | undefined)?.providerRunName).toBeUndefined();
    expect((eventsOf(input.runId)[0]?.data as { reason?: string } | undefined)?.reason).toContain(
      'responsible AI policy',
    );
  });
});

describe('describeFailure', () => {
  it('keeps the first line of an error, never the stack; something thrown that is not an Error is named too', () => {
    expect(describeFailure(new Error('  Activity failed: boom  \n    at x (y.js:1:1)'))).toBe(
      "the run's orchestration failed: Activity failed: boom",
    );
    expect(describeFailure('plain')).toBe("the run's orchestration failed: plain");
    expect(describeFailure(new Error('\n'))).toBe("the run's orchestration failed: unknown error");
  });
});
