import { createHash } from 'node:crypto';
import { odata, RestError, type TableClient } from '@azure/data-tables';
import { ProblemError } from './problem';

/** Standard Webhooks headers on an inbound `POST /api/runs`. */
export const INBOUND_SIGNATURE_HEADERS = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;
export const INBOUND_TOLERANCE_SECONDS = 300;

export type InboundVerification =
  | { ok: true; id: string; timestamp: number }
  | { ok: false; code: string; message: string };

/**
 * The inbound check: signature (Standard Webhooks, HMAC-SHA256 with the `whsec_` secret, timestamp
 * within the tolerance) and then replay protection by webhook-id. The secret stays inside `verify`.
 */
export interface InboundWebhookCheck {
  verify(headers: Record<string, string>, body: string, now: Date): InboundVerification;
  replay: ReplayLog;
}

export interface ReplayLog {
  /** Record a webhook-id; false when it was already recorded (a replay). Atomic. `now` is the verification's clock. */
  rememberOnce(id: string, timestamp: number, now: Date): Promise<boolean>;
}

/**
 * Seen webhook-ids in an Azure Table (the intake table, its own partition: intake log partitions
 * are 64-hex URL digests, so they never collide). Insert-if-absent makes the check atomic across
 * instances. Row key is a digest: webhook-ids may hold characters Table keys forbid. An id whose
 * timestamp is older than the tolerance can no longer pass verification, so each insert also
 * removes a bounded batch of those: the partition stays the size of a few minutes of traffic.
 */
export class TableReplayLog implements ReplayLog {
  static readonly PARTITION = 'inbound-webhook-id';
  static readonly PRUNE_BATCH = 100;

  constructor(
    private readonly table: TableClient,
    private readonly toleranceSeconds = INBOUND_TOLERANCE_SECONDS,
  ) {}

  async rememberOnce(id: string, timestamp: number, now: Date): Promise<boolean> {
    const rowKey = createHash('sha256').update(id).digest('hex');
    try {
      await this.table.createEntity({ partitionKey: TableReplayLog.PARTITION, rowKey, webhookTimestamp: timestamp });
    } catch (err) {
      if (err instanceof RestError && err.statusCode === 409) return false;
      throw err;
    }
    await this.pruneExpired(now);
    return true;
  }

  /** Delete up to PRUNE_BATCH ids whose timestamp is past the tolerance; returns how many. */
  async pruneExpired(now: Date): Promise<number> {
    const cutoff = Math.floor(now.getTime() / 1000) - this.toleranceSeconds;
    const expired = this.table.listEntities<{ webhookTimestamp: number }>({
      queryOptions: {
        filter: odata`PartitionKey eq ${TableReplayLog.PARTITION} and webhookTimestamp lt ${cutoff}`,
        select: ['rowKey'],
      },
    });
    let deleted = 0;
    for await (const entity of expired) {
      await this.table.deleteEntity(TableReplayLog.PARTITION, entity.rowKey as string).catch((err: unknown) => {
        if (!(err instanceof RestError && err.statusCode === 404)) throw err;
      });
      if (++deleted >= TableReplayLog.PRUNE_BATCH) break;
    }
    return deleted;
  }
}

/** Throws the problem to answer with, or returns when the request is authentic and new. */
export async function checkInboundSignature(
  check: InboundWebhookCheck,
  headers: Headers,
  rawBody: string,
  now: Date,
): Promise<void> {
  const picked: Record<string, string> = {};
  for (const name of INBOUND_SIGNATURE_HEADERS) {
    const value = headers.get(name);
    if (value !== null) picked[name] = value;
  }
  const missing = INBOUND_SIGNATURE_HEADERS.filter((name) => !(name in picked));
  if (missing.length) {
    throw new ProblemError(
      'invalid_signature',
      `Missing ${missing.join(', ')}: this endpoint requires signed requests.`,
      { reason: 'missing_headers' },
    );
  }
  const result = check.verify(picked, rawBody, now);
  if (!result.ok) throw new ProblemError('invalid_signature', result.message, { reason: result.code });
  if (!(await check.replay.rememberOnce(result.id, result.timestamp, now))) {
    throw new ProblemError('webhook_replayed', 'A request with this webhook-id was already accepted.');
  }
}
