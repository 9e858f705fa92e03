import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localRuntimeFile } from '../../cli/localRuntimes';
import { freePort } from '../../local/azurite';
import { CONTAINERS } from '../../shared/config/resources';
import { DevProcess } from './devProcess';
import { REPO } from './support';

/**
 * Issue 12 item 5: each runtime instance owns its state file. Two `tunedrop dev` on one checkout,
 * each with its own data folder; CLI calls reach the one they name, never guess between two, and
 * never pick a dead one.
 */
const ROOT = path.join(REPO, '.tunedrop', `e2e-two-${process.pid}`);
const DATA_A = path.join(ROOT, 'a');
const DATA_B = path.join(ROOT, 'b');
/** Runtime files of this test's runtimes only: other test files' runtimes and a developer's `npm start` stay out. */
const RUNTIMES = path.join(ROOT, 'runtimes');
let a: DevProcess | undefined;
let b: DevProcess | undefined;

function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const inherited = { ...process.env };
    for (const name of [
      'TUNEDROP_API_URL',
      'TUNEDROP_RUNTIME',
      'TUNEDROP_API_KEY',
      'TUNEDROP_AS',
      'AzureWebJobsStorage',
    ]) {
      delete inherited[name];
    }
    const child = spawn(process.execPath, [path.join(REPO, 'bin', 'tunedrop.js'), ...args], {
      cwd: REPO,
      env: { ...inherited, TUNEDROP_RUNTIMES_DIR: RUNTIMES, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function devArgs(data: string): string[] {
  return ['--data', data, '--keys', path.join(ROOT, 'host-keys.json'), '--no-examples'];
}

beforeAll(async () => {
  rmSync(ROOT, { recursive: true, force: true });
  mkdirSync(ROOT, { recursive: true });
  [a, b] = await Promise.all([
    DevProcess.start({ port: await freePort(), runtimesDir: RUNTIMES, args: devArgs(DATA_A) }),
    DevProcess.start({ port: await freePort(), runtimesDir: RUNTIMES, args: devArgs(DATA_B) }),
  ]);
}, 90_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  rmSync(ROOT, { recursive: true, force: true });
});

describe('two local runtimes on one checkout', () => {
  it('each owns its runtime file', () => {
    const ra = (a as DevProcess).record();
    const rb = (b as DevProcess).record();
    expect(ra.pid).toBe((a as DevProcess).pid);
    expect(rb.pid).toBe((b as DevProcess).pid);
    expect(ra.dataFolder).toBe(DATA_A);
    expect(rb.dataFolder).toBe(DATA_B);
    expect(ra.storageConnectionString).not.toBe(rb.storageConnectionString);
  });

  it('a CLI call that names none is refused, naming both candidates', async () => {
    const res = await cli(['runs', 'list', '--json']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('local runtimes are running here');
    expect(res.stderr).toContain(`--runtime ${(a as DevProcess).port}`);
    expect(res.stderr).toContain(`--runtime ${(b as DevProcess).port}`);
    const submit = await cli(['submit', path.join(REPO, 'examples', 'sql-instructions'), '--team', 'support']);
    expect(submit.code).toBe(2);
    expect(submit.stderr).toContain(`data ${DATA_A}`);
  }, 30_000);

  it('each call reaches the runtime it names (by port, URL or data folder)', async () => {
    const dev = { a: a as DevProcess, b: b as DevProcess };
    const added = await cli([
      'webhooks',
      'add',
      '--team',
      'support',
      '--url',
      'http://127.0.0.1:9/only-a',
      '--runtime',
      String(dev.a.port),
    ]);
    expect(added.code, added.stderr).toBe(0);
    const listA = await cli(['webhooks', 'list', '--team', 'support', '--json', '--runtime', dev.a.baseUrl]);
    const listB = await cli(['webhooks', 'list', '--team', 'support', '--json'], { TUNEDROP_RUNTIME: DATA_B });
    expect(listA.code, listA.stderr).toBe(0);
    expect(listB.code, listB.stderr).toBe(0);
    expect((JSON.parse(listA.stdout) as { url: string }[]).map((w) => w.url)).toContain('http://127.0.0.1:9/only-a');
    expect(JSON.parse(listB.stdout)).toEqual([]);

    const submitted = await cli([
      'submit',
      path.join(REPO, 'examples', 'sql-instructions'),
      '--team',
      'support',
      '--dataset',
      'only-in-b',
      '--runtime',
      DATA_B,
    ]);
    expect(submitted.code, submitted.stderr).toBe(0);
    const manifestIn = (d: DevProcess) =>
      BlobServiceClient.fromConnectionString(d.record().storageConnectionString)
        .getContainerClient(CONTAINERS.datasets)
        .getBlobClient('support/only-in-b/run.json')
        .exists();
    expect(await manifestIn(dev.b)).toBe(true);
    expect(await manifestIn(dev.a)).toBe(false);
  }, 60_000);

  it('a second runtime on a data folder in use is refused', async () => {
    const res = await cli(['dev', '--port', String(await freePort()), ...devArgs(DATA_A)]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`the data folder ${DATA_A} is in use by the runtime at ${(a as DevProcess).baseUrl}`);
  }, 30_000);

  it('a dead runtime is never picked: after kill -9 the live one is the only candidate', async () => {
    const dead = b as DevProcess;
    await dead.kill9();
    b = undefined;
    const res = await cli(['webhooks', 'list', '--team', 'support', '--json']);
    expect(res.code, res.stderr).toBe(0);
    expect((JSON.parse(res.stdout) as { url: string }[]).map((w) => w.url)).toContain('http://127.0.0.1:9/only-a');
    expect(
      existsSync(localRuntimeFile(REPO, dead.port, { TUNEDROP_RUNTIMES_DIR: RUNTIMES })),
      'the dead instance’s file was cleared',
    ).toBe(false);
    const named = await cli(['runs', 'list', '--runtime', String(dead.port)]);
    expect(named.code).toBe(2);
    expect(named.stderr).toContain(`no running local runtime matches "${dead.port}"`);
  }, 30_000);
});
