import { randomUUID } from 'node:crypto';
import { EVENT_SOURCE, parseEvent, type TunedropEvent } from '../events/cloudEvent';
import type { OutboundPolicy, OutboundPost, OutboundResult } from '../net/contracts';
import type { Delivery, DeliveryPage, DeliveryStatus, WebhookDeliveryApi } from './contracts';
import { type DeliveryRecord, deliveryIdFor, type TableDeliveryStore } from './deliveries';
import { WebhookError } from './errors';
import { type DeliveryScheduler, parseAttemptMessage } from './scheduler';
import { signWebhook } from './signing';
import type { SubscriptionForDelivery, TableWebhookSubscriptionStore } from './subscriptions';

/**
 * Delays (seconds) before each attempt, Standard Webhooks / Svix style: the first attempt runs
 * inline when the event arrives, the rest as scheduled messages. 8 attempts over about 28 hours.
 */
export const DEFAULT_RETRY_SCHEDULE_SECONDS: readonly number[] = [0, 5, 300, 1800, 7200, 18000, 36000, 36000];
export const WEBHOOK_USER_AGENT = 'tunedrop-webhooks/1';
export const WEBHOOK_TEST_EVENT_TYPE = 'tunedrop.webhook.test';

export interface WebhookDeliveryDeps {
  subscriptions: TableWebhookSubscriptionStore;
  store: TableDeliveryStore;
  scheduler: DeliveryScheduler;
  post: OutboundPost;
  policy: Partial<OutboundPolicy>;
  /** Delays before each attempt in seconds; its length is the number of attempts. */
  retrySchedule: readonly number[];
  now: () => Date;
  /** Spreads a delay (seconds) so endpoints that failed together are not retried in lockstep; default defaultJitter. */
  jitter?: (delaySeconds: number) => number;
  log?: (line: string) => void;
}

/** Retry-After is honoured up to this long; a longer one waits this long. */
export const MAX_RETRY_AFTER_SECONDS = 24 * 60 * 60;

/** Up to +10 % on delays of a minute or more; short ones (tests, the 5 s retry) stay exact. */
export function defaultJitter(delaySeconds: number): number {
  return delaySeconds >= 60 ? delaySeconds * (1 + Math.random() * 0.1) : delaySeconds;
}

export interface AttemptOutcome {
  deliveryId: string;
  subscriptionId: string;
  status: DeliveryStatus;
  /** What this call did: sent an attempt, or found nothing to do (already done / stale message). */
  action: 'attempted' | 'skipped';
  attempt?: number;
  result?: string;
}

/** `200`, `503`, … for an answer; the failure code (`connect_timeout`, `blocked_address`, …) otherwise. */
export function resultLabel(result: OutboundResult): string {
  return 'status' in result ? String(result.status) : result.failure;
}

/**
 * Fan-out of events to webhook subscriptions with per-endpoint retries. Each (subscription,
 * event) pair is one delivery with a deterministic id; a delivery records every attempt before
 * the bus message that caused it is completed, so a failure to record or schedule throws and the
 * bus redelivers (nothing lost), while what already succeeded is never sent again.
 */
export class WebhookDeliveryEngine implements WebhookDeliveryApi {
  constructor(private readonly deps: WebhookDeliveryDeps) {
    if (deps.retrySchedule.length === 0) throw new RangeError('the retry schedule needs at least one attempt');
  }

  private log(line: string): void {
    this.deps.log?.(line);
  }

  /** A `webhooks` subscription message: deliver the event to every matching subscription of its team. */
  async deliverEvent(message: unknown): Promise<AttemptOutcome[]> {
    const event = parseEvent(message);
    const body = publishedBody(message);
    const targets = await this.deps.subscriptions.matching(event.team, event.type);
    const settled = await Promise.allSettled(targets.map((sub) => this.deliverTo(sub, event, body)));
    const failures = settled.flatMap((s, i) =>
      s.status === 'rejected' ? [{ sub: targets[i]!, error: s.reason }] : [],
    );
    if (failures.length > 0) {
      // Rethrow so the bus redelivers the event; deliveries that went through are skipped next time.
      const detail = failures.map((f) => `${f.sub.id}: ${errorCode(f.error)}`).join('; ');
      throw new Error(`webhook delivery of event ${event.id} could not be recorded for ${detail}`, {
        cause: failures[0]?.error,
      });
    }
    return settled.map((s) => (s as PromiseFulfilledResult<AttemptOutcome>).value);
  }

