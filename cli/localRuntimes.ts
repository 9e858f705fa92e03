import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { z } from 'zod';

/**
 * Each running `tunedrop dev` owns one file here, named by its HTTP port (unique among running
 * instances): how to reach its API and its storage. Two runtimes on one checkout no longer
 * overwrite each other; the CLI picks the one it is told (--runtime / TUNEDROP_RUNTIME) or the only
 * live one, and never a dead one (its pid is gone or its port does not answer).
 */
export const LOCAL_RUNTIMES_DIR = path.join('.tunedrop', 'runtimes');

/** Where the runtime files are: TUNEDROP_RUNTIMES_DIR when set (tests keep theirs apart), else <root>/.tunedrop/runtimes. */
export function localRuntimesDir(root: string, env: Record<string, string | undefined> = process.env): string {
  const override = env.TUNEDROP_RUNTIMES_DIR;
  return override ? path.resolve(override) : path.join(root, LOCAL_RUNTIMES_DIR);
}

export const localRuntimeRecordSchema = z.object({
  pid: z.number().int().positive(),
  port: z.number().int().positive(),
  baseUrl: z.string().url(),
  storageConnectionString: z.string().min(1),
  /** Azurite's (and the provider emulator's) data folder; null when storage is in memory. */
  dataFolder: z.string().nullable(),
  startedAt: z.string(),
});
export type LocalRuntimeRecord = z.infer<typeof localRuntimeRecordSchema>;

export interface LocalRuntimeEntry {
  file: string;
  record: LocalRuntimeRecord;
}

export function localRuntimeFile(
  root: string,
  port: number,
  env: Record<string, string | undefined> = process.env,
): string {
  return path.join(localRuntimesDir(root, env), `${port}.json`);
}

/** Written by `tunedrop dev` once ready (mode 0600: it holds the storage connection string). */
export function writeLocalRuntimeRecord(root: string, record: LocalRuntimeRecord): string {
  const file = localRuntimeFile(root, record.port);
  mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  renameSync(temp, file);
  return file;
}

/** Removed on a clean stop, only while it is still this process's file. */
export function removeLocalRuntimeRecord(file: string, pid: number = process.pid): void {
  const entry = readEntry(file);
  if (entry && entry.record.pid === pid) rmSync(file, { force: true });
}

function readEntry(file: string): LocalRuntimeEntry | undefined {
  try {
    const parsed = localRuntimeRecordSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return parsed.success ? { file, record: parsed.data } : undefined;
  } catch {
    return undefined;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function portAnswers(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Every runtime file under root whose process is alive (pid check only: synchronous, for startup checks). */
export function runtimeRecordsWithLivePid(root: string): LocalRuntimeEntry[] {
  const dir = localRuntimesDir(root);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .map((name) => readEntry(path.join(dir, name)))
    .filter((e): e is LocalRuntimeEntry => e !== undefined && pidAlive(e.record.pid));
}

/** The running local runtimes of this checkout: pid alive and port answering. A dead one's file is removed. */
export async function liveLocalRuntimes(
  root: string,
  env: Record<string, string | undefined> = process.env,
): Promise<LocalRuntimeEntry[]> {
  const dir = localRuntimesDir(root, env);
  if (!existsSync(dir)) return [];
  const live: LocalRuntimeEntry[] = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
    const entry = readEntry(path.join(dir, name));
    if (!entry) continue;
    if (pidAlive(entry.record.pid) && (await portAnswers(entry.record.port))) live.push(entry);
    else if (!pidAlive(entry.record.pid)) rmSync(entry.file, { force: true }); // a kill -9 left it behind
  }
  return live.sort((a, b) => a.record.port - b.record.port);
}

export function describeLocalRuntime(record: LocalRuntimeRecord): string {
  return `${record.baseUrl} (pid ${record.pid}, ${record.dataFolder ? `data ${record.dataFolder}` : 'storage in memory'})`;
}

/** A CLI usage problem about which runtime to use (exit code 2). */
export class LocalRuntimeChoiceError extends Error {}

/**
 * The local runtime a CLI command talks to. `which` (--runtime or TUNEDROP_RUNTIME): a port, the
 * base URL, or the data folder. Without it: the only live runtime, none (undefined) when none runs,
 * an error naming the candidates when several do.
 */
export async function chooseLocalRuntime(
  root: string,
  which: string | undefined,
  env: Record<string, string | undefined> = process.env,
): Promise<LocalRuntimeRecord | undefined> {
  const live = await liveLocalRuntimes(root, env);
  const list = live.map((e) => `  --runtime ${e.record.port}   ${describeLocalRuntime(e.record)}`).join('\n');
  if (which !== undefined && which !== '') {
    const wanted = which.trim();
    const match = live.find(
      (e) =>
        String(e.record.port) === wanted ||
        e.record.baseUrl === wanted.replace(/\/+$/, '') ||
        (e.record.dataFolder !== null && e.record.dataFolder === path.resolve(wanted)),
    );
    if (match) return match.record;
    throw new LocalRuntimeChoiceError(
      live.length === 0
        ? `no local runtime "${wanted}" is running (none is running here: start one with \`npm start\`)`
        : `no running local runtime matches "${wanted}"; running here:\n${list}`,
    );
  }
  if (live.length <= 1) return live[0]?.record;
  throw new LocalRuntimeChoiceError(
    `${live.length} local runtimes are running here; say which with --runtime (or TUNEDROP_RUNTIME):\n${list}`,
  );
}
