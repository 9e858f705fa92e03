import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadDrop } from '../../cli/uploadDrop';
import { startLocalProvider } from '../../local/pipelineDemo';
import type { LocalRuntime } from '../../local/runtime';
import { CONTAINERS } from '../../shared/config/resources';
import type { TunedropEvent } from '../../shared/events';
import {
  type LocalProvider,
  publishedEvents,
  REPO,
  seedExampleTeam,
  startPipelineRuntime,
  waitForEvents,
} from './support';

/**
 * The product's main job on the local runtime, with the real functions/ (compiled to dist/ by
 * `npm install`), the durable engine, the Service Bus stand-in and the provider emulator. The
 * `webhooks` subscription (every event) has no consumer yet, so it is where we read what was published.
 */
let runtime: LocalRuntime;
let provider: LocalProvider;

beforeAll(async () => {
  provider = await startLocalProvider();
  runtime = await startPipelineRuntime(provider, {
    storage: 'memory',
    appSettings: { TUNEDROP_POLL_INITIAL_SECONDS: '1', TUNEDROP_POLL_MAX_SECONDS: '3' },
  });
  await seedExampleTeam(runtime.host.storageConnectionString);
}, 60_000);

afterAll(async () => {
  await runtime?.stop();
  await provider?.stop();
});

