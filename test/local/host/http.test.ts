import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../../local/runtime';
import { appEvents, collectLogs, TEST_APP, VirtualClock } from './support';

const KEYS = { master: 'master-key-for-tests', host: ['host-key-for-tests'], functions: { secret: ['secret-fn-key'] } };

describe('local host: HTTP triggers on the test app', () => {
  let runtime: LocalRuntime;
  let base: string;
  const { logs, logger } = collectLogs();

  beforeAll(async () => {
    runtime = await startLocalRuntime({
      appRoot: TEST_APP,
      storage: { connectionString: inject('azurite').connectionString },
      port: 0,
      keys: KEYS,
      logger,
      clock: new VirtualClock(new Date('2026-01-01T00:00:00Z')),
      blobScanIntervalMs: 0,
      hostId: 'http-test',
      environment: process.env,
      appSettings: { TEST_APP_CONTAINER: 'http-test-unused' },
    });
    base = `${runtime.host.baseUrl}/api`;
  });

  afterAll(async () => {
    await runtime?.stop();
  });

  it('captures every registration with its binding metadata and lists HTTP routes with URLs', () => {
    const hello = runtime.host.functions.get('hello');
    expect(hello?.trigger).toMatchObject({ type: 'httpTrigger', authLevel: 'anonymous', route: 'hello/{name?}' });
    expect(hello?.bindings.$return).toMatchObject({ type: 'http', direction: 'out' });
    expect(runtime.host.functions.get('onDrop')?.trigger).toMatchObject({ type: 'blobTrigger', direction: 'in' });
    expect(runtime.host.functions.get('everyFiveMinutes')?.trigger).toMatchObject({ schedule: '0 */5 * * * *' });
    const route = runtime.host.httpRoutes.find((r) => r.functionName === 'items');
    expect(route?.url).toBe(`${runtime.host.baseUrl}/api/items/{id:int}`);
    expect(route?.methods).toEqual(['GET']);
  });

  it('serves a route with optional parameter, query, status, headers, cookies and a JSON body', async () => {
    const res = await fetch(`${base}/hello/ada?tag=a&tag=b`, { headers: { 'user-agent': 'tunedrop-test' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-test')).toBe('yes');
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.headers.get('set-cookie')).toBe('session=abc; HttpOnly; SameSite=Strict');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      name: 'ada',
      tags: ['a', 'b'],
      method: 'GET',
      userAgent: 'tunedrop-test',
      functionName: 'hello',
      triggerType: 'httpTrigger',
    });
    expect(body.url).toBe(`${base}/hello/ada?tag=a&tag=b`);
    expect(body.invocationId).toMatch(/^[0-9a-f-]{36}$/);
    const withoutName = (await (await fetch(`${base}/hello`, { method: 'POST' })).json()) as Record<string, unknown>;
    expect(withoutName).toMatchObject({ name: null, method: 'POST' });
  });

  it('routes by constraint and by method, and answers 404 for what no function serves', async () => {
    expect(await (await fetch(`${base}/items/42`)).json()).toEqual({ id: '42' });
    expect(await (await fetch(`${base}/items/forty-two`)).json()).toEqual({ slug: 'forty-two' });
    expect((await fetch(`${base}/items/42`, { method: 'DELETE' })).status).toBe(404);
    expect((await fetch(`${base}/no-such-route`)).status).toBe(404);
    expect((await fetch(`${runtime.host.baseUrl}/hello/ada`)).status).toBe(404);
  });

  it('passes the request body through and returns the status the handler set', async () => {
    const res = await fetch(`${base}/echo`, {
      method: 'POST',
      body: '{"a":1}',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.text()).toBe('{"a":1}');
  });

  it('honours function keys: function level takes its own key, a host key or the master key', async () => {
    expect((await fetch(`${base}/secret`)).status).toBe(401);
    expect((await fetch(`${base}/secret?code=wrong`)).status).toBe(401);
    expect((await fetch(`${base}/secret`, { headers: { 'x-functions-key': 'secret-fn-key' } })).status).toBe(200);
    expect((await fetch(`${base}/secret?code=host-key-for-tests`)).status).toBe(200);
    const ok = await fetch(`${base}/secret?code=master-key-for-tests`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('function-level ok');
  });

  it('honours admin level: only the master key', async () => {
    expect((await fetch(`${base}/admin-only`, { headers: { 'x-functions-key': 'secret-fn-key' } })).status).toBe(401);
    expect((await fetch(`${base}/admin-only?code=host-key-for-tests`)).status).toBe(401);
    const ok = await fetch(`${base}/admin-only`, { headers: { 'x-functions-key': 'master-key-for-tests' } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('admin-level ok');
  });

  it('answers 500 when the handler throws, and 204 when it returns nothing', async () => {
    const boom = await fetch(`${base}/boom`);
    expect(boom.status).toBe(500);
    expect(await boom.text()).toBe('');
    expect(logs.some((l) => l.category === 'host' && l.level === 'error' && l.message.includes('kaboom'))).toBe(true);
    expect((await fetch(`${base}/nothing`)).status).toBe(204);
  });

  it('runs pre/post invocation hooks around the handler, sharing hookData', async () => {
    const res = await fetch(`${base}/hooked`);
    expect(res.status).toBe(202); // set by the postInvocation hook
    expect(res.headers.get('x-wrapped-by')).toBe('preInvocation'); // the preInvocation hook replaced the handler
    expect(await res.text()).toBe('from handler');
    const post = appEvents('postInvocation').find((e) => e.functionName === 'hooked');
    expect(post).toMatchObject({ pre: 'hooked', error: null });
    const failed = appEvents('postInvocation').find((e) => e.functionName === 'boom');
    expect(failed?.error).toBe('kaboom');
    expect(appEvents('appStart')).toEqual([{ kind: 'appStart' }]);
  });

  it('sends context.log lines to the logger with function name and invocation id', async () => {
    await fetch(`${base}/hello/grace`);
    const line = logs.find((l) => l.category === 'user' && l.message === 'hello grace');
    expect(line).toMatchObject({ level: 'information', functionName: 'hello' });
    expect(line?.invocationId).toMatch(/^[0-9a-f-]{36}$/);
    const executed = logs.find((l) => l.category === 'host' && l.invocationId === line?.invocationId);
    expect(executed?.message).toMatch(/^Executed 'Functions\.hello' \(Succeeded, Id=[0-9a-f-]{36}, Duration=\d+ms\)$/);
  });

  it('lets log hooks rewrite a user log line before it is written', async () => {
    await fetch(`${base}/hello/x?password=hunter2`);
    expect(logs.some((l) => l.message.includes('hunter2'))).toBe(false);
    expect(logs.some((l) => l.category === 'user' && l.message === 'got password=***')).toBe(true);
  });

  it('binds a blob input from a route parameter (null when missing)', async () => {
    const container = BlobServiceClient.fromConnectionString(inject('azurite').connectionString).getContainerClient(
      'hostfixture',
    );
    await container.createIfNotExists();
    await container.getBlockBlobClient('greeting.txt').upload('hi from a blob', 14);
    const res = await fetch(`${base}/blobs/greeting.txt`);
    expect(await res.text()).toBe('hi from a blob');
    expect((await fetch(`${base}/blobs/missing.txt`)).status).toBe(404);
  });
});
