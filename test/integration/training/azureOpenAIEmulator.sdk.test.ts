import { AzureOpenAI, OpenAI, toFile } from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AzureOpenAIEmulator, startAzureOpenAIEmulator } from '../../../emulators/azure-openai';

/** The emulator, driven only through the official `openai` SDK: the wire format is what the SDK speaks. */

const row = (i: number) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: `Question ${i}?` },
      { role: 'assistant', content: `Answer ${i}.` },
    ],
  });
const trainingData = (n: number) => `${Array.from({ length: n }, (_, i) => row(i)).join('\n')}\n`;

describe('Azure OpenAI emulator driven by the openai SDK', () => {
  let t: number;
  let emulator: AzureOpenAIEmulator;
  let client: AzureOpenAI;

  beforeEach(async () => {
    t = Date.parse('2026-11-30T00:00:00Z');
    emulator = await startAzureOpenAIEmulator({ now: () => t });
    client = new AzureOpenAI({
      endpoint: emulator.url,
      apiKey: emulator.apiKey,
      apiVersion: '2025-04-01-preview',
      maxRetries: 0,
    });
  });
  afterEach(() => emulator.stop());

  it('refuses a wrong key and a path without api-version, in the service error shape', async () => {
    const wrong = new AzureOpenAI({
      endpoint: emulator.url,
      apiKey: 'nope',
      apiVersion: '2025-04-01-preview',
      maxRetries: 0,
    });
    await expect(wrong.fineTuning.jobs.list()).rejects.toMatchObject({ status: 401, code: '401' });
    const res = await fetch(`${emulator.url}/openai/fine_tuning/jobs`, { headers: { 'api-key': emulator.apiKey } });
    expect(res.status).toBe(404);
  });

  it('files.create → pending → processed; a bad file ends in error with status_details', async () => {
    const file = await client.files.create({
      file: await toFile(Buffer.from(trainingData(12)), 'train.jsonl'),
      purpose: 'fine-tune',
    });
    expect(file).toMatchObject({ object: 'file', purpose: 'fine-tune', status: 'pending', filename: 'train.jsonl' });
    t += 60_000;
    expect((await client.files.retrieve(file.id)).status).toBe('processed');

    const bad = await client.files.create({
      file: await toFile(Buffer.from(`${row(1)}\n{"messages": [{"role": "user", "content": "q"}]}\n`), 'bad.jsonl'),
      purpose: 'fine-tune',
    });
    t += 60_000;
    const rejected = await client.files.retrieve(bad.id);
    expect(rejected.status).toBe('error');
    expect(rejected.status_details).toMatch(/Line 2/);
    await expect(
      client.fineTuning.jobs.create({ model: 'gpt-4o-mini-2024-07-18', training_file: bad.id }),
    ).rejects.toMatchObject({ status: 400, code: 'invalidPayload' });
  });

  it('jobs: create with method + metadata, progress with the clock, events, checkpoints, list by metadata', async () => {
    const file = await client.files.create({
      file: await toFile(Buffer.from(trainingData(20)), 'train.jsonl'),
      purpose: 'fine-tune',
    });
    const job = await client.fineTuning.jobs.create({
      model: 'gpt-4.1-mini-2025-04-14',
      training_file: file.id,
      suffix: 'support-bot',
      seed: 42,
      method: {
        type: 'supervised',
        supervised: { hyperparameters: { n_epochs: 3, batch_size: 4, learning_rate_multiplier: 0.1 } },
      },
      metadata: { tunedrop_run_id: 'run-1' },
    });
    expect(job).toMatchObject({
      object: 'fine_tuning.job',
      status: 'validating_files',
      seed: 42,
      metadata: { tunedrop_run_id: 'run-1' },
    });
    expect(job.method?.supervised?.hyperparameters).toEqual({
      n_epochs: 3,
      batch_size: 4,
      learning_rate_multiplier: 0.1,
    });

    const seen: string[] = [];
    for (let i = 0; i < 60; i++) {
      const current = await client.fineTuning.jobs.retrieve(job.id);
      if (seen[seen.length - 1] !== current.status) seen.push(current.status);
      if (current.status === 'succeeded') {
        expect(current.fine_tuned_model).toBe(`gpt-4.1-mini-2025-04-14.ft-${job.id.slice(6)}-support-bot`);
        expect(current.trained_tokens).toBeGreaterThan(0);
        break;
      }
      t += 60_000;
    }
    expect(seen).toEqual(['validating_files', 'queued', 'running', 'succeeded']);

    const events = [];
    for await (const e of client.fineTuning.jobs.listEvents(job.id, { limit: 3 })) events.push(e);
    expect(events[0]?.message).toBe('The job has successfully completed');
    expect(events.map((e) => e.message)).toContain('Fine-tuning job started');
    expect(events.every((e) => e.object === 'fine_tuning.job.event')).toBe(true);

    const checkpoints = [];
    for await (const c of client.fineTuning.jobs.checkpoints.list(job.id)) checkpoints.push(c);
    expect(checkpoints.map((c) => c.step_number)).toEqual([15, 10, 5]);
    expect(checkpoints[0]?.fine_tuned_model_checkpoint).toContain(':ckpt-step-15');

    await client.fineTuning.jobs.create({
      model: 'gpt-4.1-mini-2025-04-14',
      training_file: file.id,
      metadata: { tunedrop_run_id: 'run-2' },
    });
    const page = await client.fineTuning.jobs.list({ metadata: { tunedrop_run_id: 'run-1' } });
    expect(page.data.map((j) => j.id)).toEqual([job.id]);
  });

  it('cancel: running → cancelling → cancelled; cancelling again is a 400', async () => {
    const file = await client.files.create({
      file: await toFile(Buffer.from(trainingData(10)), 'train.jsonl'),
      purpose: 'fine-tune',
    });
    const job = await client.fineTuning.jobs.create({ model: 'gpt-4o-2024-08-06', training_file: file.id });
    t += 10 * 60_000;
    expect((await client.fineTuning.jobs.retrieve(job.id)).status).toBe('running');
    expect((await client.fineTuning.jobs.cancel(job.id)).status).toBe('cancelling');
    t += 60_000;
    expect((await client.fineTuning.jobs.retrieve(job.id)).status).toBe('cancelled');
    await expect(client.fineTuning.jobs.cancel(job.id)).rejects.toMatchObject({ status: 400 });
  });

  it('injected failures: 429 with retry-after (the SDK retries it), 500, a failing job', async () => {
    emulator.state.rateLimit(1, 0, 'jobs.list');
    const retrying = new AzureOpenAI({
      endpoint: emulator.url,
      apiKey: emulator.apiKey,
      apiVersion: '2025-04-01-preview',
      maxRetries: 1,
    });
    await expect(retrying.fineTuning.jobs.list()).resolves.toBeDefined();
    expect(emulator.state.count('jobs.list')).toBe(2);
    emulator.state.serverError(1, 503, 'jobs.list');
    await expect(client.fineTuning.jobs.list()).rejects.toMatchObject({ status: 503 });

    emulator.state.failNextJob('The training data could not be read.', 'invalidTrainingData');
    const file = await client.files.create({
      file: await toFile(Buffer.from(trainingData(10)), 'train.jsonl'),
      purpose: 'fine-tune',
    });
    const job = await client.fineTuning.jobs.create({ model: 'gpt-4o-2024-08-06', training_file: file.id });
    t += 3_600_000;
    expect(await client.fineTuning.jobs.retrieve(job.id)).toMatchObject({
      status: 'failed',
      error: { code: 'invalidTrainingData', message: 'The training data could not be read.' },
    });
  });

  it('a lost create response: the job exists although the client saw a connection error', async () => {
    const file = await client.files.create({
      file: await toFile(Buffer.from(trainingData(10)), 'train.jsonl'),
      purpose: 'fine-tune',
    });
    emulator.state.dropResponseAfterCreate();
    await expect(client.fineTuning.jobs.create({ model: 'gpt-4o-2024-08-06', training_file: file.id })).rejects.toThrow(
      /Connection error/,
    );
    expect((await client.fineTuning.jobs.list()).data).toHaveLength(1);
  });

  it('the v1 base URL works with the plain OpenAI client, and Entra ID bearer tokens are accepted', async () => {
    const v1 = new OpenAI({
      baseURL: `${emulator.url}/openai/v1`,
      apiKey: emulator.apiKey,
      maxRetries: 0,
      defaultHeaders: { 'api-key': emulator.apiKey },
    });
    expect((await v1.models.list()).data.map((m) => m.id)).toContain('gpt-4.1-2025-04-14');
    const entra = new AzureOpenAI({
      endpoint: emulator.url,
      azureADTokenProvider: async () => emulator.bearerToken,
      apiVersion: '2025-04-01-preview',
      maxRetries: 0,
    });
    await expect(entra.fineTuning.jobs.list()).resolves.toBeDefined();
  });
});
