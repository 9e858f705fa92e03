import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { VirtualClock } from '../../../local/durable/clock';
import { createDurableExtension } from '../../../local/durable/extension';
import type { RunningFunctionHost } from '../../../local/host/host';
import { type LocalRuntime, startLocalRuntime } from '../../../local/runtime';
import { countOf, HOUR } from '../../fixtures/durable-app/handlers';

/**
 * End to end on the real local Functions host: the fixture app registers with df.app.* and app.http
 * through @azure/functions, the durable engine is a host extension, and HTTP functions use
 * df.getClient(context) unchanged.
 */
const appRoot = path.join(__dirname, '../../fixtures/durable-app');

describe('durable engine on the local Functions host', () => {
  let runtime: LocalRuntime | undefined;
  let host: RunningFunctionHost | undefined;

  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
    host = undefined;
  });

  async function startHost(taskHub: string, clock: VirtualClock) {
    await runtime?.stop();
    const durable = createDurableExtension({ taskHub, clock, pollIntervalMs: 20 });
    runtime = await startLocalRuntime({
      appRoot,
      storage: { connectionString: inject('azurite').connectionString },
      port: 0,
      extensions: [durable],
      blobScanIntervalMs: 0,
    });
    host = runtime.host;
    return { host, engine: durable.engine };
  }

  async function api(method: string, route: string, body?: unknown) {
    if (!host) throw new Error('host not started');
    const response = await fetch(`${host.baseUrl}/api/${route}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  }

  it('runs activity, durable timer, external event and retried activity to the right output', async () => {
    const { engine } = await startHost(`E2e${randomUUID().slice(0, 8)}`, new VirtualClock(Date.UTC(2026, 5, 1), true));
    const key = randomUUID();
    const started = await api('POST', 'orchestrators/pipeline', { name: 'Linus', flakyKey: key });
    expect(started.status).toBe(202);
    const id = String(started.body?.id);
    await engine.waitFor(id, (s) => (s.customStatus as { stage?: string } | null)?.stage === 'awaiting-approval');
    expect((await api('POST', `instances/${id}/raise?event=approval`, { ok: true })).status).toBe(202);
    const done = await engine.waitForCompletion(id);
    expect(done.runtimeStatus).toBe('Completed');
    expect(done.output).toEqual({
      greeting: 'Hello, Linus!',
      waitedMs: 2 * HOUR,
      approval: { ok: true },
      flaky: { attempts: 3 },
    });
    expect(countOf(`flaky:${key}`)).toBe(3);
  });

  it('resumes after the host stops at an event and at a timer, without re-running recorded activities', async () => {
    const taskHub = `E2eRestart${randomUUID().slice(0, 8)}`;
    const clock = new VirtualClock(Date.UTC(2026, 6, 1));
    const tag = randomUUID();

    let run = await startHost(taskHub, clock);
    const id = await run.engine.startNew('resumable', { input: tag });
    await run.engine.waitFor(id, (s) => s.customStatus === 'waiting-for-go');

    run = await startHost(taskHub, clock); // stops the first runtime, starts a new one on the same storage
    await run.engine.raiseEvent(id, 'go', 'go!');
    await run.engine.waitFor(id, (s) => s.customStatus === 'sleeping');

    run = await startHost(taskHub, clock);
    clock.advance(30 * 60 * 1000);
    const done = await run.engine.waitForCompletion(id);
    expect(done.output).toEqual([`${tag}-A`.toUpperCase(), 'go!', `${tag}-B`.toUpperCase(), `${tag}-C`.toUpperCase()]);
    for (const stage of ['a', 'b', 'c']) expect(countOf(`record:${tag}-${stage}`)).toBe(1);
  });

  it('df.getClient(context) in HTTP functions starts, reads status, raises, terminates and purges', async () => {
    const { engine } = await startHost(
      `E2eClient${randomUUID().slice(0, 8)}`,
      new VirtualClock(Date.UTC(2026, 7, 1), true),
    );
    const started = await api('POST', 'orchestrators/waitsForever');
    expect(started.status).toBe(202);
    const id = String(started.body?.id);
    expect(String(started.body?.statusQueryGetUri)).toContain(`/runtime/webhooks/durabletask/instances/${id}`);
    await engine.waitFor(id, (s) => s.customStatus === 'waiting');

    const status = await api('GET', `instances/${id}/status`);
    expect(status.body).toMatchObject({ instanceId: id, name: 'waitsForever', runtimeStatus: 'Running' });

    expect((await api('POST', `instances/${id}/raise?event=unrelated`, 1)).status).toBe(202);
    expect((await api('POST', `instances/${id}/terminate?reason=enough`)).status).toBe(202);
    const terminated = await engine.waitForCompletion(id);
    expect(terminated).toMatchObject({ runtimeStatus: 'Terminated', output: 'enough' });

    const purged = await api('DELETE', `instances/${id}/purge`);
    expect(purged.body).toEqual({ instancesDeleted: 1 });
    expect(await engine.getStatus(id)).toBeUndefined();

    // The check-status URL the client built works as returned.
    const viaWebhook = await fetch(String(started.body?.statusQueryGetUri));
    expect(viaWebhook.status).toBe(404);
    expect(((await viaWebhook.json()) as { code: string }).code).toBe('durable_instance_not_found');
  });
});
