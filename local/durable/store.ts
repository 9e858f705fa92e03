import { odata, TableClient, type TableEntity, type TransactionAction } from '@azure/data-tables';
import { ensureTable } from '../../shared/config/tables';

/**
 * Durable state in one Azurite table per task hub. Everything that belongs to one orchestration
 * instance lives in one partition (PartitionKey = instanceId), so an orchestration step commits
 * with a single entity-group transaction. Row kinds, by RowKey:
 *   instance                   status, input/output/custom status, engine bookkeeping
 *   h-<exec>-<episode>         the history events one episode appended
 *   m-<...>                    inbox: events waiting for the orchestrator (visibleAt for timers)
 *   a-<exec>-<taskId>          an activity to run
 *   o-<exec>-<key>             outbox: a message for another instance (sub-orchestration start / completion)
 * plus one row in partition '' (RowKey dispatcher-lease): which engine dispatches this hub.
 */

export const INSTANCE_ROW = 'instance';
/** Instance ids are never empty, so the empty partition is free for the hub's own rows. */
const LEASE_PARTITION = '';
const LEASE_ROW = 'dispatcher-lease';
/** Azure Tables caps a string property at 64 KiB (32K UTF-16 chars); larger JSON is split across properties. */
const CHUNK_CHARS = 30_000;
/** Entity-group transactions take at most 100 operations. */
export const MAX_BATCH = 100;

export type Row = TableEntity<Record<string, unknown>> & { etag?: string };

export class DurableStore {
  private constructor(
    readonly table: TableClient,
    readonly taskHub: string,
  ) {}

  static fromConnectionString(connectionString: string, taskHub: string): DurableStore {
    if (!/^[A-Za-z][A-Za-z0-9]{2,44}$/.test(taskHub)) {
      throw new Error(
        `durable_invalid_task_hub: task hub name "${taskHub}" must be 3-45 letters or digits, starting with a letter`,
      );
    }
    const table = TableClient.fromConnectionString(connectionString, `${taskHub}Instances`, {
      allowInsecureConnection: connectionString.includes('http://'),
    });
    return new DurableStore(table, taskHub);
  }

  /** Creates the table once (idempotent). */
  init(): Promise<void> {
    return ensureTable(this.table);
  }

  /**
   * Take or renew the dispatcher lease of this task hub (one dispatching engine per hub, like DTFx's
   * partition leases). Returns the lease's expiry, or undefined while another live owner holds it.
   */
  async acquireLease(owner: string, now: number, durationMs: number): Promise<number | undefined> {
    const current = await this.get(LEASE_PARTITION, LEASE_ROW);
    const expiresAt = now + durationMs;
    const row = { partitionKey: LEASE_PARTITION, rowKey: LEASE_ROW, owner, expiresAt };
    try {
      if (!current) await this.table.createEntity(row);
      else if (current.owner === owner || Number(current.expiresAt) <= now) {
        await this.table.updateEntity(row, 'Replace', { etag: current.etag });
      } else return undefined;
      return expiresAt;
    } catch (err) {
      if (statusOf(err) === 409 || statusOf(err) === 412) return undefined; // someone else won the race
      throw err;
    }
  }

  async releaseLease(owner: string): Promise<void> {
    const current = await this.get(LEASE_PARTITION, LEASE_ROW);
    if (current?.owner !== owner) return;
    try {
      await this.table.deleteEntity(LEASE_PARTITION, LEASE_ROW, { etag: current.etag });
    } catch (err) {
      if (statusOf(err) !== 404 && statusOf(err) !== 412) throw err;
    }
  }

  async get(partitionKey: string, rowKey: string): Promise<Row | undefined> {
    try {
      return (await this.table.getEntity(partitionKey, rowKey)) as Row;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async query(filter: string, select?: string[]): Promise<Row[]> {
    const rows: Row[] = [];
    for await (const row of this.table.listEntities({ queryOptions: { filter, select } })) rows.push(row as Row);
    return rows;
  }

  /** Rows of every instance whose RowKey starts with one of the prefixes (e.g. 'm-', 'a-', 'o-'). */
  async scan(prefixes: string[]): Promise<Row[]> {
    const clauses = prefixes.map((p) => odata`(RowKey ge ${p} and RowKey lt ${nextPrefix(p)})`);
    return this.query(clauses.join(' or '));
  }

  async partition(partitionKey: string, prefix?: string): Promise<Row[]> {
    const filter = prefix
      ? odata`PartitionKey eq ${partitionKey} and RowKey ge ${prefix} and RowKey lt ${nextPrefix(prefix)}`
      : odata`PartitionKey eq ${partitionKey}`;
    return this.query(filter);
  }

  async upsert(row: Row): Promise<void> {
    await this.table.upsertEntity(row, 'Replace');
  }

  async delete(partitionKey: string, rowKey: string): Promise<void> {
    try {
      await this.table.deleteEntity(partitionKey, rowKey);
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }

  /** One atomic transaction in one partition. */
  async transact(actions: TransactionAction[]): Promise<void> {
    if (actions.length === 0) return;
    if (actions.length > MAX_BATCH) throw new Error(`durable_batch_too_large: ${actions.length} operations`);
    await this.table.submitTransaction(actions);
  }

  async deleteRows(rows: Row[]): Promise<void> {
    const byPartition = new Map<string, Row[]>();
    for (const row of rows) {
      const list = byPartition.get(row.partitionKey) ?? [];
      list.push(row);
      byPartition.set(row.partitionKey, list);
    }
    for (const list of byPartition.values()) {
      for (let i = 0; i < list.length; i += MAX_BATCH) {
        const chunk = list.slice(i, i + MAX_BATCH);
        try {
          await this.transact(chunk.map((r) => ['delete', { partitionKey: r.partitionKey, rowKey: r.rowKey }]));
        } catch {
          // Some row vanished meanwhile: fall back to one by one (delete ignores 404).
          for (const r of chunk) await this.delete(r.partitionKey, r.rowKey);
        }
      }
    }
  }
}

/** Store a JSON value under `name`, split into `name_0..name_n` when large. */
export function packJson(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return { [`${name}_parts`]: -1 };
  const text = JSON.stringify(value);
  const parts = Math.max(1, Math.ceil(text.length / CHUNK_CHARS));
  const out: Record<string, unknown> = { [`${name}_parts`]: parts };
  for (let i = 0; i < parts; i++) out[`${name}_${i}`] = text.slice(i * CHUNK_CHARS, (i + 1) * CHUNK_CHARS);
  return out;
}

export function unpackJson(row: Record<string, unknown>, name: string): unknown {
  const parts = row[`${name}_parts`];
  if (typeof parts !== 'number' || parts < 0) return undefined;
  let text = '';
  for (let i = 0; i < parts; i++) {
    const part = row[`${name}_${i}`];
    if (typeof part !== 'string') throw new Error(`durable_corrupt_row: ${name} part ${i} missing in ${row.rowKey}`);
    text += part;
  }
  return JSON.parse(text);
}

export function statusOf(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'statusCode' in err) {
    const code = (err as { statusCode: unknown }).statusCode;
    return typeof code === 'number' ? code : undefined;
  }
  return undefined;
}

function nextPrefix(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}
