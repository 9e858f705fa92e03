import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { VirtualClock } from '../../../local/durable/clock';
import { DurableEngine } from '../../../local/durable/engine';
import { createDurableExtension, type DurableExtension, openDurableClient } from '../../../local/durable/extension';
import { DurableStore } from '../../../local/durable/store';
import { activities, countOf, orchestrations } from '../../fixtures/durable-app/handlers';
import { MiniHost } from './support/mini-host';

/** Stop the engine while an orchestration waits (on an event, then on a timer); a new engine on the same storage resumes it. */
describe('durable engine restart', () => {
  const running: Array<{ host: MiniHost; durable: DurableExtension }> = [];

  afterEach(async () => {
    for (const { host, durable } of running.splice(0)) {
      await durable.stop();
      await host.close();
    }
  });

  async function startRuntime(taskHub: string, clock: VirtualClock) {
    const host = new MiniHost(inject('azurite').connectionString);
    for (const [name, fn] of Object.entries(orchestrations)) host.orchestration(name, fn);
    for (const [name, fn] of Object.entries(activities)) host.activity(name, fn);
    await host.listen();
    const durable = createDurableExtension({ taskHub, clock, pollIntervalMs: 20 });
    await durable.start(host);
    const runtime = { host, durable };
    running.push(runtime);
    return {
      engine: durable.engine,
      stop: async () => {
        running.splice(running.indexOf(runtime), 1);
        await durable.stop();
        await host.close();
      },
    };
  }

  it('resumes after stops at an external event and at a timer without re-running recorded activities', async () => {
    const taskHub = `Restart${randomUUID().slice(0, 8)}`;
    const clock = new VirtualClock(Date.UTC(2026, 2, 1)); // moves only when the test says so
    const tag = randomUUID();

    const first = await startRuntime(taskHub, clock);
    const id = await first.engine.startNew('resumable', { input: tag });
    await first.engine.waitFor(id, (s) => s.customStatus === 'waiting-for-go');
    await first.stop();
    expect(countOf(`record:${tag}-a`)).toBe(1);

    const second = await startRuntime(taskHub, clock);
    expect((await second.engine.getStatus(id))?.runtimeStatus).toBe('Running');
    await second.engine.raiseEvent(id, 'go', 'now');
    await second.engine.waitFor(id, (s) => s.customStatus === 'sleeping');
    await second.stop();
    expect(countOf(`record:${tag}-b`)).toBe(1);

    const third = await startRuntime(taskHub, clock);
    // The timer is 30 minutes away on the virtual clock: nothing happens until it moves.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await third.engine.getStatus(id))?.runtimeStatus).toBe('Running');
    clock.advance(30 * 60 * 1000);
    const done = await third.engine.waitForCompletion(id);

    expect(done.runtimeStatus).toBe('Completed');
    expect(done.output).toEqual([`${tag}-A`.toUpperCase(), 'now', `${tag}-B`.toUpperCase(), `${tag}-C`.toUpperCase()]);
    expect(countOf(`record:${tag}-a`)).toBe(1);
    expect(countOf(`record:${tag}-b`)).toBe(1);
    expect(countOf(`record:${tag}-c`)).toBe(1);
  });
});

