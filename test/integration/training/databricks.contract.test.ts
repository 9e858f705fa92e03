import type { AccessToken, TokenCredential } from '@azure/identity';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTrainingEmulator, type TrainingEmulator } from '../../../emulators/databricks';
import { Catalog } from '../../../shared/catalog';
import { type DatabricksProviderOptions, DatabricksTrainingProvider } from '../../../shared/training/databricks';
import { AZURE_DATABRICKS_SCOPE, type HttpLogEntry } from '../../../shared/training/http';
import { isProviderError, type ProviderError, type TrainingRunSpec } from '../../../shared/training/provider';

const MIN = 60_000;
const T = {
  pendingMs: 5_000,
  queuedMs: 30_000,
  startingMs: 60_000,
  trainingMs: 10 * MIN,
  uploadMs: MIN,
  registrationMs: 30_000,
  stoppingMs: 10_000,
};

let emulator: TrainingEmulator;
let now = Date.parse('2026-03-01T09:00:00Z');
const clock = () => now;
const advance = (ms: number) => {
  now += ms;
};

const spec: TrainingRunSpec = {
  model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
  task: 'chat',
  trainDataPath: 'dbfs:/Volumes/ml/tunedrop/datasets/team-a/support/train.jsonl',
  evalDataPath: 'dbfs:/Volumes/ml/tunedrop/datasets/team-a/support/eval.jsonl',
  registerTo: 'ml.models',
  trainingDuration: '3ep',
  learningRate: 1e-5,
};

interface Harness {
  provider: DatabricksTrainingProvider;
  sleeps: number[];
  logs: HttpLogEntry[];
}

function makeProvider(overrides: Partial<DatabricksProviderOptions> = {}): Harness {
  const sleeps: number[] = [];
  const logs: HttpLogEntry[] = [];
  const provider = new DatabricksTrainingProvider({
    workspaceUrl: emulator.url,
    auth: emulator.token,
    experimentDir: '/Shared/tunedrop',
    now: clock,
    random: () => 0.5,
    // Sleeping moves the virtual clock: waits cost no real time and the emulator sees them.
    sleep: async (ms) => {
      sleeps.push(ms);
      advance(ms);
    },
    log: (e) => logs.push(e),
    ...overrides,
  });
  return { provider, sleeps, logs };
}

async function expectProviderError(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (e) {
    if (isProviderError(e)) return e;
    throw e;
  }
  throw new Error('expected a ProviderError');
}

beforeAll(async () => {
  emulator = await startTrainingEmulator({ now: clock, timings: T });
});
afterAll(async () => {
  await emulator.stop();
});
beforeEach(() => {
  emulator.state.clearFaults();
});

