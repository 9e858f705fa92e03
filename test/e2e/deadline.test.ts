import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, describe, expect, it } from 'vitest';
import { uploadDrop } from '../../cli/uploadDrop';
import { startLocalProvider } from '../../local/pipelineDemo';
import type { LocalRuntime } from '../../local/runtime';
import { CONTAINERS } from '../../shared/config/resources';
import {
  type LocalProvider,
  publishedEvents,
  REPO,
  seedExampleTeam,
  startPipelineRuntime,
  waitForEvents,
} from './support';

let provider: LocalProvider | undefined;
let runtime: LocalRuntime | undefined;

afterAll(async () => {
  await runtime?.stop();
  await provider?.stop();
});

describe('a run past its deadline', () => {
  it('is cancelled at the provider and announced as run.timed_out, never completed', async () => {
    provider = await startLocalProvider();
    runtime = await startPipelineRuntime(provider, {
      storage: 'memory',
      appSettings: {
        TUNEDROP_POLL_INITIAL_SECONDS: '1',
        TUNEDROP_POLL_MAX_SECONDS: '2',
        // 3.6 s: the emulator's run takes ~18 s, so the deadline passes while it is running.
        TUNEDROP_RUN_DEADLINE_HOURS: '0.001',
      },
    });
    await seedExampleTeam(runtime.host.storageConnectionString);
    const datasets = BlobServiceClient.fromConnectionString(runtime.host.storageConnectionString).getContainerClient(
      CONTAINERS.datasets,
    );
    await uploadDrop(datasets, path.join(REPO, 'examples', 'sql-instructions'), 'support', 'sql-deadline');
    const all = await waitForEvents((es) => es.some((e) => e.type === 'tunedrop.run.timed_out'), 60_000);
    const timedOut = all.find((e) => e.type === 'tunedrop.run.timed_out');
    expect(timedOut?.data).toMatchObject({ status: 'timed_out', reason: expect.stringContaining('cancelled') });
    const providerRun = (timedOut?.data as { providerRunName?: string } | undefined)?.providerRunName;
    await new Promise((r) => setTimeout(r, 2000));
    const snapshot = provider.emulator.state.snapshot() as { runs: { name: string; status: string }[] };
    expect(['STOPPING', 'STOPPED']).toContain(snapshot.runs.find((r) => r.name === providerRun)?.status);
    expect((await publishedEvents()).some((e) => e.type === 'tunedrop.run.completed')).toBe(false);
  }, 90_000);
});
