/**
 * Sharded intake on the local runtime (issue 16): one generated file of varied chat text
 * (bench-data/, git-ignored) dropped through the real app — blob trigger, validateDropSharded,
 * shard activities on the durable engine, merge, finish — with 1, 2 and 4 shards (shard bytes =
 * size / N, N at once), beside the same drop validated inline. Each case runs `--reps` times,
 * the cases interleaved (inline, 1, 2, 4, inline, …) so drift in the machine's load hits them
 * alike; the table gives each case's median.
 *
 * This machine's speed per CPU-second drifts by up to ±30% between runs (a shared host): the same
 * inline drop took 9.5 and 15.3 CPU-s minutes apart. So each run is bracketed by a fixed reference
 * workload (Llama 3 token counting of the same 4 MB, 4 times, on the main thread, before and after), and
 * the table also gives CPU-s normalised to the median reference: cpu × (median ref / this run's ref).
 *
 * The measured window is from the run.json upload to the log line the validation's last step
 * writes (intake's for inline, finishShardedValidation's for sharded): both come after the report
 * and the run record are stored, and before the training run's first activity does its I/O.
 *
 *   npm run build && node --import tsx scripts/bench-sharded-intake.ts [--mb 200] [--reps 3]
 */
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
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
import { loadTokenCounter } from '../shared/datasets/tokenizers';
import type { TokenCounter } from '../shared/datasets/tokenizers/types';
import { median } from './benchStats';
import { generateChatFile } from './varied-text';

const REPO = resolve(__dirname, '..');
/** The validation's last log line: intake's (inline) or the sharded finish's. */
const FINISHED = /^(intake bench\/varied\/run\.json|sharded validation): (started|rejected)/;

interface Sample {
  seconds: number;
  cpuSeconds: number;
  /** CPU-s of the reference workload around this run (mean of before and after). */
  referenceCpuSeconds: number;
  load: number;
  rows: number;
  tokens: number;
  ok: boolean;
}

async function measure(file: string, settings: Record<string, string>): Promise<Omit<Sample, 'referenceCpuSeconds'>> {
  let finished: ((at: { time: number; cpu: NodeJS.CpuUsage }) => void) | undefined;
  const done = new Promise<{ time: number; cpu: NodeJS.CpuUsage }>((r) => {
    finished = r;
  });
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
    logger: (e: { message: string; category?: string }) => {
      if (FINISHED.test(e.message)) finished?.({ time: Date.now(), cpu: process.cpuUsage() });
      if (process.env.BENCH_TRACE)
        console.log(`${new Date().toISOString().slice(11, 23)} [${e.category ?? ''}] ${e.message.slice(0, 160)}`);
    },
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
    const end = await done;
    const seconds = (end.time - t0) / 1000;
    const cpuSeconds = (end.cpu.user - cpu0.user + end.cpu.system - cpu0.system) / 1e6 - idleRate * seconds;
    const reports = service.getContainerClient(CONTAINERS.reports);
    let found: string | undefined;
    for await (const b of reports.listBlobsFlat({ prefix: 'bench/varied/' }))
      if (b.name.endsWith('validation.json')) found = b.name;
    if (!found) throw new Error('the validation finished without a report');
    const report = JSON.parse((await reports.getBlobClient(found).downloadToBuffer()).toString('utf8'));
    return { seconds, cpuSeconds, load, rows: report.rows, tokens: report.tokens?.total, ok: report.ok };
  } finally {
    await runtime.stop();
    await provider.stop();
  }
}

