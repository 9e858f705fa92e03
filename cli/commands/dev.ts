import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { BlobServiceClient } from '@azure/storage-blob';
import { configureTunedropApp } from '../../local/appAdapters';
import { freePort } from '../../local/azurite';
import {
  DEV_EXTENSIONS,
  describeRuntime,
  findPackageRoot,
  formatLogEntry,
  loadOrCreateHostKeys,
  readLocalSettings,
} from '../../local/dev';
import { devAuthSettings, loadOrCreateDevIdentity } from '../../local/devIdentity';
import type { HostLogEntry } from '../../local/host/host';
import { DEMO_INBOX_PORT, seedExamples, startLocalProvider, subscribeInboxToWebhooks } from '../../local/pipelineDemo';
import { type LocalRuntime, type LocalRuntimeOptions, startLocalRuntime } from '../../local/runtime';
import { startWebhookInbox, type WebhookInbox } from '../../local/webhookInbox';
import { CONTAINERS } from '../../shared/config/resources';
import { DEV_PRINCIPALS_FILE, devTokens, LOCAL_DEV_IDENTITY_FILE } from '../credentials';
import {
  describeLocalRuntime,
  removeLocalRuntimeRecord,
  runtimeRecordsWithLivePid,
  writeLocalRuntimeRecord,
} from '../localRuntimes';

const STARTUP_TARGET_MS = 3000;

