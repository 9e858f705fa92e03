import { RestError, type TableClient, type TableEntity } from '@azure/data-tables';
import { z } from 'zod';
import { ensureTable } from '../../shared/config/tables';

export type PropertyValue = string | number | boolean;

/** One message in one subscription (active or dead-lettered), as the stand-in keeps it. Times are epoch ms. */
export interface StoredMessage {
  subscription: string;
  sequenceNumber: number;
  messageId: string;
  body: unknown;
  contentType?: string;
  subject?: string;
  correlationId?: string;
  applicationProperties: Record<string, PropertyValue>;
  /** When the message became (or becomes, if scheduled) visible in the subscription. */
  enqueuedTimeUtc: number;
  scheduledEnqueueTimeUtc?: number;
  expiresAtUtc: number;
  deliveryCount: number;
  state: 'active' | 'deadlettered';
  lockToken?: string;
  lockedUntilUtc?: number;
  /** Which stand-in instance holds the lock: locks of a previous (crashed or stopped) instance are released on open. */
  lockOwner?: string;
  deadLetterReason?: string;
  deadLetterErrorDescription?: string;
}

export interface BrokerSnapshot {
  messages: StoredMessage[];
  /** messageId → when it was accepted by the topic (duplicate detection history). */
  duplicates: Map<string, number>;
  lastSequenceNumber: number;
}

/**
 * Where the stand-in keeps its state. The stand-in holds everything in memory and writes each
 * change through before the operation returns, so a restart (a new instance on the same store)
 * picks up where the previous one stopped.
 */
export interface BrokerStore {
  load(): Promise<BrokerSnapshot>;
  saveMessage(message: StoredMessage): Promise<void>;
  deleteMessage(subscription: string, sequenceNumber: number): Promise<void>;
  saveDuplicate(messageId: string, acceptedAt: number): Promise<void>;
  deleteDuplicate(messageId: string): Promise<void>;
  saveLastSequenceNumber(sequenceNumber: number): Promise<void>;
  /** One cheap round trip to where the state lives (health); rejects when it does not answer. */
  probe?(): Promise<void>;
}

/** Keeps state in this process only; a second stand-in opened on the same instance sees it (restart in unit tests). */
export class MemoryBrokerStore implements BrokerStore {
  private readonly messages = new Map<string, StoredMessage>();
  private readonly duplicates = new Map<string, number>();
  private lastSequenceNumber = 0;

  async load(): Promise<BrokerSnapshot> {
    return {
      messages: [...this.messages.values()].map((m) => structuredClone(m)),
      duplicates: new Map(this.duplicates),
      lastSequenceNumber: this.lastSequenceNumber,
    };
  }
  async saveMessage(message: StoredMessage): Promise<void> {
    this.messages.set(`${message.subscription}/${message.sequenceNumber}`, structuredClone(message));
  }
  async deleteMessage(subscription: string, sequenceNumber: number): Promise<void> {
    this.messages.delete(`${subscription}/${sequenceNumber}`);
  }
  async saveDuplicate(messageId: string, acceptedAt: number): Promise<void> {
    this.duplicates.set(messageId, acceptedAt);
  }
  async deleteDuplicate(messageId: string): Promise<void> {
    this.duplicates.delete(messageId);
  }
  async saveLastSequenceNumber(sequenceNumber: number): Promise<void> {
    this.lastSequenceNumber = sequenceNumber;
  }
}

export class BrokerStoreError extends Error {
  constructor(
    readonly code: 'corrupt_store_entity',
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'BrokerStoreError';
  }
}

const MESSAGE_PARTITION_PREFIX = 'msg:';
const DUPLICATE_PARTITION = 'dup';
const META_PARTITION = 'meta';
const SEQUENCE_ROW = 'sequence';
/** Table string properties hold 64 KiB (32K UTF-16 chars); bodies are split across body0..bodyN. */
const BODY_CHUNK_CHARS = 30_000;

const messageEntitySchema = z.object({
  partitionKey: z.string().startsWith(MESSAGE_PARTITION_PREFIX),
  rowKey: z.string().regex(/^\d{16}$/),
  messageId: z.string(),
  bodyChunks: z.number().int().nonnegative(),
  contentType: z.string().optional(),
  subject: z.string().optional(),
  correlationId: z.string().optional(),
  applicationProperties: z.string(),
  enqueuedTimeUtc: z.number(),
  scheduledEnqueueTimeUtc: z.number().optional(),
  expiresAtUtc: z.number(),
  deliveryCount: z.number().int().nonnegative(),
  state: z.enum(['active', 'deadlettered']),
  lockToken: z.string().optional(),
  lockedUntilUtc: z.number().optional(),
  lockOwner: z.string().optional(),
  deadLetterReason: z.string().optional(),
  deadLetterErrorDescription: z.string().optional(),
});

const applicationPropertiesSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

/**
 * JSON with every non-ASCII character as a \\u escape. Azurite (3.35) corrupts a multi-byte UTF-8
 * character that straddles a chunk boundary of a large request body (one extra U+FFFD, measured);
 * an ASCII-only body has nothing to split.
 */