describe('durable engine crash between write-ahead and commit', () => {
  it('drops the uncommitted work items and redoes the step, running each activity once', async () => {
    const host = new MiniHost(inject('azurite').connectionString);
    for (const [name, fn] of Object.entries(orchestrations)) host.orchestration(name, fn);
    for (const [name, fn] of Object.entries(activities)) host.activity(name, fn);
    const store = DurableStore.fromConnectionString(host.storageConnectionString, `Crash${randomUUID().slice(0, 8)}`);
    // Fail the first episode commit that schedules work, as if the process died right before it.
    const realTransact = store.transact.bind(store);
    let failedCommits = 0;
    store.transact = async (actions) => {
      const commitsEpisode = actions.some(([kind, row]) => kind === 'upsert' && String(row.rowKey).startsWith('h-'));
      if (commitsEpisode && failedCommits === 0) {
        failedCommits++;
        throw new Error('simulated crash before commit');
      }
      return realTransact(actions);
    };
    const logs: string[] = [];
    const engine = new DurableEngine({
      store,
      invoke: (request) => host.invoke(request),
      clock: new VirtualClock(Date.UTC(2026, 3, 1), true),
      pollIntervalMs: 20,
      log: (m) => logs.push(m),
    });
    await engine.start();
    try {
      const values = [101, 102, 103];
      const id = await engine.startNew('fanOut', { input: values });
      const done = await engine.waitForCompletion(id);
      expect(done.output).toMatchObject({ doubled: [202, 204, 206] });
      expect(failedCommits).toBe(1);
      expect(logs.join('\n')).toContain('simulated crash before commit');
      for (const v of values) expect(countOf(`double:${v}`)).toBe(1);
    } finally {
      await engine.stop();
    }
  });
});

describe('durable engine dispatcher lease', () => {
  it('lets one engine dispatch a task hub at a time and hands over on stop', async () => {
    const taskHub = `Lease${randomUUID().slice(0, 8)}`;
    const clock = new VirtualClock(Date.UTC(2026, 10, 1));
    const tag = randomUUID();
    const makeEngine = (log: string[]) => {
      const host = new MiniHost(inject('azurite').connectionString);
      for (const [name, fn] of Object.entries(orchestrations)) host.orchestration(name, fn);
      for (const [name, fn] of Object.entries(activities)) host.activity(name, fn);
      const store = DurableStore.fromConnectionString(host.storageConnectionString, taskHub);
      return new DurableEngine({
        store,
        invoke: (r) => host.invoke(r),
        clock,
        pollIntervalMs: 20,
        log: (m) => log.push(m),
      });
    };
    const firstLog: string[] = [];
    const secondLog: string[] = [];
    const first = makeEngine(firstLog);
    const second = makeEngine(secondLog);
    await first.start();
    await second.start();
    try {
      const id = await second.startNew('resumable', { input: tag }); // client calls work on any engine
      await second.waitFor(id, (s) => s.customStatus === 'waiting-for-go');
      expect(secondLog.join('\n')).toContain('dispatched by another engine');
      await first.stop();
      await second.raiseEvent(id, 'go', 1);
      await second.waitFor(id, (s) => s.customStatus === 'sleeping');
      clock.advance(30 * 60 * 1000);
      expect((await second.waitForCompletion(id)).runtimeStatus).toBe('Completed');
      for (const stage of ['a', 'b', 'c']) expect(countOf(`record:${tag}-${stage}`)).toBe(1);
    } finally {
      await first.stop();
      await second.stop();
    }
  });
});

describe('client-only durable engine', () => {
  it('starts and reads instances that a dispatching engine on the same storage runs', async () => {
    const taskHub = `Cli${randomUUID().slice(0, 8)}`;
    const host = new MiniHost(inject('azurite').connectionString);
    for (const [name, fn] of Object.entries(orchestrations)) host.orchestration(name, fn);
    for (const [name, fn] of Object.entries(activities)) host.activity(name, fn);
    const durable = createDurableExtension({
      taskHub,
      clock: new VirtualClock(Date.UTC(2026, 11, 1), true),
      pollIntervalMs: 20,
    });
    await durable.start(host);
    try {
      const client = openDurableClient(host.storageConnectionString, taskHub);
      const id = await client.startNew('fanOut', { input: [7] });
      const done = await client.waitForCompletion(id, 10_000);
      expect(done.output).toMatchObject({ doubled: [14], child: { sum: 14 } });
      expect((await client.listInstances({ runtimeStatus: ['Completed'] })).map((s) => s.instanceId)).toContain(id);
    } finally {
      await durable.stop();
    }
  });
});
