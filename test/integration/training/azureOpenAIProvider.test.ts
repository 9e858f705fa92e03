import { Readable } from 'node:stream';
import type { TokenCredential } from '@azure/identity';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AzureOpenAIEmulator, startAzureOpenAIEmulator } from '../../../emulators/azure-openai';
import {
  AzureOpenAITrainingProvider,
  azureFileNameFor,
  azureSuffixFor,
  RUN_ID_METADATA_KEY,
} from '../../../shared/training/azureOpenAI';
import { isProviderError, type TrainingRunSpec } from '../../../shared/training/provider';

const row = (i: number) =>
  `${JSON.stringify({
    messages: [
      { role: 'user', content: `Question ${i}?` },
      { role: 'assistant', content: `Answer ${i}.` },
    ],
  })}\n`;

/** A blob-like stream: `chunks` pieces, produced lazily (nothing exists whole before it is read). */
function lazyJsonl(rows: number, chunks: number): () => Readable {
  return () =>
    Readable.from(
      (function* () {
        const per = Math.ceil(rows / chunks);
        for (let c = 0; c < chunks; c++) {
          let s = '';
          for (let i = c * per; i < Math.min(rows, (c + 1) * per); i++) s += row(i);
          if (s) yield Buffer.from(s);
        }
      })(),
    );
}

