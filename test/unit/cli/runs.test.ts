import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type CliIo, TunedropApiClient } from '../../../cli/apiClient';
import { run } from '../../../cli/commands/runs';
import type { RunStatus } from '../../../shared/runStatus';
import { apiDeps, azuriteServices, REPO, RecordingDurableClient, serveApi } from '../../integration/api/support';
import { TEST_IDENTITY, tokenFor } from '../../support/identity';

const KEY = 'cli-test-key-0123456789abcdef';
let TOKEN = '';
const team = `cli-${randomUUID().slice(0, 8)}`;

function io(env: Record<string, string> = {}, extra: Partial<CliIo> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const value: CliIo = {
    stdout: { write: (t: string) => out.push(t) },
    stderr: { write: (t: string) => err.push(t) },
    env,
    cwd: mkdtempSync(path.join(tmpdir(), 'tunedrop-cli-')),
    ...extra,
  };
  return { io: value, out: () => out.join(''), err: () => err.join('') };
}

describe('tunedrop runs against a local HTTP server running the API handlers on Azurite', () => {
  const services = azuriteServices(inject('azurite').connectionString);
  const durable = new RecordingDurableClient();
  let api: Awaited<ReturnType<typeof serveApi>>;
  const env = () => ({ TUNEDROP_API_URL: api.url, TUNEDROP_API_TOKEN: TOKEN });
  const seed = async (runId: string, status: RunStatus, extra: Record<string, string> = {}) => {
    const now = new Date().toISOString();
    await services.runIndex.upsert({
      runId,
      team,
      dataset: 'sql',
      model: 'mistralai/Mistral-7B-Instruct-v0.2',
      task: 'instruction',
      status,
      manifestUrl: `http://127.0.0.1/datasets/${team}/sql/run.json`,
      createdAt: now,
      updatedAt: now,
      ...extra,
    });
  };

  beforeAll(async () => {
    TOKEN = await tokenFor('platform-admin');
    await services.ready();
    api = await serveApi(apiDeps(services, durable), KEY);
    for (let i = 0; i < 3; i++) await seed(`run-cli${i}`, i === 0 ? 'completed' : 'running');
  });
  afterAll(async () => {
    await api.close();
  });

  it('lists a team’s runs as a table and as JSON, following every page', async () => {
    const t = io(env());
    expect(await run(['list', '--team', team], t.io)).toBe(0);
    const lines = t.out().trim().split('\n');
    expect(lines[0]).toMatch(/^RUN\s+TEAM\s+DATASET\s+MODEL\s+STATUS\s+UPDATED$/);
    expect(
      lines
        .slice(1)
        .map((l) => l.split(/\s+/)[0])
        .sort(),
    ).toEqual(['run-cli0', 'run-cli1', 'run-cli2']);

    const j = io(env());
    expect(await run(['list', '--team', team, '--status', 'running', '--json'], j.io)).toBe(0);
    expect((JSON.parse(j.out()) as { runId: string }[]).map((r) => r.runId).sort()).toEqual(['run-cli1', 'run-cli2']);

    const client = new TunedropApiClient({
      baseUrl: api.url,
      token: async () => TOKEN,
      keySource: 'TUNEDROP_API_TOKEN',
    });
    expect((await client.listRuns({ team, pageSize: 1 })).length).toBe(3);
  });

  it('shows a run, and an unknown one as the problem’s title and detail with exit 1', async () => {
    const t = io(env());
    expect(await run(['show', 'run-cli0'], t.io)).toBe(0);
    expect(t.out()).toMatch(/run\s+run-cli0\nstatus\s+completed/);
    const missing = io(env());
    expect(await run(['show', 'run-nope'], missing.io)).toBe(1);
    expect(missing.err()).toContain('No such resource — There is no run run-nope.');
  });

  it('uses the local runtime’s dev identity (platform-admin, or --as), refuses a host key, and never prints a credential', async () => {
    const t = io({ TUNEDROP_API_URL: api.url });
    // What `tunedrop dev` leaves in the app folder: the dev issuer's key and the named principals.
    mkdirSync(path.join(t.io.cwd, '.tunedrop'));
    writeFileSync(
      path.join(t.io.cwd, '.tunedrop', 'dev-identity.json'),
      JSON.stringify({ kid: TEST_IDENTITY.kid, privateKey: TEST_IDENTITY.privateKey }),
    );
    mkdirSync(path.join(t.io.cwd, 'examples'));
    copyFileSync(
      path.join(REPO, 'examples', 'dev-principals.json'),
      path.join(t.io.cwd, 'examples', 'dev-principals.json'),
    );
    expect(await run(['show', 'run-cli1'], t.io)).toBe(0);
    // ops-admin has no role on this team: the run does not exist for them.
    const other = { ...t.io, stdout: t.io.stdout };
    expect(await run(['show', 'run-cli1', '--as', 'ops-admin'], other)).toBe(1);
    expect(t.err()).toContain('No such resource');

    const wrong = io({ TUNEDROP_API_URL: api.url });
    expect(await run(['list', '--key', 'wrong-key-0123456789'], wrong.io)).toBe(1);
    expect(wrong.err()).toContain('No valid credential was presented');
    for (const o of [t, wrong]) {
      expect(o.out() + o.err()).not.toContain(TOKEN);
      expect(o.out() + o.err()).not.toContain('wrong-key-0123456789');
    }
  });

  it('cancels a running run through the API (the orchestration gets the cancel event)', async () => {
    await seed('run-cli-cancel', 'running');
    durable.started.set('run-cli-cancel', {});
    const t = io(env());
    expect(await run(['cancel', 'run-cli-cancel'], t.io)).toBe(0);
    expect(durable.raised).toEqual([{ instanceId: 'run-cli-cancel', eventName: 'cancel' }]);
    const again = io(env());
    await seed('run-cli-cancel', 'cancelled');
    expect(await run(['cancel', 'run-cli-cancel'], again.io)).toBe(1);
    expect(again.err()).toContain('The run cannot be cancelled');
  });

  it('watches a run until it completes (exit 0), printing each status change once with its time', async () => {
    await seed('run-cli-watch', 'submitted');
    const script: Partial<Record<number, Record<string, string>>> = {
      2: { status: 'running' },
      4: { status: 'completed', registeredModel: 'ml.support.sql', registeredVersion: '3' },
    };
    let polls = 0;
    const t = io(env(), {
      sleep: async () => {
        polls += 1;
        const change = script[polls];
        if (change) await services.runIndex.upsert({ runId: 'run-cli-watch', ...change });
      },
    });
    expect(await run(['watch', 'run-cli-watch', '--interval', '0.01'], t.io)).toBe(0);
    const lines = t.out().trim().split('\n');
    expect(lines.slice(0, 3).map((l) => l.split(/\s+/).slice(1).join(' '))).toEqual([
      'run-cli-watch submitted',
      'run-cli-watch running',
      'run-cli-watch completed',
    ]);
    expect(lines[3]).toBe('registered ml.support.sql v3');
    expect(lines[0]).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(polls).toBe(4);
  });

  it('watch exits 1 when the run fails, and 1 for an unknown run', async () => {
    await seed('run-cli-fail', 'running');
    const t = io(env(), {
      sleep: async () => services.runIndex.upsert({ runId: 'run-cli-fail', status: 'failed', reason: 'OOM' }),
    });
    expect(await run(['watch', 'run-cli-fail', '--interval', '0.01'], t.io)).toBe(1);
    expect(t.out()).toContain('failed — OOM');
    const missing = io(env());
    expect(await run(['watch', 'run-missing'], missing.io)).toBe(1);
  });

  it('exits 2 for usage errors and an unreachable API', async () => {
    const none = io(env());
    expect(await run([], none.io)).toBe(2);
    const badStatus = io(env());
    expect(await run(['list', '--status', 'exploded'], badStatus.io)).toBe(2);
    expect(badStatus.err()).toContain('--status must be one of');
    const unknownFlag = io(env());
    expect(await run(['list', '--bogus'], unknownFlag.io)).toBe(2);
    const closed = await serveApi(apiDeps(services, durable), KEY);
    await closed.close();
    const down = io({ TUNEDROP_API_URL: closed.url, TUNEDROP_API_TOKEN: TOKEN });
    expect(await run(['list'], down.io)).toBe(2);
    expect(down.err()).toContain(`cannot reach the tunedrop API at ${closed.url}`);
  });
});
