import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  isoDurationToMs,
  type SubscriptionDefinition,
  subscriptionMatches,
  TOPOLOGY,
  type Topology,
} from '../../shared/events/topology';
import { type Clock, systemClock } from './clock';
import { type BrokerStore, MemoryBrokerStore, type PropertyValue, type StoredMessage } from './store';

/**
 * Service Bus STAND-IN: a local, single-process imitation of one Service Bus topic and its
 * subscriptions, following the service's documented semantics (correlation-filter routing,
 * peek-lock, delivery count, dead-letter sub-queue, duplicate detection, scheduled messages,
 * time-to-live). It is not Service Bus and does not speak AMQP; the app reaches it only through
 * the EventPublisher port and the local host's serviceBusTrigger extension.
 */

export type StandInErrorCode =
  | 'invalid_message'
  | 'unknown_subscription'
  | 'message_lock_lost'
  | 'message_not_found'
  | 'stand_in_closed'
  | 'no_active_stand_in';

export class ServiceBusStandInError extends Error {
  constructor(
    readonly code: StandInErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'ServiceBusStandInError';
  }
}

/** What a sender gives the topic (the subset of @azure/service-bus ServiceBusMessage the stand-in honours). */
export const outgoingMessageSchema = z.object({
  messageId: z.string().min(1).max(128).optional(),
  body: z.unknown(),
  contentType: z.string().optional(),
  subject: z.string().optional(),
  correlationId: z.string().max(128).optional(),
  applicationProperties: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  /** ms */
  timeToLive: z.number().positive().optional(),
  scheduledEnqueueTimeUtc: z.date().optional(),
});
export type OutgoingMessage = z.input<typeof outgoingMessageSchema>;

/** A message handed to a receiver under a peek-lock (field names as in @azure/service-bus ServiceBusReceivedMessage). */
export interface ReceivedMessage {
  messageId: string;
  body: unknown;
  contentType?: string;
  subject?: string;
  correlationId?: string;
  applicationProperties: Record<string, PropertyValue>;
  sequenceNumber: number;
  enqueuedTimeUtc: Date;
  expiresAtUtc: Date;
  scheduledEnqueueTimeUtc?: Date;
  deliveryCount: number;
  lockToken?: string;
  lockedUntilUtc?: Date;
  state: 'active' | 'deadlettered';
  deadLetterReason?: string;
  deadLetterErrorDescription?: string;
  /** Which subscription it came from (the stand-in's addition; useful in logs). */
  subscription: string;
}

export interface PublishResult {
  /** `duplicate`: dropped at the topic by duplicate detection (Service Bus accepts the send and drops it silently). */
  status: 'enqueued' | 'duplicate';
  messageId: string;
  sequenceNumber?: number;
  /** Subscriptions the message was copied to (empty when no rule matched: the topic drops it, as Service Bus does). */
  subscriptions: string[];
}

export interface ServiceBusStandInOptions {
  topology?: Topology;
  store?: BrokerStore;
  clock?: Clock;
}

export const MAX_DELIVERY_COUNT_EXCEEDED = 'MaxDeliveryCountExceeded';
export const TTL_EXPIRED = 'TTLExpiredException';

interface SubscriptionState {
  definition: SubscriptionDefinition;
  lockDurationMs: number;
  /** By sequence number; Map keeps insertion order = FIFO. */
  messages: Map<number, StoredMessage>;
}

