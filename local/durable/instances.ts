import type { Clock } from './clock';
import { DurableEngineError } from './errors';
import {
  freshState,
  fromInstanceRow,
  type Instance,
  messageRow,
  newEvent,
  type ParentLink,
  toInstanceRow,
} from './records';
import { type DurableStore, INSTANCE_ROW, unpackJson } from './store';
import { EventType, type HistoryEvent } from './wire';

/** Instance-level reads and writes on the task hub's table: create, load, history, purge. */
export class InstanceTable {
  constructor(
    readonly store: DurableStore,
    private readonly clock: Clock,
  ) {}

  /** Writes a Pending instance row and its ExecutionStarted message in one transaction. */
  async create(instanceId: string, name: string, input: unknown, exec: string, parent?: ParentLink): Promise<void> {
    const now = this.clock.now();
    const instance: Instance = {
      instanceId,
      name,
      runtimeStatus: 'Pending',
      input,
      output: undefined,
      customStatus: undefined,
      createdTime: now,
      lastUpdatedTime: now,
      exec,
      episode: 0,
      state: freshState(),
      parent,
    };
    const start = newEvent(EventType.ExecutionStarted, now, { Name: name, Input: JSON.stringify(input ?? null) });
    await this.store.transact([
      ['upsert', toInstanceRow(instance), 'Replace'],
      ['upsert', messageRow(instanceId, `m-s-${exec}`, 'start', start, exec), 'Replace'],
    ]);
  }

  async load(instanceId: string): Promise<Instance | undefined> {
    const row = await this.store.get(instanceId, INSTANCE_ROW);
    return row ? fromInstanceRow(row) : undefined;
  }

  async require(instanceId: string): Promise<Instance> {
    const instance = await this.load(instanceId);
    if (!instance)
      throw new DurableEngineError('durable_instance_not_found', `No instance with ID '${instanceId}' found.`);
    return instance;
  }

  async list(): Promise<Instance[]> {
    const rows = await this.store.query(`RowKey eq '${INSTANCE_ROW}'`);
    return rows.map(fromInstanceRow);
  }

  /** The committed history of the instance's current execution, in episode order. */
  async history(instance: Instance): Promise<HistoryEvent[]> {
    const rows = await this.store.partition(instance.instanceId, `h-${instance.exec}-`);
    rows.sort((a, b) => Number(a.episode) - Number(b.episode));
    return rows
      .filter((r) => Number(r.episode) <= instance.episode)
      .flatMap((r) => unpackJson(r, 'events') as HistoryEvent[]);
  }

  /** Deletes every row of the instance. */
  async purge(instanceId: string): Promise<void> {
    await this.store.deleteRows(await this.store.partition(instanceId));
  }
}
