import { odata, RestError, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { TABLES } from '../config/resources';
import { ensureTable } from '../config/tables';

/** The notifications table's name (resources.json; Bicep creates every table listed there). */
export const NOTIFICATIONS_TABLE = TABLES.notifications;

export const notificationRecordSchema = z.object({
  eventId: z.string(),
  channel: z.string(),
  kind: z.enum(['teams', 'slack']),
  eventType: z.string(),
  runId: z.string(),
  team: z.string(),
  status: z.enum(['sent', 'failed']),
  /** HTTP status of the last answer (absent when there was none: timeout, refused, blocked). */
  httpStatus: z.number().int().optional(),
  /** Why the last attempt failed: `http_429`, `response_timeout`… never the URL. */
  lastError: z.string().optional(),
  attempts: z.number().int().nonnegative(),
  sentAt: z.string().optional(),
  updatedAt: z.string(),
});
export type NotificationRecord = z.infer<typeof notificationRecordSchema>;

/**
 * One row per (event id, channel): PartitionKey = event id, RowKey = channel name (URI-encoded:
 * RowKey forbids / \ # ?). A redelivered message skips channels whose row says `sent`.
 */
export class NotificationLog {
  constructor(private readonly table: TableClient) {}

  ensure(): Promise<void> {
    return ensureTable(this.table);
  }

  async get(eventId: string, channel: string): Promise<NotificationRecord | undefined> {
    await this.ensure();
    try {
      const entity = await this.table.getEntity<Record<string, unknown>>(eventId, rowKey(channel));
      return notificationRecordSchema.parse(entity);
    } catch (err) {
      if (err instanceof RestError && err.statusCode === 404) return undefined;
      throw err;
    }
  }

  async record(record: NotificationRecord): Promise<void> {
    await this.ensure();
    const entity: Record<string, unknown> = { partitionKey: record.eventId, rowKey: rowKey(record.channel) };
    for (const [key, value] of Object.entries(record)) if (value !== undefined) entity[key] = value;
    await this.table.upsertEntity(entity as { partitionKey: string; rowKey: string }, 'Replace');
  }

  /** Every channel row of one event (operations: what went where). */
  async forEvent(eventId: string): Promise<NotificationRecord[]> {
    await this.ensure();
    const out: NotificationRecord[] = [];
    const rows = this.table.listEntities<Record<string, unknown>>({
      queryOptions: { filter: odata`PartitionKey eq ${eventId}` },
    });
    for await (const row of rows) out.push(notificationRecordSchema.parse(row));
    return out;
  }
}

function rowKey(channel: string): string {
  return encodeURIComponent(channel);
}