export class ServiceBusStandIn {
  readonly topicName: string;
  private readonly subscriptions = new Map<string, SubscriptionState>();
  private readonly duplicates: Map<string, number>;
  private readonly duplicateWindowMs: number;
  private readonly defaultTtlMs: number;
  private lastSequenceNumber: number;
  /** This instance's identity on locks it takes. */
  private readonly instanceId = randomUUID();
  private readonly listeners = new Set<() => void>();
  /** Store writes go one at a time, in the order the operations happened. */
  private writes: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly topology: Topology,
    private readonly store: BrokerStore,
    private readonly clock: Clock,
    snapshot: Awaited<ReturnType<BrokerStore['load']>>,
  ) {
    this.topicName = topology.topic.name;
    this.duplicateWindowMs = isoDurationToMs(topology.topic.duplicateDetectionHistoryTimeWindow);
    this.defaultTtlMs = isoDurationToMs(topology.topic.defaultMessageTimeToLive);
    for (const definition of topology.subscriptions) {
      this.subscriptions.set(definition.name, {
        definition,
        lockDurationMs: isoDurationToMs(definition.lockDuration),
        messages: new Map(),
      });
    }
    this.duplicates = snapshot.duplicates;
    this.lastSequenceNumber = snapshot.lastSequenceNumber;
    for (const m of [...snapshot.messages].sort((a, b) => a.sequenceNumber - b.sequenceNumber)) {
      this.subscriptions.get(m.subscription)?.messages.set(m.sequenceNumber, m);
      this.lastSequenceNumber = Math.max(this.lastSequenceNumber, m.sequenceNumber);
    }
  }

  /**
   * Open the stand-in on a store. Locks held by a previous instance are released the way Service
   * Bus releases the locks of a receiver whose connection dropped: the delivery counts, and the
   * message is available again (or dead-lettered if that was its last delivery).
   */
  static async open(options: ServiceBusStandInOptions = {}): Promise<ServiceBusStandIn> {
    const store = options.store ?? new MemoryBrokerStore();
    const standIn = new ServiceBusStandIn(
      options.topology ?? TOPOLOGY,
      store,
      options.clock ?? systemClock,
      await store.load(),
    );
    await standIn.releaseForeignLocks();
    return standIn;
  }

  get subscriptionNames(): string[] {
    return [...this.subscriptions.keys()];
  }

  subscription(name: string): SubscriptionDefinition {
    return this.state(name).definition;
  }

  /** The stand-in's clock (epoch ms). */
  now(): number {
    return this.clock.now();
  }

  /** Called whenever a message may have become receivable (publish, abandon, resubmit). */
  onActivity(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Health: the stand-in is open and its store answers (Azurite for `tunedrop dev`). */
  async checkReachable(): Promise<void> {
    this.assertOpen();
    await this.store.probe?.();
  }

  /** Send to the topic. A scheduledEnqueueTimeUtc in the future makes it a scheduled message. */
  async publish(input: OutgoingMessage): Promise<PublishResult> {
    this.assertOpen();
    const parsed = outgoingMessageSchema.safeParse(input);
    if (!parsed.success) {
      throw new ServiceBusStandInError(
        'invalid_message',
        parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      );
    }
    const message = parsed.data;
    const now = this.clock.now();
    const messageId = message.messageId ?? randomUUID().replaceAll('-', '');
    if (this.topology.topic.requiresDuplicateDetection) {
      this.forgetOldDuplicates(now);
      if (this.duplicates.has(messageId)) return { status: 'duplicate', messageId, subscriptions: [] };
    }
    const sequenceNumber = ++this.lastSequenceNumber;
    const applicationProperties = message.applicationProperties ?? {};
    const scheduledAt = message.scheduledEnqueueTimeUtc?.getTime();
    const enqueuedTimeUtc = scheduledAt !== undefined && scheduledAt > now ? scheduledAt : now;
    const ttl = Math.min(message.timeToLive ?? this.defaultTtlMs, this.defaultTtlMs);
    const body = toWireBody(message.body);
    const routable = { ...message, messageId, applicationProperties };
    const copies: StoredMessage[] = [];
    for (const [name, sub] of this.subscriptions) {
      if (!subscriptionMatches(sub.definition, routable)) continue;
      const copy: StoredMessage = {
        subscription: name,
        sequenceNumber,
        messageId,
        body,
        applicationProperties: { ...applicationProperties },
        enqueuedTimeUtc,
        expiresAtUtc: enqueuedTimeUtc + ttl,
        deliveryCount: 0,
        state: 'active',
      };
      if (message.contentType !== undefined) copy.contentType = message.contentType;
      if (message.subject !== undefined) copy.subject = message.subject;
      if (message.correlationId !== undefined) copy.correlationId = message.correlationId;
      if (scheduledAt !== undefined) copy.scheduledEnqueueTimeUtc = scheduledAt;
      sub.messages.set(sequenceNumber, copy);
      copies.push(copy);
    }
    // Messages first, then the duplicate record: a crash in between can duplicate (at-least-once), never lose.
    await this.write(async () => {
      await this.store.saveLastSequenceNumber(sequenceNumber);
      for (const c of copies) await this.store.saveMessage(c);
      if (this.topology.topic.requiresDuplicateDetection) await this.store.saveDuplicate(messageId, now);
    });
    if (this.topology.topic.requiresDuplicateDetection) this.duplicates.set(messageId, now);
    this.notify();
    return { status: 'enqueued', messageId, sequenceNumber, subscriptions: copies.map((c) => c.subscription) };
  }

  /** ServiceBusSender.scheduleMessages: returns the sequence number to cancel it with. */
  async schedule(message: OutgoingMessage, at: Date): Promise<number | undefined> {
    return (await this.publish({ ...message, scheduledEnqueueTimeUtc: at })).sequenceNumber;
  }

  /** Cancel a scheduled message that is not yet visible (in every subscription it was copied to). */
  async cancelScheduled(sequenceNumber: number): Promise<void> {
    this.assertOpen();
    const now = this.clock.now();
    const removed: StoredMessage[] = [];
    for (const sub of this.subscriptions.values()) {
      const m = sub.messages.get(sequenceNumber);
      if (m && m.state === 'active' && m.enqueuedTimeUtc > now) {
        sub.messages.delete(sequenceNumber);
        removed.push(m);
      }
    }
    if (removed.length === 0) {
      throw new ServiceBusStandInError(
        'message_not_found',
        `no scheduled message with sequence number ${sequenceNumber}`,
      );
    }
    await this.write(async () => {
      for (const m of removed) await this.store.deleteMessage(m.subscription, m.sequenceNumber);
    });
  }

  /** Peek-lock receive: up to maxMessages visible, unlocked messages, each locked for the subscription's lock duration. */
  async receive(subscription: string, options: { maxMessages?: number } = {}): Promise<ReceivedMessage[]> {
    this.assertOpen();
    const sub = this.state(subscription);
    const now = this.clock.now();
    const changed = this.sweep(sub, now);
    const received: StoredMessage[] = [];
    const max = options.maxMessages ?? 1;
    for (const m of sub.messages.values()) {
      if (received.length >= max) break;
      if (m.state !== 'active' || m.lockToken !== undefined || m.enqueuedTimeUtc > now) continue;
      m.deliveryCount += 1;
      m.lockToken = randomUUID();
      m.lockedUntilUtc = now + sub.lockDurationMs;
      m.lockOwner = this.instanceId;
      received.push(m);
    }
    await this.persist([...changed, ...received.map((m) => ({ kind: 'save' as const, message: m }))]);
    return received.map(toReceived);
  }

  /** Settle: the message is done and leaves the subscription. */
  async complete(message: Pick<ReceivedMessage, 'subscription' | 'lockToken'>): Promise<void> {
    const m = this.locked(message);
    this.state(m.subscription).messages.delete(m.sequenceNumber);
    await this.write(() => this.store.deleteMessage(m.subscription, m.sequenceNumber));
  }

  /** Give the message back: it is redelivered (deliveryCount + 1), or dead-lettered if that was its last delivery. */
  async abandon(message: Pick<ReceivedMessage, 'subscription' | 'lockToken'>): Promise<void> {
    const m = this.locked(message);
    const sub = this.state(m.subscription);
    this.release(sub, m);
    await this.write(() => this.store.saveMessage(m));
    this.notify();
  }

  /** Move the message to the subscription's dead-letter sub-queue. */
  async deadLetter(
    message: Pick<ReceivedMessage, 'subscription' | 'lockToken'>,
    options: { deadLetterReason?: string; deadLetterErrorDescription?: string } = {},
  ): Promise<void> {
    const m = this.locked(message);
    toDeadLetter(m, options.deadLetterReason, options.deadLetterErrorDescription);
    await this.write(() => this.store.saveMessage(m));
  }

  /** Extend the lock by the lock duration from now (what the Functions extension does while a handler runs). */
  async renewLock(
    message: Pick<ReceivedMessage, 'subscription' | 'lockToken'>,
    options: { evenIfExpired?: boolean } = {},
  ): Promise<Date> {
    const m = this.locked(message, options.evenIfExpired);
    m.lockedUntilUtc = this.clock.now() + this.state(m.subscription).lockDurationMs;
    await this.write(() => this.store.saveMessage(m));
    return new Date(m.lockedUntilUtc);
  }

  /** Browse active messages (visible or scheduled) without locking them. */
  async peek(subscription: string): Promise<ReceivedMessage[]> {
    this.assertOpen();
    const sub = this.state(subscription);
    await this.persist(this.sweep(sub, this.clock.now()));
    return [...sub.messages.values()].filter((m) => m.state === 'active').map(toReceived);
  }

  /** Browse `{subscription}/$deadletterqueue`. */
  async peekDeadLetters(subscription: string): Promise<ReceivedMessage[]> {
    this.assertOpen();
    const sub = this.state(subscription);
    await this.persist(this.sweep(sub, this.clock.now()));
    return [...sub.messages.values()].filter((m) => m.state === 'deadlettered').map(toReceived);
  }

  /**
   * Put a dead-lettered message back into its own subscription with a fresh delivery count. Only
   * that subscription sees it again (the others already handled it), and duplicate detection does
   * not apply (it acts at the topic).
   */
  async resubmitDeadLetter(subscription: string, sequenceNumber: number): Promise<ReceivedMessage> {
    this.assertOpen();
    const sub = this.state(subscription);
    const m = sub.messages.get(sequenceNumber);
    if (m?.state !== 'deadlettered') {
      throw new ServiceBusStandInError(
        'message_not_found',
        `no dead-lettered message ${sequenceNumber} in ${this.topicName}/Subscriptions/${subscription}/$deadletterqueue`,
      );
    }
    const now = this.clock.now();
    m.state = 'active';
    m.deliveryCount = 0;
    m.enqueuedTimeUtc = now;
    m.expiresAtUtc = now + this.defaultTtlMs;
    delete m.deadLetterReason;
    delete m.deadLetterErrorDescription;
    delete m.scheduledEnqueueTimeUtc;
    // Move it to the back of the queue, as a new enqueue would.
    sub.messages.delete(sequenceNumber);
    sub.messages.set(sequenceNumber, m);
    await this.write(() => this.store.saveMessage(m));
    this.notify();
    return toReceived(m);
  }

  /** When the next active message of a subscription becomes receivable (now or later); undefined when none is waiting. */
  nextDeliveryTime(subscription: string): number | undefined {
    const sub = this.state(subscription);
    let next: number | undefined;
    for (const m of sub.messages.values()) {
      if (m.state !== 'active') continue;
      const at = m.lockToken !== undefined ? (m.lockedUntilUtc ?? 0) : m.enqueuedTimeUtc;
      if (next === undefined || at < next) next = at;
    }
    return next;
  }

  /** Wait for pending store writes; further operations are refused. Unsettled locks stay and are released on the next open. */
  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    await this.writes;
  }

  private state(name: string): SubscriptionState {
    const sub = this.subscriptions.get(name);
    if (!sub) {
      throw new ServiceBusStandInError(
        'unknown_subscription',
        `topic ${this.topicName} has no subscription "${name}" (known: ${this.subscriptionNames.join(', ')})`,
      );
    }
    return sub;
  }

  /**
   * The message this lock token holds. `evenIfExpired`: accept a lock whose time ran out but that
   * nobody has released or taken over yet (only the trigger extension's auto-renewal uses it).
   */
  private locked(ref: Pick<ReceivedMessage, 'subscription' | 'lockToken'>, evenIfExpired = false): StoredMessage {
    this.assertOpen();
    const sub = this.state(ref.subscription);
    const now = this.clock.now();
    for (const m of sub.messages.values()) {
      if (ref.lockToken !== undefined && m.lockToken === ref.lockToken && m.state === 'active') {
        if (!evenIfExpired && (m.lockedUntilUtc ?? 0) <= now) break;
        return m;
      }
    }
    throw new ServiceBusStandInError(
      'message_lock_lost',
      'the lock on the message expired or it was settled already; it will be (or was) redelivered',
    );
  }

  /** Lock expiry behaves like abandon; expired (TTL) messages leave or go to the dead-letter queue. */
  private sweep(sub: SubscriptionState, now: number): Change[] {
    const changes: Change[] = [];
    for (const m of [...sub.messages.values()]) {
      if (m.state !== 'active') continue;
      if (m.lockToken !== undefined) {
        if ((m.lockedUntilUtc ?? 0) > now) continue;
        this.release(sub, m);
        changes.push({ kind: 'save', message: m });
        if (m.state !== 'active') continue;
      }
      if (m.expiresAtUtc <= now) {
        if (sub.definition.deadLetteringOnMessageExpiration) {
          toDeadLetter(m, TTL_EXPIRED, 'The message expired and was dead lettered.');
          changes.push({ kind: 'save', message: m });
        } else {
          sub.messages.delete(m.sequenceNumber);
          changes.push({ kind: 'delete', message: m });
        }
      }
    }
    return changes;
  }

  private release(sub: SubscriptionState, m: StoredMessage): void {
    delete m.lockToken;
    delete m.lockedUntilUtc;
    delete m.lockOwner;
    if (m.deliveryCount >= sub.definition.maxDeliveryCount) {
      toDeadLetter(
        m,
        MAX_DELIVERY_COUNT_EXCEEDED,
        `Message could not be consumed after ${sub.definition.maxDeliveryCount} delivery attempts.`,
      );
    }
  }

  private async releaseForeignLocks(): Promise<void> {
    const changes: Change[] = [];
    for (const sub of this.subscriptions.values()) {
      for (const m of sub.messages.values()) {
        if (m.state === 'active' && m.lockToken !== undefined && m.lockOwner !== this.instanceId) {
          this.release(sub, m);
          changes.push({ kind: 'save', message: m });
        }
      }
    }
    await this.persist(changes);
  }

  private forgetOldDuplicates(now: number): void {
    for (const [messageId, acceptedAt] of this.duplicates) {
      if (now - acceptedAt < this.duplicateWindowMs) continue;
      this.duplicates.delete(messageId);
      // Best effort: a stale record left behind is ignored on load once it is older than the window.
      this.write(() => this.store.deleteDuplicate(messageId)).catch(() => undefined);
    }
  }

  private persist(changes: Change[]): Promise<void> {
    if (changes.length === 0) return Promise.resolve();
    return this.write(async () => {
      for (const c of changes) {
        if (c.kind === 'save') await this.store.saveMessage(c.message);
        else await this.store.deleteMessage(c.message.subscription, c.message.sequenceNumber);
      }
    });
  }

  private write(op: () => Promise<void>): Promise<void> {
    const next = this.writes.then(op);
    // A failed write fails its own operation; later writes still run.
    this.writes = next.catch(() => undefined);
    return next;
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }

  private assertOpen(): void {
    if (this.closed) throw new ServiceBusStandInError('stand_in_closed', 'the Service Bus stand-in was closed');
  }
}

