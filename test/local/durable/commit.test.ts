import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { VirtualClock } from '../../../local/durable/clock';
import { DurableEngine } from '../../../local/durable/engine';
import { DurableStore, INSTANCE_ROW, statusOf } from '../../../local/durable/store';
import { activities, countOf, orchestrations } from '../../fixtures/durable-app/handlers';
import { MiniHost } from './support/mini-host';

describe('durable episode commit', () => {
  it('loses an ETag race as a whole (nothing half-written) and redoes the step, running each activity once', async () => {
    const host = new MiniHost(inject('azurite').connectionString);
    for (const [name, fn] of Object.entries(orchestrations)) host.orchestration(name, fn);
    for (const [name, fn] of Object.entries(activities)) host.activity(name, fn);
    const store = DurableStore.fromConnectionString(host.storageConnectionString, `Etag${randomUUID().slice(0, 8)}`);
    // Just before the first episode commit, another writer changes the instance row (new ETag).
    const realTransact = store.transact.bind(store);
    const conflicts: Array<number | undefined> = [];
    let historyAfterConflict: string[] | undefined;
    store.transact = async (actions) => {
      const episodeCommit = actions.some(([kind, row]) => kind === 'upsert' && String(row.rowKey).startsWith('h-'));
      const instanceUpdate = actions.find(([kind, row]) => kind === 'update' && row.rowKey === INSTANCE_ROW);
      if (episodeCommit && instanceUpdate && conflicts.length === 0) {
        const { partitionKey } = instanceUpdate[1];
        await store.table.updateEntity({ partitionKey, rowKey: INSTANCE_ROW, touchedBy: 'another writer' }, 'Merge');
        try {
          await realTransact(actions);
        } catch (err) {
          conflicts.push(statusOf(err));
          historyAfterConflict = (await store.partition(String(partitionKey), 'h-')).map((r) => r.rowKey);
          throw err;
        }
        conflicts.push(undefined); // the conflict did not happen: the assertion below fails
        return;
      }
      return realTransact(actions);
    };
    const logs: string[] = [];
    const engine = new DurableEngine({
      store,
      invoke: (request) => host.invoke(request),
      clock: new VirtualClock(Date.UTC(2026, 7, 1), true),
      pollIntervalMs: 20,
      log: (m) => logs.push(m),
    });
    await engine.start();
    try {
      const values = [401, 402];
      const id = await engine.startNew('fanOut', { input: values });
      const done = await engine.waitForCompletion(id, 10_000);
      expect(conflicts).toEqual([412]);
      expect(historyAfterConflict).toEqual([]); // the rejected transaction wrote no history
      expect(logs.join('\n')).toContain('durable engine step failed (will retry)');
      expect(done.output).toMatchObject({ doubled: [802, 804], child: { sum: 1606 } });
      for (const v of values) expect(countOf(`double:${v}`)).toBe(1);
      const history = (await engine.getStatus(id, { showHistory: true }))?.historyEvents ?? [];
      expect(history.filter((e) => (e as { EventType?: unknown }).EventType === 'TaskScheduled')).toHaveLength(
        values.length,
      );
    } finally {
      await engine.stop();
    }
  });
});