  /** A `webhook-retries` message: run the attempt it names, unless it is stale. */
  async runAttempt(message: unknown): Promise<AttemptOutcome> {
    const m = parseAttemptMessage(message);
    const record = await this.deps.store.get(m.deliveryId);
    if (!record) {
      this.log(`delivery ${m.deliveryId}: attempt ${m.attempt} for an unknown delivery ignored`);
      return { deliveryId: m.deliveryId, subscriptionId: '', status: 'failed', action: 'skipped' };
    }
    const live = record.status === 'pending' || record.status === 'retrying';
    // attempts >= m.attempt: a duplicate or an old message. attempts < m.attempt - 1 is still run: the
    // previous attempt happened and scheduled this one but failed to record (the record lags).
    if (!live || record.generation !== m.generation || record.attempts >= m.attempt) {
      return skipped(record);
    }
    return this.attempt(record, m.attempt);
  }

  async sendTest(subscriptionId: string): Promise<{ delivered: boolean; result: string }> {
    const sub = await this.deps.subscriptions.getForDelivery(subscriptionId);
    if (!sub) throw new WebhookError('subscription_not_found', `there is no webhook subscription ${subscriptionId}`);
    const now = this.deps.now();
    const id = `test_${randomUUID().replaceAll('-', '')}`;
    const body = JSON.stringify({
      specversion: '1.0',
      id,
      source: EVENT_SOURCE,
      type: WEBHOOK_TEST_EVENT_TYPE,
      subject: sub.id,
      time: now.toISOString(),
      datacontenttype: 'application/json',
      team: sub.team,
      data: { subscriptionId: sub.id, message: 'tunedrop webhook test: if you can verify this, deliveries will work' },
    });
    const result = await this.send(sub, id, body, now);
    return { delivered: result.ok, result: resultLabel(result) };
  }

  listDeliveries(query: {
    status?: DeliveryStatus;
    team?: string;
    teams?: readonly string[];
    pageSize?: number;
    continuationToken?: string;
  }): Promise<DeliveryPage> {
    return this.deps.store.list(query);
  }

  async getDelivery(id: string): Promise<Delivery | undefined> {
    const record = await this.deps.store.get(id);
    return record && toPublic(record);
  }

  async redeliver(id: string): Promise<Delivery> {
    const record = await this.deps.store.get(id);
    if (!record) throw new WebhookError('delivery_not_found', `there is no delivery ${id}`);
    if (record.status !== 'failed') {
      throw new WebhookError(
        'delivery_not_failed',
        `delivery ${id} is ${record.status}; only failed ones are redelivered`,
      );
    }
    const now = this.deps.now();
    const reset: DeliveryRecord = {
      ...record,
      status: 'pending',
      attempts: 0,
      generation: record.generation + 1,
      nextAttemptAt: now.toISOString(),
      updatedAt: now.toISOString(),
    };
    if ((await this.deps.store.update(reset)) === 'conflict') {
      throw new WebhookError('delivery_not_failed', `delivery ${id} changed while being redelivered; try again`);
    }
    try {
      await this.deps.scheduler.schedule({ deliveryId: id, attempt: 1, generation: reset.generation }, now);
    } catch (err) {
      // Put it back to failed (still listed, redeliverable) rather than leave a pending delivery no message will run.
      const current = await this.deps.store.get(id);
      if (current && current.generation === reset.generation && current.attempts === 0) {
        await this.deps.store.update({
          ...current,
          status: 'failed',
          nextAttemptAt: undefined,
          updatedAt: now.toISOString(),
        });
      }
      throw err;
    }
    this.log(`delivery ${id}: redelivery (round ${reset.generation}) scheduled`);
    return toPublic(reset);
  }

  private async deliverTo(sub: SubscriptionForDelivery, event: TunedropEvent, body: string): Promise<AttemptOutcome> {
    const id = deliveryIdFor(sub.id, event.id);
    const at = this.deps.now().toISOString();
    const created = await this.deps.store.create({
      id,
      subscriptionId: sub.id,
      team: event.team,
      eventId: event.id,
      eventType: event.type,
      subject: event.subject,
      status: 'pending',
      attempts: 0,
      generation: 0,
      payload: body,
      createdAt: at,
      updatedAt: at,
    });
    const record = await this.deps.store.get(id);
    if (!record) throw new WebhookError('delivery_not_found', `delivery ${id} vanished right after it was written`);
    // A redelivered event: only a first attempt that never got recorded is still to do.
    if (!created && !(record.status === 'pending' && record.attempts === 0 && record.generation === 0)) {
      return skipped(record);
    }
    return this.attempt(record, 1, sub);
  }

