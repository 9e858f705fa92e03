import type { InvokeRequest, InvokeResult } from '../host/contract';
import { ActionPlanner } from './actionPlanner';
import { ActivityRunner } from './activityRunner';
import { DurableClientApi, type InstanceFilter, type StartOptions, type StatusOptions } from './client';
import { type Clock, systemClock } from './clock';
import { EpisodeCommitter } from './commit';
import { Dispatcher } from './dispatcher';
import { InstanceTable } from './instances';
import { OrchestrationStep } from './orchestrationStep';
import { Outbox } from './outbox';
import { parseTimeSpan } from './records';
import type { DurableStore } from './store';
import type { StatusPayload } from './wire';

export type { InstanceFilter, StartOptions, StatusOptions } from './client';
export { parseTimeSpan } from './records';

export interface DurableEngineOptions {
  store: DurableStore;
  /** Runs a function through the host (host.invoke). */
  invoke(request: InvokeRequest): Promise<InvokeResult>;
  /** Trigger type of a registered function, to reject startNew of an unknown orchestrator. */
  functionKind?(name: string): string | undefined;
  clock?: Clock;
  /** How often an idle engine looks for new work in storage (ms). Local writes wake it at once. */
  pollIntervalMs?: number;
  maxConcurrentActivities?: number;
  /** How long stop() waits for running activities (default 10 s). */
  stopGraceMs?: number;
  /** .NET TimeSpan strings, as the extension sends them; timers longer than the first are split. */
  maximumShortTimerDuration?: string;
  longRunningTimerIntervalDuration?: string;
  /** Dispatcher lease length (ms, real time; default 10 s). Tests shorten it to see a lease change hands. */
  dispatcherLeaseMs?: number;
  log?(message: string): void;
}

const DEFAULT_MAX_SHORT_TIMER = '6.00:00:00';
const DEFAULT_LONG_TIMER_INTERVAL = '3.00:00:00';

/**
 * Runs orchestrations by replaying their history through the durable-functions SDK (via the host),
 * executes activities, timers, retries, external events and sub-orchestrations, and keeps everything
 * in Azure Tables so a new engine on the same storage continues where the old one stopped.
 *
 * This class only assembles the parts (see docs/durable-engine.md, "Module map"): the client API
 * (client.ts), the dispatcher loop and lease (dispatcher.ts), one orchestrator episode
 * (orchestrationStep.ts → replay.ts, actionPlanner.ts, commit.ts), the activity runner and the outbox.
 */
export class DurableEngine {
  readonly clock: Clock;
  private readonly store: DurableStore;
  private readonly stopGraceMs: number;
  private readonly client: DurableClientApi;
  private readonly dispatcher: Dispatcher;
  private readonly activities: ActivityRunner;

  constructor(options: DurableEngineOptions) {
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    this.stopGraceMs = options.stopGraceMs ?? 10_000;
    const log = options.log ?? ((m: string) => console.warn(m));
    const wake = () => this.dispatcher.wake();
    const maximumShortTimerDuration = options.maximumShortTimerDuration ?? DEFAULT_MAX_SHORT_TIMER;
    const longRunningTimerIntervalDuration = options.longRunningTimerIntervalDuration ?? DEFAULT_LONG_TIMER_INTERVAL;

    const instances = new InstanceTable(this.store, this.clock);
    const outbox = new Outbox({ instances, clock: this.clock, functionKind: options.functionKind, onDelivered: wake });
    const step = new OrchestrationStep({
      instances,
      invoke: options.invoke,
      replay: { maximumShortTimerDuration, longRunningTimerIntervalDuration },
      planner: new ActionPlanner({
        maxShortTimerMs: parseTimeSpan(maximumShortTimerDuration),
        longTimerIntervalMs: parseTimeSpan(longRunningTimerIntervalDuration),
      }),
      committer: new EpisodeCommitter(instances, outbox, this.clock),
    });
    this.activities = new ActivityRunner({
      store: this.store,
      clock: this.clock,
      invoke: options.invoke,
      functionKind: options.functionKind,
      maxConcurrent: options.maxConcurrentActivities ?? 8,
      onSettled: wake,
      log,
    });
    this.dispatcher = new Dispatcher({
      instances,
      clock: this.clock,
      step,
      activities: this.activities,
      outbox,
      pollIntervalMs: options.pollIntervalMs ?? 200,
      leaseMs: options.dispatcherLeaseMs,
      log,
    });
    this.client = new DurableClientApi({
      instances,
      clock: this.clock,
      functionKind: options.functionKind,
      signals: this.dispatcher,
    });
  }

  get taskHub(): string {
    return this.store.taskHub;
  }

  async start(): Promise<void> {
    if (this.dispatcher.isRunning) return;
    await this.store.init();
    this.activities.open();
    this.dispatcher.start();
  }

  /** Stops dispatching and waits for the current step and running activities to finish. */
  async stop(): Promise<void> {
    if (!this.dispatcher.isRunning) return;
    this.activities.close();
    await this.dispatcher.stop();
    // Running activities finish and record their results; one that outlives the grace period is
    // abandoned and runs again on the next start (at-least-once, as in Azure).
    await this.activities.drain(this.stopGraceMs);
  }

  wake(): void {
    this.dispatcher.wake();
  }

  // Client API (client.ts).
  startNew(name: string, options?: StartOptions): Promise<string> {
    return this.client.startNew(name, options);
  }
  getStatus(instanceId: string, options?: StatusOptions): Promise<StatusPayload | undefined> {
    return this.client.getStatus(instanceId, options);
  }
  listInstances(filter?: InstanceFilter): Promise<StatusPayload[]> {
    return this.client.listInstances(filter);
  }
  raiseEvent(instanceId: string, eventName: string, eventData?: unknown): Promise<void> {
    return this.client.raiseEvent(instanceId, eventName, eventData);
  }
  terminate(instanceId: string, reason?: string): Promise<void> {
    return this.client.terminate(instanceId, reason);
  }
  purge(instanceId: string): Promise<number> {
    return this.client.purge(instanceId);
  }
  purgeBy(filter: InstanceFilter): Promise<number> {
    return this.client.purgeBy(filter);
  }
  waitForCompletion(instanceId: string, timeoutMs?: number): Promise<StatusPayload> {
    return this.client.waitForCompletion(instanceId, timeoutMs);
  }
  waitFor(
    instanceId: string,
    predicate: (status: StatusPayload) => boolean,
    timeoutMs?: number,
  ): Promise<StatusPayload> {
    return this.client.waitFor(instanceId, predicate, timeoutMs);
  }
}