const USAGE = `Usage: tunedrop dev [options]

Runs the app offline: Azurite, the local Functions host (same routes as Azure, on
http://127.0.0.1:7071/api/...), timers, blob triggers and the local extensions.

Options:
  --port <n>            HTTP port (default 7071)
  --app <dir>           app root with package.json "main" (default: the tunedrop folder; build first)
  --memory              keep storage in memory (default: on disk under <app>/.tunedrop/azurite)
  --data <dir>          data folder: Azurite's, and the provider emulator's runs in <dir>/databricks-emulator
                        (default <app>/.tunedrop/azurite)
  --keys <file>         function keys file, created if missing (default <app>/.tunedrop/host-keys.json)
  --scan-interval <ms>  blob container scan interval (default 1000)
  --inbox-port <n>      port of the webhook inbox (default 7072; 0 = any free port)
  --no-examples         do not drop the example datasets (team configurations are still loaded)
  --verbose             also print system and debug logs and every successful invocation
  --bench <n>           start and stop the runtime n times in fresh processes (in memory and on disk),
                        print the startup-to-ready medians
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
  const inboxPort = values['inbox-port'] === '0' ? 0 : positiveInt('inbox-port', values['inbox-port'], DEMO_INBOX_PORT);
  if (port instanceof Error || scanInterval instanceof Error || bench instanceof Error || inboxPort instanceof Error) {
    const err = [port, scanInterval, bench, inboxPort].find((v) => v instanceof Error) as Error;
    io.stderr.write(`tunedrop dev: ${err.message}\n`);
    return 2;
  }

  const verbose = Boolean(values.verbose);
  const logger = (entry: HostLogEntry) => {
    if (!verbose && (entry.category === 'system' || entry.level === 'debug' || entry.level === 'trace')) return;
    // Every orchestration replay is an invocation; without --verbose only failures are worth a line.
    if (!verbose && entry.category === 'host' && /^Executed '.*\(Succeeded,/.test(entry.message)) return;
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
  const dataFolder = values.memory
    ? undefined
    : path.resolve(values.data ?? path.join(appRoot, '.tunedrop', 'azurite'));
  // One runtime per data folder: two Azurites on one folder would overwrite each other's data.
  const sharing = dataFolder
    ? runtimeRecordsWithLivePid(appRoot).find((e) => e.record.dataFolder === dataFolder && e.record.pid !== process.pid)
    : undefined;
  if (sharing) {
    io.stderr.write(
      `tunedrop dev: the data folder ${dataFolder} is in use by the runtime at ${describeLocalRuntime(sharing.record)}; stop it or pass another --data\n`,
    );
    return 2;
  }
  // The provider emulator keeps its runs beside the storage they belong to, so a restart resumes them.
  const provider =
    bench === undefined && !values['measure-once']
      ? await startLocalProvider({
          stateDir: dataFolder && path.join(dataFolder, 'databricks-emulator'),
          holdFirstCreate: process.env.TUNEDROP_DEV_EMULATOR_HOLD_CREATE === '1',
          log: (line) => io.stdout.write(`${line}\n`),
        })
      : undefined;
  const appSettings: Record<string, string> = { ...provider?.appSettings };
  for (const [name, value] of Object.entries(settings)) appSettings[name] = value;
  for (const name of Object.keys(appSettings)) {
    const fromEnv = process.env[name];
    if (fromEnv !== undefined) appSettings[name] = fromEnv;
  }

  // The API trusts the local dev issuer as its tenant (unless the environment names a real one).
  const identity = loadOrCreateDevIdentity(path.join(appRoot, LOCAL_DEV_IDENTITY_FILE));
  for (const [name, value] of Object.entries(devAuthSettings(identity))) {
    if (process.env[name] === undefined && settings[name] === undefined) appSettings[name] = value;
  }

  const keysFile = path.resolve(values.keys ?? path.join(appRoot, '.tunedrop', 'host-keys.json'));
  const keys = loadOrCreateHostKeys(keysFile);
  const base: Omit<LocalRuntimeOptions, 'storage' | 'port'> = {
    appRoot,
    keys,
    extensions: DEV_EXTENSIONS,
    configureApp: configureTunedropApp,
    blobScanIntervalMs: scanInterval,
    appSettings,
    environment: process.env,
  };

  if (bench !== undefined) return runBench(bench, appRoot, keysFile, io);

  const storage: LocalRuntimeOptions['storage'] = dataFolder ? { location: dataFolder } : 'memory';
  let runtime: LocalRuntime;
  try {
    runtime = await startLocalRuntime({ ...base, storage, port, logger });
  } catch (err) {
    await provider?.stop();
    io.stderr.write(`tunedrop dev: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  if (values['measure-once']) {
    const measurement: Measurement = {
      sinceProcessStartMs: performance.now(),
      appLoadMs: runtime.startup.appLoadMs,
      storageMs: runtime.startup.storageMs,
      hostMs: runtime.startup.hostMs,
    };
    await runtime.stop();
    io.stdout.write(`${JSON.stringify(measurement)}\n`);
    return 0;
  }
  io.stdout.write(`${describeRuntime(runtime, path.relative(process.cwd(), keysFile) || keysFile)}\n`);
  io.stdout.write(
    `API identity: dev issuer ${identity.issuer} (audience ${identity.audience}); principals in ${DEV_PRINCIPALS_FILE}.\n` +
      '  tunedrop runs list --as support-reader    curl -H "authorization: Bearer $(npx tunedrop token ops-admin)" …\n\n',
  );
  let inbox: WebhookInbox | undefined;
  let runtimeFile: string | undefined;
  if (provider) {
    io.stdout.write(
      `Training providers (emulators): Databricks Foundation Model Fine-tuning stand-in at ${provider.emulator.url} (team support); ` +
        `Azure OpenAI fine-tuning stand-in at ${provider.azureOpenAI.url} (team assist)\n\n`,
    );
    const storageConnectionString = runtime.host.storageConnectionString;
    // Storage tools (Storage Explorer, az, azcopy) can upload to a fresh runtime without `tunedrop submit`.
    await BlobServiceClient.fromConnectionString(storageConnectionString)
      .getContainerClient(CONTAINERS.datasets)
      .createIfNotExists()
      .catch((err: unknown) =>
        io.stderr.write(
          `tunedrop dev: could not create the datasets container: ${err instanceof Error ? err.message : String(err)}\n`,
        ),
      );
    // This instance's own file (named by its port): the CLI finds it there, and it never overwrites another's.
    runtimeFile = writeLocalRuntimeRecord(appRoot, {
      pid: process.pid,
      port: Number(new URL(runtime.host.baseUrl).port),
      baseUrl: runtime.host.baseUrl,
      storageConnectionString,
      dataFolder: dataFolder ?? null,
      startedAt: new Date().toISOString(),
    });
    io.stdout.write(`Runtime file: ${path.relative(process.cwd(), runtimeFile) || runtimeFile}\n`);
    inbox = await startWebhookInbox({ port: inboxPort, log: (line) => io.stdout.write(`${line}\n`) }).catch(
      (err: unknown) => {
        io.stderr.write(
          `tunedrop dev: no webhook inbox on 127.0.0.1:${inboxPort} (${err instanceof Error ? err.message : String(err)}); Teams/Slack/webhook deliveries to it will be retried and then dead-lettered\n`,
        );
        return undefined;
      },
    );
    try {
      await seedExamples(storageConnectionString, path.join(appRoot, 'examples'), {
        drop: !values['no-examples'],
        log: (line) => io.stdout.write(`${line}\n`),
        beforeDrops: async () => {
          if (!inbox) return;
          io.stdout.write(`webhook inbox ${inbox.url}/inbox/{webhooks,teams,slack}/{name} (verifies signatures)\n`);
          const hook = await subscribeInboxToWebhooks(
            { baseUrl: runtime.host.baseUrl, token: devTokens(appRoot, 'support-admin') },
            inbox,
          );
          io.stdout.write(`webhook subscription ${hook.id} (team support, every event) → ${hook.url}\n`);
        },
      });
    } catch (err) {
      io.stderr.write(
        `tunedrop dev: could not load the examples: ${err instanceof Error ? err.message : String(err)}\n`,
      );
    }
  }

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  io.stdout.write(`\n${signal}: stopping…\n`);
  // A second Ctrl-C while shutting down exits at once.
  process.once('SIGINT', () => process.exit(130));
  if (runtimeFile) removeLocalRuntimeRecord(runtimeFile);
  try {
    await runtime.stop();
    await inbox?.stop();
    await provider?.stop();
  } catch (err) {
    io.stderr.write(`tunedrop dev: stop failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  io.stdout.write('stopped.\n');
  return 0;
}

interface Measurement {
  sinceProcessStartMs: number;
  appLoadMs: number;
  storageMs: number;
  hostMs: number;
}

/**
 * Each run is a fresh `tunedrop dev --measure-once` process, so module loading is cold as in a real
 * `npm start`; the child reports ready time since its own process start and the runtime's breakdown.
 */
async function runBench(runs: number, appRoot: string, keysFile: string, io: DevIo): Promise<number> {
  const cli = process.argv[1];
  if (!cli) {
    io.stderr.write('tunedrop dev --bench: cannot tell which CLI script is running\n');
    return 2;
  }
  for (const mode of ['memory', 'disk'] as const) {
    const totals: number[] = [];
    for (let i = 0; i < runs; i++) {
      const folder = mode === 'disk' ? mkdtempSync(path.join(tmpdir(), 'tunedrop-bench-')) : undefined;
      try {
        const args = [
          cli,
          'dev',
          '--measure-once',
          '--app',
          appRoot,
          '--keys',
          keysFile,
          '--port',
          String(await freePort()),
        ];
        args.push(...(folder ? ['--data', folder] : ['--memory']));
        const child = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000 });
        const line = child.stdout.split('\n').find((l) => l.startsWith('{'));
        if (child.status !== 0 || !line) {
          io.stderr.write(`tunedrop dev --bench: run failed:\n${child.stderr || child.stdout}\n`);
          return 1;
        }
        const m = JSON.parse(line) as Measurement;
        totals.push(m.sinceProcessStartMs);
        io.stdout.write(
          `  ${mode} run ${i + 1}: ${Math.round(m.sinceProcessStartMs)} ms from process start (storage ${Math.round(m.storageMs)}, app load ${Math.round(m.appLoadMs)}, host ${Math.round(m.hostMs)})\n`,
        );
      } finally {
        if (folder) rmSync(folder, { recursive: true, force: true });
      }
    }
    const sorted = [...totals].sort((a, b) => a - b);
    const median = sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
    const verdict = median <= STARTUP_TARGET_MS ? 'within' : 'OVER';
    io.stdout.write(
      `startup to ready (${mode} storage): median ${Math.round(median)} ms over ${runs} runs (min ${Math.round(sorted[0] ?? 0)}, max ${Math.round(sorted.at(-1) ?? 0)}) — ${verdict} the ${STARTUP_TARGET_MS} ms target\n`,
    );
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
      'measure-once': { type: 'boolean' },
      'no-examples': { type: 'boolean' },
      'inbox-port': { type: 'string' },
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
