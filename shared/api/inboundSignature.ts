import { createHash } from 'node:crypto';
import { RestError, type TableClient } from '@azure/data-tables';
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
  /** Record a webhook-id; false when it was already recorded (a replay). Atomic. */
  rememberOnce(id: string, timestamp: number): Promise<boolean>;
}

/**
 * Seen webhook-ids in an Azure Table (the intake table, its own partition: intake log partitions
 * are 64-hex URL digests, so they never collide). Insert-if-absent makes the check atomic across
 * instances. Row key is a digest: webhook-ids may hold characters Table keys forbid.
 */
export class TableReplayLog implements ReplayLog {
  static readonly PARTITION = 'inbound-webhook-id';
  constructor(private readonly table: TableClient) {}

  async rememberOnce(id: string, timestamp: number): Promise<boolean> {
    const rowKey = createHash('sha256').update(id).digest('hex');
    try {
      await this.table.createEntity({ partitionKey: TableReplayLog.PARTITION, rowKey, webhookTimestamp: timestamp });
      return true;
    } catch (err) {
      if (err instanceof RestError && err.statusCode === 409) return false;
      throw err;
    }
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
    );
  }
  const result = check.verify(picked, rawBody, now);
  if (!result.ok) throw new ProblemError('invalid_signature', result.message, { reason: result.code });
  if (!(await check.replay.rememberOnce(result.id, result.timestamp))) {
    throw new ProblemError('webhook_replayed', 'A request with this webhook-id was already accepted.');
  }
}
