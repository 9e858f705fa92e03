import { createHash } from 'node:crypto';
import { odata, RestError, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { ensureTable, teamsFilter } from '../config/tables';
import { EVENT_TYPES } from '../events/types';
import { DELIVERY_STATUSES, type Delivery, type DeliveryPage, type DeliveryStatus, deliverySchema } from './contracts';
import { WebhookError } from './errors';

const ROW_KEY = 'delivery';
/**
 * The body is stored base64 (of its UTF-8) in payload0…payloadN: a Table string property holds
 * 64 KiB, and Azurite garbles a multi-byte character that straddles a 64 KiB chunk of the request
 * (measured: an emoji at UTF-16 offset 17428 of a 60 KB property came back as U+FFFD).
 */
const PAYLOAD_CHUNK_CHARS = 30_000;
const PUBLIC_FIELDS = [
  'PartitionKey',
  'subscriptionId',
  'team',
  'eventId',
  'eventType',
  'subject',
  'status',
  'attempts',
  'generation',
  'lastResult',
  'lastAttemptAt',
  'nextAttemptAt',
  'createdAt',
  'updatedAt',
];

/** One event for one subscription: the same pair always gets the same id, so a redelivered bus message finds it. */
export function deliveryIdFor(subscriptionId: string, eventId: string): string {
  return `dl_${createHash('sha256').update(`${subscriptionId}\n${eventId}`).digest('hex').slice(0, 40)}`;
}

/** A delivery as stored: the public record plus what attempts need. */
export interface DeliveryRecord extends Delivery {
  /** Redelivery round (0 = original); attempt messages of another round are stale. */
  generation: number;
  /** The exact body every attempt sends (signatures cover these bytes). */
  payload: string;
  /** Optimistic concurrency: updates fail with `conflict` when someone else wrote in between. */
  etag: string;
}

const entitySchema = z.object({
  partitionKey: z.string(),
  subscriptionId: z.string(),
  team: z.string(),
  eventId: z.string(),
  eventType: z.enum(EVENT_TYPES),
  subject: z.string(),
  status: z.enum(DELIVERY_STATUSES),
  attempts: z.number().int().nonnegative(),
  generation: z.number().int().nonnegative().default(0),
  lastResult: z.string().optional(),
  lastAttemptAt: z.string().optional(),
  nextAttemptAt: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  payloadChunks: z.number().int().nonnegative().optional(),
});

/**
 * Deliveries in an Azure Table (tunedropDeliveries), one entity per delivery, PartitionKey =
 * delivery id (point reads by the attempt messages). Lists by status/team are filtered scans.
 */
export class TableDeliveryStore {
  constructor(private readonly tableClient: TableClient) {}

  /** The table exists (created on first use; idempotent). */
  ensure(): Promise<void> {
    return ensureTable(this.tableClient);
  }

  private async table(): Promise<TableClient> {
    await this.ensure();
    return this.tableClient;
  }

  /** Insert a new delivery; false when one with this id exists already. */
  async create(record: Omit<DeliveryRecord, 'etag'>): Promise<boolean> {
    try {
      await (await this.table()).createEntity(toEntity(record));
      return true;
    } catch (err) {
      if (err instanceof RestError && err.statusCode === 409) return false;
      throw err;
    }
  }

  async get(id: string): Promise<DeliveryRecord | undefined> {
    if (!/^dl_[A-Za-z0-9]+$/.test(id)) return undefined;
    let entity: Record<string, unknown> & { etag: string };
    try {
      entity = await (await this.table()).getEntity(id, ROW_KEY);
    } catch (err) {
      if (err instanceof RestError && err.statusCode === 404) return undefined;
      throw err;
    }
    const base = parseEntity(entity);
    const chunks = base.payloadChunks ?? 0;
    let encoded = '';
    for (let i = 0; i < chunks; i++) {
      const part = entity[`payload${i}`];
      if (typeof part !== 'string')
        throw new WebhookError('corrupt_record', `delivery ${id} is missing payload part ${i}`);
      encoded += part;
    }
    const payload = Buffer.from(encoded, 'base64').toString('utf8');
    return { ...toDelivery(base), generation: base.generation, payload, etag: entity.etag };
  }

  /** Replace the delivery if nobody changed it since it was read; 'conflict' otherwise. */
  async update(record: DeliveryRecord): Promise<'updated' | 'conflict'> {
    try {
      await (await this.table()).updateEntity(toEntity(record), 'Replace', { etag: record.etag });
      return 'updated';
    } catch (err) {
      if (err instanceof RestError && (err.statusCode === 412 || err.statusCode === 404)) return 'conflict';
      throw err;
    }
  }

  async list(query: {
    status?: DeliveryStatus;
    team?: string;
    teams?: readonly string[];
    pageSize?: number;
    continuationToken?: string;
  }): Promise<DeliveryPage> {
    const filters = [odata`RowKey eq ${ROW_KEY}`];
    if (query.status) filters.push(odata`status eq ${query.status}`);
    if (query.team) filters.push(odata`team eq ${query.team}`);
    if (query.teams) filters.push(teamsFilter(query.teams));
    const pages = (await this.table())
      .listEntities({ queryOptions: { filter: filters.join(' and '), select: PUBLIC_FIELDS } })
      .byPage({
        maxPageSize: Math.min(Math.max(query.pageSize ?? 50, 1), 1000),
        continuationToken: query.continuationToken,
      });
    const next = await pages.next();
    if (next.done) return { deliveries: [] };
    const page = next.value;
    const out: DeliveryPage = { deliveries: page.map((e) => toDelivery(parseEntity(e))) };
    if (page.continuationToken) out.continuationToken = page.continuationToken;
    return out;
  }
}

function parseEntity(raw: Record<string, unknown>): z.infer<typeof entitySchema> {
  const parsed = entitySchema.safeParse(raw);
  if (!parsed.success) {
    throw new WebhookError(
      'corrupt_record',
      `delivery entity ${String(raw.partitionKey)} does not match the schema: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`,
    );
  }
  return parsed.data;
}

function toDelivery(e: z.infer<typeof entitySchema>): Delivery {
  return deliverySchema.parse({
    id: e.partitionKey,
    subscriptionId: e.subscriptionId,
    team: e.team,
    eventId: e.eventId,
    eventType: e.eventType,
    subject: e.subject,
    status: e.status,
    attempts: e.attempts,
    lastResult: e.lastResult,
    lastAttemptAt: e.lastAttemptAt,
    nextAttemptAt: e.nextAttemptAt,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
  });
}

function toEntity(r: Omit<DeliveryRecord, 'etag'>): { partitionKey: string; rowKey: string } & Record<string, unknown> {
  const entity: { partitionKey: string; rowKey: string } & Record<string, unknown> = {
    partitionKey: r.id,
    rowKey: ROW_KEY,
    subscriptionId: r.subscriptionId,
    team: r.team,
    eventId: r.eventId,
    eventType: r.eventType,
    subject: r.subject,
    status: r.status,
    attempts: r.attempts,
    generation: r.generation,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
  if (r.lastResult !== undefined) entity.lastResult = r.lastResult;
  if (r.lastAttemptAt !== undefined) entity.lastAttemptAt = r.lastAttemptAt;
  if (r.nextAttemptAt !== undefined) entity.nextAttemptAt = r.nextAttemptAt;
  const parts = splitPayload(Buffer.from(r.payload, 'utf8').toString('base64'));
  entity.payloadChunks = parts.length;
  parts.forEach((part, i) => {
    entity[`payload${i}`] = part;
  });
  return entity;
}

function splitPayload(encoded: string): string[] {
  const parts: string[] = [];
  for (let start = 0; start < encoded.length; start += PAYLOAD_CHUNK_CHARS) {
    parts.push(encoded.slice(start, start + PAYLOAD_CHUNK_CHARS));
  }
  return parts;
}