describe('drop → validated → submitted → completed → registered (local runtime)', () => {
  it('runs a valid drop to a registered model, each event once and in order; a second drop of the same bytes starts nothing', async () => {
    const datasets = BlobServiceClient.fromConnectionString(runtime.host.storageConnectionString).getContainerClient(
      CONTAINERS.datasets,
    );
    const dropped = Date.now();
    await uploadDrop(datasets, path.join(REPO, 'examples', 'sql-instructions'), 'support', 'sql');
    const submittedEvents = await waitForEvents((es) => es.some((e) => e.type === 'tunedrop.run.submitted'), 30_000);
    const submittedAfterMs = Date.now() - dropped;
    const runId = submittedEvents.find((e) => e.type === 'tunedrop.run.submitted')?.subject;
    expect(runId).toMatch(/^run-/);

    await uploadDrop(datasets, path.join(REPO, 'examples', 'sql-instructions'), 'support', 'sql');
    const events = await waitForEvents((es) => es.some((e) => e.type === 'tunedrop.model.registered'), 90_000);
    const ofRun = events.filter((e) => e.subject === runId);
    const types = ofRun.map((e) => e.type);
    expect(types[0]).toBe('tunedrop.dataset.validated');
    expect(types[1]).toBe('tunedrop.run.submitted');
    expect(types.filter((t) => t === 'tunedrop.run.status_changed').length).toBeGreaterThan(0);
    expect(types.slice(-2)).toEqual(['tunedrop.run.completed', 'tunedrop.model.registered']);
    expect(new Set(ofRun.map((e) => e.id)).size).toBe(ofRun.length);
    expect(types.filter((t) => t === 'tunedrop.run.submitted')).toHaveLength(1);
    const submittedForDataset = events.filter((e) => e.type === 'tunedrop.run.submitted' && e.data.dataset === 'sql');
    expect(submittedForDataset).toHaveLength(1);
    const completed = ofRun.find((e) => e.type === 'tunedrop.run.completed');
    expect(completed?.data).toMatchObject({
      status: 'completed',
      registeredModel: expect.stringMatching(/^ml\.support\.[\w-]+$/),
      registeredVersion: '1',
    });
    // Reported for the measurement: drop → run.submitted, validation included (the file is tiny).
    console.info(`drop → run.submitted: ${submittedAfterMs} ms`);
  }, 120_000);

  it('rejects an invalid drop with a report in storage and starts no run', async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'td-bad-'));
    writeFileSync(path.join(folder, 'train.jsonl'), '{"prompt": "hi"}\nnot json\n');
    writeFileSync(
      path.join(folder, 'run.json'),
      JSON.stringify({ model: 'mistralai/Mistral-7B-Instruct-v0.2', task: 'instruction', train: 'train.jsonl' }),
    );
    const service = BlobServiceClient.fromConnectionString(runtime.host.storageConnectionString);
    await uploadDrop(service.getContainerClient(CONTAINERS.datasets), folder, 'support', 'broken');
    const events = await waitForEvents(
      (es) => es.some((e) => e.type === 'tunedrop.dataset.rejected' && e.data.dataset === 'broken'),
      30_000,
    );
    const rejected = events.find((e) => e.type === 'tunedrop.dataset.rejected' && e.data.dataset === 'broken');
    if (rejected?.type !== 'tunedrop.dataset.rejected') throw new Error('no rejection');
    expect(Object.keys(rejected.data.errorSummary.errorCounts).sort()).toEqual(
      expect.arrayContaining(['invalid_json', 'missing_response']),
    );
    const reportPath = new URL(rejected.data.reports.json).pathname.split(`/${CONTAINERS.reports}/`)[1] ?? '';
    const report = JSON.parse(
      (await service.getContainerClient(CONTAINERS.reports).getBlobClient(reportPath).downloadToBuffer()).toString(),
    );
    expect(report.ok).toBe(false);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await publishedEvents()).filter((e) => e.subject === rejected.subject).map((e) => e.type)).toEqual([
      'tunedrop.dataset.rejected',
    ]);
  }, 60_000);

  it('rejects a manifest whose data path escapes its folder, naming the code', async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'td-escape-'));
    writeFileSync(
      path.join(folder, 'run.json'),
      JSON.stringify({ model: 'mistralai/Mistral-7B-Instruct-v0.2', task: 'instruction', train: '../sql/train.jsonl' }),
    );
    const service = BlobServiceClient.fromConnectionString(runtime.host.storageConnectionString);
    await uploadDrop(service.getContainerClient(CONTAINERS.datasets), folder, 'support', 'escape');
    const events = await waitForEvents(
      (es) => es.some((e) => e.type === 'tunedrop.dataset.rejected' && e.data.dataset === 'escape'),
      30_000,
    );
    const rejected = events.find((e) => e.type === 'tunedrop.dataset.rejected' && e.data.dataset === 'escape');
    expect(rejected?.data).toMatchObject({
      errorSummary: {
        errorCounts: { path_escapes_folder: 1 },
        firstErrors: [{ code: 'path_escapes_folder', message: expect.stringContaining('../sql/train.jsonl') }],
      },
    });
  }, 60_000);

  const drop = async (folder: string, team: string, dataset: string) => {
    const service = BlobServiceClient.fromConnectionString(runtime.host.storageConnectionString);
    await uploadDrop(service.getContainerClient(CONTAINERS.datasets), folder, team, dataset);
  };
  const eventOf = (es: TunedropEvent[], type: string, dataset: string) =>
    es.find((e) => e.type === type && (e.data as { dataset?: string }).dataset === dataset);

  it('reports a provider failure as run.failed with the provider reason', async () => {
    provider.emulator.state.failNextRun('CUDA out of memory on rank 3');
    await drop(path.join(REPO, 'examples', 'sql-instructions'), 'support', 'sql-fails');
    const events = await waitForEvents((es) => !!eventOf(es, 'tunedrop.run.failed', 'sql-fails'), 60_000);
    expect(eventOf(events, 'tunedrop.run.failed', 'sql-fails')?.data).toMatchObject({
      status: 'failed',
      reason: expect.stringContaining('CUDA out of memory'),
    });
    expect(eventOf(events, 'tunedrop.run.completed', 'sql-fails')).toBeUndefined();
  }, 90_000);

  it('cancels a running run on the cancel event: run.cancelled, no completion', async () => {
    await drop(path.join(REPO, 'examples', 'sql-instructions'), 'support', 'sql-cancel');
    const submitted = await waitForEvents((es) => !!eventOf(es, 'tunedrop.run.submitted', 'sql-cancel'), 30_000);
    const runId = eventOf(submitted, 'tunedrop.run.submitted', 'sql-cancel')?.subject ?? '';
    const durable = runtime.host.extensions.find((e) => e.name === 'durable') as unknown as {
      engine: { raiseEvent(id: string, name: string): Promise<void> };
    };
    await durable.engine.raiseEvent(runId, 'cancel');
    const events = await waitForEvents((es) => !!eventOf(es, 'tunedrop.run.cancelled', 'sql-cancel'), 60_000);
    expect(eventOf(events, 'tunedrop.run.cancelled', 'sql-cancel')?.subject).toBe(runId);
    expect(eventOf(events, 'tunedrop.run.completed', 'sql-cancel')).toBeUndefined();
  }, 90_000);

  it('refuses a malformed manifest and a data file over the team limit, starting nothing', async () => {
    const bad = mkdtempSync(path.join(tmpdir(), 'td-malformed-'));
    writeFileSync(path.join(bad, 'run.json'), '{"model": "mistralai/Mistral-7B-Instruct-v0.2", "task": ');
    await drop(bad, 'support', 'malformed');
    const service = BlobServiceClient.fromConnectionString(runtime.host.storageConnectionString);
    const tiny = { team: 'tiny', allowedModels: ['*'], allowedRegisterTo: ['ml.tiny'], maxDataFileBytes: 100 };
    const body = JSON.stringify(tiny);
    await service.getContainerClient(CONTAINERS.config).getBlockBlobClient('teams/tiny.json').upload(body, body.length);
    await drop(path.join(REPO, 'examples', 'sql-instructions'), 'tiny', 'too-big');
    const events = await waitForEvents(
      (es) =>
        !!eventOf(es, 'tunedrop.dataset.rejected', 'malformed') &&
        !!eventOf(es, 'tunedrop.dataset.rejected', 'too-big'),
      30_000,
    );
    expect(eventOf(events, 'tunedrop.dataset.rejected', 'malformed')?.data).toMatchObject({
      errorSummary: { errorCounts: { invalid_manifest: 1 } },
    });
    expect(eventOf(events, 'tunedrop.dataset.rejected', 'too-big')?.data).toMatchObject({
      errorSummary: { errorCounts: { file_too_large: 1, register_to_not_allowed: 1 } },
    });
    for (const dataset of ['malformed', 'too-big']) {
      expect(eventOf(events, 'tunedrop.run.submitted', dataset)).toBeUndefined();
    }
  }, 60_000);
});
