import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { VirtualClock } from '../../../local/durable/clock';
import { createDurableExtension, type DurableExtension } from '../../../local/durable/extension';
import { DurableStore } from '../../../local/durable/store';
import { activities, countOf, HOUR, orchestrations } from '../../fixtures/durable-app/handlers';
import { MiniHost } from './support/mini-host';

/** Engine semantics through durable-functions' own replay code, with a stand-in host and a virtual clock. */
describe('durable engine (replay core)', () => {
  const clock = new VirtualClock(Date.UTC(2026, 0, 1), true);
  let host: MiniHost;
  let durable: DurableExtension;

  beforeAll(async () => {
    host = new MiniHost(inject('azurite').connectionString);
    for (const [name, fn] of Object.entries(orchestrations)) host.orchestration(name, fn);
    for (const [name, fn] of Object.entries(activities)) host.activity(name, fn);
    await host.listen();
    durable = createDurableExtension({
      taskHub: `Core${randomUUID().slice(0, 8)}`,
      clock,
      pollIntervalMs: 20,
      maximumShortTimerDuration: '6.00:00:00',
      longRunningTimerIntervalDuration: '3.00:00:00',
    });
    await durable.start(host);
  });

  afterAll(async () => {
    await durable?.stop();
    await host?.close();
  });

  it('runs an activity, a durable timer, an external event and a retried activity to the right output', async () => {
    const engine = durable.engine;
    const key = randomUUID();
    const id = await engine.startNew('pipeline', { input: { name: 'Ada', flakyKey: key } });
    const waiting = await engine.waitFor(
      id,
      (s) => (s.customStatus as { stage?: string } | null)?.stage === 'awaiting-approval',
    );
    expect(waiting.runtimeStatus).toBe('Running');
    await engine.raiseEvent(id, 'approval', { by: 'lead' });
    const done = await engine.waitForCompletion(id);
    expect(done.runtimeStatus).toBe('Completed');
    expect(done.output).toEqual({
      greeting: 'Hello, Ada!',
      waitedMs: 2 * HOUR,
      approval: { by: 'lead' },
      flaky: { attempts: 3 },
    });
    expect(done.customStatus).toEqual({ stage: 'done' });
    expect(countOf(`flaky:${key}`)).toBe(3);
    expect(countOf('greet:Ada')).toBe(1);
  });

  it('fails the retried task after maxNumberOfAttempts, and the orchestrator can catch it', async () => {
    const engine = durable.engine;
    const tag = randomUUID();
    const id = await engine.startNew('retriesExhausted', { input: tag });
    const done = await engine.waitForCompletion(id);
    expect(done.runtimeStatus).toBe('Completed');
    expect((done.output as { caught: string }).caught).toContain(`boom for ${tag}`);
    expect(countOf(`alwaysFails:${tag}`)).toBe(2);
  });

  it('marks an orchestration Failed when an activity failure is not caught', async () => {
    const engine = durable.engine;
    const tag = randomUUID();
    const id = await engine.startNew('uncaughtFailure', { input: tag });
    const done = await engine.waitForCompletion(id);
    expect(done.runtimeStatus).toBe('Failed');
    expect(String(done.output)).toContain("Orchestrator function 'uncaughtFailure' failed");
    expect(String(done.output)).toContain(`boom for ${tag}`);
  });

  it('fans out with Task.all, calls a sub-orchestration and races an event against a timer', async () => {
    const engine = durable.engine;
    const id = await engine.startNew('fanOut', { input: [1, 2, 3, 4, 5] });
    const done = await engine.waitForCompletion(id);
    expect(done.runtimeStatus).toBe('Completed');
    expect(done.output).toEqual({ doubled: [2, 4, 6, 8, 10], child: { sum: 30, parent: id }, timerWon: true });
    const child = await engine.getStatus(`${id}:5`);
    expect(child?.runtimeStatus).toBe('Completed');
  });

  it('retries a failed sub-orchestration as a new child instance', async () => {
    const engine = durable.engine;
    const key = randomUUID();
    const id = await engine.startNew('retriesChild', { input: key });
    const done = await engine.waitForCompletion(id);
    expect(done.runtimeStatus).toBe('Completed');
    // Sequence numbers: 0 = first child, 1 = retry timer, 2 = second child.
    expect(done.output).toEqual({ child: `${id}:2`, result: { attempts: 2 } });
    expect((await engine.getStatus(`${id}:0`))?.runtimeStatus).toBe('Failed');
    expect(String((await engine.getStatus(`${id}:0`))?.output)).toContain('flaky failure 1 of 1');
    expect(countOf(`flaky:${key}`)).toBe(2);
  });

  it('fails tasks that name a missing activity or orchestrator, catchably', async () => {
    const engine = durable.engine;
    const id = await engine.startNew('callsMissing');
    const done = await engine.waitForCompletion(id);
    expect(done.runtimeStatus).toBe('Completed');
    const [activityError, childError] = done.output as string[];
    expect(activityError).toContain("The function 'noSuchActivity' doesn't exist or is not an activity function");
    expect(childError).toContain("The function 'noSuchOrchestrator' doesn't exist or is not an orchestrator function");
  });

  it('fails an orchestration that uses an unsupported feature with a coded reason', async () => {
    const engine = durable.engine;
    const id = await engine.startNew('usesCallHttp');
    const done = await engine.waitForCompletion(id);
    expect(done.runtimeStatus).toBe('Failed');
    expect(String(done.output)).toContain('durable_not_supported: callHttp');
  });

  it('continues as new with fresh history until the orchestration returns', async () => {
    const engine = durable.engine;
    const id = await engine.startNew('counter', { input: 0 });
    const done = await engine.waitForCompletion(id);
    expect(done.output).toBe('counted to 3');
    expect(done.input).toBe(3);
    const withHistory = await engine.getStatus(id, { showHistory: true });
    const started = withHistory?.historyEvents?.filter(
      (e) => (e as { EventType: string }).EventType === 'ExecutionStarted',
    );
    expect(started).toHaveLength(1);
  });

  it('splits a timer longer than maximumShortTimerDuration the way the SDK expects', async () => {
    const engine = durable.engine;
    const id = await engine.startNew('longSleep');
    const done = await engine.waitForCompletion(id);
    expect(done.output).toEqual({ sleptDays: 10 });
    const history = (await engine.getStatus(id, { showHistory: true }))?.historyEvents ?? [];
    const timers = history.filter((e) => (e as { EventType: string }).EventType === 'TimerCreated');
    expect(timers.length).toBe(3); // slices at +3 d, +6 d, then the final +10 d
  });

  it('terminates a running instance and purges it', async () => {
    const engine = durable.engine;
    const id = await engine.startNew('waitsForever');
    await engine.waitFor(id, (s) => s.customStatus === 'waiting');
    await engine.terminate(id, 'no longer needed');
    const done = await engine.waitForCompletion(id);
    expect(done.runtimeStatus).toBe('Terminated');
    expect(done.output).toBe('no longer needed');
    await expect(engine.raiseEvent(id, 'never')).rejects.toThrow(/durable_instance_not_running/);
    expect(await engine.purge(id)).toBe(1);
    expect(await engine.getStatus(id)).toBeUndefined();
    expect(await engine.purge(id)).toBe(0);
  });

  it('rejects unknown orchestrators and duplicate running instance ids with coded errors', async () => {
    const engine = durable.engine;
    await expect(engine.startNew('nope')).rejects.toThrow(/durable_unknown_orchestrator/);
    const id = `dup-${randomUUID()}`;
    await engine.startNew('waitsForever', { instanceId: id });
    await expect(engine.startNew('waitsForever', { instanceId: id })).rejects.toThrow(/durable_instance_exists/);
    await engine.terminate(id);
    await engine.waitForCompletion(id);
  });
});

