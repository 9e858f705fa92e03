import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEV_EXTENSIONS,
  describeRuntime,
  findPackageRoot,
  formatLogEntry,
  loadOrCreateHostKeys,
  readLocalSettings,
} from '../../local/dev';
import type { HostLogEntry } from '../../local/host/host';
import { type LocalRuntime, type LocalRuntimeOptions, startLocalRuntime } from '../../local/runtime';

const STARTUP_TARGET_MS = 3000;

const USAGE = `Usage: tunedrop dev [options]

Runs the app offline: Azurite, the local Functions host (same routes as Azure, on
http://127.0.0.1:7071/api/...), timers, blob triggers and the local extensions.

Options:
  --port <n>            HTTP port (default 7071)
  --app <dir>           app root with package.json "main" (default: the tunedrop folder; build first)
  --memory              keep storage in memory (default: on disk under <app>/.tunedrop/azurite)
  --data <dir>          Azurite data folder (default <app>/.tunedrop/azurite)
  --keys <file>         function keys file, created if missing (default <app>/.tunedrop/host-keys.json)
  --scan-interval <ms>  blob container scan interval (default 1000)
  --verbose             also print system and debug logs
  --bench <n>           start and stop the runtime n times (in memory and on disk), print startup medians
  -h, --help            show this help
`;

interface DevIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export async function run(args: string[], io: DevIo = process): Promise<number> {
  let values: ReturnType<typeof parse>;
  try {
    values = parse(args);
  } catch (err) {
    io.stderr.write(`tunedrop dev: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const appRoot = path.resolve(values.app ?? findPackageRoot(__dirname));
  const port = positiveInt('port', values.port, 7071);
  const scanInterval = positiveInt('scan-interval', values['scan-interval'], 1000);
  const bench = values.bench === undefined ? undefined : positiveInt('bench', values.bench, 1);
  if (port instanceof Error || scanInterval instanceof Error || bench instanceof Error) {
    const err = [port, scanInterval, bench].find((v) => v instanceof Error) as Error;
    io.stderr.write(`tunedrop dev: ${err.message}\n`);
    return 2;
  }

  const verbose = Boolean(values.verbose);
  const logger = (entry: HostLogEntry) => {
    if (!verbose && (entry.category === 'system' || entry.level === 'debug' || entry.level === 'trace')) return;
    const stream = entry.level === 'error' || entry.level === 'critical' ? io.stderr : io.stdout;
    stream.write(`${formatLogEntry(entry)}\n`);
  };

  let settings: Record<string, string>;
  try {
    settings = readLocalSettings(appRoot);
  } catch (err) {
    io.stderr.write(`tunedrop dev: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  // As Core Tools: local.settings.json never overrides a variable already set in the environment.
  const appSettings: Record<string, string> = { TUNEDROP_MODE: 'local' };
  for (const [name, value] of Object.entries(settings)) appSettings[name] = value;
  for (const name of Object.keys(appSettings)) {
    const fromEnv = process.env[name];
    if (fromEnv !== undefined) appSettings[name] = fromEnv;
  }

  const keysFile = path.resolve(values.keys ?? path.join(appRoot, '.tunedrop', 'host-keys.json'));
  const base: Omit<LocalRuntimeOptions, 'storage' | 'port'> = {
    appRoot,
    keys: loadOrCreateHostKeys(keysFile),
    extensions: DEV_EXTENSIONS,
    blobScanIntervalMs: scanInterval,
    appSettings,
    environment: process.env,
  };

  if (bench !== undefined) return runBench(bench, base, io);

  const storage: LocalRuntimeOptions['storage'] = values.memory
    ? 'memory'
    : { location: path.resolve(values.data ?? path.join(appRoot, '.tunedrop', 'azurite')) };
  let runtime: LocalRuntime;
  try {
    runtime = await startLocalRuntime({ ...base, storage, port, logger });
  } catch (err) {
    io.stderr.write(`tunedrop dev: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  io.stdout.write(`${describeRuntime(runtime, path.relative(process.cwd(), keysFile) || keysFile)}\n`);

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  io.stdout.write(`\n${signal}: stopping…\n`);
  // A second Ctrl-C while shutting down exits at once.
  process.once('SIGINT', () => process.exit(130));
  try {
    await runtime.stop();
  } catch (err) {
    io.stderr.write(`tunedrop dev: stop failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  io.stdout.write('stopped.\n');
  return 0;
}

async function runBench(runs: number, base: Omit<LocalRuntimeOptions, 'storage' | 'port'>, io: DevIo): Promise<number> {
  const report = (label: string, totals: number[]) => {
    const sorted = [...totals].sort((a, b) => a - b);
    const median = sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
    const verdict = median <= STARTUP_TARGET_MS ? 'within' : 'OVER';
    io.stdout.write(
      `${label}: median ${Math.round(median)} ms over ${runs} runs (min ${Math.round(sorted[0] ?? 0)}, max ${Math.round(sorted.at(-1) ?? 0)}) — ${verdict} the ${STARTUP_TARGET_MS} ms target\n`,
    );
  };
  for (const mode of ['memory', 'disk'] as const) {
    const totals: number[] = [];
    for (let i = 0; i < runs; i++) {
      const folder = mode === 'disk' ? mkdtempSync(path.join(tmpdir(), 'tunedrop-bench-')) : undefined;
      try {
        const runtime = await startLocalRuntime({
          ...base,
          storage: folder ? { location: folder } : 'memory',
          port: 0,
        });
        totals.push(runtime.startup.totalMs);
        io.stdout.write(
          `  ${mode} run ${i + 1}: ${Math.round(runtime.startup.totalMs)} ms (storage ${Math.round(runtime.startup.storageMs)}, host ${Math.round(runtime.startup.hostMs)})\n`,
        );
        await runtime.stop();
      } catch (err) {
        io.stderr.write(`tunedrop dev --bench: ${err instanceof Error ? err.message : String(err)}\n`);
        return 1;
      } finally {
        if (folder) rmSync(folder, { recursive: true, force: true });
      }
    }
    report(`startup to ready (${mode} storage)`, totals);
  }
  return 0;
}

function parse(args: string[]) {
  return parseArgs({
    args,
    options: {
      port: { type: 'string' },
      app: { type: 'string' },
      memory: { type: 'boolean' },
      data: { type: 'string' },
      keys: { type: 'string' },
      'scan-interval': { type: 'string' },
      verbose: { type: 'boolean' },
      bench: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: false,
  }).values;
}

function positiveInt(name: string, value: string | undefined, fallback: number): number | Error {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) return new Error(`--${name} must be a positive integer, got "${value}"`);
  return n;
}