function asciiJson(value: unknown): string {
  return (JSON.stringify(value) ?? 'null').replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

const rowKeyOf = (sequenceNumber: number) => String(sequenceNumber).padStart(16, '0');
const duplicateRowKey = (messageId: string) => Buffer.from(messageId, 'utf8').toString('base64url');

/**
 * State in one Azure Table (Azurite locally): partition `msg:{subscription}` (row key = zero-padded
 * sequence number, so rows list in FIFO order), partition `dup` (duplicate detection history,
 * row key = base64url(messageId)) and `meta` (last sequence number).
 */
export class TableBrokerStore implements BrokerStore {
  constructor(private readonly table: TableClient) {}

  /** Create the table if needed. */
  ensure(): Promise<void> {
    return ensureTable(this.table);
  }

  async probe(): Promise<void> {
    try {
      await this.table.getEntity(META_PARTITION, SEQUENCE_ROW);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
  }

  async load(): Promise<BrokerSnapshot> {
    const snapshot: BrokerSnapshot = { messages: [], duplicates: new Map(), lastSequenceNumber: 0 };
    for await (const entity of this.table.listEntities<Record<string, unknown>>()) {
      const pk = String(entity.partitionKey);
      if (pk === META_PARTITION && entity.rowKey === SEQUENCE_ROW) {
        snapshot.lastSequenceNumber = z.number().int().nonnegative().parse(entity.value);
      } else if (pk === DUPLICATE_PARTITION) {
        const messageId = Buffer.from(String(entity.rowKey), 'base64url').toString('utf8');
        snapshot.duplicates.set(messageId, z.number().parse(entity.acceptedAt));
      } else if (pk.startsWith(MESSAGE_PARTITION_PREFIX)) {
        snapshot.messages.push(this.fromEntity(entity));
      }
    }
    return snapshot;
  }

  async saveMessage(m: StoredMessage): Promise<void> {
    const body = asciiJson(m.body);
    const chunks: Record<string, string> = {};
    let count = 0;
    for (let i = 0; i < body.length; i += BODY_CHUNK_CHARS)
      chunks[`body${count++}`] = body.slice(i, i + BODY_CHUNK_CHARS);
    const entity: TableEntity<Record<string, unknown>> = {
      partitionKey: MESSAGE_PARTITION_PREFIX + m.subscription,
      rowKey: rowKeyOf(m.sequenceNumber),
      messageId: m.messageId,
      bodyChunks: count,
      ...chunks,
      applicationProperties: asciiJson(m.applicationProperties),
      enqueuedTimeUtc: m.enqueuedTimeUtc,
      expiresAtUtc: m.expiresAtUtc,
      deliveryCount: m.deliveryCount,
      state: m.state,
    };
    const optional = [
      'contentType',
      'subject',
      'correlationId',
      'scheduledEnqueueTimeUtc',
      'lockToken',
      'lockedUntilUtc',
      'lockOwner',
      'deadLetterReason',
      'deadLetterErrorDescription',
    ] as const;
    for (const key of optional) if (m[key] !== undefined) entity[key] = m[key];
    // Replace, not merge: a released lock must disappear from the row.
    await this.table.upsertEntity(entity, 'Replace');
  }

  async deleteMessage(subscription: string, sequenceNumber: number): Promise<void> {
    await this.deleteIfExists(MESSAGE_PARTITION_PREFIX + subscription, rowKeyOf(sequenceNumber));
  }

  async saveDuplicate(messageId: string, acceptedAt: number): Promise<void> {
    await this.table.upsertEntity(
      { partitionKey: DUPLICATE_PARTITION, rowKey: duplicateRowKey(messageId), acceptedAt },
      'Replace',
    );
  }

  async deleteDuplicate(messageId: string): Promise<void> {
    await this.deleteIfExists(DUPLICATE_PARTITION, duplicateRowKey(messageId));
  }

  async saveLastSequenceNumber(sequenceNumber: number): Promise<void> {
    await this.table.upsertEntity(
      { partitionKey: META_PARTITION, rowKey: SEQUENCE_ROW, value: sequenceNumber },
      'Replace',
    );
  }

  private async deleteIfExists(partitionKey: string, rowKey: string): Promise<void> {
    try {
      await this.table.deleteEntity(partitionKey, rowKey);
    } catch (err) {
      if (!(err instanceof RestError && err.statusCode === 404)) throw err;
    }
  }

  private fromEntity(entity: Record<string, unknown>): StoredMessage {
    const parsed = messageEntitySchema.safeParse(entity);
    if (!parsed.success) {
      throw new BrokerStoreError(
        'corrupt_store_entity',
        `message row ${String(entity.partitionKey)}/${String(entity.rowKey)}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    }
    const e = parsed.data;
    let bodyText = '';
    for (let i = 0; i < e.bodyChunks; i++) bodyText += String(entity[`body${i}`] ?? '');
    let body: unknown;
    let applicationProperties: Record<string, PropertyValue>;
    try {
      body = JSON.parse(bodyText);
      applicationProperties = applicationPropertiesSchema.parse(JSON.parse(e.applicationProperties));
    } catch {
      throw new BrokerStoreError(
        'corrupt_store_entity',
        `message row ${e.partitionKey}/${e.rowKey}: body or properties not JSON`,
      );
    }
    const { partitionKey, rowKey, bodyChunks: _chunks, applicationProperties: _props, ...rest } = e;
    return {
      ...rest,
      subscription: partitionKey.slice(MESSAGE_PARTITION_PREFIX.length),
      sequenceNumber: Number(rowKey),
      body,
      applicationProperties,
    };
  }
}
