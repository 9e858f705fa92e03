import { z } from 'zod';
import { isoDurationToMs } from '../../shared/events/topology';
import type { HostExtension, LocalFunctionHost, RegisteredFunction } from '../host/contract';
import { activeStandInOrUndefined, setActiveStandIn } from './active';
import { type ReceivedMessage, type ServiceBusStandIn, ServiceBusStandInError } from './broker';

/** What `app.serviceBusTopic(name, { topicName, subscriptionName, connection })` registers as its trigger binding. */
const topicTriggerSchema = z.object({
  type: z.literal('serviceBusTrigger'),
  topicName: z.string().min(1),
  subscriptionName: z.string().min(1),
  connection: z.string().optional(),
  cardinality: z.enum(['one', 'many']).optional(),
  isSessionsEnabled: z.boolean().optional(),
});

export class ServiceBusTriggerConfigError extends Error {
  constructor(
    readonly code: 'unsupported_trigger' | 'unknown_topic' | 'unknown_subscription',
    readonly functionName: string,
    message: string,
  ) {
    super(`${code}: function "${functionName}": ${message}`);
    this.name = 'ServiceBusTriggerConfigError';
  }
}

export interface ServiceBusTriggerExtensionOptions {
  standIn: ServiceBusStandIn;
  /** Handlers running at once, over all subscriptions (host.json `extensions.serviceBus.maxConcurrentCalls`). Default 16. */
  maxConcurrentCalls?: number;
  /** Real-time interval at which scheduled messages and expired locks are looked for. Default 250 ms. */
  pollIntervalMs?: number;
  /** How long stop() waits for running handlers before leaving their messages to be redelivered. Default 30 s. */
  stopTimeoutMs?: number;
  /** Close the stand-in when the extension stops (it was opened for this runtime). Default false. */
  ownsStandIn?: boolean;
  /** Handler failures and lost locks, one line each (no message bodies: they may hold secrets). */
  log?: (line: string) => void;
}

interface Consumer {
  functionName: string;
  subscription: string;
  lockDurationMs: number;
}

/**
 * The local host's `serviceBusTrigger`: delivers the stand-in's subscription messages to the
 * functions registered with `app.serviceBusTopic`, the way the Functions Service Bus extension does
 * (peek-lock; success → complete, throw → abandon, so maxDeliveryCount ends in the dead-letter queue;
 * the lock is renewed while the handler runs).
 */
export class ServiceBusTriggerExtension implements HostExtension {
  readonly name = 'servicebus-stand-in';
  readonly triggerTypes = ['serviceBusTrigger'] as const;
  readonly inputBindingTypes = [] as const;

