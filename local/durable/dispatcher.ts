import { randomUUID } from 'node:crypto';
import type { ActivityRunner } from './activityRunner';
import { type Clock, isAutoAdvancing } from './clock';
import type { InstanceTable } from './instances';
import type { OrchestrationStep } from './orchestrationStep';
import type { Outbox } from './outbox';
import { errorText, type Instance, type Message, toMessage } from './records';
import type { Row } from './store';
import { TERMINAL_STATUSES } from './wire';

/** Dispatcher lease (real time): a crashed engine's hub is taken over after at most this long. */
export const LEASE_MS = 10_000;
const LEASE_RETRY_MS = 500;

export interface DispatcherOptions {
  instances: InstanceTable;
  clock: Clock;
  step: OrchestrationStep;
  activities: ActivityRunner;
  outbox: Outbox;
  /** How often an idle dispatcher looks for new work in storage (ms). */
  pollIntervalMs: number;
  /** Length of the hub's dispatcher lease (ms, real time); renewed when half of it is used up. */
  leaseMs?: number;
  /** How long to wait before asking again for a lease another engine holds (ms). */
  leaseRetryMs?: number;
  log(message: string): void;
}

interface ScanOutcome {
  didWork: boolean;
  nextDue: number | undefined;
  /** Activities are pending or running: the clock must not jump past them. */
  waiting: boolean;
}

/**
 * The engine's loop: holds the task hub's dispatcher lease, scans the hub for work (inbox messages,
 * activity work items, outbox rows), hands each to its seam (orchestration step, activity runner,
 * outbox), and sleeps until woken, the next timer is due, or the poll interval passes. With an
 * auto-advancing clock it jumps the clock to the next due timer when nothing else can happen.
 */
