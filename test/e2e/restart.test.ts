import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, describe, expect, it } from 'vitest';
import { uploadDrop } from '../../cli/uploadDrop';
import { freePort } from '../../local/azurite';
import { startLocalProvider } from '../../local/pipelineDemo';
import type { LocalRuntime } from '../../local/runtime';
import { CONTAINERS } from '../../shared/config/resources';
import { type LocalProvider, REPO, seedExampleTeam, startPipelineRuntime, waitForEvents } from './support';

const data = mkdtempSync(path.join(tmpdir(), 'td-restart-'));
let provider: LocalProvider | undefined;
let runtime: LocalRuntime | undefined;

afterAll(async () => {
  await runtime?.stop();
  await provider?.stop();
  rmSync(data, { recursive: true, force: true });
});

describe('the runtime stopped and started again mid-run', () => {
  it('still completes the run: no event lost, none published twice', async () => {
    const port = await freePort();
    const azuritePorts = { blob: await freePort(), queue: await freePort(), table: await freePort() };
    provider = await startLocalProvider();
    const start = () =>
      startPipelineRuntime(provider as LocalProvider, {
        storage: { location: data },
        port,
        azuritePorts,
        appSettings: { TUNEDROP_POLL_INITIAL_SECONDS: '1', TUNEDROP_POLL_MAX_SECONDS: '2' },
      });
    runtime = await start();
    await seedExampleTeam(runtime.host.storageConnectionString);
    const datasets = BlobServiceClient.fromConnectionString(runtime.host.storageConnectionString).getContainerClient(
      CONTAINERS.datasets,
    );
    await uploadDrop(datasets, path.join(REPO, 'examples', 'sql-instructions'), 'support', 'sql-restart');
    await waitForEvents((es) => es.some((e) => e.type === 'tunedrop.run.status_changed'), 30_000);
    await runtime.stop();
    runtime = undefined;

    runtime = await start();
    const all = await waitForEvents((es) => es.some((e) => e.type === 'tunedrop.model.registered'), 90_000);
    const types = all.map((e) => e.type);
    expect(types[0]).toBe('tunedrop.dataset.validated');
    expect(types.filter((t) => t === 'tunedrop.run.submitted')).toHaveLength(1);
    expect(types.filter((t) => t === 'tunedrop.run.completed')).toHaveLength(1);
    expect(types.at(-1)).toBe('tunedrop.model.registered');
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    const changes = all
      .filter((e) => e.type === 'tunedrop.run.status_changed')
      .map((e) => e.data as { sequence: number });
    expect(changes.map((c) => c.sequence)).toEqual(changes.map((_, i) => i + 1));
  }, 150_000);
});
