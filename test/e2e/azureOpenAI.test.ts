import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadDrop } from '../../cli/uploadDrop';
import { freePort } from '../../local/azurite';
import { startLocalProvider } from '../../local/pipelineDemo';
import type { LocalRuntime } from '../../local/runtime';
import { CONTAINERS, TABLES } from '../../shared/config/resources';
import type { TunedropEvent } from '../../shared/events';
import { ModelIndex } from '../../shared/registry/modelIndex';
import { type LocalProvider, REPO, startPipelineRuntime, waitForEvents } from './support';

/**
 * The same end-to-end suite as the Databricks one, for a team on the Azure OpenAI provider
 * (examples/teams/assist.json): the real app on the local runtime against the Azure OpenAI emulator
 * and its control-plane stand-in.
 */
const EXAMPLE = path.join(REPO, 'examples', 'assist-tool-calls');
const data = mkdtempSync(path.join(tmpdir(), 'td-azure-e2e-'));
let provider: LocalProvider;
let runtime: LocalRuntime | undefined;
let port: number;
let azuritePorts: { blob: number; queue: number; table: number };

const start = () =>
  startPipelineRuntime(provider, {
    storage: { location: data },
    port,
    azuritePorts,
    appSettings: { TUNEDROP_POLL_INITIAL_SECONDS: '1', TUNEDROP_POLL_MAX_SECONDS: '2' },
  });

beforeAll(async () => {
  port = await freePort();
  azuritePorts = { blob: await freePort(), queue: await freePort(), table: await freePort() };
  provider = await startLocalProvider();
  runtime = await start();
  const team = JSON.parse(readFileSync(path.join(REPO, 'examples', 'teams', 'assist.json'), 'utf8'));
  team.channels = [];
  const body = JSON.stringify(team);
  const config = BlobServiceClient.fromConnectionString(runtime.host.storageConnectionString).getContainerClient(
    CONTAINERS.config,
  );
  await config.createIfNotExists();
  await config.getBlockBlobClient('teams/assist.json').upload(body, Buffer.byteLength(body));
}, 60_000);

afterAll(async () => {
  await runtime?.stop();
  await provider?.stop();
  rmSync(data, { recursive: true, force: true });
});

const drop = async (folder: string, dataset: string) => {
  const service = BlobServiceClient.fromConnectionString((runtime as LocalRuntime).host.storageConnectionString);
  await uploadDrop(service.getContainerClient(CONTAINERS.datasets), folder, 'assist', dataset);
};
const ofDataset = (es: TunedropEvent[], dataset: string) =>
  es.filter((e) => (e.data as { dataset?: string }).dataset === dataset);
const eventOf = (es: TunedropEvent[], type: string, dataset: string) =>
  ofDataset(es, dataset).find((e) => e.type === type);