export class Dispatcher {
  private readonly ownerId = randomUUID();
  private readonly leaseMs: number;
  private readonly leaseRetryMs: number;
  private leaseUntil = 0;
  private waitingForLease = false;
  private lastStepError?: string;
  private generation = 0;
  private running = false;
  private loop?: Promise<void>;
  private wakeUp?: () => void;
  private pendingWake = false;
  private unsubscribeClock?: () => void;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly options: DispatcherOptions) {
    this.leaseMs = options.leaseMs ?? LEASE_MS;
    this.leaseRetryMs = options.leaseRetryMs ?? LEASE_RETRY_MS;
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.leaseUntil = 0;
    this.unsubscribeClock = this.options.clock.onChange?.(() => this.wake());
    this.loop = this.runLoop();
  }

  /** Stops the loop after the current step and releases the lease. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.unsubscribeClock?.();
    this.wake();
    await this.loop;
    await this.options.instances.store
      .releaseLease(this.ownerId)
      .catch((err: unknown) => this.options.log(`lease release failed: ${errorText(err)}`));
  }

  /** Something was written locally: scan again now instead of at the next poll. */
  wake(): void {
    this.pendingWake = true;
    this.wakeUp?.();
  }

  /** Resolves after the next scan that did work, or after maxMs. */
  nextProgress(maxMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(done);
        resolve();
      };
      const timer = setTimeout(done, maxMs);
      this.listeners.add(done);
    });
  }

  private notifyProgress(): void {
    for (const listener of [...this.listeners]) listener();
  }

  /** True while this dispatcher holds the hub's lease (renewed when half of it is used up). */
  private async holdsLease(): Promise<boolean> {
    const now = Date.now();
    if (now < this.leaseUntil - this.leaseMs / 2) return true;
    const until = await this.options.instances.store.acquireLease(this.ownerId, now, this.leaseMs);
    if (until === undefined) {
      if (!this.waitingForLease)
        this.options.log(
          `task hub ${this.options.instances.store.taskHub} is dispatched by another engine; waiting for its lease`,
        );
      this.waitingForLease = true;
      this.leaseUntil = 0;
      return false;
    }
    this.waitingForLease = false;
    this.leaseUntil = until;
    return true;
  }

  private async runLoop(): Promise<void> {
    const { clock, activities, pollIntervalMs } = this.options;
    while (this.running) {
      try {
        if (!(await this.holdsLease())) {
          this.pendingWake = false;
          await this.sleep(this.leaseRetryMs);
          continue;
        }
      } catch (err) {
        this.options.log(`durable engine lease check failed (will retry): ${errorText(err)}`);
        this.pendingWake = false;
        await this.sleep(this.leaseRetryMs);
        continue;
      }
      this.pendingWake = false;
      let outcome: ScanOutcome = { didWork: false, nextDue: undefined, waiting: false };
      try {
        outcome = await this.scan();
        this.lastStepError = undefined;
      } catch (err) {
        // Log a failure once, not on every retry of the same step.
        const text = errorText(err);
        if (text !== this.lastStepError) this.options.log(`durable engine step failed (will retry): ${text}`);
        this.lastStepError = text;
      }
      if (!this.running) break;
      if (outcome.didWork || this.pendingWake) continue;
      if (
        isAutoAdvancing(clock) &&
        activities.running === 0 &&
        !outcome.waiting &&
        outcome.nextDue !== undefined &&
        outcome.nextDue > clock.now()
      ) {
        clock.set(outcome.nextDue);
        continue;
      }
      const untilDue = outcome.nextDue !== undefined ? Math.max(1, outcome.nextDue - clock.now()) : pollIntervalMs;
      await this.sleep(Math.min(untilDue, pollIntervalMs));
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(finish, ms);
      function finish() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = undefined;
        finish();
      };
      if (this.pendingWake || !this.running) finish();
    });
  }

  /** One pass over the hub's work rows. */
  private async scan(): Promise<ScanOutcome> {
    const { instances, clock, activities, outbox, step } = this.options;
    const generation = ++this.generation;
    activities.beginScan(generation);
    const rows = await instances.store.scan(['m-', 'a-', 'o-']);
    if (rows.length === 0) return { didWork: false, nextDue: undefined, waiting: false };
    const partitions = [...new Set(rows.map((r) => r.partitionKey))];
    const loaded = new Map<string, Instance>();
    await Promise.all(
      partitions.map(async (id) => {
        const instance = await instances.load(id);
        if (instance) loaded.set(id, instance);
      }),
    );

    let didWork = false;
    let waiting = false;
    let nextDue: number | undefined;
    const now = clock.now();
    const ready = new Map<string, Message[]>();
    const stale: Row[] = [];

    for (const row of rows) {
      const instance = loaded.get(row.partitionKey);
      const exec = String(row.exec ?? '');
      const episode = Number(row.episode ?? 0);
      if (!instance) {
        // A purged instance: nothing to deliver to (outbox rows of a purged parent are dropped too).
        stale.push(row);
        continue;
      }
      if (exec !== '' && exec !== instance.exec) {
        stale.push(row);
        continue;
      }
      if (episode > instance.episode) {
        // Written ahead of a commit that never happened (crash between the two): the step will redo it.
        // (Steps run one at a time on this loop, so no step of ours is between write-ahead and commit now.)
        stale.push(row);
        continue;
      }
      if (row.rowKey.startsWith('o-')) {
        await outbox.deliver(row);
        didWork = true;
      } else if (row.rowKey.startsWith('a-')) {
        if (TERMINAL_STATUSES.has(instance.runtimeStatus)) {
          stale.push(row);
          continue;
        }
        waiting = true;
        activities.offer(row, generation);
      } else {
        const message = toMessage(row);
        if (message.visibleAt <= now) {
          const list = ready.get(row.partitionKey) ?? [];
          list.push(message);
          ready.set(row.partitionKey, list);
        } else if (!TERMINAL_STATUSES.has(instance.runtimeStatus)) {
          nextDue = nextDue === undefined ? message.visibleAt : Math.min(nextDue, message.visibleAt);
        }
      }
    }
    if (stale.length > 0) await instances.store.deleteRows(stale);

    for (const [instanceId, messages] of ready) {
      const instance = loaded.get(instanceId);
      if (!instance) continue;
      if (await step.run(instance, messages, now)) didWork = true;
    }
    if (didWork) this.notifyProgress();
    return { didWork, nextDue, waiting };
  }
}
