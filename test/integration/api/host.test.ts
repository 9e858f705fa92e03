import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../../cli/apiClient';
import { run as runs } from '../../../cli/commands/runs';
import { seedExamples, startLocalProvider } from '../../../local/pipelineDemo';
import type { LocalRuntime } from '../../../local/runtime';
import { CONTAINERS } from '../../../shared/config/resources';
import { type LocalProvider, publishedEvents, REPO, startPipelineRuntime } from '../../e2e/support';
import { tokenFor } from '../../support/identity';

/**
 * The API as deployed: the real app from dist/ on the local Functions host (function keys, the
 * durableClient binding on HTTP triggers, the durable engine, the blob trigger on the same run.json).
 */
const MASTER_KEY = 'e2e-master-key-0123456789';
let runtime: LocalRuntime;
let provider: LocalProvider;
let base = '';

beforeAll(async () => {
  provider = await startLocalProvider();
  runtime = await startPipelineRuntime(provider, {
    storage: 'memory',
    appSettings: { TUNEDROP_POLL_INITIAL_SECONDS: '1', TUNEDROP_POLL_MAX_SECONDS: '2' },
  });
  base = runtime.host.baseUrl.replace(/\/$/, '');
  adminToken = await tokenFor('support-admin');
  await seedExamples(runtime.host.storageConnectionString, path.join(REPO, 'examples'), { drop: false, log: () => {} });
}, 60_000);

afterAll(async () => {
  await runtime?.stop();
  await provider?.emulator.stop();
});

let adminToken = '';
const call = async (method: string, route: string, body?: unknown, as: string | null = 'support-admin') =>
  fetch(`${base}/api/${route}`, {
    method,
    headers: {
      ...(as ? { authorization: `Bearer ${as === 'support-admin' ? adminToken : await tokenFor(as)}` } : {}),
      'content-type': 'application/json',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

describe('HTTP API on the local Functions host', () => {
  it('serves health and the OpenAPI document anonymously, everything else only with a credential the app accepts', async () => {
    expect((await call('GET', 'health', undefined, null)).status).toBe(200);
    const doc = (await (await call('GET', 'openapi.json', undefined, null)).json()) as { openapi: string };
    expect(doc.openapi).toBe('3.1.0');
    const anonymous = await call('GET', 'runs', undefined, null);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await anonymous.json()) as { reason: string }).reason).toBe('missing_credentials');
    expect((await call('GET', 'runs?code=wrong-key-0123456789', undefined, null)).status).toBe(401);
    // The host's master key no longer speaks for any team.
    const master = await call('GET', `runs?code=${MASTER_KEY}`, undefined, null);
    expect(master.status).toBe(401);
    expect(((await master.json()) as { reason: string }).reason).toBe('not_a_team_key');
    const models = await call('GET', 'models');
    expect(models.status).toBe(200);
    const bad = await call('POST', 'runs', '{"team":');
    expect(bad.status).toBe(422);
    expect(bad.headers.get('content-type')).toBe('application/problem+json');
  });

  it('POST /api/runs starts one run (the blob trigger on the same run.json adds nothing); cancel; runs watch sees it end', async () => {
    const datasets = BlobServiceClient.fromConnectionString(runtime.host.storageConnectionString).getContainerClient(
      CONTAINERS.datasets,
    );
    await datasets.createIfNotExists();
    const train = readFileSync(path.join(REPO, 'examples', 'sql-instructions', 'train.jsonl'));
    await datasets.getBlockBlobClient('support/sql-api/train.jsonl').upload(train, train.length);
    const manifest = JSON.parse(readFileSync(path.join(REPO, 'examples', 'sql-instructions', 'run.json'), 'utf8'));

    const t0 = performance.now();
    const started = await call('POST', 'runs', { team: 'support', dataset: 'sql-api', manifest });
    // Measured for docs/api.md: write run.json, validate 90 rows, start the orchestration.
    console.info(`POST /api/runs (inline manifest, 90 rows) → 202 in ${Math.round(performance.now() - t0)} ms`);
    const startedBody = (await started.json()) as { runId: string; outcome: string };
    expect(started.status, JSON.stringify(startedBody)).toBe(202);
    const location = started.headers.get('location') ?? '';
    expect(location).toBe(`/api/runs/${startedBody.runId}`);

    const t1 = performance.now();
    const shown = await fetch(`${base}${location}`, { headers: { authorization: `Bearer ${adminToken}` } });
    console.info(`GET /api/runs/{id} → ${shown.status} in ${Math.round(performance.now() - t1)} ms`);
    expect(shown.status).toBe(200);
    expect(await shown.json()).toMatchObject({ runId: startedBody.runId, team: 'support', dataset: 'sql-api' });

    const cancel = await call('POST', `runs/${startedBody.runId}/cancel`);
    expect(cancel.status).toBe(202);

    const out: string[] = [];
    const io: CliIo = {
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => out.push(t) },
      env: { TUNEDROP_API_URL: base, TUNEDROP_API_TOKEN: adminToken },
      cwd: REPO,
    };
    expect(await runs(['watch', startedBody.runId, '--interval', '0.2'], io)).toBe(1);
    expect(out.join('')).toMatch(/cancelled/);
    expect(out.join('')).not.toContain(adminToken);

    const ofRun = (await publishedEvents()).filter((e) => e.subject === startedBody.runId).map((e) => e.type);
    expect(ofRun.filter((t) => t === 'tunedrop.run.submitted')).toHaveLength(1);
    expect(ofRun).toContain('tunedrop.run.cancelled');
    expect(ofRun).not.toContain('tunedrop.run.completed');
  }, 30_000);
});
