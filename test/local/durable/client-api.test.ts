import { randomUUID } from 'node:crypto';
import { HttpRequest, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { VirtualClock } from '../../../local/durable/clock';
import { createDurableExtension, type DurableExtension } from '../../../local/durable/extension';
import { activities, orchestrations } from '../../fixtures/durable-app/handlers';
import { MiniHost } from './support/mini-host';

/**
 * The durable client HTTP API as durable-functions' own DurableClient calls it (real HTTP, both URL
 * styles: rpcBaseUrl and the management-URL templates). The client binding value is handed over the
 * way the host does it: context.extraInputs for a df.input.durableClient() binding.
 */
describe.each([
  { mode: 'rpcBaseUrl', useRpcBaseUrl: true },
  { mode: 'management URLs', useRpcBaseUrl: false },
])('durable client API ($mode)', ({ useRpcBaseUrl }) => {
  let host: MiniHost;
  let durable: DurableExtension;
  const savedHostname = process.env.WEBSITE_HOSTNAME;

  beforeAll(async () => {
    host = new MiniHost(inject('azurite').connectionString);
    for (const [name, fn] of Object.entries(orchestrations)) host.orchestration(name, fn);
    for (const [name, fn] of Object.entries(activities)) host.activity(name, fn);
    await host.listen();
    // Without WEBSITE_HOSTNAME durable-functions rewrites management URLs to localhost:7071.
    if (!useRpcBaseUrl) process.env.WEBSITE_HOSTNAME = new URL(host.baseUrl).host;
    durable = createDurableExtension({
      taskHub: `Client${randomUUID().slice(0, 8)}`,
      clock: new VirtualClock(Date.UTC(2026, 4, 1), true),
      pollIntervalMs: 20,
      useRpcBaseUrl,
    });
    await durable.start(host);
  });

  afterAll(async () => {
    if (savedHostname === undefined) delete process.env.WEBSITE_HOSTNAME;
    else process.env.WEBSITE_HOSTNAME = savedHostname;
    await durable?.stop();
    await host?.close();
  });

  function client() {
    const binding = df.input.durableClient();
    const context = new InvocationContext({
      functionName: 'httpStart',
      options: { trigger: { type: 'httpTrigger', name: 'req' }, extraInputs: [binding] },
    });
    const value = durable.inputBindingValue?.(
      { type: 'durableClient', direction: 'in' },
      {
        name: 'httpStart',
        bindings: {},
        triggerBindingName: 'req',
        trigger: { type: 'httpTrigger', direction: 'in' },
      },
    );
    context.extraInputs.set(binding, JSON.parse(JSON.stringify(value)));
    return df.getClient(context);
  }

  it('starts, reads status, raises an event, terminates and purges', async () => {
    const c = client();
    const id = await c.startNew('pipeline', { input: { name: 'Grace', flakyKey: randomUUID() } });
    const engine = durable.engine;
    await engine.waitFor(id, (s) => (s.customStatus as { stage?: string } | null)?.stage === 'awaiting-approval');

    const running = await c.getStatus(id, { showHistory: true });
    expect(running.runtimeStatus).toBe('Running');
    expect(running.input).toMatchObject({ name: 'Grace' });
    expect(running.createdTime).toBeInstanceOf(Date);

    await c.raiseEvent(id, 'approval', 'yes');
    const done = await engine.waitForCompletion(id);
    expect(done.output).toMatchObject({ greeting: 'Hello, Grace!', approval: 'yes' });

    const waiting = await c.startNew('waitsForever', { instanceId: `t-${randomUUID()}` });
    await engine.waitFor(waiting, (s) => s.customStatus === 'waiting');
    await expect(c.purgeInstanceHistory(waiting)).rejects.toThrow(/412/); // only finished instances are purged
    await c.terminate(waiting, 'stop it');
    await engine.waitForCompletion(waiting);
    const terminated = await c.getStatus(waiting);
    expect(terminated.runtimeStatus).toBe('Terminated');
    expect(terminated.output).toBe('stop it');

    const completedOnly = await c.getStatusBy({ runtimeStatus: [df.OrchestrationRuntimeStatus.Completed] });
    expect(completedOnly.map((s) => s.instanceId)).toContain(id);
    expect(completedOnly.map((s) => s.instanceId)).not.toContain(waiting);

    expect((await c.purgeInstanceHistory(id)).instancesDeleted).toBe(1);
    await expect(c.getStatus(id)).rejects.toThrow(/404/);
    expect((await c.purgeInstanceHistory(id)).instancesDeleted).toBe(0);
    await expect(c.raiseEvent(`missing-${randomUUID()}`, 'x', 1)).rejects.toThrow(/No instance/);
  });

  it('builds check-status responses whose URLs work against the host', async () => {
    const c = client();
    const id = await c.startNew('waitsForever');
    const request = new HttpRequest({ method: 'POST', url: `${host.baseUrl}/api/start` });
    const response = c.createCheckStatusResponse(request, id);
    expect(response.status).toBe(202);
    const payload = (await response.json()) as ReturnType<typeof c.createHttpManagementPayload>;
    expect(payload.id).toBe(id);
    expect(payload.statusQueryGetUri.startsWith(`${host.baseUrl}/runtime/webhooks/durabletask/instances/${id}`)).toBe(
      true,
    );
    const status = await fetch(payload.statusQueryGetUri);
    expect([200, 202]).toContain(status.status);
    expect(((await status.json()) as { instanceId: string }).instanceId).toBe(id);

    const event = await fetch(payload.sendEventPostUri.replace('{eventName}', 'never'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{not json',
    });
    expect(event.status).toBe(400);
    expect(((await event.json()) as { code: string }).code).toBe('durable_invalid_request');

    const stop = await fetch(payload.terminatePostUri.replace('{text}', 'done'), { method: 'POST' });
    expect(stop.status).toBe(202);
    await durable.engine.waitForCompletion(id);
    const purge = await fetch(payload.purgeHistoryDeleteUri, { method: 'DELETE' });
    expect(((await purge.json()) as { instancesDeleted: number }).instancesDeleted).toBe(1);
  });

  it('rejects an unknown orchestrator and a bad status filter with coded errors', async () => {
    const c = client();
    await expect(c.startNew('doesNotExist')).rejects.toThrow(/durable_unknown_orchestrator/);
    const list = await fetch(`${host.baseUrl}/runtime/webhooks/durabletask/instances?runtimeStatus=Sleeping`);
    expect(list.status).toBe(400);
    expect(((await list.json()) as { code: string }).code).toBe('durable_invalid_request');
  });
});