/** CPU-seconds of a fixed single-threaded workload: counting `text` (4 MB of the bench file) 4 times with Llama 3. */
function referenceWorkload(counter: TokenCounter, text: string): number {
  const cpu0 = process.cpuUsage();
  let tokens = 0;
  for (let round = 0; round < 4; round++)
    for (let i = 0; i < text.length; i += 65536) tokens += counter.count(text.slice(i, i + 65536));
  const cpu = process.cpuUsage(cpu0);
  if (tokens <= 0) throw new Error('the reference workload counted no tokens');
  return (cpu.user + cpu.system) / 1e6;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { mb: { type: 'string', default: '200' }, reps: { type: 'string', default: '3' } },
  });
  const mb = Number(values.mb);
  const reps = Math.max(1, Number(values.reps));
  const dir = join(REPO, 'bench-data');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `chat-varied-${mb}mb.jsonl`);
  if (!existsSync(file)) {
    console.log(`generating ${file} …`);
    await generateChatFile(file, mb * 1e6);
  }
  const size = statSync(file).size;
  console.log(`${file}: ${(size / 1e6).toFixed(1)} MB, ${reps} rep(s) per case, interleaved`);
  const cases: { label: string; settings: Record<string, string> }[] = [
    { label: 'inline (single pass)', settings: { TUNEDROP_SHARDED_VALIDATION_MIN_BYTES: String(10 * size) } },
    ...(process.env.BENCH_TRACE ? [1] : [1, 2, 4]).map((n) => ({
      label: `sharded, ${n} shard(s)`,
      settings: {
        TUNEDROP_SHARDED_VALIDATION_MIN_BYTES: '1',
        TUNEDROP_SHARD_BYTES: String(Math.ceil(size / n)),
        TUNEDROP_SHARD_PARALLELISM: String(n),
      },
    })),
  ];
  const head = Buffer.alloc(4 * 1024 * 1024);
  const fd = openSync(file, 'r');
  readSync(fd, head, 0, head.length, 0);
  closeSync(fd);
  const referenceText = head.toString('utf8');
  const counter = await (loadTokenCounter('llama3') as Promise<TokenCounter>);
  referenceWorkload(counter, referenceText); // JIT warm-up
  const samples = new Map<string, Sample[]>(cases.map((c) => [c.label, []]));
  for (let rep = 1; rep <= reps; rep++) {
    for (const c of cases) {
      const before = referenceWorkload(counter, referenceText);
      const run = await measure(file, c.settings);
      const s = { ...run, referenceCpuSeconds: (before + referenceWorkload(counter, referenceText)) / 2 };
      samples.get(c.label)?.push(s);
      console.log(
        `  rep ${rep} ${c.label.padEnd(24)} ${s.seconds.toFixed(1).padStart(6)} s ${s.cpuSeconds.toFixed(2).padStart(6)} cpu-s ${(size / 1e6 / s.cpuSeconds).toFixed(2).padStart(6)} MB/cpu-s  rows ${s.rows} tokens ${s.tokens} ok ${s.ok}  load ${s.load.toFixed(1)}  ref ${s.referenceCpuSeconds.toFixed(3)} cpu-s`,
      );
    }
  }
  const all = [...samples.values()].flat();
  const reference = median(all.map((s) => s.referenceCpuSeconds));
  const normalised = (s: Sample) => (s.cpuSeconds * reference) / s.referenceCpuSeconds;
  const cpuOf = (label: string, f: (s: Sample) => number) => median((samples.get(label) ?? []).map(f));
  const inlineLabel = cases[0]?.label as string;
  const inlineRaw = cpuOf(inlineLabel, (s) => s.cpuSeconds);
  const inlineNormalised = cpuOf(inlineLabel, normalised);
  const sizeMb = size / 1e6;
  const vs = (cpu: number, inlineCpu: number) => {
    const change = (inlineCpu / cpu - 1) * 100;
    return `${change >= 0 ? '+' : ''}${change.toFixed(0)}%`;
  };
  console.log(
    `\nmedians of ${reps} run(s); reference workload ${reference.toFixed(3)} cpu-s (median; ${Math.min(...all.map((s) => s.referenceCpuSeconds)).toFixed(3)}–${Math.max(...all.map((s) => s.referenceCpuSeconds)).toFixed(3)})`,
  );
  console.log(
    'case | wall s | MB/s | cpu-s | MB/cpu-s | per CPU vs inline | normalised cpu-s | MB/cpu-s | per CPU vs inline',
  );
  for (const c of cases) {
    const seconds = median((samples.get(c.label) ?? []).map((s) => s.seconds));
    const raw = cpuOf(c.label, (s) => s.cpuSeconds);
    const norm = cpuOf(c.label, normalised);
    const first = c.label === inlineLabel;
    const row = [
      c.label.padEnd(24),
      seconds.toFixed(1),
      (sizeMb / seconds).toFixed(1),
      raw.toFixed(2),
      (sizeMb / raw).toFixed(2),
      first ? '—' : vs(raw, inlineRaw),
      norm.toFixed(2),
      (sizeMb / norm).toFixed(2),
      first ? '—' : vs(norm, inlineNormalised),
    ];
    console.log(row.join(' | '));
  }
  process.exit(0);
}

void main();
