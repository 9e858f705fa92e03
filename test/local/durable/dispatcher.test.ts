import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { VirtualClock } from '../../../local/durable/clock';
import { DurableEngine } from '../../../local/durable/engine';
import { DurableStore } from '../../../local/durable/store';
import { activities, countOf, orchestrations } from '../../fixtures/durable-app/handlers';
import { MiniHost } from './support/mini-host';

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('durable dispatcher lease', () => {
  it('stops dispatching when another owner takes its lease, and resumes once the lease is free', async () => {
    const host = new MiniHost(inject('azurite').connectionString);
    for (const [name, fn] of Object.entries(orchestrations)) host.orchestration(name, fn);
    for (const [name, fn] of Object.entries(activities)) host.activity(name, fn);
    const store = DurableStore.fromConnectionString(host.storageConnectionString, `Lost${randomUUID().slice(0, 8)}`);
    const logs: string[] = [];
    const engine = new DurableEngine({
      store,
      invoke: (request) => host.invoke(request),
      clock: new VirtualClock(Date.UTC(2026, 6, 1), true),
      pollIntervalMs: 20,
      dispatcherLeaseMs: 400,
      log: (m) => logs.push(m),
    });
    await engine.start();
    try {
      // It dispatches while it holds the lease.
      const before = await engine.startNew('fanOut', { input: [301] });
      expect((await engine.waitForCompletion(before)).runtimeStatus).toBe('Completed');

      // Another owner takes the lease (as a second engine would after ours stalled past its expiry).
      await store.table.upsertEntity(
        { partitionKey: '', rowKey: 'dispatcher-lease', owner: 'intruder', expiresAt: Date.now() + 60_000 },
        'Replace',
      );
      await until(() => logs.some((m) => m.includes('dispatched by another engine')), 5_000, 'the lease loss');

      const during = await engine.startNew('fanOut', { input: [302] });
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect((await engine.getStatus(during))?.runtimeStatus).toBe('Pending');
      expect(countOf('double:302')).toBe(0);

      // The intruder goes away without releasing properly: the row is deleted, ours takes the lease again.
      await store.table.deleteEntity('', 'dispatcher-lease');
      const done = await engine.waitForCompletion(during, 10_000);
      expect(done.output).toMatchObject({ doubled: [604] });
      expect(countOf('double:302')).toBe(1);
      const lease = await store.table.getEntity<{ owner: string }>('', 'dispatcher-lease');
      expect(lease.owner).not.toBe('intruder');
    } finally {
      await engine.stop();
    }
  });

  it('keeps retrying when the lease cannot be read, and dispatches once storage answers', async () => {
    const host = new MiniHost(inject('azurite').connectionString);
    for (const [name, fn] of Object.entries(orchestrations)) host.orchestration(name, fn);
    for (const [name, fn] of Object.entries(activities)) host.activity(name, fn);
    const store = DurableStore.fromConnectionString(host.storageConnectionString, `Flaky${randomUUID().slice(0, 8)}`);
    const realAcquire = store.acquireLease.bind(store);
    let failures = 0;
    store.acquireLease = async (...args) => {
      if (failures < 2) {
        failures++;
        throw new Error('table service unavailable');
      }
      return realAcquire(...args);
    };
    const logs: string[] = [];
    const engine = new DurableEngine({
      store,
      invoke: (request) => host.invoke(request),
      clock: new VirtualClock(Date.UTC(2026, 6, 2), true),
      pollIntervalMs: 20,
      log: (m) => logs.push(m),
    });
    await engine.start();
    try {
      const id = await engine.startNew('fanOut', { input: [303] });
      expect((await engine.waitForCompletion(id, 10_000)).output).toMatchObject({ doubled: [606] });
      expect(failures).toBe(2);
      expect(logs.filter((m) => m.includes('lease check failed (will retry): table service unavailable'))).toHaveLength(
        2,
      );
    } finally {
      await engine.stop();
    }
  });
});