describe('durable engine on the system clock', () => {
  it('fires a short durable timer in real time', async () => {
    const host = new MiniHost(inject('azurite').connectionString);
    for (const [name, fn] of Object.entries(orchestrations)) host.orchestration(name, fn);
    const durable = createDurableExtension({ taskHub: `Wall${randomUUID().slice(0, 8)}`, pollIntervalMs: 20 });
    await durable.start(host);
    try {
      const started = Date.now();
      const id = await durable.engine.startNew('shortNap', { input: 300 });
      const done = await durable.engine.waitForCompletion(id, 10_000);
      expect(done.runtimeStatus).toBe('Completed');
      expect(done.output as number).toBeGreaterThanOrEqual(300);
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    } finally {
      await durable.stop();
    }
  });
});

describe('durable engine with a hand-driven clock', () => {
  it('races one external-event task against a new timer in every iteration, as trainingRun does', async () => {
    const host = new MiniHost(inject('azurite').connectionString);
    for (const [name, fn] of Object.entries(orchestrations)) host.orchestration(name, fn);
    for (const [name, fn] of Object.entries(activities)) host.activity(name, fn);
    const clock = new VirtualClock(Date.UTC(2026, 8, 1));
    const durable = createDurableExtension({ taskHub: `Poll${randomUUID().slice(0, 8)}`, clock, pollIntervalMs: 20 });
    await durable.start(host);
    try {
      const engine = durable.engine;
      const tag = randomUUID();
      const id = await engine.startNew('pollUntilCancelled', { input: tag });
      await engine.waitFor(id, (s) => s.runtimeStatus === 'Running');
      for (let poll = 1; poll <= 3; poll++) {
        clock.advance(10 * 60 * 1000);
        await engine.waitFor(id, (s) => (s.customStatus as { polls?: number } | null)?.polls === poll);
      }
      await engine.raiseEvent(id, 'cancel', 'user asked');
      const done = await engine.waitForCompletion(id);
      expect(done.output).toEqual({ polls: 3, reason: 'user asked' });
      for (let poll = 1; poll <= 3; poll++) expect(countOf(`record:${tag}-poll-${poll}`)).toBe(1);
    } finally {
      await durable.stop();
    }
  });

  it('deletes the timer a Task.any loser cancels instead of letting it fire', async () => {
    const host = new MiniHost(inject('azurite').connectionString);
    for (const [name, fn] of Object.entries(orchestrations)) host.orchestration(name, fn);
    const clock = new VirtualClock(Date.UTC(2026, 9, 1));
    const taskHub = `Cancel${randomUUID().slice(0, 8)}`;
    const durable = createDurableExtension({ taskHub, clock, pollIntervalMs: 20 });
    await durable.start(host);
    try {
      const engine = durable.engine;
      const id = await engine.startNew('raceThenNap');
      await engine.waitFor(id, (s) => s.runtimeStatus === 'Running');
      await engine.raiseEvent(id, 'go');
      await engine.waitFor(id, (s) => s.customStatus === 'napping');
      const store = DurableStore.fromConnectionString(host.storageConnectionString, taskHub);
      const timers = await store.partition(id, 'm-t-');
      expect(timers.map((t) => Number(t.visibleAt) - clock.now())).toEqual([60_000]);
      clock.advance(60_000);
      expect((await engine.waitForCompletion(id)).output).toEqual({ winner: 'event' });
    } finally {
      await durable.stop();
    }
  });
});
