import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';

/** Azurite's well-known development account (public, documented; not a secret). */
export const DEV_ACCOUNT_NAME = 'devstoreaccount1';
export const DEV_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteOptions {
  /** Keep data in memory (tests) or on disk under this folder (`npm start` uses `.tunedrop/azurite`). */
  location?: string;
  /** Fixed ports; default: free ports picked at start. */
  ports?: { blob: number; queue: number; table: number };
  /** Give up waiting for readiness after this long. */
  startTimeoutMs?: number;
}

export interface RunningAzurite {
  connectionString: string;
  endpoints: { blob: string; queue: string; table: string };
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function connectionStringFor(endpoints: RunningAzurite['endpoints']): string {
  return [
    'DefaultEndpointsProtocol=http',
    `AccountName=${DEV_ACCOUNT_NAME}`,
    `AccountKey=${DEV_ACCOUNT_KEY}`,
    `BlobEndpoint=${endpoints.blob}`,
    `QueueEndpoint=${endpoints.queue}`,
    `TableEndpoint=${endpoints.table}`,
  ].join(';');
}

/** Start Azurite (blob, queue, table) from the npm package as a child process. */
export async function startAzurite(options: AzuriteOptions = {}): Promise<RunningAzurite> {
  const ports = options.ports ?? { blob: await freePort(), queue: await freePort(), table: await freePort() };
  const args = [
    require.resolve('azurite/dist/src/azurite.js'),
    '--skipApiVersionCheck',
    '--disableTelemetry',
    '--silent',
    '--blobHost=127.0.0.1',
    '--queueHost=127.0.0.1',
    '--tableHost=127.0.0.1',
    `--blobPort=${ports.blob}`,
    `--queuePort=${ports.queue}`,
    `--tablePort=${ports.table}`,
  ];
  if (options.location) {
    mkdirSync(options.location, { recursive: true });
    args.push(`--location=${options.location}`);
  } else {
    args.push('--inMemoryPersistence');
  }
  // Azurite dies with us even on kill -9: its stdin is a pipe from this process, and a preamble
  // exits it when that pipe closes (the OS closes it whatever way this process ends).
  const [script, ...azuriteArgs] = args;
  const child = spawn(process.execPath, ['-e', exitWithParent(script ?? ''), '--', ...azuriteArgs], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  await waitUntilListening(child, options.startTimeoutMs ?? 20_000);
  const endpoints = {
    blob: `http://127.0.0.1:${ports.blob}/${DEV_ACCOUNT_NAME}`,
    queue: `http://127.0.0.1:${ports.queue}/${DEV_ACCOUNT_NAME}`,
    table: `http://127.0.0.1:${ports.table}/${DEV_ACCOUNT_NAME}`,
  };
  return { connectionString: connectionStringFor(endpoints), endpoints, stop: () => stopChild(child) };
}

/** Node code run as the child: exit when stdin (our pipe) ends, then run the Azurite CLI with its arguments. */
function exitWithParent(script: string): string {
  return [
    "process.stdin.on('end', () => process.exit(0));",
    "process.stdin.on('error', () => process.exit(0));",
    'process.stdin.resume();',
    `process.argv = [process.argv[0], ${JSON.stringify(script)}, ...process.argv.slice(process.argv[1] === '--' ? 2 : 1)];`,
    `require(${JSON.stringify(script)});`,
  ].join('\n');
}

function waitUntilListening(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const services = new Set<string>();
    const timer = setTimeout(
      () => fail(new Error(`Azurite did not start within ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      for (const m of output.matchAll(/Azurite (Blob|Queue|Table) service is successfully listening/g)) {
        services.add(m[1] ?? '');
      }
      if (services.size === 3) done();
    };
    const onExit = (code: number | null) => fail(new Error(`Azurite exited with code ${code}:\n${output}`));
    function cleanup() {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
    }
    function done() {
      cleanup();
      // Keep draining output so a chatty child never blocks on a full pipe.
      child.stdout?.resume();
      child.stderr?.resume();
      resolve();
    }
    function fail(err: Error) {
      cleanup();
      child.kill('SIGKILL');
      reject(err);
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(killTimer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