describe('Databricks provider against the emulator over HTTP', () => {
  it('creates a run and follows it to completion with a registered model version', async () => {
    const { provider } = makeProvider();
    const ref = await provider.create(spec, 'run-happy-path');
    expect(ref.provider).toBe('databricks');

    // The wire input is what the SDK sends.
    const run = emulator.state.runs.get(ref.name);
    expect(run?.config).toMatchObject({
      model: spec.model,
      taskType: 'CHAT_COMPLETION',
      trainDataPath: spec.trainDataPath,
      evalDataPath: spec.evalDataPath,
      trainingDuration: '3ep',
      learningRate: 1e-5,
      saveFolder: 'dbfs:/databricks/mlflow-tracking/{mlflow_experiment_id}/{mlflow_run_id}/artifacts',
      experimentTracker: {
        mlflow: { modelRegistryPath: 'ml.models', experimentPath: provider.experimentPathFor({}, 'run-happy-path') },
      },
    });

    const seen: string[] = [];
    const observe = async () => {
      const info = await provider.get(ref);
      seen.push(`${info.status}/${info.rawStatus}`);
      return info;
    };
    expect((await observe()).status).toBe('pending');
    advance(T.pendingMs);
    await observe();
    advance(T.queuedMs);
    await observe();
    advance(T.startingMs);
    const running = await observe();
    expect(running.startedAt).toBe(new Date(now).toISOString());
    advance(T.trainingMs);
    const uploading = await observe();
    expect(uploading.status).toBe('running');
    expect((await provider.events(ref)).map((e) => e.type)).toEqual(['CREATED', 'STARTED', 'TRAIN_FINISHED']);
    advance(T.uploadMs);
    const done = await observe();
    expect(seen).toEqual([
      'pending/PENDING',
      'queued/QUEUED',
      'running/STARTING',
      'running/RUNNING',
      'running/RUNNING',
      'completed/COMPLETED',
    ]);
    expect(done.completedAt).toBe(new Date(now).toISOString());
    expect(done.registeredModel).toEqual({ name: `ml.models.${ref.name}`, version: 1 });
    expect(done.mlflow?.runId).toMatch(/^[0-9a-f]{32}$/);
    expect(done.mlflow?.experimentId).toBe(run?.mlflowExperimentId);
    expect((await provider.events(ref)).at(-1)?.type).toBe('COMPLETED');

    // Registration step: wait for READY, alias, lineage tags.
    const uc = provider.unityCatalog;
    const modelName = done.registeredModel?.name ?? '';
    expect((await uc.getModelVersion(modelName, 1)).status).toBe('PENDING_REGISTRATION');
    const waitedFrom = now;
    const ready = await uc.waitUntilReady(modelName, 1);
    expect(ready.status).toBe('READY');
    expect(now - waitedFrom).toBeGreaterThanOrEqual(T.registrationMs);
    expect(ready.run_id).toBe(done.mlflow?.runId);
  });

  it('reports a failed run with its reason', async () => {
    emulator.state.failNextRun('CUDA out of memory: try a shorter context length.');
    const { provider } = makeProvider();
    const ref = await provider.create(spec, 'run-that-fails');
    advance(T.pendingMs + T.queuedMs + T.startingMs + T.trainingMs / 2);
    const info = await provider.get(ref);
    expect(info).toMatchObject({
      status: 'failed',
      rawStatus: 'FAILED',
      reason: 'CUDA out of memory: try a shorter context length.',
    });
    expect(info.registeredModel?.version).toBeUndefined();
    expect((await provider.events(ref)).at(-1)).toMatchObject({ type: 'FAILED' });
  });

  it('maps FAILED_PULL to failed', async () => {
    emulator.state.failNextRun('Could not pull the base model.', 'FAILED_PULL');
    const { provider } = makeProvider();
    const ref = await provider.create(spec, 'run-failed-pull');
    advance(T.pendingMs + T.queuedMs + T.startingMs);
    expect(await provider.get(ref)).toMatchObject({ status: 'failed', rawStatus: 'FAILED_PULL' });
  });

  it('cancels a running run (STOPPING, then STOPPED) and refuses to cancel a finished one', async () => {
    const { provider } = makeProvider();
    const ref = await provider.create(spec, 'run-to-cancel');
    advance(T.pendingMs + T.queuedMs + T.startingMs + MIN);
    await provider.cancel(ref);
    expect(await provider.get(ref)).toMatchObject({ status: 'running', rawStatus: 'STOPPING' });
    advance(T.stoppingMs);
    expect(await provider.get(ref)).toMatchObject({ status: 'cancelled', rawStatus: 'STOPPED' });
    const err = await expectProviderError(provider.cancel(ref));
    expect(err.code).toBe('already_finished');
    expect(err.retryable).toBe(false);

    const finished = await provider.create(spec, 'run-finishes-before-cancel');
    advance(T.pendingMs + T.queuedMs + T.startingMs + T.trainingMs + T.uploadMs);
    expect((await expectProviderError(provider.cancel(finished))).code).toBe('already_finished');
  });

  it('turns the service refusing to stop a run that just finished into already_finished', async () => {
    const { provider } = makeProvider();
    const ref = await provider.create(spec, 'run-race');
    advance(T.pendingMs);
    // The stop arrives as the service reports the run finished: GraphQL error on 200, then a read shows FAILED.
    emulator.state.graphqlError(1, 'Run has already finished.', 'BAD_USER_INPUT', 'stopFinetunes');
    emulator.state.failRun(ref.name, 'boom', 'FAILED_PULL');
    advance(T.queuedMs + T.startingMs);
    const err = await expectProviderError(provider.cancel(ref));
    expect(err.code).toBe('already_finished');
  });

  it('cancelling an unknown run is not_found', async () => {
    const { provider } = makeProvider();
    expect((await expectProviderError(provider.cancel({ provider: 'databricks', name: 'nope-000000' }))).code).toBe(
      'not_found',
    );
    expect((await expectProviderError(provider.get({ provider: 'databricks', name: 'nope-000000' }))).code).toBe(
      'not_found',
    );
  });

  it('honours Retry-After on 429 (measured with the injected sleep)', async () => {
    const { provider, sleeps } = makeProvider();
    const before = emulator.state.count('getFinetuneConstants');
    emulator.state.rateLimit(2, 7, 'getFinetuneConstants');
    const models = await provider.listModels();
    expect(models.length).toBeGreaterThan(0);
    expect(sleeps).toEqual([7000, 7000]);
    expect(emulator.state.count('getFinetuneConstants') - before).toBe(3);
  });

  it('retries 5xx with exponential backoff and jitter, and Retry-After on 503', async () => {
    const { provider, sleeps } = makeProvider();
    const before = emulator.state.count('getFinetuneConstants');
    emulator.state.serverError(3, 500, 'getFinetuneConstants');
    await provider.listModels();
    // base 500 ms, doubling, half fixed + half jitter (random = 0.5)
    expect(sleeps).toEqual([375, 750, 1500]);
    expect(emulator.state.count('getFinetuneConstants') - before).toBe(4);

    sleeps.length = 0;
    emulator.state.serverError(1, 503, 'getFinetuneConstants', 2);
    await provider.listModels();
    expect(sleeps).toEqual([2000]);
  });

  it('gives up after maxAttempts with a retryable rate_limited error', async () => {
    const { provider, sleeps } = makeProvider({ retry: { maxAttempts: 3 } });
    const before = emulator.state.count('getFinetuneConstants');
    emulator.state.rateLimit(10, 1, 'getFinetuneConstants');
    const err = await expectProviderError(provider.listModels());
    expect(err).toMatchObject({ code: 'rate_limited', retryable: true });
    expect(err.details.status).toBe(429);
    expect(emulator.state.count('getFinetuneConstants') - before).toBe(3);
    expect(sleeps).toEqual([1000, 1000]);
  });

  it('does not retry a 400', async () => {
    const { provider, sleeps } = makeProvider();
    const before = emulator.state.count('getFinetuneConstants');
    emulator.state.serverError(1, 400, 'getFinetuneConstants');
    const err = await expectProviderError(provider.listModels());
    expect(err).toMatchObject({ code: 'bad_request', retryable: false });
    expect(emulator.state.count('getFinetuneConstants') - before).toBe(1);
    expect(sleeps).toEqual([]);
  });

  it('surfaces GraphQL errors on HTTP 200 as a typed error', async () => {
    const { provider, sleeps } = makeProvider();
    emulator.state.graphqlError(1, 'Internal resolver failure', 'INTERNAL_SERVER_ERROR', 'getFinetuneEvents');
    const ref = await provider.create(spec, 'run-graphql-error');
    const err = await expectProviderError(provider.events(ref));
    expect(err).toMatchObject({ code: 'graphql_error', retryable: false });
    expect(err.details).toMatchObject({
      status: 200,
      operation: 'getFinetuneEvents',
      providerCode: 'INTERNAL_SERVER_ERROR',
    });
    expect(err.message).toContain('Internal resolver failure');
    expect(sleeps).toEqual([]);
  });

  it('passes the service validation error through when the data is not on a volume', async () => {
    const { provider } = makeProvider();
    const runsBefore = emulator.state.runs.size;
    const err = await expectProviderError(
      provider.create({ ...spec, trainDataPath: 'abfss://datasets@acct.dfs.core.windows.net/x.jsonl' }, 'run-bad-path'),
    );
    expect(err.code).toBe('graphql_error');
    expect(err.message).toContain('volume');
    expect(emulator.state.runs.size).toBe(runsBefore);
  });

  it('a GraphQL document the server cannot parse is a 400: bad_request with the server message, not retried', async () => {
    const { provider, sleeps } = makeProvider();
    const err = await expectProviderError(
      provider.http.request({
        method: 'POST',
        path: '/api/2.0/genai-mapi/graphql',
        json: { query: '{ noSuchField }' },
        operation: 'probe',
      }),
    );
    expect(err).toMatchObject({
      code: 'bad_request',
      details: { status: 400, providerCode: 'GRAPHQL_VALIDATION_FAILED' },
    });
    expect(err.message).toContain('noSuchField');
    expect(sleeps).toEqual([]);
  });

  it('rejects an invalid spec before calling the service', async () => {
    const { provider } = makeProvider();
    const before = emulator.state.count('createFinetune');
    const err = await expectProviderError(provider.create({ ...spec, trainingDuration: 'three epochs' }, 'k'));
    expect(err.code).toBe('bad_request');
    expect(err.message).toContain('trainingDuration');
    expect(emulator.state.count('createFinetune')).toBe(before);
  });

  it('create is idempotent: a retry after a dropped response finds the run instead of creating another', async () => {
    const { provider, sleeps } = makeProvider();
    const runsBefore = emulator.state.runs.size;
    const createsBefore = emulator.state.count('createFinetune');
    emulator.state.dropResponseAfterCreate(1);
    const ref = await provider.create(spec, 'run-dropped-response');
    expect(emulator.state.runs.size - runsBefore).toBe(1);
    expect(emulator.state.count('createFinetune') - createsBefore).toBe(1);
    expect(sleeps).toHaveLength(1);
    expect(emulator.state.runs.get(ref.name)?.experimentPath).toBe(
      provider.experimentPathFor({}, 'run-dropped-response'),
    );

    // A later retry of the whole step (same key) returns the same run, without a create call.
    advance(T.pendingMs);
    const again = await provider.create(spec, 'run-dropped-response');
    expect(again).toEqual(ref);
    expect(emulator.state.count('createFinetune') - createsBefore).toBe(1);

    // A different key is a different run.
    const other = await provider.create(spec, 'run-dropped-response-2');
    expect(other.name).not.toBe(ref.name);
    expect(emulator.state.runs.size - runsBefore).toBe(2);
  });

  it('create retries a 429 on the mutation itself, honouring Retry-After, and still makes one run', async () => {
    const { provider, sleeps } = makeProvider();
    const runsBefore = emulator.state.runs.size;
    emulator.state.rateLimit(1, 3, 'createFinetune');
    await provider.create(spec, 'run-create-429');
    expect(sleeps).toEqual([3000]);
    expect(emulator.state.runs.size - runsBefore).toBe(1);
  });

  it('times out a slow response per request and retries it', async () => {
    const slow = makeProvider({ timeoutMs: 300, retry: { maxAttempts: 1 } });
    emulator.state.slow(1, 1500, 'getFinetuneConstants');
    const err = await expectProviderError(slow.provider.listModels());
    expect(err).toMatchObject({ code: 'timeout', retryable: true });

    const patient = makeProvider({ timeoutMs: 300, retry: { maxAttempts: 2 } });
    emulator.state.slow(1, 1500, 'getFinetuneConstants');
    expect((await patient.provider.listModels()).length).toBeGreaterThan(0);
    expect(patient.sleeps).toHaveLength(1);
  });

  it('lists models in the shape the catalog consumes', async () => {
    const { provider } = makeProvider();
    const models = await provider.listModels();
    const llama = models.find((m) => m.name === 'meta-llama/Meta-Llama-3.1-8B-Instruct');
    expect(llama?.maxContextLength).toBeGreaterThan(0);
    const catalog = new Catalog().withProviderModels(models.map((m) => ({ ...m, maxContextLength: 4096 })));
    expect(catalog.find('meta-llama/Meta-Llama-3.1-8B-Instruct')?.maxContextLength).toBe(4096);
  });
});

