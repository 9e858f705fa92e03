import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, describe, expect, it } from 'vitest';
import { CONTAINERS } from '../../shared/config/resources';
import type { TunedropEvent } from '../../shared/events';
import { freePort } from '../../shared/local/azurite';
import { DEV_EXTENSIONS } from '../../shared/local/dev';
import { seedExamples, startLocalProvider } from '../../shared/local/pipelineDemo';
import { type LocalRuntime, startLocalRuntime } from '../../shared/local/runtime';
import { activeStandIn } from '../../shared/local/servicebus/active';
import { uploadDrop } from '../../shared/pipeline/submit';

const REPO = path.resolve(__dirname, '..', '..');
const data = mkdtempSync(path.join(tmpdir(), 'td-deadline-'));
let provider: Awaited<ReturnType<typeof startLocalProvider>> | undefined;
let runtime: LocalRuntime | undefined;

async function start(
  port: number,
  azuritePorts: { blob: number; queue: number; table: number },
): Promise<LocalRuntime> {
  provider ??= await startLocalProvider();
  return startLocalRuntime({
    appRoot: REPO,
    storage: { location: data },
    azuritePorts,
    port,
    extensions: DEV_EXTENSIONS,
    keys: { master: 'e2e-master-key-0123456789', host: [], functions: {} },
    blobScanIntervalMs: 200,
    appSettings: {
      TUNEDROP_MODE: 'local',
      ...provider.appSettings,
      TUNEDROP_POLL_INITIAL_SECONDS: '1',
      TUNEDROP_POLL_MAX_SECONDS: '2',
      // 3.6 s: the emulator's run takes ~18 s, so the deadline passes while it is running.
      TUNEDROP_RUN_DEADLINE_HOURS: '0.001',
    },
    environment: process.env,
  });
}

async function events(): Promise<TunedropEvent[]> {
  return (await activeStandIn().peek('webhooks')).map(
    (m) => (typeof m.body === 'string' ? JSON.parse(m.body) : m.body) as TunedropEvent,
  );
}

async function waitFor(predicate: (es: TunedropEvent[]) => boolean, timeoutMs: number): Promise<TunedropEvent[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const es = await events();
    if (predicate(es)) return es;
    if (Date.now() > deadline) throw new Error(`timed out; saw ${es.map((e) => e.type).join(', ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

afterAll(async () => {
  await runtime?.stop();
  await provider?.emulator.stop();
  rmSync(data, { recursive: true, force: true });
});

describe('a run past its deadline', () => {
  it('is cancelled at the provider and announced as run.timed_out, never completed', async () => {
    const port = await freePort();
    const azuritePorts = { blob: await freePort(), queue: await freePort(), table: await freePort() };
    runtime = await start(port, azuritePorts);
    await seedExamples(runtime.host.storageConnectionString, path.join(REPO, 'examples'), {
      drop: false,
      log: () => {},
    });
    const datasets = BlobServiceClient.fromConnectionString(runtime.host.storageConnectionString).getContainerClient(
      CONTAINERS.datasets,
    );
    await uploadDrop(datasets, path.join(REPO, 'examples', 'sql-instructions'), 'support', 'sql-deadline');
    const all = await waitFor((es) => es.some((e) => e.type === 'tunedrop.run.timed_out'), 60_000);
    const timedOut = all.find((e) => e.type === 'tunedrop.run.timed_out');
    expect(timedOut?.data).toMatchObject({ status: 'timed_out', reason: expect.stringContaining('cancelled') });
    const providerRun = (timedOut?.data as { providerRunName?: string } | undefined)?.providerRunName;
    await new Promise((r) => setTimeout(r, 2000));
    const snapshot = provider?.emulator.state.snapshot() as { runs: { name: string; status: string }[] };
    expect(['STOPPING', 'STOPPED']).toContain(snapshot.runs.find((r) => r.name === providerRun)?.status);
    expect((await events()).some((e) => e.type === 'tunedrop.run.completed')).toBe(false);
  }, 90_000);
});
