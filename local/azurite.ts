import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';

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
  /** How long to wait for an earlier Azurite on the same folder to finish writing and exit (default 20 s). */
  previousExitTimeoutMs?: number;
  /** Start Azurite again (same ports, same folder) when it exits on its own; `tunedrop dev` does with --data. */
  restartOnExit?: boolean;
  /** Lines about restarts. */
  log?: (line: string) => void;
}

/** In the data folder: the pid of the Azurite that has it open, so a second one waits instead of overwriting. */
export const AZURITE_PID_FILE = 'tunedrop-azurite.pid';

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
    await waitForPreviousAzurite(options.location, options.previousExitTimeoutMs ?? 20_000);
    args.push(`--location=${options.location}`);
  } else {
    args.push('--inMemoryPersistence');
  }
  // Azurite dies with us even on kill -9: its stdin is a pipe from this process, and a preamble
  // exits it when that pipe closes (the OS closes it whatever way this process ends).
  const [script, ...azuriteArgs] = args;
  const pidFile = options.location ? path.join(options.location, AZURITE_PID_FILE) : undefined;
  const launch = async (): Promise<ChildProcess> => {
    const started = spawn(process.execPath, ['-e', exitWithParent(script ?? ''), '--', ...azuriteArgs], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    if (pidFile && started.pid) writeFileSync(pidFile, `${started.pid}\n`);
    await waitUntilListening(started, options.startTimeoutMs ?? 20_000);
    return started;
  };
  let child = await launch();
  let stopping = false;
  let restarting: Promise<void> | undefined;
  // Kept data survives a crash of Azurite itself: start it again on the same ports and folder, so
  // the runtime's connection string stays valid and its retrying loops find storage back.
  const supervise = (watched: ChildProcess) => {
    watched.once('exit', (code, signal) => {
      if (stopping || !options.restartOnExit) return;
      options.log?.(
        `Azurite exited unexpectedly (${signal ?? `code ${code}`}); starting it again on the same ports and data`,
      );
      restarting = (async () => {
        for (let attempt = 1; !stopping; attempt++) {
          await new Promise((resolve) => setTimeout(resolve, Math.min(1_000 * attempt, 10_000)));
          if (stopping) return;
          try {
            child = await launch();
            if (stopping) {
              await stopChild(child);
              return;
            }
            supervise(child);
            options.log?.(`Azurite is back (attempt ${attempt})`);
            return;
          } catch (err) {
            options.log?.(
              `Azurite did not start again (attempt ${attempt}): ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
            );
          }
        }
      })().finally(() => {
        restarting = undefined;
      });
    });
  };
  supervise(child);
  const endpoints = {
    blob: `http://127.0.0.1:${ports.blob}/${DEV_ACCOUNT_NAME}`,
    queue: `http://127.0.0.1:${ports.queue}/${DEV_ACCOUNT_NAME}`,
    table: `http://127.0.0.1:${ports.table}/${DEV_ACCOUNT_NAME}`,
  };
  return {
    connectionString: connectionStringFor(endpoints),
    endpoints,
    stop: async () => {
      stopping = true;
      await restarting;
      await stopChild(child);
      if (pidFile && readPid(pidFile) === child.pid) rmSync(pidFile, { force: true });
    },
  };
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Alive and (where /proc tells) still an Azurite: a reused pid is not waited for. */
function azuriteAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync(cmdline)) return true;
  try {
    return readFileSync(cmdline, 'utf8').includes('azurite');
  } catch {
    return false;
  }
}

/**
 * The Azurite of a runtime that was killed (kill -9) still flushes its data when it notices its
 * parent is gone; starting another on the same folder before it exits would load stale files and
 * later be overwritten. Wait for it (polling its pid: it is not our child), then refuse.
 */
async function waitForPreviousAzurite(location: string, timeoutMs: number): Promise<void> {
  const pid = readPid(path.join(location, AZURITE_PID_FILE));
  if (pid === undefined || pid === process.pid) return;
  const deadline = Date.now() + timeoutMs;
  while (azuriteAlive(pid)) {
    if (Date.now() > deadline) {
      throw new Error(
        `the data folder ${location} is still in use by Azurite (pid ${pid}); stop it or use another folder`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Node code run as the child: when stdin (our pipe) ends, shut Azurite down as on SIGTERM — its
 * servers close and its databases are saved (they are otherwise written every 5 s, so a plain
 * exit would lose the last seconds of writes) — and exit at the latest 10 s later; then run the
 * Azurite CLI with its arguments.
 */
function exitWithParent(script: string): string {
  const shutdown = "() => { setTimeout(() => process.exit(0), 10000).unref(); process.kill(process.pid, 'SIGTERM'); }";
  return [
    // Our end of its stdout/stderr is gone too: writing there (Azurite logs its shutdown) must not crash it mid-save.
    "process.stdout.on('error', () => {});",
    "process.stderr.on('error', () => {});",
    // On SIGTERM/SIGINT Azurite closes its servers and saves; our stdin must not keep the process alive after that.
    "for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => { process.stdin.destroy(); setTimeout(() => process.exit(0), 10000).unref(); });",
    `process.stdin.on('end', ${shutdown});`,
    `process.stdin.on('error', ${shutdown});`,
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
