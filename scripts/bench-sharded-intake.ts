/**
 * Sharded intake on the local runtime (issue 16): one generated file of varied chat text
 * (bench-data/, git-ignored) dropped through the real app — blob trigger, validateDropSharded,
 * shard activities on the durable engine, merge, finish — with 1, 2 and 4 shards (shard bytes =
 * size / N, N at once), beside the same drop validated inline. Wall time from the run.json upload
 * to the report in storage.
 *
 *   npm run build && node --import tsx scripts/bench-sharded-intake.ts [--mb 200]
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BlobServiceClient } from '@azure/storage-blob';
import { configureTunedropApp } from '../local/appAdapters';
import { freePort } from '../local/azurite';
import { DEV_EXTENSIONS } from '../local/dev';
import { startLocalProvider } from '../local/pipelineDemo';
import { startLocalRuntime } from '../local/runtime';
import { CONTAINERS } from '../shared/config/resources';
import { generateChatFile } from './varied-text';

const REPO = resolve(__dirname, '..');

async function measure(file: string, size: number, label: string, settings: Record<string, string>): Promise<void> {
  const provider = await startLocalProvider();
  const runtime = await startLocalRuntime({
    appRoot: REPO,
    storage: 'memory',
    port: await freePort(),
    extensions: DEV_EXTENSIONS,
    keys: { master: 'bench-master-key-0123456789', host: [], functions: {} },
    blobScanIntervalMs: 200,
    appSettings: { ...provider.appSettings, ...settings },
    configureApp: configureTunedropApp,
    environment: process.env,
    ...(process.env.BENCH_TRACE
      ? {
          logger: (e: { message: string; category?: string }) =>
            console.log(`${new Date().toISOString().slice(11, 23)} [${e.category ?? ''}] ${e.message.slice(0, 160)}`),
        }
      : {}),
  });
  try {
    const service = BlobServiceClient.fromConnectionString(runtime.host.storageConnectionString);
    const config = service.getContainerClient(CONTAINERS.config);
    await config.createIfNotExists();
    const team = JSON.stringify({
      team: 'bench',
      allowedModels: ['*'],
      allowedRegisterTo: ['ml.bench'],
      defaults: { registerTo: 'ml.bench' },
      maxDataFileBytes: 10 * 1024 ** 3,
    });
    await config.getBlockBlobClient('teams/bench.json').upload(team, Buffer.byteLength(team));
    const datasets = service.getContainerClient(CONTAINERS.datasets);
    await datasets.createIfNotExists();
    await datasets.getBlockBlobClient('bench/varied/train.jsonl').uploadFile(file);
    const manifest = JSON.stringify({
      model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
      task: 'chat',
      train: 'train.jsonl',
      contextLength: 4096,
    });
    // The runtime's own background work (blob scans, the engine's and the bus's polls) while idle,
    // per second: subtracted below, as it grows with wall time on a loaded machine.
    const idle0 = process.cpuUsage();
    const idleStart = Date.now();
    await new Promise((r) => setTimeout(r, 5000));
    const idle = process.cpuUsage(idle0);
    const idleRate = (idle.user + idle.system) / 1e6 / ((Date.now() - idleStart) / 1000);
    const load = loadavg()[0] ?? 0;
    const t0 = Date.now();
    // CPU of this process, all threads (the app, the durable engine, validation workers; Azurite
    // is a child process and not counted): the figure that still means something on a loaded machine.
    const cpu0 = process.cpuUsage();
    await datasets.getBlockBlobClient('bench/varied/run.json').upload(manifest, Buffer.byteLength(manifest));
    const reports = service.getContainerClient(CONTAINERS.reports);
    for (;;) {
      let found: string | undefined;
      for await (const b of reports.listBlobsFlat({ prefix: 'bench/varied/' }))
        if (b.name.endsWith('validation.json')) found = b.name;
      if (found) {
        const report = JSON.parse((await reports.getBlobClient(found).downloadToBuffer()).toString('utf8'));
        const seconds = (Date.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        const cpuSeconds = (cpu.user + cpu.system) / 1e6 - idleRate * seconds;
        console.log(
          `${label.padEnd(28)} ${seconds.toFixed(1).padStart(7)} s ${(size / 1e6 / seconds).toFixed(2).padStart(7)} MB/s ${cpuSeconds.toFixed(1).padStart(6)} cpu-s ${(size / 1e6 / cpuSeconds).toFixed(2).padStart(6)} MB/cpu-s (idle ${idleRate.toFixed(2)} cpu-s/s subtracted)  rows ${report.rows} tokens ${report.tokens?.total} ok ${report.ok}  load ${load.toFixed(1)}→${(loadavg()[0] ?? 0).toFixed(1)}`,
        );
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await runtime.stop();
    await provider.stop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { mb: { type: 'string', default: '200' } } });
  const mb = Number(values.mb);
  const dir = join(REPO, 'bench-data');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `chat-varied-${mb}mb.jsonl`);
  if (!existsSync(file)) {
    console.log(`generating ${file} …`);
    await generateChatFile(file, mb * 1e6);
  }
  const size = statSync(file).size;
  console.log(`${file}: ${(size / 1e6).toFixed(1)} MB`);
  if (!process.env.BENCH_TRACE)
    await measure(file, size, 'inline (single pass)', { TUNEDROP_SHARDED_VALIDATION_MIN_BYTES: String(10 * size) });
  for (const n of process.env.BENCH_TRACE ? [1] : [1, 2, 4]) {
    await measure(file, size, `sharded, ${n} shard(s)`, {
      TUNEDROP_SHARDED_VALIDATION_MIN_BYTES: '1',
      TUNEDROP_SHARD_BYTES: String(Math.ceil(size / n)),
      TUNEDROP_SHARD_PARALLELISM: String(n),
    });
  }
  process.exit(0);
}

void main();