type Change = { kind: 'save' | 'delete'; message: StoredMessage };

/**
 * What a receiver gets back, as @azure/service-bus sends it: a Buffer stays bytes; anything else is
 * JSON.stringify'd into the AMQP data section (undefined → null), so a Date arrives as a string.
 */
function toWireBody(body: unknown): unknown {
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) return Buffer.from(body);
  try {
    return JSON.parse(JSON.stringify(body ?? null));
  } catch (err) {
    throw new ServiceBusStandInError('invalid_message', `body is not JSON-serialisable: ${(err as Error).message}`);
  }
}

function toDeadLetter(m: StoredMessage, reason?: string, description?: string): void {
  m.state = 'deadlettered';
  delete m.lockToken;
  delete m.lockedUntilUtc;
  delete m.lockOwner;
  if (reason !== undefined) m.deadLetterReason = reason;
  if (description !== undefined) m.deadLetterErrorDescription = description;
}

function toReceived(m: StoredMessage): ReceivedMessage {
  const r: ReceivedMessage = {
    subscription: m.subscription,
    messageId: m.messageId,
    body: structuredClone(m.body),
    applicationProperties: { ...m.applicationProperties },
    sequenceNumber: m.sequenceNumber,
    enqueuedTimeUtc: new Date(m.enqueuedTimeUtc),
    expiresAtUtc: new Date(m.expiresAtUtc),
    deliveryCount: m.deliveryCount,
    state: m.state,
  };
  if (m.contentType !== undefined) r.contentType = m.contentType;
  if (m.subject !== undefined) r.subject = m.subject;
  if (m.correlationId !== undefined) r.correlationId = m.correlationId;
  if (m.scheduledEnqueueTimeUtc !== undefined) r.scheduledEnqueueTimeUtc = new Date(m.scheduledEnqueueTimeUtc);
  if (m.lockToken !== undefined) r.lockToken = m.lockToken;
  if (m.lockedUntilUtc !== undefined) r.lockedUntilUtc = new Date(m.lockedUntilUtc);
  if (m.deadLetterReason !== undefined) r.deadLetterReason = m.deadLetterReason;
  if (m.deadLetterErrorDescription !== undefined) r.deadLetterErrorDescription = m.deadLetterErrorDescription;
  return r;
}
