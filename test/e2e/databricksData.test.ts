import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadDrop } from '../../cli/uploadDrop';
import { startLocalProvider } from '../../local/pipelineDemo';
import type { LocalRuntime } from '../../local/runtime';
import { CONTAINERS } from '../../shared/config/resources';
import type { TunedropEvent } from '../../shared/events';
import { FilesApiClient } from '../../shared/training/staging';
import { type LocalProvider, REPO, seedExampleTeam, startPipelineRuntime, waitForEvents } from './support';

/**
 * Data already in Databricks, end to end on the local runtime (issue 14): a manifest naming a
 * Unity Catalog volume file and one naming a Delta table each run to a registered model, passed to
 * the service without staging; and the refusals: a volume outside the team's grant, a table
 * without the task's columns, a data-prep cluster on an old runtime.
 */
let runtime: LocalRuntime;
let provider: LocalProvider;
const MODEL = 'mistralai/Mistral-7B-Instruct-v0.2';
const VOLUME_FILE = '/Volumes/ml/support/data/sql/train.jsonl';

beforeAll(async () => {
  provider = await startLocalProvider();
  runtime = await startPipelineRuntime(provider, {
    storage: 'memory',
    appSettings: { TUNEDROP_POLL_INITIAL_SECONDS: '1', TUNEDROP_POLL_MAX_SECONDS: '3' },
  });
  await seedExampleTeam(runtime.host.storageConnectionString);
  const train = readFileSync(path.join(REPO, 'examples', 'sql-instructions', 'train.jsonl'));
  await new FilesApiClient({ workspaceUrl: provider.emulator.url, auth: provider.emulator.token }).upload(
    VOLUME_FILE,
    () => Readable.from([train]),
  );
  const sources = provider.emulator.state.dataSources;
  sources.addTable({
    fullName: 'ml.support.sql_pairs',
    columns: [
      { name: 'prompt', typeText: 'string' },
      { name: 'response', typeText: 'string' },
    ],
  });
  sources.addTable({ fullName: 'ml.support.raw_text', columns: [{ name: 'text', typeText: 'string' }] });
  sources.addCluster({ clusterId: '1130-prep-ml', sparkVersion: '13.3.x-cpu-ml-scala2.12' });
  sources.addCluster({ clusterId: '1130-prep-old', sparkVersion: '11.3.x-cpu-ml-scala2.12' });
}, 60_000);

afterAll(async () => {
  await runtime?.stop();
  await provider?.emulator.stop();
});

async function dropManifest(dataset: string, manifest: Record<string, unknown>): Promise<void> {
  const folder = mkdtempSync(path.join(tmpdir(), 'td-dbx-'));
  writeFileSync(path.join(folder, 'run.json'), JSON.stringify(manifest));
  const datasets = BlobServiceClient.fromConnectionString(runtime.host.storageConnectionString).getContainerClient(
    CONTAINERS.datasets,
  );
  await uploadDrop(datasets, folder, 'support', dataset);
}

const eventOf = (es: TunedropEvent[], type: string, dataset: string) =>
  es.find((e) => e.type === type && (e.data as { dataset?: string }).dataset === dataset);

async function report(event: TunedropEvent | undefined): Promise<Record<string, unknown>> {
  const url = (event?.data as { reports?: { json: string } } | undefined)?.reports?.json ?? '';
  const name = new URL(url).pathname.split(`/${CONTAINERS.reports}/`)[1] ?? '';
  const blob = BlobServiceClient.fromConnectionString(runtime.host.storageConnectionString)
    .getContainerClient(CONTAINERS.reports)
    .getBlobClient(name);
  return JSON.parse((await blob.downloadToBuffer()).toString('utf8'));
}

const base = { model: MODEL, task: 'instruction', registerTo: 'ml.support', contextLength: 512 };

describe('data already in Databricks (local runtime)', () => {
  it('a Volume file: validated through ranged Files API reads, trained from where it is', async () => {
    const reads = provider.emulator.state.rangeReads.length;
    await dropManifest('from-volume', { ...base, train: `dbfs:${VOLUME_FILE}` });
    const events = await waitForEvents((es) => !!eventOf(es, 'tunedrop.model.registered', 'from-volume'), 90_000);
    const validated = await report(eventOf(events, 'tunedrop.dataset.validated', 'from-volume'));
    expect(validated).toMatchObject({ ok: true, files: [{ name: VOLUME_FILE }] });
    expect((validated.tokens as { total: number }).total).toBeGreaterThan(0);
    expect(provider.emulator.state.rangeReads.slice(reads).some((r) => r.path === VOLUME_FILE)).toBe(true);
    const run = (provider.emulator.state.snapshot().runs as { config: { trainDataPath: string } }[]).find(
      (r) => r.config.trainDataPath === `dbfs:${VOLUME_FILE}`,
    );
    expect(run, 'the service got the volume path itself (no staging copy)').toBeDefined();
  }, 120_000);

  it('a Delta table: table, columns and cluster checked; rows "done by the service"; trained with the cluster', async () => {
    await dropManifest('from-table', { ...base, train: 'ml.support.sql_pairs', dataPrepClusterId: '1130-prep-ml' });
    const events = await waitForEvents((es) => !!eventOf(es, 'tunedrop.model.registered', 'from-table'), 90_000);
    expect(await report(eventOf(events, 'tunedrop.dataset.validated', 'from-table'))).toMatchObject({
      ok: true,
      tables: ['ml.support.sql_pairs'],
      rowValidation: 'done by the service',
      dataPrepCluster: { clusterId: '1130-prep-ml' },
    });
    const run = (
      provider.emulator.state.snapshot().runs as { config: { trainDataPath: string; dataPrepConfig?: unknown } }[]
    ).find((r) => r.config.trainDataPath === 'ml.support.sql_pairs');
    expect(run?.config.dataPrepConfig).toEqual({ clusterId: '1130-prep-ml' });
  }, 120_000);

  it('refuses a volume outside the team grant, a table without the columns, a cluster on an old runtime', async () => {
    await dropManifest('foreign-volume', { ...base, train: '/Volumes/finance/raw/exports/train.jsonl' });
    await dropManifest('no-columns', { ...base, train: 'ml.support.raw_text', dataPrepClusterId: '1130-prep-ml' });
    await dropManifest('old-cluster', { ...base, train: 'ml.support.sql_pairs', dataPrepClusterId: '1130-prep-old' });
    const datasets = ['foreign-volume', 'no-columns', 'old-cluster'];
    const events = await waitForEvents(
      (es) => datasets.every((d) => !!eventOf(es, 'tunedrop.dataset.rejected', d)),
      30_000,
    );
    const counts = (d: string) =>
      (eventOf(events, 'tunedrop.dataset.rejected', d)?.data as { errorSummary: { errorCounts: object } } | undefined)
        ?.errorSummary.errorCounts;
    expect(counts('foreign-volume')).toEqual({ data_location_not_allowed: 1 });
    expect(counts('no-columns')).toEqual({ table_missing_column: 2 });
    expect(counts('old-cluster')).toEqual({ cluster_runtime_too_old: 1 });
    for (const d of datasets) expect(eventOf(events, 'tunedrop.run.submitted', d)).toBeUndefined();
  }, 60_000);
});