describe('AzureOpenAITrainingProvider against the emulator', () => {
  let t: number;
  let emulator: AzureOpenAIEmulator;
  let provider: AzureOpenAITrainingProvider;
  const slept: number[] = [];
  const make = (over: Partial<ConstructorParameters<typeof AzureOpenAITrainingProvider>[0]> = {}) =>
    new AzureOpenAITrainingProvider({
      endpoint: emulator.url,
      auth: { apiKey: emulator.apiKey },
      sleep: async (ms) => {
        slept.push(ms);
        t += ms;
      },
      now: () => t,
      random: () => 0.5,
      filePollMs: 5_000,
      ...over,
    });

  beforeEach(async () => {
    t = Date.parse('2026-11-30T00:00:00Z');
    slept.length = 0;
    emulator = await startAzureOpenAIEmulator({ now: () => t });
    provider = make();
  });
  afterEach(() => emulator.stop());

  async function stagedSpec(key: string, over: Partial<TrainingRunSpec> = {}): Promise<TrainingRunSpec> {
    const file = await provider.stageFile(key, 'train', lazyJsonl(12, 4));
    return {
      model: 'gpt-4o-mini-2024-07-18',
      task: 'chat',
      trainDataPath: file.id,
      registerTo: 'unused.unused',
      ...over,
    };
  }

  it('stageFile streams the blob in chunks, waits until processed, and reuses the upload for the same run', async () => {
    const file = await provider.stageFile('run-a', 'train', lazyJsonl(400, 40));
    expect(file.status).toBe('processed');
    expect(file.filename).toBe(azureFileNameFor('run-a', 'train'));
    const stored = emulator.state.files.get(file.id)!;
    expect(stored.bytes.toString()).toBe(Array.from({ length: 400 }, (_, i) => row(i)).join(''));
    expect(stored.chunks).toBeGreaterThan(1);
    expect(slept.length).toBeGreaterThan(0);
    const again = await provider.stageFile('run-a', 'train', lazyJsonl(400, 40));
    expect(again.id).toBe(file.id);
    expect(emulator.state.count('files.create')).toBe(1);
  });

  it('a file the service rejects is file_rejected with the service reason', async () => {
    emulator.state.rejectNextFile('Training file has 3 examples; at least 10 are required.');
    const err = await provider.stageFile('run-b', 'train', lazyJsonl(3, 1)).catch((e: unknown) => e);
    expect(isProviderError(err, 'file_rejected')).toBe(true);
    expect((err as Error).message).toContain('at least 10 are required');
  });

  it('create sends model, files, suffix, seed, method supervised hyperparameters and the run id metadata', async () => {
    const spec = await stagedSpec('run-c', {
      trainingDuration: '2ep',
      batchSize: 4,
      learningRateMultiplier: 0.1,
      seed: 7,
      suffix: 'support',
    });
    const ref = await provider.create(spec, 'run-c');
    const job = emulator.state.jobs.get(ref.name)!;
    expect(job).toMatchObject({
      model: 'gpt-4o-mini-2024-07-18',
      trainingFile: spec.trainDataPath,
      suffix: azureSuffixFor('run-c', 'support'),
      seed: 7,
      metadata: { [RUN_ID_METADATA_KEY]: 'run-c' },
      method: { type: 'supervised', hyperparameters: { n_epochs: 2, batch_size: 4, learning_rate_multiplier: 0.1 } },
    });
    expect(azureSuffixFor('run-c', 'support')).toMatch(/^support-td[0-9a-f]{12}$/);
    expect((await provider.create(spec, 'run-c')).name).toBe(ref.name);
    expect(emulator.state.jobs.size).toBe(1);
  });

  it('rejects specs the service cannot take, before calling it', async () => {
    const spec = await stagedSpec('run-d');
    for (const bad of [
      { task: 'instruction' as const },
      { trainingDuration: '1000tok' },
      { learningRate: 1e-5 },
      { trainDataPath: 'dbfs:/x' },
    ]) {
      const err = await provider.create({ ...spec, ...bad }, 'run-d').catch((e: unknown) => e);
      expect(isProviderError(err, 'bad_request'), JSON.stringify(bad)).toBe(true);
    }
    expect(emulator.state.count('jobs.create')).toBe(0);
  });

  it('lost create response → exactly one job (found by metadata)', async () => {
    const spec = await stagedSpec('run-e');
    emulator.state.dropResponseAfterCreate();
    const ref = await provider.create(spec, 'run-e');
    expect(emulator.state.count('jobs.create')).toBe(1);
    expect([...emulator.state.jobs.keys()]).toEqual([ref.name]);
  });

  it('lost create response on a service that drops metadata → one job (found by suffix + training file)', async () => {
    emulator.state.keepMetadata = false;
    const spec = await stagedSpec('run-f');
    emulator.state.dropResponseAfterCreate();
    const ref = await provider.create(spec, 'run-f');
    expect([...emulator.state.jobs.keys()]).toEqual([ref.name]);
    // Another run on the same file is not mistaken for it (different suffix).
    const other = await provider.create(spec, 'run-g');
    expect(other.name).not.toBe(ref.name);
  });

  it('429 honours retry-after; 5xx retries share one budget and then fail', async () => {
    emulator.state.rateLimit(1, 7, 'jobs.retrieve');
    const spec = await stagedSpec('run-h');
    const ref = await provider.create(spec, 'run-h');
    slept.length = 0;
    await provider.get(ref);
    expect(slept).toEqual([7_000]);
    const tight = make({ retry: { maxAttempts: 3 } });
    emulator.state.serverError(10, 500, 'jobs.retrieve');
    const before = emulator.state.count('jobs.retrieve');
    const err = await tight.get(ref).catch((e: unknown) => e);
    expect(isProviderError(err, 'unavailable')).toBe(true);
    expect(emulator.state.count('jobs.retrieve') - before).toBe(3);
  });

  it('status, events and checkpoints follow the job; completed carries the fine-tuned model id', async () => {
    const ref = await provider.create(await stagedSpec('run-i', { trainingDuration: '3ep' }), 'run-i');
    const statuses: string[] = [];
    for (let i = 0; i < 80; i++) {
      const info = await provider.get(ref);
      if (statuses[statuses.length - 1] !== info.rawStatus) statuses.push(info.rawStatus);
      if (info.status === 'completed') {
        expect(info.registeredModel?.name).toMatch(/^gpt-4o-mini-2024-07-18\.ft-[0-9a-f]{32}-td[0-9a-f]{12}$/);
        expect(info.completedAt).toBeDefined();
        break;
      }
      t += 60_000;
    }
    expect(statuses).toEqual(['validating_files', 'queued', 'running', 'succeeded']);
    const events = await provider.events(ref);
    expect(events[0]?.message).toMatch(/^Created fine-tuning job/);
    expect(events[events.length - 1]?.message).toBe('The job has successfully completed');
    expect((await provider.checkpoints(ref)).map((c) => c.step_number)).toEqual([36, 24, 12]);
  });

  it('a failing job is failed with the service reason', async () => {
    emulator.state.failNextJob('Out of quota for Global training.', 'quotaExceeded');
    const ref = await provider.create(await stagedSpec('run-j'), 'run-j');
    t += 3_600_000;
    expect(await provider.get(ref)).toMatchObject({
      status: 'failed',
      reason: 'quotaExceeded: Out of quota for Global training.',
    });
  });

  it('cancel a running job; cancelling a finished one is already_finished', async () => {
    const ref = await provider.create(await stagedSpec('run-k'), 'run-k');
    t += 10 * 60_000;
    await provider.cancel(ref);
    t += 60_000;
    expect(await provider.get(ref)).toMatchObject({ status: 'cancelled', rawStatus: 'cancelled' });
    const err = await provider.cancel(ref).catch((e: unknown) => e);
    expect(isProviderError(err, 'already_finished')).toBe(true);
  });

  it('Entra ID: a TokenCredential through getBearerTokenProvider; a wrong key is unauthorized and never echoed', async () => {
    const scopes: string[][] = [];
    const credential: TokenCredential = {
      getToken: async (scope) => {
        scopes.push([scope].flat());
        return { token: emulator.bearerToken, expiresOnTimestamp: t + 3_600_000 };
      },
    };
    const entra = make({ auth: { credential } });
    expect((await entra.listModels()).map((m) => m.name)).toContain('gpt-4.1-nano-2025-04-14');
    expect(scopes[0]).toEqual(['https://cognitiveservices.azure.com/.default']);
    const secret = 'sk-wrong-key-0123456789';
    const err = await make({ auth: { apiKey: secret } })
      .listModels()
      .catch((e: unknown) => e);
    expect(isProviderError(err, 'unauthorized')).toBe(true);
    expect(JSON.stringify({ m: (err as Error).message, d: (err as { details: unknown }).details })).not.toContain(
      secret,
    );
  });
});
