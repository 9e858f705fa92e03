import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadDrop } from '../../cli/uploadDrop';
import { startLocalProvider } from '../../local/pipelineDemo';
import type { LocalRuntime } from '../../local/runtime';
import { chatRow, rng } from '../../scripts/varied-text';
import { BlobCatalogStore } from '../../shared/adapters/azureStorage';
import { CONTAINERS, TABLES } from '../../shared/config/resources';
import { localDatasetFiles, validateDataset } from '../../shared/datasets';
import type { TunedropEvent } from '../../shared/events';
import { loadCurrentCatalog } from '../../shared/pipeline/catalogRefresh';
import {
  type LocalProvider,
  publishedEvents,
  reconcileNow,
  seedExampleTeam,
  startPipelineRuntime,
  terminateInstance,
  waitForEvents,
} from './support';

/**
 * Sharded intake on the local runtime (issue 16): a drop over the (here tiny) threshold is
 * validated by the validateDropSharded orchestration — shards of 64 KiB, three at a time — and
 * must give exactly the report the single pass gives, progress events, and the same finish as
 * inline intake; failures end as coded rejections, never a run stuck `validating`.
 */
let runtime: LocalRuntime;
let provider: LocalProvider;
let service: BlobServiceClient;
let datasets: ContainerClient;

const MODEL = 'meta-llama/Meta-Llama-3.1-8B-Instruct';

beforeAll(async () => {
  provider = await startLocalProvider();
  runtime = await startPipelineRuntime(provider, {
    storage: 'memory',
    appSettings: {
      TUNEDROP_POLL_INITIAL_SECONDS: '1',
      TUNEDROP_POLL_MAX_SECONDS: '3',
      TUNEDROP_SHARDED_VALIDATION_MIN_BYTES: '500000',
      TUNEDROP_SHARD_BYTES: '65536',
      TUNEDROP_SHARD_PARALLELISM: '3',
      TUNEDROP_ACTIVITY_RETRY_FIRST_SECONDS: '0.2',
      TUNEDROP_ACTIVITY_RETRY_ATTEMPTS: '2',
    },
  });
  await seedExampleTeam(runtime.host.storageConnectionString);
  service = BlobServiceClient.fromConnectionString(runtime.host.storageConnectionString);
  datasets = service.getContainerClient(CONTAINERS.datasets);
}, 60_000);

afterAll(async () => {
  await runtime?.stop();
  await provider?.stop();
});

/** Chat rows from the bench generator until `bytes`, with `extra` lines put in at given row numbers. */
function chatLines(seed: number, bytes: number, extra: Record<number, string> = {}): string {
  const r = rng(seed);
  const lines: string[] = [];
  let size = 0;
  for (let row = 0; size < bytes; row++) {
    const line = extra[row] ?? JSON.stringify(chatRow(r, row, false));
    lines.push(line);
    size += Buffer.byteLength(line) + 1;
  }
  return `${lines.join('\n')}\n`;
}