  private async attempt(
    record: DeliveryRecord,
    attempt: number,
    known?: SubscriptionForDelivery,
  ): Promise<AttemptOutcome> {
    const sub = known ?? (await this.deps.subscriptions.getForDelivery(record.subscriptionId));
    const now = this.deps.now();
    const schedule = this.deps.retrySchedule;
    let label: string;
    let succeeded = false;
    let retryable = true;
    let retryAfterSeconds: number | undefined;
    if (!sub) {
      label = 'subscription_deleted';
      retryable = false;
    } else {
      const result = await this.send(sub, record.eventId, record.payload, now);
      label = resultLabel(result);
      succeeded = result.ok;
      // 410 Gone: the receiver says it wants no more; retrying would only hammer it.
      if ('status' in result && result.status === 410) retryable = false;
      if ('retryAfterSeconds' in result) retryAfterSeconds = result.retryAfterSeconds;
    }
    const next: DeliveryRecord = {
      ...record,
      attempts: attempt,
      lastResult: label,
      lastAttemptAt: now.toISOString(),
      nextAttemptAt: undefined,
      updatedAt: now.toISOString(),
      status: succeeded ? 'succeeded' : 'failed',
    };
    if (!succeeded && retryable && attempt < schedule.length) {
      const jitter = this.deps.jitter ?? defaultJitter;
      const scheduled = jitter(schedule[attempt] ?? 0);
      // A Retry-After (429/503) longer than the schedule's next delay wins, up to a day.
      const delay = Math.max(scheduled, Math.min(retryAfterSeconds ?? 0, MAX_RETRY_AFTER_SECONDS));
      const at = new Date(now.getTime() + Math.round(delay * 1000));
      // Schedule before recording: if recording then fails, the bus retries this attempt and the
      // re-scheduled message carries the same id, which duplicate detection drops.
      await this.deps.scheduler.schedule(
        { deliveryId: record.id, attempt: attempt + 1, generation: record.generation },
        at,
      );
      next.status = 'retrying';
      next.nextAttemptAt = at.toISOString();
    }
    const written = await this.deps.store.update(next);
    this.log(
      `delivery ${record.id} (${record.eventType}) attempt ${attempt}/${schedule.length} → ${label}` +
        (next.status === 'retrying' ? `, next at ${next.nextAttemptAt}` : `, ${next.status}`) +
        (written === 'conflict' ? ' (record changed meanwhile; left as is)' : ''),
    );
    return {
      deliveryId: record.id,
      subscriptionId: record.subscriptionId,
      status: written === 'conflict' ? record.status : next.status,
      action: 'attempted',
      attempt,
      result: label,
    };
  }

  private send(sub: SubscriptionForDelivery, msgId: string, body: string, now: Date): Promise<OutboundResult> {
    const timestamp = Math.floor(now.getTime() / 1000);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': WEBHOOK_USER_AGENT,
      'webhook-id': msgId,
      'webhook-timestamp': String(timestamp),
      // Current secret first; during a rotation's overlap also the previous one (space-separated).
      'webhook-signature': sub.signingSecrets.map((s) => signWebhook(s, msgId, timestamp, body)).join(' '),
    };
    return this.deps.post(sub.url, body, headers, this.deps.policy);
  }
}

/** The event exactly as published: the message body's JSON text (the host hands it over parsed or raw). */
function publishedBody(message: unknown): string {
  if (typeof message === 'string') return message;
  if (Buffer.isBuffer(message)) return message.toString('utf8');
  return JSON.stringify(message);
}

function skipped(record: DeliveryRecord): AttemptOutcome {
  return {
    deliveryId: record.id,
    subscriptionId: record.subscriptionId,
    status: record.status,
    action: 'skipped',
    ...(record.lastResult !== undefined ? { result: record.lastResult } : {}),
  };
}

function toPublic(record: DeliveryRecord): Delivery {
  const { generation: _g, payload: _p, etag: _e, ...delivery } = record;
  if (delivery.nextAttemptAt === undefined) delete delivery.nextAttemptAt;
  return delivery;
}

function errorCode(error: unknown): string {
  if (error && typeof error === 'object') {
    const e = error as { code?: unknown; statusCode?: unknown; name?: unknown };
    if (typeof e.code === 'string') return e.code;
    if (typeof e.statusCode === 'number') return `storage_${e.statusCode}`;
    if (typeof e.name === 'string') return e.name;
  }
  return 'error';
}