describe('Azure OpenAI provider: drop → validated → submitted → completed → registered (local runtime)', () => {
  it('runs a valid drop to a fine-tuned model and a deployment, each event once and in order', async () => {
    await drop(EXAMPLE, 'travel');
    const events = await waitForEvents((es) => !!eventOf(es, 'tunedrop.model.registered', 'travel'), 55_000);
    const mine = ofDataset(events, 'travel');
    const types = mine.map((e) => e.type);
    expect(types[0]).toBe('tunedrop.dataset.validated');
    expect(types[1]).toBe('tunedrop.run.submitted');
    expect(types.filter((t) => t === 'tunedrop.run.status_changed').length).toBeGreaterThan(0);
    expect(types.slice(-2)).toEqual(['tunedrop.run.completed', 'tunedrop.model.registered']);
    expect(new Set(mine.map((e) => e.id)).size).toBe(mine.length);
    const registered = eventOf(events, 'tunedrop.model.registered', 'travel');
    expect(registered?.data).toMatchObject({
      provider: 'azure-openai',
      model: 'gpt-4.1-mini-2025-04-14',
      modelFullName: expect.stringMatching(/^gpt-4\.1-mini-2025-04-14\.ft-[0-9a-f]{32}-travel-td[0-9a-f]{12}$/),
      deployment: { name: 'assist-travel', sku: 'Standard', capacity: 1, provisioningState: 'Succeeded' },
    });
    // The job got the manifest's hyperparameters; the file was uploaded once and is processed.
    const job = [...provider.azureOpenAI.state.jobs.values()].find(
      (j) => j.metadata?.tunedrop_run_id === registered?.subject,
    );
    expect(job).toMatchObject({
      seed: 42,
      method: { hyperparameters: { n_epochs: 2, batch_size: 2, learning_rate_multiplier: 0.1 } },
    });
    expect(provider.azureOpenAI.state.deployments.get('assist-travel')?.model.name).toBe(
      (registered?.data as { modelFullName?: string } | undefined)?.modelFullName,
    );
    // …and the model index (what /api/registered-models serves) has it with provider and deployment.
    const models = new ModelIndex(
      TableClient.fromConnectionString((runtime as LocalRuntime).host.storageConnectionString, TABLES.models, {
        allowInsecureConnection: true,
      }),
    );
    const page = await models.list({ team: 'assist' });
    expect(page.models.find((m) => m.dataset === 'travel')).toMatchObject({
      provider: 'azure-openai',
      deploymentName: 'assist-travel',
      alias: 'assist-travel',
    });
  }, 60_000);

  it('rejects an invalid drop (too few examples, a bad weight) and starts no run', async () => {
    const bad = mkdtempSync(path.join(tmpdir(), 'td-azure-bad-'));
    const rows = readFileSync(path.join(EXAMPLE, 'train.jsonl'), 'utf8').trim().split('\n').slice(0, 8);
    rows.push(rows[1]!.replace('"weight": 1', '"weight": 2'));
    writeFileSync(path.join(bad, 'train.jsonl'), `${rows.join('\n')}\n`);
    writeFileSync(path.join(bad, 'run.json'), readFileSync(path.join(EXAMPLE, 'run.json')));
    await drop(bad, 'too-few');
    const events = await waitForEvents((es) => !!eventOf(es, 'tunedrop.dataset.rejected', 'too-few'), 30_000);
    expect(eventOf(events, 'tunedrop.dataset.rejected', 'too-few')?.data).toMatchObject({
      errorSummary: { errorCounts: { too_few_examples: 1, invalid_weight: 1 } },
    });
    expect(eventOf(events, 'tunedrop.run.submitted', 'too-few')).toBeUndefined();
  }, 45_000);

  it('reports a provider failure as run.failed with the service reason', async () => {
    provider.azureOpenAI.state.failNextJob('Out of quota for Global training.', 'quotaExceeded');
    await drop(EXAMPLE, 'fails');
    const events = await waitForEvents((es) => !!eventOf(es, 'tunedrop.run.failed', 'fails'), 45_000);
    expect(eventOf(events, 'tunedrop.run.failed', 'fails')?.data).toMatchObject({
      status: 'failed',
      reason: 'quotaExceeded: Out of quota for Global training.',
    });
    expect(eventOf(events, 'tunedrop.model.registered', 'fails')).toBeUndefined();
  }, 50_000);

  it('a file the service rejects fails the run with the service reason, nothing submitted to training', async () => {
    provider.azureOpenAI.state.rejectNextFile('The file contains content that violates the responsible AI policy.');
    await drop(EXAMPLE, 'rejected-file');
    const events = await waitForEvents((es) => !!eventOf(es, 'tunedrop.run.failed', 'rejected-file'), 45_000);
    expect(
      (eventOf(events, 'tunedrop.run.failed', 'rejected-file')?.data as { reason?: string } | undefined)?.reason,
    ).toContain('responsible AI policy');
  }, 50_000);

  it('cancels a running run on the cancel event: run.cancelled, no completion', async () => {
    await drop(EXAMPLE, 'cancel');
    const submitted = await waitForEvents((es) => !!eventOf(es, 'tunedrop.run.submitted', 'cancel'), 30_000);
    const runId = eventOf(submitted, 'tunedrop.run.submitted', 'cancel')?.subject ?? '';
    const durable = (runtime as LocalRuntime).host.extensions.find((e) => e.name === 'durable') as unknown as {
      engine: { raiseEvent(id: string, name: string): Promise<void> };
    };
    await durable.engine.raiseEvent(runId, 'cancel');
    const events = await waitForEvents((es) => !!eventOf(es, 'tunedrop.run.cancelled', 'cancel'), 40_000);
    expect(eventOf(events, 'tunedrop.run.cancelled', 'cancel')?.subject).toBe(runId);
    expect(eventOf(events, 'tunedrop.run.completed', 'cancel')).toBeUndefined();
  }, 60_000);

  it('a lost create response still gives exactly one job', async () => {
    provider.azureOpenAI.state.dropResponseAfterCreate();
    await drop(EXAMPLE, 'lost');
    const events = await waitForEvents((es) => !!eventOf(es, 'tunedrop.run.completed', 'lost'), 55_000);
    const runId = eventOf(events, 'tunedrop.run.completed', 'lost')?.subject;
    const jobs = [...provider.azureOpenAI.state.jobs.values()].filter((j) => j.metadata?.tunedrop_run_id === runId);
    expect(jobs).toHaveLength(1);
  }, 60_000);

  it('restarting the runtime mid-run still completes it: no event lost, none twice', async () => {
    await drop(EXAMPLE, 'restart');
    await waitForEvents((es) => !!eventOf(es, 'tunedrop.run.status_changed', 'restart'), 30_000);
    await runtime?.stop();
    runtime = await start();
    const events = await waitForEvents((es) => !!eventOf(es, 'tunedrop.model.registered', 'restart'), 55_000);
    const mine = ofDataset(events, 'restart');
    const types = mine.map((e) => e.type);
    expect(types.filter((t) => t === 'tunedrop.run.submitted')).toHaveLength(1);
    expect(types.filter((t) => t === 'tunedrop.run.completed')).toHaveLength(1);
    expect(new Set(mine.map((e) => e.id)).size).toBe(mine.length);
  }, 60_000);
});