  private readonly standIn: ServiceBusStandIn;
  private readonly maxConcurrentCalls: number;
  private readonly pollIntervalMs: number;
  private readonly stopTimeoutMs: number;
  private readonly ownsStandIn: boolean;
  private readonly log: (line: string) => void;
  private host: LocalFunctionHost | undefined;
  private consumers: Consumer[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  /** Messages whose handler is running, with when their lock runs out. */
  private readonly running = new Set<{ message: ReceivedMessage; lockedUntil: number; lockDurationMs: number }>();
  private pumping: Promise<void> | undefined;
  private pumpAgain = false;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;
  private nextConsumer = 0;

  constructor(options: ServiceBusTriggerExtensionOptions) {
    this.standIn = options.standIn;
    this.maxConcurrentCalls = Math.max(1, options.maxConcurrentCalls ?? 16);
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
    this.ownsStandIn = options.ownsStandIn ?? false;
    this.log = options.log ?? (() => {});
  }

  /** The functions this extension found, with their subscription. */
  get bindings(): readonly Readonly<Consumer>[] {
    return this.consumers;
  }

  async start(host: LocalFunctionHost): Promise<void> {
    this.host = host;
    this.consumers = [...host.functions.values()]
      .filter((fn) => fn.trigger.type === 'serviceBusTrigger')
      .map((fn) => this.consumerFor(fn));
    this.stopped = false;
    setActiveStandIn(this.standIn);
    if (this.consumers.length === 0) return;
    this.unsubscribe = this.standIn.onActivity(() => this.kick());
    this.timer = setInterval(() => this.kick(), this.pollIntervalMs);
    this.timer.unref();
    this.kick();
  }

  /**
   * Deliver until nothing is receivable now and no handler is running (tests: advance the virtual
   * clock, then drain).
   */
  async drain(): Promise<void> {
    for (;;) {
      await this.pump();
      if (this.inFlight.size === 0) {
        if (this.pumpAgain) continue;
        return;
      }
      await Promise.race(this.inFlight);
    }
  }

  /**
   * Stop taking messages and wait (up to stopTimeoutMs) for running handlers to settle theirs. A
   * handler still running after that keeps its lock; the next start of the stand-in redelivers it.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    let timeout: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timeout = setTimeout(resolve, this.stopTimeoutMs);
    });
    await Promise.race([
      (async () => {
        await this.pumping;
        await Promise.allSettled(this.inFlight);
      })(),
      timedOut,
    ]);
    clearTimeout(timeout);
    if (activeStandInOrUndefined() === this.standIn) setActiveStandIn(undefined);
    if (this.ownsStandIn) await this.standIn.close();
  }

  private consumerFor(fn: RegisteredFunction): Consumer {
    if (typeof fn.trigger.queueName === 'string') {
      throw new ServiceBusTriggerConfigError(
        'unsupported_trigger',
        fn.name,
        'Service Bus queue triggers are not part of the stand-in (the app uses one topic)',
      );
    }
    const parsed = topicTriggerSchema.safeParse(fn.trigger);
    if (!parsed.success) {
      throw new ServiceBusTriggerConfigError(
        'unsupported_trigger',
        fn.name,
        parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      );
    }
    const t = parsed.data;
    if (t.cardinality === 'many' || t.isSessionsEnabled) {
      throw new ServiceBusTriggerConfigError(
        'unsupported_trigger',
        fn.name,
        'batches (cardinality "many") and sessions are not supported by the stand-in',
      );
    }
    if (t.topicName !== this.standIn.topicName) {
      throw new ServiceBusTriggerConfigError(
        'unknown_topic',
        fn.name,
        `topic "${t.topicName}" is not in the topology (the topic is "${this.standIn.topicName}")`,
      );
    }
    if (!this.standIn.subscriptionNames.includes(t.subscriptionName)) {
      throw new ServiceBusTriggerConfigError(
        'unknown_subscription',
        fn.name,
        `subscription "${t.subscriptionName}" is not in the topology (known: ${this.standIn.subscriptionNames.join(', ')})`,
      );
    }
    return {
      functionName: fn.name,
      subscription: t.subscriptionName,
      lockDurationMs: isoDurationToMs(this.standIn.subscription(t.subscriptionName).lockDuration),
    };
  }

  private kick(): void {
    if (this.stopped) return;
    void this.pump().catch((err: unknown) => {
      if (err instanceof ServiceBusStandInError && err.code === 'stand_in_closed') {
        // The stand-in was closed under us (runtime shutting down): nothing left to deliver.
        this.stopped = true;
        if (this.timer) clearInterval(this.timer);
        return;
      }
      this.log(`servicebus: delivery loop error: ${describe(err)}`);
    });
  }

  /** One pass at a time; a kick during a pass makes the pass go round once more. */
  private pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return this.pumping;
    }
    this.pumping = (async () => {
      try {
        do {
          this.pumpAgain = false;
          await this.deliverReceivable();
        } while (this.pumpAgain && !this.stopped);
      } finally {
        this.pumping = undefined;
      }
    })();
    return this.pumping;
  }

  /** Round-robin over the consumers while there are free slots; functions on one subscription compete, as in Azure. */
  private async deliverReceivable(): Promise<void> {
    await this.renewDueLocks();
    const idle = new Set<number>();
    while (!this.stopped && this.inFlight.size < this.maxConcurrentCalls && idle.size < this.consumers.length) {
      const index = this.nextConsumer++ % this.consumers.length;
      if (idle.has(index)) continue;
      const consumer = this.consumers[index]!;
      const [message] = await this.standIn.receive(consumer.subscription, { maxMessages: 1 });
      if (!message) {
        idle.add(index);
        continue;
      }
      idle.clear();
      const run = this.deliver(consumer, message)
        .catch((err: unknown) => this.log(`servicebus: settling message ${message.messageId} failed: ${describe(err)}`))
        .finally(() => {
          this.inFlight.delete(run);
          this.kick();
        });
      this.inFlight.add(run);
    }
  }

  /**
   * The Functions extension renews the lock of a message while its handler runs. Done on every
   * pass, before receiving, and measured on the stand-in's clock: a virtual clock jumping ahead
   * while a handler runs does not make its message look abandoned.
   */
  private async renewDueLocks(): Promise<void> {
    const now = this.standIn.now();
    for (const r of this.running) {
      if (r.lockedUntil - now > r.lockDurationMs / 2) continue;
      try {
        // evenIfExpired: with a virtual clock, time can jump past the lock between two passes;
        // continuous auto-renewal would have kept it, so a lock nobody took over is renewed.
        r.lockedUntil = (await this.standIn.renewLock(r.message, { evenIfExpired: true })).getTime();
      } catch (err) {
        if (!(err instanceof ServiceBusStandInError)) throw err;
        this.log(`servicebus: could not renew the lock on message ${r.message.messageId}: ${err.code}`);
        this.running.delete(r);
      }
    }
  }

  private async deliver(consumer: Consumer, message: ReceivedMessage): Promise<void> {
    const host = this.host;
    if (!host) return;
    const running = {
      message,
      lockedUntil: message.lockedUntilUtc?.getTime() ?? 0,
      lockDurationMs: consumer.lockDurationMs,
    };
    this.running.add(running);
    let handled = false;
    try {
      await host.invoke({
        functionName: consumer.functionName,
        triggerValue: message.body,
        triggerMetadata: triggerMetadataFor(message),
        retryCount: message.deliveryCount - 1,
      });
      handled = true;
    } catch (err) {
      this.log(
        `servicebus: ${consumer.functionName} failed on message ${message.messageId} (delivery ${message.deliveryCount}): ${describe(err)}`,
      );
    } finally {
      this.running.delete(running);
    }
    try {
      if (handled) await this.standIn.complete(message);
      else await this.standIn.abandon(message);
    } catch (err) {
      if (err instanceof ServiceBusStandInError && err.code === 'message_lock_lost') {
        this.log(`servicebus: lock lost on message ${message.messageId}; it will be redelivered`);
      } else if (!(err instanceof ServiceBusStandInError && err.code === 'stand_in_closed')) {
        throw err;
      }
    }
  }
}

/**
 * Trigger metadata under the names the Functions Service Bus extension binds (the Node library
 * camel-cases them into `context.triggerMetadata`: messageId, deliveryCount, applicationProperties…).
 */
export function triggerMetadataFor(m: ReceivedMessage): Record<string, unknown> {
  const metadata: Record<string, unknown> = {
    MessageId: m.messageId,
    DeliveryCount: m.deliveryCount,
    SequenceNumber: m.sequenceNumber,
    EnqueuedTimeUtc: m.enqueuedTimeUtc.toISOString(),
    ExpiresAtUtc: m.expiresAtUtc.toISOString(),
    ApplicationProperties: { ...m.applicationProperties },
    UserProperties: { ...m.applicationProperties },
  };
  if (m.lockToken !== undefined) metadata.LockToken = m.lockToken;
  if (m.contentType !== undefined) metadata.ContentType = m.contentType;
  if (m.correlationId !== undefined) metadata.CorrelationId = m.correlationId;
  if (m.subject !== undefined) {
    metadata.Subject = m.subject;
    metadata.Label = m.subject;
  }
  return metadata;
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
