import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ActivityRunner } from '../../../local/durable/activityRunner';
import { VirtualClock } from '../../../local/durable/clock';
import { DurableStore, packJson, type Row, unpackJson } from '../../../local/durable/store';
import { EventType, type HistoryEvent } from '../../../local/durable/wire';
import type { InvokeRequest, InvokeResult } from '../../../local/host/contract';

/** The activity runner on its own, against real Azurite tables: what it records when an activity fails. */
describe('activity runner', () => {
  let store: DurableStore;
  const clock = new VirtualClock(Date.UTC(2026, 5, 1));

  beforeAll(async () => {
    store = DurableStore.fromConnectionString(inject('azurite').connectionString, `Act${randomUUID().slice(0, 8)}`);
    await store.init();
  });

  async function workItem(name: string, input: unknown): Promise<Row> {
    const row: Row = {
      partitionKey: `i-${randomUUID()}`,
      rowKey: 'a-ex1-000003',
      exec: 'ex1',
      episode: 1,
      name,
      taskId: 3,
      ...packJson('input', input),
    };
    await store.upsert(row);
    return row;
  }

  function runner(invoke: (r: InvokeRequest) => Promise<InvokeResult>, logs: string[] = [], maxConcurrent = 8) {
    return new ActivityRunner({
      store,
      clock,
      invoke,
      functionKind: (name) => (name === 'httpThing' ? 'httpTrigger' : 'activityTrigger'),
      maxConcurrent,
      onSettled: () => {},
      log: (m) => logs.push(m),
    });
  }

  async function recorded(row: Row): Promise<HistoryEvent | undefined> {
    const message = await store.get(row.partitionKey, 'm-a-ex1-000003');
    return message ? (unpackJson(message, 'event') as HistoryEvent) : undefined;
  }

  it('records a throwing activity as TaskFailed with its message and stack, and retires the work item', async () => {
    const row = await workItem('alwaysFails', 'x');
    await runner(async () => {
      throw new Error('boom for x');
    }).run(row);
    const event = await recorded(row);
    expect(event).toMatchObject({
      EventType: EventType.TaskFailed,
      TaskScheduledId: 3,
      Reason: "Activity function 'alwaysFails' failed: boom for x",
    });
    expect(event?.Details).toContain('boom for x');
    expect(await store.get(row.partitionKey, row.rowKey)).toBeUndefined();
  });

  it("forwards the FailureDetails wrapActivityHandler puts in the error's message", async () => {
    const row = await workItem('alwaysFails', 'y');
    const details = { errorType: 'QuotaError', errorMessage: 'quota exceeded', properties: { retryAfter: 30 } };
    await runner(async () => {
      throw new Error(JSON.stringify(details));
    }).run(row);
    expect(await recorded(row)).toMatchObject({
      EventType: EventType.TaskFailed,
      Reason: "Activity function 'alwaysFails' failed: quota exceeded",
      FailureDetails: { ErrorType: 'QuotaError', ErrorMessage: 'quota exceeded', Properties: { retryAfter: 30 } },
    });
  });

  it('fails the task without invoking anything when the function is not an activity', async () => {
    const row = await workItem('httpThing', null);
    let invoked = 0;
    await runner(async () => {
      invoked++;
      return { returnValue: 'ran', outputs: {} };
    }).run(row);
    expect(invoked).toBe(0);
    expect((await recorded(row))?.Reason).toContain("'httpThing' doesn't exist or is not an activity function");
  });

  it('records nothing when the work item was retired while the activity ran (its execution ended)', async () => {
    const row = await workItem('record', 'z');
    const logs: string[] = [];
    await runner(async () => {
      await store.delete(row.partitionKey, row.rowKey);
      return { returnValue: 'Z', outputs: {} };
    }, logs).run(row);
    expect(await recorded(row)).toBeUndefined();
    expect(logs).toEqual([]);
  });

  it('logs, and does not throw, when the result cannot be recorded for another reason', async () => {
    const row = await workItem('record', 'w');
    const logs: string[] = [];
    const failing = Object.create(store) as DurableStore;
    failing.transact = async () => {
      throw new Error('storage unavailable');
    };
    const activityRunner = new ActivityRunner({
      store: failing,
      clock,
      invoke: async () => ({ returnValue: 'W', outputs: {} }),
      maxConcurrent: 1,
      onSettled: () => {},
      log: (m) => logs.push(m),
    });
    await expect(activityRunner.run(row)).resolves.toBeUndefined();
    expect(logs.join('\n')).toContain("could not record completion of activity 'record': storage unavailable");
    expect(await store.get(row.partitionKey, row.rowKey)).toBeDefined(); // still there: it runs again
  });

  it('does not run a work item again for a scan that predates its completion, nor when closed or full', async () => {
    let invoked = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const activityRunner = runner(
      async () => {
        invoked++;
        await gate;
        return { returnValue: 1, outputs: {} };
      },
      [],
      1,
    );
    const first = await workItem('double', 1);
    const second = await workItem('double', 2);

    activityRunner.offer(first, 1); // closed: not taken
    expect(activityRunner.running).toBe(0);

    activityRunner.open();
    activityRunner.beginScan(1);
    activityRunner.offer(first, 1);
    activityRunner.offer(second, 1); // full (maxConcurrent 1)
    expect(activityRunner.running).toBe(1);
    release();
    await activityRunner.drain(5_000);
    expect(invoked).toBe(1);

    activityRunner.offer(first, 1); // the same (older) scan still lists the finished item
    expect(activityRunner.running).toBe(0);
    expect(invoked).toBe(1);
  });
});