describe('auth and secrets', () => {
  it('a wrong token is unauthorized, not retried, and the token appears in no error or log', async () => {
    const secret = 'dapi-wrong-secret-0123456789abcdef';
    const { provider, logs, sleeps } = makeProvider({ auth: secret });
    const err = await expectProviderError(provider.listModels());
    expect(err).toMatchObject({ code: 'unauthorized', retryable: false });
    expect(sleeps).toEqual([]);
    const everything = JSON.stringify({ message: err.message, stack: err.stack, details: err.details, logs });
    expect(everything).not.toContain(secret);
    expect(logs.length).toBeGreaterThan(0);
  });

  it('the real token appears in no log or error across retries and failures', async () => {
    const { provider, logs } = makeProvider({ retry: { maxAttempts: 2 } });
    emulator.state.rateLimit(5, 1, 'getFinetuneConstants');
    const err = await expectProviderError(provider.listModels());
    emulator.state.clearFaults();
    await expectProviderError(provider.get({ provider: 'databricks', name: 'missing-run' }));
    expect(logs.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify({ logs, message: err.message, stack: err.stack })).not.toContain(emulator.token);
  });

  it('authenticates with an Entra ID credential for the Azure Databricks resource, caching the token', async () => {
    const scopes: string[][] = [];
    const credential: TokenCredential = {
      getToken: async (scope): Promise<AccessToken> => {
        scopes.push(Array.isArray(scope) ? scope : [scope]);
        return { token: emulator.token, expiresOnTimestamp: now + 3_600_000 };
      },
    };
    const { provider } = makeProvider({ auth: credential });
    await provider.listModels();
    await provider.listModels();
    expect(scopes).toEqual([[AZURE_DATABRICKS_SCOPE]]);
    expect(AZURE_DATABRICKS_SCOPE).toBe('2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default');

    advance(3_600_000); // expired: a fresh token is fetched
    await provider.listModels();
    expect(scopes).toHaveLength(2);
  });
});