function writeDrop(files: Record<string, string>, manifest: Record<string, unknown>): string {
  const folder = mkdtempSync(path.join(tmpdir(), 'td-sharded-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(folder, name), text);
  // A 4096-token context: the small files are then above the training-token minimum.
  writeFileSync(
    path.join(folder, 'run.json'),
    JSON.stringify({ model: MODEL, task: 'chat', contextLength: 4096, ...manifest }),
  );
  return folder;
}

async function readJson(container: string, url: string): Promise<Record<string, unknown>> {
  const name = decodeURIComponent(new URL(url).pathname.split(`/${container}/`)[1] ?? '');
  return JSON.parse(
    (await service.getContainerClient(container).getBlobClient(name).downloadToBuffer()).toString('utf8'),
  ) as Record<string, unknown>;
}

/** The single pass over the same local files, with the catalog intake read: the reference report. */
async function inlineReport(folder: string, names: { train: string; eval?: string }) {
  const files = [
    ...(await localDatasetFiles(path.join(folder, names.train), 'chat')),
    ...(names.eval
      ? (await localDatasetFiles(path.join(folder, names.eval), 'chat')).map((f) => ({ ...f, role: 'eval' as const }))
      : []),
  ];
  const report = await validateDataset({
    model: MODEL,
    task: 'chat',
    trainingDuration: '2ep',
    contextLength: 4096,
    region: provider.appSettings.DATABRICKS_REGION,
    provider: 'databricks',
    catalog: await loadCurrentCatalog(new BlobCatalogStore(service.getContainerClient(CONTAINERS.config))),
    files,
  });
  return withoutDuration(report as unknown as Record<string, unknown>);
}

function withoutDuration(report: Record<string, unknown>) {
  const { durationMs: _d, ...rest } = report;
  return rest;
}

function ofDataset(events: TunedropEvent[], dataset: string) {
  return events.filter((e) => (e.data as { dataset?: string }).dataset === dataset);
}

/** Waits for the drop's first progress event and gives its run id (the run is `validating` by then). */
async function firstProgressRunId(dataset: string): Promise<string | undefined> {
  const isProgress = (e: TunedropEvent) => e.type === 'tunedrop.dataset.validation.progress';
  const events = await waitForEvents((es) => ofDataset(es, dataset).some(isProgress), 60_000);
  return ofDataset(events, dataset).find(isProgress)?.subject;
}

async function runRecord(runId: string) {
  const table = TableClient.fromConnectionString(runtime.host.storageConnectionString, TABLES.runs, {
    allowInsecureConnection: true,
  });
  return (await table.getEntity(runId, 'run')) as Record<string, unknown>;
}

describe('sharded intake on the local runtime', () => {
  it('fans a valid drop with an eval file out into shards: the single-pass report, progress events, a validating run that completes', async () => {
    const base = chatLines(7, 420_000);
    const rows = base.trimEnd().split('\n');
    // Far-apart duplicates (rows of the first shard repeated in the last ones) and a blank line.
    const train = `${rows.join('\n')}\n\n${rows[3]}\n${rows[10]}\n`;
    const evalText = chatLines(8, 160_000);
    const folder = writeDrop(
      { 'train.jsonl': train, 'eval.jsonl': evalText },
      { train: 'train.jsonl', eval: 'eval.jsonl' },
    );
    await uploadDrop(datasets, folder, 'support', 'big-ok');

    const events = await waitForEvents(
      (es) =>
        ofDataset(es, 'big-ok').some(
          (e) => e.type === 'tunedrop.run.completed' || e.type === 'tunedrop.dataset.rejected',
        ),
      90_000,
    );
    const mine = ofDataset(events, 'big-ok');
    const wrong = mine.find((e) => e.type === 'tunedrop.dataset.rejected');
    if (wrong?.type === 'tunedrop.dataset.rejected') throw new Error(JSON.stringify(wrong.data.errorSummary));
    const validated = mine.find((e) => e.type === 'tunedrop.dataset.validated');
    if (validated?.type !== 'tunedrop.dataset.validated') throw new Error('no dataset.validated');
    const runId = validated.subject;
    const progress = mine.filter((e) => e.type === 'tunedrop.dataset.validation.progress');
    expect(progress.length).toBeGreaterThan(0);
    for (const p of progress) {
      if (p.type !== 'tunedrop.dataset.validation.progress') continue;
      expect(p.subject).toBe(runId);
      expect(p.data.shardsTotal).toBe(
        Math.ceil(Buffer.byteLength(train) / 65536) + Math.ceil(Buffer.byteLength(evalText) / 65536),
      );
      expect(p.data.bytesTotal).toBe(Buffer.byteLength(train) + Buffer.byteLength(evalText));
      expect(p.data.shardsDone).toBeLessThan(p.data.shardsTotal);
    }
    // Progress comes before the outcome, each id once.
    expect(mine.findIndex((e) => e.type === 'tunedrop.dataset.validation.progress')).toBeLessThan(
      mine.indexOf(validated),
    );
    expect(new Set(mine.map((e) => e.id)).size).toBe(mine.length);
    expect(mine.filter((e) => e.type === 'tunedrop.dataset.validated')).toHaveLength(1);
    expect(mine.filter((e) => e.type === 'tunedrop.run.submitted')).toHaveLength(1);

    const report = await readJson(CONTAINERS.reports, validated.data.reports.json);
    expect(withoutDuration(report)).toEqual(await inlineReport(folder, { train: 'train.jsonl', eval: 'eval.jsonl' }));
    expect(report.warningCounts).toMatchObject({ duplicate_examples: 2, blank_lines: 1 });
    const run = await runRecord(runId);
    expect(run.status).toBe('completed');
    // The shard results were removed after the merge.
    const left: string[] = [];
    for await (const b of service.getContainerClient(CONTAINERS.reports).listBlobsFlat({ prefix: '.validation/' }))
      left.push(b.name);
    expect(left).toEqual([]);
  }, 120_000);

  it('rejects a drop with errors spread over shards with exactly the single-pass report, and dropping it again changes nothing', async () => {
    const train = chatLines(11, 600_000, {
      5: 'not json',
      60: '{"messages": [{"role": "user", "content": "only a question"}]}',
      110: '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": ""}]}',
    });
    const folder = writeDrop({ 'train.jsonl': train }, { train: 'train.jsonl' });
    await uploadDrop(datasets, folder, 'support', 'big-bad');
    const events = await waitForEvents(
      (es) => ofDataset(es, 'big-bad').some((e) => e.type === 'tunedrop.dataset.rejected'),
      60_000,
    );
    const rejected = ofDataset(events, 'big-bad').find((e) => e.type === 'tunedrop.dataset.rejected');
    if (rejected?.type !== 'tunedrop.dataset.rejected') throw new Error('no rejection');
    const report = await readJson(CONTAINERS.reports, rejected.data.reports.json);
    const inline = await inlineReport(folder, { train: 'train.jsonl' });
    expect(withoutDuration(report)).toEqual(inline);
    expect(report.errorCounts).toEqual({ invalid_json: 1, too_few_messages: 1, empty_content: 1 });
    expect((await runRecord(rejected.subject)).status).toBe('rejected');

    // The same bytes again (a new ETag): a second validation, the same run, no second rejection event.
    await uploadDrop(datasets, folder, 'support', 'big-bad');
    await new Promise((r) => setTimeout(r, 8000));
    const again = ofDataset(await publishedEvents(), 'big-bad').filter((e) => e.type === 'tunedrop.dataset.rejected');
    expect(again).toHaveLength(1);
  }, 90_000);

  it('a shard failing past its retries (its blob deleted mid-validation) ends as a coded rejection, never a run stuck validating', async () => {
    const train = chatLines(21, 1_500_000);
    const folder = writeDrop({ 'train.jsonl': train }, { train: 'train.jsonl' });
    await uploadDrop(datasets, folder, 'support', 'big-gone');
    const runId = await firstProgressRunId('big-gone');
    expect((await runRecord(runId as string)).status).toBe('validating');
    await datasets.getBlobClient('support/big-gone/train.jsonl').delete();
    const events = await waitForEvents(
      (es) => ofDataset(es, 'big-gone').some((e) => e.type === 'tunedrop.dataset.rejected'),
      60_000,
    );
    const rejected = ofDataset(events, 'big-gone').find((e) => e.type === 'tunedrop.dataset.rejected');
    if (rejected?.type !== 'tunedrop.dataset.rejected') throw new Error('no rejection');
    expect(rejected.subject).toBe(runId);
    expect(Object.keys(rejected.data.errorSummary.errorCounts)).toEqual(['validation_failed']);
    const run = await runRecord(runId as string);
    expect(run.status).toBe('rejected');
    expect(String(run.reason)).toMatch(/^validation_failed/);
    expect(ofDataset(events, 'big-gone').some((e) => e.type === 'tunedrop.run.submitted')).toBe(false);
  }, 90_000);

  it('a sharded validation terminated mid-way: the reconciler rejects the drop (validation_failed) once; the run does not stay validating', async () => {
    const train = chatLines(41, 2_000_000);
    const folder = writeDrop({ 'train.jsonl': train }, { train: 'train.jsonl' });
    await uploadDrop(datasets, folder, 'support', 'big-terminated');
    const runId = (await firstProgressRunId('big-terminated')) as string;
    const validationId = String((await runRecord(runId)).validationId);
    expect(validationId).toMatch(/^validation-[0-9a-f]{32}$/);
    await terminateInstance(runtime, validationId);
    expect((await runRecord(runId)).status).toBe('validating');

    await reconcileNow(runtime);
    const events = await waitForEvents(
      (es) => ofDataset(es, 'big-terminated').some((e) => e.type === 'tunedrop.dataset.rejected'),
      30_000,
    );
    const rejected = ofDataset(events, 'big-terminated').find((e) => e.type === 'tunedrop.dataset.rejected');
    if (rejected?.type !== 'tunedrop.dataset.rejected') throw new Error('no rejection');
    expect(rejected.subject).toBe(runId);
    expect(Object.keys(rejected.data.errorSummary.errorCounts)).toEqual(['validation_failed']);
    const run = await runRecord(runId);
    expect(run.status).toBe('rejected');
    expect(String(run.reason)).toMatch(/^validation_failed.*ended Terminated/);
    const report = await readJson(CONTAINERS.reports, String(run.reportUrl));
    expect(report.ok).toBe(false);

    // A second pass has nothing left to repair.
    await reconcileNow(runtime);
    await new Promise((r) => setTimeout(r, 1500));
    const after = ofDataset(await publishedEvents(), 'big-terminated');
    expect(after.filter((e) => e.type === 'tunedrop.dataset.rejected')).toHaveLength(1);
    expect(after.some((e) => e.type === 'tunedrop.run.submitted')).toBe(false);
  }, 90_000);

  it('a drop re-uploaded during sharded validation: the first ends data_changed, the new bytes validate on their own', async () => {
    const first = chatLines(31, 1_500_000);
    const folder = writeDrop({ 'train.jsonl': first }, { train: 'train.jsonl' });
    await uploadDrop(datasets, folder, 'support', 'big-again');
    const firstRun = await firstProgressRunId('big-again');
    writeFileSync(path.join(folder, 'train.jsonl'), chatLines(32, 700_000));
    await uploadDrop(datasets, folder, 'support', 'big-again');
    const events = await waitForEvents(
      (es) => ofDataset(es, 'big-again').some((e) => e.type === 'tunedrop.run.submitted'),
      90_000,
    );
    const mine = ofDataset(events, 'big-again');
    const rejected = mine.find((e) => e.type === 'tunedrop.dataset.rejected');
    if (rejected?.type !== 'tunedrop.dataset.rejected') throw new Error('the replaced validation was not rejected');
    expect(rejected.subject).toBe(firstRun);
    expect(Object.keys(rejected.data.errorSummary.errorCounts)).toEqual(['data_changed']);
    expect((await runRecord(firstRun as string)).status).toBe('rejected');
    const validated = mine.find((e) => e.type === 'tunedrop.dataset.validated');
    if (validated?.type !== 'tunedrop.dataset.validated') throw new Error('the new bytes were not validated');
    expect(validated.subject).not.toBe(firstRun);
    const report = await readJson(CONTAINERS.reports, validated.data.reports.json);
    expect(withoutDuration(report)).toEqual(await inlineReport(folder, { train: 'train.jsonl' }));
    expect(readFileSync(path.join(folder, 'train.jsonl')).length).toBe(report.bytes);
  }, 120_000);
});
