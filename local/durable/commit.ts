import type { TransactionAction } from '@azure/data-tables';
import type { Clock } from './clock';
import type { InstanceTable } from './instances';
import type { Outbox } from './outbox';
import {
  type EngineState,
  freshState,
  type Instance,
  type Message,
  messageRow,
  newEvent,
  type OutboxPayload,
  pad,
  toInstanceRow,
} from './records';
import { INSTANCE_ROW, packJson, type Row } from './store';
import { EventType, type HistoryEvent, TERMINAL_STATUSES } from './wire';

/** A commit that only retires messages and moves the bookkeeping (no replay happened). */
export interface CommitOnly {
  consumed: Message[];
  events: HistoryEvent[];
  update: Partial<Pick<Instance, 'runtimeStatus' | 'output' | 'customStatus'>>;
  state: EngineState;
}

/** Everything one orchestrator episode decided, committed together. */
export interface EpisodePlan extends CommitOnly {
  /** Rows written ahead of the commit, gated on its episode number (activity work items, timers). */
  writes: Row[];
  /** RowKeys in the instance's partition to delete after the commit (canceled timers). */
  deletes: string[];
  outbox: OutboxPayload[];
  continueAsNew?: { input: unknown; exec: string };
}

/**
 * Commits an episode: writes ahead the rows other partitions/dispatchers act on, then one
 * entity-group transaction (history row, instance row with ETag check, consumed messages deleted),
 * then delivers the outbox and cleans up a finished execution. An ETag conflict (another writer
 * moved the instance) rejects the whole transaction; the dispatcher redoes the step from storage.
 */
export class EpisodeCommitter {
  constructor(
    private readonly instances: InstanceTable,
    private readonly outbox: Outbox,
    private readonly clock: Clock,
  ) {}

  async commit(instance: Instance, plan: EpisodePlan | CommitOnly): Promise<void> {
    const store = this.instances.store;
    const episode = instance.episode + 1;
    const writes = 'writes' in plan ? plan.writes : [];
    const outbox = 'outbox' in plan ? plan.outbox : [];
    const outboxRows: Row[] = outbox.map((payload, i) => ({
      partitionKey: instance.instanceId,
      rowKey: `o-${instance.exec}-${pad(episode)}-${i}`,
      exec: instance.exec,
      episode,
      ...packJson('payload', payload),
    }));
    // Gated rows: invisible to the dispatcher until the instance row says this episode committed.
    await Promise.all([...writes, ...outboxRows].map((row) => store.upsert(row)));

    const update = plan.update;
    const next: Instance = {
      ...instance,
      runtimeStatus: update.runtimeStatus ?? instance.runtimeStatus,
      output: 'output' in update ? update.output : instance.output,
      customStatus: 'customStatus' in update ? update.customStatus : instance.customStatus,
      lastUpdatedTime: this.clock.now(),
      episode: plan.events.length > 0 ? episode : instance.episode,
      state: plan.state,
    };
    const actions: TransactionAction[] = [];
    if (plan.events.length > 0) {
      actions.push([
        'upsert',
        {
          partitionKey: instance.instanceId,
          rowKey: `h-${instance.exec}-${pad(episode)}`,
          exec: instance.exec,
          episode,
          ...packJson('events', plan.events),
        },
        'Replace',
      ]);
    }
    if ('continueAsNew' in plan && plan.continueAsNew) {
      const { input, exec } = plan.continueAsNew;
      Object.assign(next, { exec, episode: 0, state: freshState(), input, output: undefined });
      actions.push([
        'upsert',
        messageRow(
          instance.instanceId,
          `m-s-${exec}`,
          'start',
          newEvent(EventType.ExecutionStarted, this.clock.now(), {
            Name: instance.name,
            Input: JSON.stringify(input ?? null),
          }),
          exec,
        ),
        'Replace',
      ]);
    }
    actions.push(['update', toInstanceRow(next), 'Replace', { etag: instance.etag ?? '*' }]);
    for (const message of plan.consumed) {
      actions.push(['delete', { partitionKey: message.row.partitionKey, rowKey: message.row.rowKey }]);
    }
    await store.transact(actions); // at most MAX_EVENTS_PER_EPISODE (orchestrationStep) + 3 operations

    for (const row of outboxRows) await this.outbox.deliver(row);
    if ('deletes' in plan && plan.deletes.length > 0) {
      await store.deleteRows(plan.deletes.map((rowKey) => ({ partitionKey: instance.instanceId, rowKey })));
    }
    if (TERMINAL_STATUSES.has(next.runtimeStatus) || next.exec !== instance.exec) {
      await this.cleanUpExecution(instance);
    }
  }

  /** After an execution ends: drop its pending timers, activities and older history rows (best effort). */
  private async cleanUpExecution(instance: Instance): Promise<void> {
    const store = this.instances.store;
    const rows = await store.partition(instance.instanceId);
    const leftovers = rows.filter((r) => {
      if (r.rowKey === INSTANCE_ROW || r.rowKey.startsWith('o-')) return false;
      if (r.rowKey.startsWith('h-')) return false; // history stays until purge (status showHistory reads it)
      return String(r.exec ?? '') === instance.exec && !r.rowKey.startsWith('m-s-');
    });
    await store.deleteRows(leftovers);
    const current = await this.instances.load(instance.instanceId);
    if (current && current.exec !== instance.exec) {
      await store.deleteRows(rows.filter((r) => r.rowKey.startsWith(`h-${instance.exec}-`)));
    }
  }
}
