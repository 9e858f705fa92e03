import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { listModelsRoute } from '../../../shared/api/routes/models';
import { cancelRunRoute, createRunRoute, getRunRoute, listRunsRoute } from '../../../shared/api/routes/runs';
import { CONTAINERS } from '../../../shared/config/resources';
import { handleDrop } from '../../../shared/pipeline/intake';
import { CANCEL_EVENT } from '../../../shared/pipeline/runContracts';
import { apiDeps, azuriteServices, configureTeam, invoke, REPO, RecordingDurableClient, uploadBlob } from './support';

const team = `api-runs-${randomUUID().slice(0, 8)}`;
const train = readFileSync(path.join(REPO, 'examples', 'sql-instructions', 'train.jsonl'));
const manifest = JSON.parse(readFileSync(path.join(REPO, 'examples', 'sql-instructions', 'run.json'), 'utf8'));

describe('runs API on Azurite (real handlers, real HttpRequest)', () => {
  const services = azuriteServices(inject('azurite').connectionString);
  const durable = new RecordingDurableClient();
  const deps = apiDeps(services, durable);

  beforeAll(async () => {
    await configureTeam(services, team);
  });

  it('answers malformed JSON with a 400 invalid_json problem', async () => {
    const res = await invoke(createRunRoute, deps, { body: '{"team": "x",' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.json()).toMatchObject({
      type: 'https://tunedrop.dev/problems/invalid_json',
      status: 400,
      code: 'invalid_json',
      instance: '/api/runs',
    });
  });

  it('answers a schema-invalid body with 422 invalid_request, paths, and no echoed values', async () => {
    const res = await invoke(createRunRoute, deps, {
      body: JSON.stringify({
        team: 'Not A Team',
        dataset: 'ok',
        manifest: { ...manifest, task: 'SECRET-VALUE-1' },
        extra: 1,
      }),
    });
    expect(res.status).toBe(422);
    const problem = res.json();
    expect(problem.code).toBe('invalid_request');
    const paths = (problem.errors as { path: string }[]).map((e) => e.path).sort();
    expect(paths).toEqual(['body', 'body.manifest.task', 'body.team']);
    expect(res.text).not.toContain('SECRET-VALUE-1');
    expect(res.text).not.toContain('Not A Team');
  });

  it('answers an unknown run with a 404 problem and a bad id with 400', async () => {
    const missing = await invoke(getRunRoute, deps, {
      url: 'runs/run-00000000deadbeef',
      params: { id: 'run-00000000deadbeef' },
    });
    expect(missing.status).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'not_found', status: 404 });
    const bad = await invoke(getRunRoute, deps, { url: 'runs/x', params: { id: 'x/../y' } });
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'invalid_request', errors: [{ path: 'params.id' }] });
  });

  it('starts a run from an inline manifest (202 + Location); the same run.json again is a 200 duplicate, and the blob trigger does nothing', async () => {
    await uploadBlob(services, `${team}/sql/train.jsonl`, train);
    const res = await invoke(createRunRoute, deps, { body: JSON.stringify({ team, dataset: 'sql', manifest }) });
    expect(res.status, res.text).toBe(202);
    const body = res.json() as { runId: string; outcome: string; links: { self: string } };
    expect(body.outcome).toBe('started');
    expect(res.headers.get('location')).toBe(`/api/runs/${body.runId}`);
    expect(body.links.self).toBe(`/api/runs/${body.runId}`);
    expect([...durable.started.keys()]).toEqual([body.runId]);

    const stored = await datasetBlob(services, `${team}/sql/run.json`).downloadToBuffer();
    expect(JSON.parse(stored.toString())).toEqual(manifest);

    const again = await invoke(createRunRoute, deps, { body: JSON.stringify({ team, dataset: 'sql' }) });
    expect(again.status, again.text).toBe(200);
    expect(again.json()).toMatchObject({ runId: body.runId, status: 'submitted', team, dataset: 'sql' });

    // The same inline manifest again: rewritten (new ETag), validated again, same content-derived run.
    const resent = await invoke(createRunRoute, deps, { body: JSON.stringify({ team, dataset: 'sql', manifest }) });
    expect(resent.status, resent.text).toBe(202);
    expect(resent.json()).toMatchObject({ runId: body.runId, outcome: 'already-running' });
    expect(durable.started.size).toBe(1);

    // The blob trigger firing for the same run.json version afterwards: the intake log says it was handled.
    const blob = datasetBlob(services, `${team}/sql/run.json`);
    const props = await blob.getProperties();
    const trigger = await handleDrop(services.intake(durable.asClient()), {
      blobName: `${team}/sql/run.json`,
      url: blob.url,
      etag: props.etag ?? '',
      content: stored,
    });
    expect(trigger).toEqual({ outcome: 'duplicate', runId: body.runId });
    expect(durable.started.size).toBe(1);

    const shown = await invoke(getRunRoute, deps, { params: { id: body.runId } });
    expect(shown.status).toBe(200);
    expect(shown.json()).toMatchObject({ runId: body.runId, links: { cancel: `/api/runs/${body.runId}/cancel` } });
  });

  it('rejects a drop whose data is missing with 422 drop_rejected, the codes and the report URL', async () => {
    const res = await invoke(createRunRoute, deps, {
      body: JSON.stringify({ team, dataset: 'empty', manifest: { ...manifest, train: 'nothing-here.jsonl' } }),
    });
    expect(res.status, res.text).toBe(422);
    const problem = res.json();
    expect(problem).toMatchObject({ code: 'drop_rejected', problems: [{ code: 'data_file_missing', count: 1 }] });
    expect(String(problem.reportUrl)).toContain(`/reports/${team}/empty/`);
    expect(services.events.events.map((e) => e.type)).toContain('tunedrop.dataset.rejected');
  });

  it('answers 404 drop_not_found when the folder has no run.json and none is sent', async () => {
    const res = await invoke(createRunRoute, deps, { body: JSON.stringify({ team, dataset: 'never-uploaded' }) });
    expect(res.status).toBe(404);
    expect(res.json()).toMatchObject({ code: 'drop_not_found' });
  });

  it('pages runs with nextLink, and the next page continues where the first ended', async () => {
    const pagedTeam = `${team}-paged`;
    const now = new Date().toISOString();
    for (let i = 0; i < 5; i++) {
      await services.runIndex.upsert({
        runId: `run-page${i}`,
        team: pagedTeam,
        dataset: 'd',
        model: manifest.model,
        task: 'instruction',
        status: 'running',
        manifestUrl: 'http://127.0.0.1/x/run.json',
        createdAt: now,
        updatedAt: now,
      });
    }
    const first = await invoke(listRunsRoute, deps, { url: `runs?team=${pagedTeam}&pageSize=2` });
    expect(first.status).toBe(200);
    const firstBody = first.json() as { runs: { runId: string }[]; nextLink?: string };
    expect(firstBody.runs).toHaveLength(2);
    expect(firstBody.nextLink).toMatch(/^\/api\/runs\?team=.*&pageSize=2&continuationToken=/);
    const seen = firstBody.runs.map((r) => r.runId);
    let next = firstBody.nextLink;
    while (next) {
      const page = await invoke(listRunsRoute, deps, { url: next.replace(/^\/api\//, '') });
      const body = page.json() as { runs: { runId: string }[]; nextLink?: string };
      seen.push(...body.runs.map((r) => r.runId));
      next = body.nextLink;
    }
    expect(seen.sort()).toEqual(['run-page0', 'run-page1', 'run-page2', 'run-page3', 'run-page4']);

    const bad = await invoke(listRunsRoute, deps, { url: 'runs?status=exploded&pageSize=0' });
    expect(bad.status).toBe(400);
    expect((bad.json().errors as { path: string }[]).map((e) => e.path).sort()).toEqual([
      'query.pageSize',
      'query.status',
    ]);

    // A page token the API never handed out: 400 naming the parameter, not a 500 from the storage SDK.
    for (const garbage of ['garbage', 'eyJub3QiOiJhIHRva2VuIn0=', Buffer.from('[1,2]').toString('base64')]) {
      const res = await invoke(listRunsRoute, deps, { url: `runs?continuationToken=${encodeURIComponent(garbage)}` });
      expect(res.status, `${garbage}: ${res.text}`).toBe(400);
      expect((res.json().errors as { path: string }[]).map((e) => e.path)).toEqual(['query.continuationToken']);
    }
  });

  it('cancels a running run through the orchestration event; unknown is 404, ended is 409', async () => {
    const runId = [...durable.started.keys()][0] ?? '';
    const res = await invoke(cancelRunRoute, deps, { params: { id: runId } });
    expect(res.status, res.text).toBe(202);
    expect(res.headers.get('location')).toBe(`/api/runs/${runId}`);
    expect(durable.raised).toEqual([{ instanceId: runId, eventName: CANCEL_EVENT }]);

    expect((await invoke(cancelRunRoute, deps, { params: { id: 'run-0000000000000000' } })).status).toBe(404);
    await services.runIndex.upsert({ runId, status: 'completed' });
    const ended = await invoke(cancelRunRoute, deps, { params: { id: runId } });
    expect(ended.status).toBe(409);
    expect(ended.json()).toMatchObject({ code: 'run_not_cancellable', runStatus: 'completed', status: 409 });
    expect(durable.raised).toHaveLength(1);
  });

  it('lists the catalog with retirement facts', async () => {
    const res = await invoke(listModelsRoute, deps);
    const models = res.json().models as { id: string; status: string; retiredOn?: string; replacement?: string }[];
    expect(models.some((m) => m.status === 'supported')).toBe(true);
    const retired = models.filter((m) => m.status === 'retired');
    expect(retired.length).toBeGreaterThan(0);
    for (const m of retired) expect(m.retiredOn && m.replacement).toBeTruthy();
  });

  it('answers an unexpected failure with a 500 problem that carries no internals', async () => {
    const broken = {
      ...deps,
      runIndex: {
        get: async () => {
          throw new Error('AccountKey=hunter2 connection refused at 10.0.0.4');
        },
      },
    } as unknown as typeof deps;
    const res = await invoke(getRunRoute, broken, { params: { id: 'run-0000000000000001' } });
    expect(res.status).toBe(500);
    expect(res.json()).toMatchObject({ code: 'internal_error' });
    expect(res.text).not.toMatch(/hunter2|10\.0\.0\.4|AccountKey/);
  });

  it('commits a drop too large to validate inside the request and answers 202 validating; intake finds it by team and dataset', async () => {
    const small = { ...deps, inlineValidationMaxBytes: train.length - 1 };
    await uploadBlob(services, `${team}/large/train.jsonl`, train);
    const startedBefore = durable.started.size;
    const res = await invoke(createRunRoute, small, { body: JSON.stringify({ team, dataset: 'large', manifest }) });
    expect(res.status, res.text).toBe(202);
    expect(res.json()).toMatchObject({ outcome: 'validating', dataBytes: train.length });
    expect(res.json().runId).toBeUndefined();
    const listUrl = `/api/runs?team=${team}&dataset=large`;
    expect(res.headers.get('location')).toBe(listUrl);
    expect(durable.started.size, 'nothing validated or started inside the request').toBe(startedBefore);
    const manifestBlob = datasetBlob(services, `${team}/large/run.json`);
    expect(JSON.parse((await manifestBlob.downloadToBuffer()).toString('utf8'))).toEqual(manifest);

    // What the blob trigger then does with the committed run.json.
    const props = await manifestBlob.getProperties();
    const intake = await handleDrop(services.intake(durable.asClient()), {
      blobName: `${team}/large/run.json`,
      url: manifestBlob.url,
      etag: props.etag ?? '',
      content: await manifestBlob.downloadToBuffer(),
    });
    expect(intake.outcome).toBe('started');
    const listed = await invoke(listRunsRoute, deps, { url: listUrl.slice('/api/'.length) });
    expect((listed.json().runs as { runId: string; dataset: string }[]).map((r) => r.dataset)).toEqual(['large']);

    // Asked again without a manifest: run.json is already handled, so the answer is its run.
    const again = await invoke(createRunRoute, small, { body: JSON.stringify({ team, dataset: 'large' }) });
    expect(again.status, again.text).toBe(200);
    expect(again.json()).toMatchObject({ runId: 'runId' in intake ? intake.runId : '', dataset: 'large' });
  });
});

function datasetBlob(services: { connectionString: string }, name: string) {
  return BlobServiceClient.fromConnectionString(services.connectionString)
    .getContainerClient(CONTAINERS.datasets)
    .getBlobClient(name);
}
