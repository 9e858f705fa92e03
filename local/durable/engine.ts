import { createHash, randomUUID } from 'node:crypto';
import type { TransactionAction } from '@azure/data-tables';
import { z } from 'zod';
import type { InvokeRequest, InvokeResult } from '../host/contract';
import { type Clock, isAutoAdvancing, systemClock } from './clock';
import { DurableEngineError } from './errors';
import { type DurableStore, INSTANCE_ROW, packJson, type Row, statusOf, unpackJson } from './store';
import {
  ActionType,
  EventType,
  type FailureDetails,
  flattenActions,
  type HistoryEvent,
  type LeafAction,
  type OrchestrationTriggerValue,
  type OrchestratorState,
  OUT_OF_PROC_DATA_LABEL,
  orchestratorStateSchema,
  REPLAY_SCHEMA_V3,
  type RetryOptions,
  type RuntimeStatus,
  type StatusPayload,
  TERMINAL_STATUSES,
} from './wire';

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
  log?(message: string): void;
}

export interface StartOptions {
  instanceId?: string;
  input?: unknown;
}

export interface StatusOptions {
  showHistory?: boolean;
  showInput?: boolean;
}

export interface InstanceFilter {
  runtimeStatus?: RuntimeStatus[];
  createdTimeFrom?: Date;
  createdTimeTo?: Date;
}

type Retryable = {
  kind: 'activity' | 'subOrchestration';
  name: string;
  input: unknown;
  retry: RetryOptions;
  attempt: number;
  explicitInstanceId?: string;
};

/** What the engine remembers about an id the SDK is waiting on (the SDK's own bookkeeping is rebuilt on replay). */
type OpenTask =
  | { k: 'activity'; name: string }
  | { k: 'subOrchestration'; name: string; childId: string }
  | { k: 'timer'; action: number }
  | { k: 'longTimer'; finalFireAt: number; action: number }
  | ({ k: 'retryable' } & Retryable)
  | { k: 'retryTimer'; target: Retryable };

interface EngineState {
  nextId: number;
  actionCount: number;
  actionsHash: string;
  open: Record<string, OpenTask>;
}

interface ParentLink {
  instanceId: string;
  exec: string;
  taskId: number;
}

interface Instance {
  instanceId: string;
  name: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  createdTime: number;
  lastUpdatedTime: number;
  exec: string;
  episode: number;
  state: EngineState;
  parent?: ParentLink;
  etag?: string;
}

type MessageKind = 'start' | 'event' | 'terminate';

interface Message {
  row: Row;
  kind: MessageKind;
  exec: string;
  episode: number;
  visibleAt: number;
  seq: number;
  event: HistoryEvent;
}

type OutboxPayload =
  | { kind: 'createChild'; childId: string; childExec: string; name: string; input: unknown; parent: ParentLink }
  | { kind: 'notifyParent'; parent: ParentLink; event: HistoryEvent };

const parentLinkSchema = z.object({ instanceId: z.string(), exec: z.string(), taskId: z.number() });

const DEFAULT_MAX_SHORT_TIMER = '6.00:00:00';
const DEFAULT_LONG_TIMER_INTERVAL = '3.00:00:00';
/** Dispatcher lease (real time): a crashed engine's hub is taken over after at most this long. */
const LEASE_MS = 10_000;
const LEASE_RETRY_MS = 500;
/** Completions folded into one orchestrator episode at most (keeps the commit under the 100-op batch limit). */
const MAX_EVENTS_PER_EPISODE = 60;

const freshState = (): EngineState => ({ nextId: 0, actionCount: 0, actionsHash: hashActions([]), open: {} });

let seqCounter = 0;
/** Arrival order of inbox messages, monotonic within this process and roughly across restarts. */
function nextSeq(): number {
  seqCounter = (seqCounter + 1) % 1000;
  return Date.now() * 1000 + seqCounter;
}

/**
 * Runs orchestrations by replaying their history through the durable-functions SDK (via the host),
 * executes activities, timers, retries, external events and sub-orchestrations, and keeps everything
 * in Azure Tables so a new engine on the same storage continues where the old one stopped.
 */
export class DurableEngine {
  readonly clock: Clock;
  private readonly store: DurableStore;
  private readonly pollIntervalMs: number;
  private readonly maxConcurrentActivities: number;
  private readonly stopGraceMs: number;
  private readonly maxShortTimerMs: number;
  private readonly longTimerIntervalMs: number;
  private readonly maxShortTimer: string;
  private readonly longTimerInterval: string;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly recentlyDone = new Map<string, number>();
  private readonly ownerId = randomUUID();
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

  constructor(private readonly options: DurableEngineOptions) {
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    this.pollIntervalMs = options.pollIntervalMs ?? 200;
    this.maxConcurrentActivities = options.maxConcurrentActivities ?? 8;
    this.stopGraceMs = options.stopGraceMs ?? 10_000;
    this.maxShortTimer = options.maximumShortTimerDuration ?? DEFAULT_MAX_SHORT_TIMER;
    this.longTimerInterval = options.longRunningTimerIntervalDuration ?? DEFAULT_LONG_TIMER_INTERVAL;
    this.maxShortTimerMs = parseTimeSpan(this.maxShortTimer);
    this.longTimerIntervalMs = parseTimeSpan(this.longTimerInterval);
  }

  get taskHub(): string {
    return this.store.taskHub;
  }

  async start(): Promise<void> {
    if (this.running) return;
    await this.store.init();
    this.running = true;
    this.leaseUntil = 0;
    this.unsubscribeClock = this.clock.onChange?.(() => this.wake());
    this.loop = this.runLoop();
  }

  /** Stops dispatching and waits for the current step and running activities to finish. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.unsubscribeClock?.();
    this.wake();
    await this.loop;
    await this.store
      .releaseLease(this.ownerId)
      .catch((err: unknown) => this.log(`lease release failed: ${errorText(err)}`));
    // Running activities finish and record their results; one that outlives the grace period is
    // abandoned and runs again on the next start (at-least-once, as in Azure).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight.values()]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, this.stopGraceMs);
      }),
    ]);
    clearTimeout(timer);
  }

  // ---------------------------------------------------------------- client API

  async startNew(name: string, options: StartOptions = {}): Promise<string> {
    await this.store.init();
    const kind = this.options.functionKind?.(name);
    if (this.options.functionKind && kind !== 'orchestrationTrigger') {
      throw new DurableEngineError(
        'durable_unknown_orchestrator',
        `The function '${name}' doesn't exist or is not an orchestrator function.`,
      );
    }
    const instanceId = options.instanceId ?? randomUUID().replaceAll('-', '');
    validateInstanceId(instanceId);
    const existing = await this.loadInstance(instanceId);
    if (existing && !TERMINAL_STATUSES.has(existing.runtimeStatus)) {
      throw new DurableEngineError(
        'durable_instance_exists',
        `An orchestration instance with ID '${instanceId}' already exists and is ${existing.runtimeStatus}.`,
      );
    }
    if (existing) await this.purgePartition(instanceId);
    await this.createInstance(instanceId, name, options.input, randomUUID().slice(0, 8));
    this.wake();
    return instanceId;
  }

  async getStatus(instanceId: string, options: StatusOptions = {}): Promise<StatusPayload | undefined> {
    await this.store.init();
    const instance = await this.loadInstance(instanceId);
    if (!instance) return undefined;
    const status = toStatus(instance, options.showInput ?? true);
    if (options.showHistory) {
      const history = await this.loadHistory(instance);
      status.historyEvents = history.map(describeEvent);
    }
    return status;
  }

  async listInstances(filter: InstanceFilter = {}): Promise<StatusPayload[]> {
    await this.store.init();
    const rows = await this.store.query(`RowKey eq '${INSTANCE_ROW}'`);
    return rows
      .map(fromInstanceRow)
      .filter((i) => matchesFilter(i, filter))
      .map((i) => toStatus(i, true));
  }

  async raiseEvent(instanceId: string, eventName: string, eventData?: unknown): Promise<void> {
    await this.store.init();
    if (!eventName) throw new DurableEngineError('durable_invalid_request', 'eventName must be a non-empty string.');
    const instance = await this.requireInstance(instanceId);
    if (TERMINAL_STATUSES.has(instance.runtimeStatus)) {
      throw new DurableEngineError(
        'durable_instance_not_running',
        `Instance '${instanceId}' is ${instance.runtimeStatus}; it cannot receive events.`,
      );
    }
    const event = newEvent(EventType.EventRaised, this.clock.now(), {
      Name: eventName,
      Input: eventData === undefined ? undefined : JSON.stringify(eventData),
    });
    await this.store.upsert(messageRow(instanceId, `m-e-${nextSeq()}-${randomUUID().slice(0, 8)}`, 'event', event));
    this.wake();
  }

  async terminate(instanceId: string, reason = ''): Promise<void> {
    await this.store.init();
    const instance = await this.requireInstance(instanceId);
    if (TERMINAL_STATUSES.has(instance.runtimeStatus)) {
      throw new DurableEngineError(
        'durable_instance_not_running',
        `Instance '${instanceId}' is already ${instance.runtimeStatus}.`,
      );
    }
    const event = newEvent(EventType.ExecutionTerminated, this.clock.now(), { Input: JSON.stringify(reason) });
    await this.store.upsert(messageRow(instanceId, `m-x-${nextSeq()}`, 'terminate', event));
    this.wake();
  }

  /** Deletes a finished instance and all its history. Returns how many instances were deleted (0 or 1). */
  async purge(instanceId: string): Promise<number> {
    await this.store.init();
    const instance = await this.loadInstance(instanceId);
    if (!instance) return 0;
    if (!TERMINAL_STATUSES.has(instance.runtimeStatus)) {
      throw new DurableEngineError(
        'durable_instance_running',
        `Only orchestrations in a terminal state can be purged; '${instanceId}' is ${instance.runtimeStatus}.`,
      );
    }
    await this.purgePartition(instanceId);
    return 1;
  }

  /** Purges the finished instances that match the filter (running ones are left alone, as in DTFx). */
  async purgeBy(filter: InstanceFilter): Promise<number> {
    const matches = (await this.listInstances(filter)).filter((s) => TERMINAL_STATUSES.has(s.runtimeStatus));
    for (const status of matches) await this.purgePartition(status.instanceId);
    return matches.length;
  }

  /** Resolves when the instance is Completed, Failed or Terminated. Polls storage (and wakes on local progress). */
  async waitForCompletion(instanceId: string, timeoutMs = 30_000): Promise<StatusPayload> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.getStatus(instanceId);
      if (status && TERMINAL_STATUSES.has(status.runtimeStatus)) return status;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new DurableEngineError(
          'durable_timeout',
          `Instance '${instanceId}' is still ${status?.runtimeStatus ?? 'missing'} after ${timeoutMs} ms.`,
        );
      }
      await this.nextProgress(Math.min(remaining, 100));
    }
  }

  /** Resolves once the instance reaches a status for which `predicate` holds. */
  async waitFor(
    instanceId: string,
    predicate: (status: StatusPayload) => boolean,
    timeoutMs = 30_000,
  ): Promise<StatusPayload> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.getStatus(instanceId, { showHistory: true });
      if (status && predicate(status)) return status;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new DurableEngineError('durable_timeout', `Instance '${instanceId}' did not reach the awaited state.`);
      }
      await this.nextProgress(Math.min(remaining, 100));
    }
  }

  // ---------------------------------------------------------------- dispatcher

  wake(): void {
    this.pendingWake = true;
    this.wakeUp?.();
  }

  private nextProgress(maxMs: number): Promise<void> {
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

  /** True while this engine holds the hub's dispatcher lease (renewed when half of it is used up). */
  private async holdsLease(): Promise<boolean> {
    const now = Date.now();
    if (now < this.leaseUntil - LEASE_MS / 2) return true;
    const until = await this.store.acquireLease(this.ownerId, now, LEASE_MS);
    if (until === undefined) {
      if (!this.waitingForLease)
        this.log(`task hub ${this.taskHub} is dispatched by another engine; waiting for its lease`);
      this.waitingForLease = true;
      this.leaseUntil = 0;
      return false;
    }
    this.waitingForLease = false;
    this.leaseUntil = until;
    return true;
  }

  private async runLoop(): Promise<void> {
    while (this.running) {
      try {
        if (!(await this.holdsLease())) {
          this.pendingWake = false;
          await this.sleep(LEASE_RETRY_MS);
          continue;
        }
      } catch (err) {
        this.log(`durable engine lease check failed (will retry): ${errorText(err)}`);
        this.pendingWake = false;
        await this.sleep(LEASE_RETRY_MS);
        continue;
      }
      this.pendingWake = false;
      let outcome: TickOutcome = { didWork: false, nextDue: undefined, waiting: false };
      try {
        outcome = await this.tick();
        this.lastStepError = undefined;
      } catch (err) {
        // Log a failure once, not on every retry of the same step.
        const text = errorText(err);
        if (text !== this.lastStepError) this.log(`durable engine step failed (will retry): ${text}`);
        this.lastStepError = text;
      }
      if (!this.running) break;
      if (outcome.didWork || this.pendingWake) continue;
      if (
        isAutoAdvancing(this.clock) &&
        this.inFlight.size === 0 &&
        !outcome.waiting &&
        outcome.nextDue !== undefined &&
        outcome.nextDue > this.clock.now()
      ) {
        this.clock.set(outcome.nextDue);
        continue;
      }
      const untilDue =
        outcome.nextDue !== undefined ? Math.max(1, outcome.nextDue - this.clock.now()) : this.pollIntervalMs;
      await this.sleep(Math.min(untilDue, this.pollIntervalMs));
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

  private async tick(): Promise<TickOutcome> {
    const generation = ++this.generation;
    for (const [key, doneAt] of this.recentlyDone) if (doneAt < generation - 1) this.recentlyDone.delete(key);
    const rows = await this.store.scan(['m-', 'a-', 'o-']);
    if (rows.length === 0) return { didWork: false, nextDue: undefined, waiting: false };
    const partitions = [...new Set(rows.map((r) => r.partitionKey))];
    const instances = new Map<string, Instance>();
    await Promise.all(
      partitions.map(async (id) => {
        const instance = await this.loadInstance(id);
        if (instance) instances.set(id, instance);
      }),
    );

    let didWork = false;
    let waiting = false;
    let nextDue: number | undefined;
    const now = this.clock.now();
    const ready = new Map<string, Message[]>();
    const stale: Row[] = [];

    for (const row of rows) {
      const instance = instances.get(row.partitionKey);
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
        await this.deliverOutbox(row);
        didWork = true;
      } else if (row.rowKey.startsWith('a-')) {
        if (TERMINAL_STATUSES.has(instance.runtimeStatus)) {
          stale.push(row);
          continue;
        }
        waiting = true;
        this.maybeRunActivity(row, generation);
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
    if (stale.length > 0) await this.store.deleteRows(stale);

    for (const [instanceId, messages] of ready) {
      const instance = instances.get(instanceId);
      if (!instance) continue;
      if (await this.processInstance(instance, messages, now)) didWork = true;
    }
    if (didWork) this.notifyProgress();
    return { didWork, nextDue, waiting };
  }

  // ---------------------------------------------------------------- orchestration step

  /** Runs one orchestrator episode for an instance with ready inbox messages. Returns whether anything changed. */
  private async processInstance(instance: Instance, messages: Message[], now: number): Promise<boolean> {
    messages.sort((a, b) => a.seq - b.seq || a.row.rowKey.localeCompare(b.row.rowKey));
    if (TERMINAL_STATUSES.has(instance.runtimeStatus)) {
      await this.store.deleteRows(messages.map((m) => m.row));
      return true;
    }
    const terminate = messages.find((m) => m.kind === 'terminate');
    if (terminate) {
      await this.terminateNow(instance, messages.slice(0, MAX_EVENTS_PER_EPISODE), terminate, now);
      return true;
    }

    const past = await this.loadHistory(instance);
    const started = past.some((e) => e.EventType === EventType.ExecutionStarted);
    const state: EngineState = structuredClone(instance.state);
    const selected: Message[] = [];
    const consumed: Message[] = [];
    let special: { message: Message; task: OpenTask } | undefined;

    for (const message of messages) {
      if (consumed.length >= MAX_EVENTS_PER_EPISODE) break;
      if (message.kind === 'start') {
        consumed.push(message);
        if (!started && selected.length === 0) selected.push(message);
        continue;
      }
      if (!started && !selected.some((m) => m.kind === 'start')) break; // events wait for ExecutionStarted
      const taskId = completionId(message.event);
      if (taskId !== undefined) {
        const task = state.open[taskId];
        if (!task) {
          consumed.push(message); // a duplicate delivery, or a completion for an abandoned execution
          continue;
        }
        if (this.needsOwnEpisode(message.event, task, now)) {
          if (selected.length === 0) {
            selected.push(message);
            consumed.push(message);
            special = { message, task };
            delete state.open[taskId];
          }
          break;
        }
        delete state.open[taskId];
      }
      selected.push(message);
      consumed.push(message);
    }

    if (selected.length === 0) {
      if (consumed.length === 0) return false;
      await this.commit(instance, { consumed, events: [], update: {}, state });
      return true;
    }

    const newEvents: HistoryEvent[] = [
      newEvent(EventType.OrchestratorStarted, now),
      ...selected.map((m) => ({ ...m.event, IsPlayed: false })),
    ];
    const outcome = await this.runOrchestrator(instance, past, newEvents);
    const plan: EpisodePlan = { consumed, events: newEvents, update: {}, state, writes: [], outbox: [], deletes: [] };

    if (outcome.kind === 'failed') {
      this.fail(instance, plan, outcome.message, outcome.details, now);
    } else {
      const result = outcome.state;
      plan.update.customStatus = result.customStatus;
      try {
        if (special) this.continueSpecial(instance, plan, special.task, now);
        this.scheduleActions(instance, plan, result, now);
        if (result.isDone) this.finish(instance, plan, result, now);
        else plan.update.runtimeStatus = 'Running';
      } catch (err) {
        if (!(err instanceof OrchestrationProblem)) throw err;
        this.fail(instance, plan, err.message, undefined, now);
      }
    }
    plan.events.push(newEvent(EventType.OrchestratorCompleted, now));
    await this.commit(instance, plan);
    return true;
  }

  /**
   * Events after which the SDK allocates a sequence number on its own (the timer of a retry, the next
   * attempt, the next slice of a long timer) go alone into an episode, so the engine knows which new
   * id is which.
   */
  private needsOwnEpisode(event: HistoryEvent, task: OpenTask, now: number): boolean {
    if (task.k === 'retryable') {
      return event.EventType === EventType.TaskFailed || event.EventType === EventType.SubOrchestrationInstanceFailed;
    }
    if (task.k === 'retryTimer') return task.target.attempt + 1 <= task.target.retry.maxNumberOfAttempts;
    if (task.k === 'longTimer') return task.finalFireAt > now;
    return false;
  }

  private continueSpecial(instance: Instance, plan: EpisodePlan, task: OpenTask, now: number) {
    const { state } = plan;
    if (task.k === 'retryable') {
      // RetryableTask waits on a timer after every failed attempt (also the last one, like DTFx's RetryInterceptor).
      const id = state.nextId++;
      const fireAt = now + retryDelay(task.retry, task.attempt);
      plan.events.push(newEvent(EventType.TimerCreated, now, { EventId: id, FireAt: iso(fireAt) }));
      plan.writes.push(timerRow(instance, id, fireAt));
      const { k: _kind, ...target } = task;
      state.open[id] = { k: 'retryTimer', target };
    } else if (task.k === 'retryTimer') {
      const attempt: Retryable = { ...task.target, attempt: task.target.attempt + 1 };
      const id = state.nextId++;
      if (attempt.kind === 'activity') this.scheduleActivity(instance, plan, id, attempt.name, attempt.input, now);
      else this.scheduleChild(instance, plan, id, attempt.name, attempt.input, attempt.explicitInstanceId, now);
      state.open[id] = { k: 'retryable', ...attempt };
    } else if (task.k === 'longTimer') {
      const id = state.nextId++;
      const fireAt = task.finalFireAt - now > this.maxShortTimerMs ? now + this.longTimerIntervalMs : task.finalFireAt;
      plan.events.push(newEvent(EventType.TimerCreated, now, { EventId: id, FireAt: iso(fireAt) }));
      plan.writes.push(timerRow(instance, id, fireAt));
      state.open[id] = { k: 'longTimer', finalFireAt: task.finalFireAt, action: task.action };
    }
  }

  private scheduleActions(instance: Instance, plan: EpisodePlan, result: OrchestratorState, now: number): void {
    const { state } = plan;
    const actions = flattenActions(result);
    const previous = actions.slice(0, state.actionCount);
    if (actions.length < state.actionCount || hashActions(previous) !== state.actionsHash) {
      throw new OrchestrationProblem(
        'durable_nondeterminism: the orchestrator scheduled different actions on replay than before. ' +
          'Orchestrator code must be deterministic.',
      );
    }
    const fresh = actions.slice(state.actionCount);
    const firstFresh = state.actionCount;
    state.actionCount = actions.length;
    this.dropCanceledTimers(instance, plan, actions);
    state.actionsHash = hashActions(actions);
    if (result.isDone) {
      // Work scheduled in the episode that completes (or continues-as-new) is never awaited: not run.
      const unsupported = fresh.find(isUnsupported);
      if (unsupported) throw unsupportedProblem(unsupported);
      return;
    }
    for (const [offset, action] of fresh.entries()) {
      switch (action.actionType) {
        case ActionType.CallActivity: {
          const id = state.nextId++;
          this.scheduleActivity(instance, plan, id, action.functionName, activityInput(action.input), now);
          state.open[id] = { k: 'activity', name: action.functionName };
          break;
        }
        case ActionType.CallActivityWithRetry: {
          const id = state.nextId++;
          const input = activityInput(action.input);
          this.scheduleActivity(instance, plan, id, action.functionName, input, now);
          state.open[id] = {
            k: 'retryable',
            kind: 'activity',
            name: action.functionName,
            input,
            retry: action.retryOptions,
            attempt: 1,
          };
          break;
        }
        case ActionType.CallSubOrchestrator: {
          const id = state.nextId++;
          const childId = this.scheduleChild(
            instance,
            plan,
            id,
            action.functionName,
            action.input,
            action.instanceId ?? undefined,
            now,
          );
          state.open[id] = { k: 'subOrchestration', name: action.functionName, childId };
          break;
        }
        case ActionType.CallSubOrchestratorWithRetry: {
          const id = state.nextId++;
          const explicitInstanceId = action.instanceId ?? undefined;
          this.scheduleChild(instance, plan, id, action.functionName, action.input, explicitInstanceId, now);
          state.open[id] = {
            k: 'retryable',
            kind: 'subOrchestration',
            name: action.functionName,
            input: action.input,
            retry: action.retryOptions,
            attempt: 1,
            explicitInstanceId,
          };
          break;
        }
        case ActionType.CreateTimer: {
          const id = state.nextId++;
          const finalFireAt = Date.parse(action.fireAt);
          const isLong = finalFireAt - now > this.maxShortTimerMs;
          const fireAt = isLong ? now + this.longTimerIntervalMs : finalFireAt;
          plan.events.push(newEvent(EventType.TimerCreated, now, { EventId: id, FireAt: iso(fireAt) }));
          plan.writes.push(timerRow(instance, id, fireAt));
          const index = firstFresh + offset;
          state.open[id] = isLong ? { k: 'longTimer', finalFireAt, action: index } : { k: 'timer', action: index };
          break;
        }
        case ActionType.WaitForExternalEvent:
        case ActionType.ContinueAsNew:
          break; // no sequence number; events are matched by name, continue-as-new is handled in finish()
        default:
          throw unsupportedProblem(action);
      }
    }
  }

  /**
   * timer.cancel() (the loser of a Task.any race) marks the action; nobody waits for it any more, so
   * its pending timer message goes, instead of firing later (and pulling an auto-advancing clock ahead).
   */
  private dropCanceledTimers(instance: Instance, plan: EpisodePlan, actions: LeafAction[]): void {
    for (const [id, task] of Object.entries(plan.state.open)) {
      if (task.k !== 'timer' && task.k !== 'longTimer') continue;
      const action = actions[task.action];
      if (action?.actionType === ActionType.CreateTimer && action.isCanceled) {
        delete plan.state.open[id];
        plan.deletes.push(`m-t-${instance.exec}-${pad(Number(id))}`);
      }
    }
  }

  private scheduleActivity(
    instance: Instance,
    plan: EpisodePlan,
    id: number,
    name: string,
    input: unknown,
    now: number,
  ): void {
    plan.events.push(
      newEvent(EventType.TaskScheduled, now, { EventId: id, Name: name, Input: JSON.stringify(input ?? null) }),
    );
    plan.writes.push({
      partitionKey: instance.instanceId,
      rowKey: `a-${instance.exec}-${pad(id)}`,
      exec: instance.exec,
      episode: instance.episode + 1,
      name,
      taskId: id,
      ...packJson('input', input ?? null),
    });
  }

  private scheduleChild(
    instance: Instance,
    plan: EpisodePlan,
    id: number,
    name: string,
    input: unknown,
    explicitInstanceId: string | undefined,
    now: number,
  ): string {
    const childId = explicitInstanceId ?? `${instance.instanceId}:${id}`;
    plan.events.push(
      newEvent(EventType.SubOrchestrationInstanceCreated, now, {
        EventId: id,
        Name: name,
        InstanceId: childId,
        Input: JSON.stringify(input ?? null),
      }),
    );
    const parent: ParentLink = { instanceId: instance.instanceId, exec: instance.exec, taskId: id };
    plan.outbox.push({
      kind: 'createChild',
      childId,
      childExec: shortHash(`${instance.instanceId}|${instance.exec}|${id}`),
      name,
      input,
      parent,
    });
    return childId;
  }

  private finish(instance: Instance, plan: EpisodePlan, result: OrchestratorState, now: number): void {
    const continueAsNew = flattenActions(result).find((a) => a.actionType === ActionType.ContinueAsNew);
    if (continueAsNew && 'input' in continueAsNew) {
      const input = activityInput(continueAsNew.input);
      plan.events.push(newEvent(EventType.ContinueAsNew, now, { Result: JSON.stringify(input ?? null) }));
      plan.continueAsNew = { input, exec: shortHash(`${instance.instanceId}|${instance.exec}|continue`) };
      plan.update.runtimeStatus = 'ContinuedAsNew';
      return;
    }
    plan.update.runtimeStatus = 'Completed';
    plan.update.output = result.output;
    plan.events.push(
      newEvent(EventType.ExecutionCompleted, now, {
        OrchestrationStatus: 'Completed',
        Result: JSON.stringify(result.output ?? null),
      }),
    );
    if (instance.parent) {
      plan.outbox.push({
        kind: 'notifyParent',
        parent: instance.parent,
        event: newEvent(EventType.SubOrchestrationInstanceCompleted, now, {
          TaskScheduledId: instance.parent.taskId,
          Result: JSON.stringify(result.output ?? null),
        }),
      });
    }
  }

  private fail(instance: Instance, plan: EpisodePlan, message: string, details: string | undefined, now: number) {
    const output = `Orchestrator function '${instance.name}' failed: ${message}`;
    plan.update.runtimeStatus = 'Failed';
    plan.update.output = output;
    plan.events.push(
      newEvent(EventType.ExecutionCompleted, now, { OrchestrationStatus: 'Failed', Result: JSON.stringify(output) }),
    );
    plan.writes = [];
    plan.outbox = plan.outbox.filter((o) => o.kind === 'notifyParent');
    if (instance.parent) {
      plan.outbox.push({
        kind: 'notifyParent',
        parent: instance.parent,
        event: newEvent(EventType.SubOrchestrationInstanceFailed, now, {
          TaskScheduledId: instance.parent.taskId,
          Reason: output,
          Details: details ?? '',
        }),
      });
    }
  }

  private async terminateNow(instance: Instance, consumed: Message[], terminate: Message, now: number) {
    const reason = parseJsonText(terminate.event.Input);
    const plan: EpisodePlan = {
      consumed,
      events: [
        newEvent(EventType.OrchestratorStarted, now),
        { ...terminate.event, IsPlayed: false },
        newEvent(EventType.OrchestratorCompleted, now),
      ],
      update: { runtimeStatus: 'Terminated', output: reason },
      state: instance.state,
      writes: [],
      outbox: [],
      deletes: [],
    };
    await this.commit(instance, plan);
  }

  private async runOrchestrator(
    instance: Instance,
    past: HistoryEvent[],
    newEvents: HistoryEvent[],
  ): Promise<{ kind: 'state'; state: OrchestratorState } | { kind: 'failed'; message: string; details?: string }> {
    const trigger: OrchestrationTriggerValue = {
      history: [...past.map((e) => ({ ...e, IsPlayed: true })), ...newEvents],
      input: instance.input ?? null,
      instanceId: instance.instanceId,
      isReplaying: past.length > 0,
      parentInstanceId: instance.parent?.instanceId ?? null,
      upperSchemaVersion: REPLAY_SCHEMA_V3,
      upperSchemaVersionNew: REPLAY_SCHEMA_V3,
      longRunningTimerIntervalDuration: this.longTimerInterval,
      maximumShortTimerDuration: this.maxShortTimer,
      defaultHttpAsyncRequestSleepTimeMillseconds: 30_000,
    };
    let returned: unknown;
    try {
      returned = (await this.options.invoke({ functionName: instance.name, triggerValue: trigger })).returnValue;
    } catch (err) {
      // The SDK throws OrchestrationFailureError: "<message>\n\n$OutOfProcData$:<OrchestratorState JSON>",
      // and the real failure text is the state's `error` (the prefix is often just "false").
      const text = err instanceof Error ? err.message : String(err);
      const at = text.indexOf(OUT_OF_PROC_DATA_LABEL);
      const data = at >= 0 ? safeJson(text.slice(at + OUT_OF_PROC_DATA_LABEL.length)) : undefined;
      const error = (data as { error?: unknown } | undefined)?.error;
      const message = typeof error === 'string' ? error : at >= 0 ? text.slice(0, at) : text;
      return { kind: 'failed', message, details: err instanceof Error ? err.stack : undefined };
    }
    const parsed = orchestratorStateSchema.safeParse(typeof returned === 'string' ? safeJson(returned) : returned);
    if (!parsed.success) {
      return {
        kind: 'failed',
        message: `durable_invalid_orchestrator_state: '${instance.name}' did not return an OrchestratorState (${parsed.error.issues[0]?.message ?? 'invalid'}). Is it registered with df.app.orchestration?`,
      };
    }
    return { kind: 'state', state: parsed.data };
  }

  /** Writes ahead the rows other partitions/dispatchers act on, then commits the episode atomically. */
  private async commit(instance: Instance, plan: EpisodePlan | CommitOnly): Promise<void> {
    const episode = instance.episode + 1;
    const writes = 'writes' in plan ? plan.writes : [];
    const outbox = 'outbox' in plan ? plan.outbox : [];
    const outboxRows: Row[] = outbox.map((payload, i) => ({
      partitionKey: instance.instanceId,
      rowKey: `o-${instance.exec}-${pad(episode)}-${i}`,
      exec: instance.exec,
      episode,
      ...packJson('payload', payload),
    }));
    // Gated rows: invisible to the dispatcher until the instance row says this episode committed.
    await Promise.all([...writes, ...outboxRows].map((row) => this.store.upsert(row)));

    const update = plan.update;
    const next: Instance = {
      ...instance,
      runtimeStatus: update.runtimeStatus ?? instance.runtimeStatus,
      output: 'output' in update ? update.output : instance.output,
      customStatus: 'customStatus' in update ? update.customStatus : instance.customStatus,
      lastUpdatedTime: this.clock.now(),
      episode: plan.events.length > 0 ? episode : instance.episode,
      state: plan.state,
    };
    const actions: TransactionAction[] = [];
    if (plan.events.length > 0) {
      actions.push([
        'upsert',
        {
          partitionKey: instance.instanceId,
          rowKey: `h-${instance.exec}-${pad(episode)}`,
          exec: instance.exec,
          episode,
          ...packJson('events', plan.events),
        },
        'Replace',
      ]);
    }
    if ('continueAsNew' in plan && plan.continueAsNew) {
      const { input, exec } = plan.continueAsNew;
      Object.assign(next, { exec, episode: 0, state: freshState(), input, output: undefined });
      actions.push([
        'upsert',
        messageRow(
          instance.instanceId,
          `m-s-${exec}`,
          'start',
          newEvent(EventType.ExecutionStarted, this.clock.now(), {
            Name: instance.name,
            Input: JSON.stringify(input ?? null),
          }),
          exec,
        ),
        'Replace',
      ]);
    }
    actions.push(['update', toInstanceRow(next), 'Replace', { etag: instance.etag ?? '*' }]);
    for (const message of plan.consumed) {
      actions.push(['delete', { partitionKey: message.row.partitionKey, rowKey: message.row.rowKey }]);
    }
    await this.store.transact(actions); // at most MAX_EVENTS_PER_EPISODE + 3 operations

    for (const row of outboxRows) await this.deliverOutbox(row);
    if ('deletes' in plan && plan.deletes.length > 0) {
      await this.store.deleteRows(plan.deletes.map((rowKey) => ({ partitionKey: instance.instanceId, rowKey })));
    }
    if (TERMINAL_STATUSES.has(next.runtimeStatus) || next.exec !== instance.exec) {
      await this.cleanUpExecution(instance);
    }
  }

  /** After an execution ends: drop its pending timers, activities and older history rows (best effort). */
  private async cleanUpExecution(instance: Instance): Promise<void> {
    const rows = await this.store.partition(instance.instanceId);
    const leftovers = rows.filter((r) => {
      if (r.rowKey === INSTANCE_ROW || r.rowKey.startsWith('o-')) return false;
      if (r.rowKey.startsWith('h-')) return false; // history stays until purge (status showHistory reads it)
      return String(r.exec ?? '') === instance.exec && !r.rowKey.startsWith('m-s-');
    });
    await this.store.deleteRows(leftovers);
    const current = await this.loadInstance(instance.instanceId);
    if (current && current.exec !== instance.exec) {
      await this.store.deleteRows(rows.filter((r) => r.rowKey.startsWith(`h-${instance.exec}-`)));
    }
  }

  // ---------------------------------------------------------------- activities and outbox

  private maybeRunActivity(row: Row, generation: number): void {
    const key = `${row.partitionKey}|${row.rowKey}`;
    if (this.inFlight.has(key) || this.inFlight.size >= this.maxConcurrentActivities || !this.running) return;
    // This scan may predate the completion that deleted the row: do not run it twice.
    if ((this.recentlyDone.get(key) ?? -1) >= generation) return;
    const run = this.runActivity(row).finally(() => {
      this.recentlyDone.set(key, this.generation);
      this.inFlight.delete(key);
      this.wake();
    });
    this.inFlight.set(key, run);
  }

  private async runActivity(row: Row): Promise<void> {
    const name = String(row.name);
    const taskId = Number(row.taskId);
    const exec = String(row.exec);
    let event: HistoryEvent;
    try {
      this.requireKind(name, 'activityTrigger', 'activity');
      const result = await this.options.invoke({ functionName: name, triggerValue: unpackJson(row, 'input') });
      event = newEvent(EventType.TaskCompleted, this.clock.now(), {
        TaskScheduledId: taskId,
        Result: JSON.stringify(result.returnValue ?? null),
      });
    } catch (err) {
      event = newEvent(EventType.TaskFailed, this.clock.now(), {
        TaskScheduledId: taskId,
        ...activityFailure(name, err),
      });
    }
    try {
      // Record the completion and retire the work item in one transaction: a completed activity never runs again.
      await this.store.transact([
        ['upsert', messageRow(row.partitionKey, `m-a-${exec}-${pad(taskId)}`, 'event', event, exec), 'Replace'],
        ['delete', { partitionKey: row.partitionKey, rowKey: row.rowKey }],
      ]);
    } catch (err) {
      const status = statusOf(err);
      if (status !== 404) this.log(`could not record completion of activity '${name}': ${errorText(err)}`);
    }
  }

  private async deliverOutbox(row: Row): Promise<void> {
    const payload = unpackJson(row, 'payload') as OutboxPayload;
    if (payload.kind === 'createChild') {
      const failParent = (reason: string) =>
        this.store.upsert(
          messageRow(
            payload.parent.instanceId,
            `m-c-${payload.parent.exec}-${pad(payload.parent.taskId)}`,
            'event',
            newEvent(EventType.SubOrchestrationInstanceFailed, this.clock.now(), {
              TaskScheduledId: payload.parent.taskId,
              Reason: reason,
              Details: '',
            }),
            payload.parent.exec,
          ),
        );
      const existing = await this.loadInstance(payload.childId);
      const kind = this.options.functionKind?.(payload.name);
      if (this.options.functionKind && kind !== 'orchestrationTrigger') {
        await failParent(`The function '${payload.name}' doesn't exist or is not an orchestrator function.`);
      } else if (!existing || (existing.exec !== payload.childExec && TERMINAL_STATUSES.has(existing.runtimeStatus))) {
        if (existing) await this.purgePartition(payload.childId);
        await this.createInstance(payload.childId, payload.name, payload.input, payload.childExec, payload.parent);
      } else if (existing.exec !== payload.childExec) {
        // The id is taken by a running instance: the parent's task fails.
        await failParent(
          `An orchestration instance with ID '${payload.childId}' already exists and is ${existing.runtimeStatus}.`,
        );
      }
    } else {
      await this.store.upsert(
        messageRow(
          payload.parent.instanceId,
          `m-c-${payload.parent.exec}-${pad(payload.parent.taskId)}`,
          'event',
          payload.event,
          payload.parent.exec,
        ),
      );
    }
    await this.store.delete(row.partitionKey, row.rowKey);
    this.wake();
  }

  // ---------------------------------------------------------------- storage helpers

  /** Scheduling an HTTP function (say) as an activity fails the task, as the extension does. */
  private requireKind(name: string, kind: string, what: string): void {
    if (this.options.functionKind && this.options.functionKind(name) !== kind) {
      throw new Error(`The function '${name}' doesn't exist or is not an ${what} function.`);
    }
  }

  private async createInstance(
    instanceId: string,
    name: string,
    input: unknown,
    exec: string,
    parent?: ParentLink,
  ): Promise<void> {
    const now = this.clock.now();
    const instance: Instance = {
      instanceId,
      name,
      runtimeStatus: 'Pending',
      input,
      output: undefined,
      customStatus: undefined,
      createdTime: now,
      lastUpdatedTime: now,
      exec,
      episode: 0,
      state: freshState(),
      parent,
    };
    const start = newEvent(EventType.ExecutionStarted, now, { Name: name, Input: JSON.stringify(input ?? null) });
    await this.store.transact([
      ['upsert', toInstanceRow(instance), 'Replace'],
      ['upsert', messageRow(instanceId, `m-s-${exec}`, 'start', start, exec), 'Replace'],
    ]);
  }

  private async loadInstance(instanceId: string): Promise<Instance | undefined> {
    const row = await this.store.get(instanceId, INSTANCE_ROW);
    return row ? fromInstanceRow(row) : undefined;
  }

  private async requireInstance(instanceId: string): Promise<Instance> {
    const instance = await this.loadInstance(instanceId);
    if (!instance)
      throw new DurableEngineError('durable_instance_not_found', `No instance with ID '${instanceId}' found.`);
    return instance;
  }

  private async loadHistory(instance: Instance): Promise<HistoryEvent[]> {
    const rows = await this.store.partition(instance.instanceId, `h-${instance.exec}-`);
    rows.sort((a, b) => Number(a.episode) - Number(b.episode));
    return rows
      .filter((r) => Number(r.episode) <= instance.episode)
      .flatMap((r) => unpackJson(r, 'events') as HistoryEvent[]);
  }

  private async purgePartition(instanceId: string): Promise<void> {
    await this.store.deleteRows(await this.store.partition(instanceId));
  }

  private log(message: string): void {
    (this.options.log ?? ((m: string) => console.warn(m)))(message);
  }
}

interface TickOutcome {
  didWork: boolean;
  nextDue: number | undefined;
  /** Activities are pending or running: the clock must not jump past them. */
  waiting: boolean;
}

interface CommitOnly {
  consumed: Message[];
  events: HistoryEvent[];
  update: Partial<Pick<Instance, 'runtimeStatus' | 'output' | 'customStatus'>>;
  state: EngineState;
}

interface EpisodePlan extends CommitOnly {
  writes: Row[];
  /** RowKeys in the instance's partition to delete after the commit (canceled timers). */
  deletes: string[];
  outbox: OutboxPayload[];
  continueAsNew?: { input: unknown; exec: string };
}

class OrchestrationProblem extends Error {}

function unsupportedProblem(action: LeafAction): OrchestrationProblem {
  const names: Record<number, string> = {
    [ActionType.CallEntity]: 'callEntity',
    [ActionType.CallHttp]: 'callHttp',
    [ActionType.SignalEntity]: 'signalEntity',
    [ActionType.LockEntities]: 'lock',
    [ActionType.ReleaseEntities]: 'lock release',
  };
  return new OrchestrationProblem(
    `durable_not_supported: ${names[action.actionType] ?? `action type ${action.actionType}`} is not supported by the local durable engine`,
  );
}

function isUnsupported(action: LeafAction): boolean {
  const supported: number[] = [
    ActionType.CallActivity,
    ActionType.CallActivityWithRetry,
    ActionType.CallSubOrchestrator,
    ActionType.CallSubOrchestratorWithRetry,
    ActionType.ContinueAsNew,
    ActionType.CreateTimer,
    ActionType.WaitForExternalEvent,
  ];
  return !supported.includes(action.actionType);
}

function newEvent(type: number, time: number, fields: Partial<HistoryEvent> = {}): HistoryEvent {
  return { EventType: type, EventId: -1, IsPlayed: false, Timestamp: iso(time), ...fields };
}

function timerRow(instance: Instance, id: number, fireAt: number): Row {
  return {
    ...messageRow(
      instance.instanceId,
      `m-t-${instance.exec}-${pad(id)}`,
      'event',
      newEvent(EventType.TimerFired, fireAt, { TimerId: id, FireAt: iso(fireAt) }),
      instance.exec,
    ),
    episode: instance.episode + 1,
    visibleAt: fireAt,
  };
}

function messageRow(
  instanceId: string,
  rowKey: string,
  kind: MessageKind,
  event: HistoryEvent,
  exec = '',
): Row & { partitionKey: string; rowKey: string } {
  return {
    partitionKey: instanceId,
    rowKey,
    kind,
    exec,
    episode: 0,
    visibleAt: 0,
    seq: nextSeq(),
    ...packJson('event', event),
  };
}

function toMessage(row: Row): Message {
  return {
    row,
    kind: String(row.kind) as MessageKind,
    exec: String(row.exec ?? ''),
    episode: Number(row.episode ?? 0),
    visibleAt: Number(row.visibleAt ?? 0),
    seq: Number(row.seq ?? 0),
    event: unpackJson(row, 'event') as HistoryEvent,
  };
}

function completionId(event: HistoryEvent): number | undefined {
  switch (event.EventType) {
    case EventType.TaskCompleted:
    case EventType.TaskFailed:
    case EventType.SubOrchestrationInstanceCompleted:
    case EventType.SubOrchestrationInstanceFailed:
      return event.TaskScheduledId;
    case EventType.TimerFired:
      return event.TimerId;
    default:
      return undefined;
  }
}

function toInstanceRow(instance: Instance): Row {
  return {
    partitionKey: instance.instanceId,
    rowKey: INSTANCE_ROW,
    name: instance.name,
    runtimeStatus: instance.runtimeStatus,
    createdTime: instance.createdTime,
    lastUpdatedTime: instance.lastUpdatedTime,
    exec: instance.exec,
    episode: instance.episode,
    parent: instance.parent ? JSON.stringify(instance.parent) : '',
    ...packJson('input', instance.input),
    ...packJson('output', instance.output),
    ...packJson('customStatus', instance.customStatus),
    ...packJson('state', instance.state),
  };
}

function fromInstanceRow(row: Row): Instance {
  const parentText = typeof row.parent === 'string' && row.parent ? row.parent : undefined;
  return {
    instanceId: row.partitionKey,
    name: String(row.name),
    runtimeStatus: String(row.runtimeStatus) as RuntimeStatus,
    input: unpackJson(row, 'input'),
    output: unpackJson(row, 'output'),
    customStatus: unpackJson(row, 'customStatus'),
    createdTime: Number(row.createdTime),
    lastUpdatedTime: Number(row.lastUpdatedTime),
    exec: String(row.exec),
    episode: Number(row.episode),
    state: (unpackJson(row, 'state') as EngineState | undefined) ?? freshState(),
    parent: parentText ? parentLinkSchema.parse(JSON.parse(parentText)) : undefined,
    etag: row.etag,
  };
}

function toStatus(instance: Instance, showInput: boolean): StatusPayload {
  return {
    name: instance.name,
    instanceId: instance.instanceId,
    runtimeStatus: instance.runtimeStatus,
    input: showInput ? (instance.input ?? null) : null,
    customStatus: instance.customStatus ?? null,
    output: instance.output ?? null,
    // The extension formats these with .NET's "s" format plus Z: no fractional seconds.
    createdTime: isoSeconds(instance.createdTime),
    lastUpdatedTime: isoSeconds(instance.lastUpdatedTime),
  };
}

function matchesFilter(instance: Instance, filter: InstanceFilter): boolean {
  if (filter.runtimeStatus?.length && !filter.runtimeStatus.includes(instance.runtimeStatus)) return false;
  if (filter.createdTimeFrom && instance.createdTime < filter.createdTimeFrom.getTime()) return false;
  if (filter.createdTimeTo && instance.createdTime > filter.createdTimeTo.getTime()) return false;
  return true;
}

const EVENT_NAMES = Object.fromEntries(Object.entries(EventType).map(([k, v]) => [v, k]));

function describeEvent(event: HistoryEvent): Record<string, unknown> {
  const out: Record<string, unknown> = { ...event, EventType: EVENT_NAMES[event.EventType] ?? event.EventType };
  delete out.IsPlayed;
  for (const field of ['Input', 'Result'] as const) {
    if (typeof event[field] === 'string') out[field] = parseJsonText(event[field]);
  }
  return out;
}

/** The SDK JSON-encodes string inputs of activities and continueAsNew (Utils.processInput); undo that. */
function activityInput(input: unknown): unknown {
  if (typeof input !== 'string') return input;
  try {
    return JSON.parse(input);
  } catch {
    return input;
  }
}

function activityFailure(name: string, err: unknown): Pick<HistoryEvent, 'Reason' | 'Details' | 'FailureDetails'> {
  const error = err instanceof Error ? err : new Error(String(err));
  // wrapActivityHandler puts a FailureDetails JSON into the message when an exception-properties provider is set.
  const details = safeJson(error.message);
  if (details && typeof details === 'object' && 'errorType' in details && 'errorMessage' in details) {
    const d = details as { errorType: string; errorMessage: string; stackTrace?: string; properties?: unknown };
    const failure: FailureDetails = {
      ErrorType: d.errorType,
      ErrorMessage: d.errorMessage,
      StackTrace: d.stackTrace,
      IsNonRetriable: false,
      Properties: (d.properties as Record<string, unknown> | undefined) ?? undefined,
    };
    return { FailureDetails: failure, Reason: `Activity function '${name}' failed: ${d.errorMessage}`, Details: '' };
  }
  return { Reason: `Activity function '${name}' failed: ${error.message}`, Details: error.stack ?? '' };
}

function retryDelay(retry: RetryOptions, attempt: number): number {
  const delay = retry.firstRetryIntervalInMilliseconds * (retry.backoffCoefficient ?? 1) ** (attempt - 1);
  return Math.min(delay, retry.maxRetryIntervalInMilliseconds ?? Number.POSITIVE_INFINITY);
}

function hashActions(actions: LeafAction[]): string {
  const signature = actions.map((a) => ('functionName' in a ? `${a.actionType}:${a.functionName}` : `${a.actionType}`));
  return createHash('sha256').update(signature.join('|')).digest('hex').slice(0, 16);
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

/** .NET TimeSpan "d.hh:mm:ss[.fff]" or "hh:mm:ss" → ms. */
export function parseTimeSpan(text: string): number {
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?$/.exec(text);
  if (!match) throw new Error(`durable_invalid_timespan: "${text}" is not a d.hh:mm:ss duration`);
  const [, d = '0', h = '0', m = '0', s = '0', f = '0'] = match;
  return ((Number(d) * 24 + Number(h)) * 60 + Number(m)) * 60_000 + Number(s) * 1000 + Number(`0.${f}`) * 1000;
}

function validateInstanceId(id: string): void {
  const hasControl = [...id].some((ch) => {
    const code = ch.charCodeAt(0);
    return code < 0x20 || (code >= 0x7f && code <= 0x9f);
  });
  if (!id || id.length > 256 || hasControl || /[/\\#?]/.test(id)) {
    throw new DurableEngineError(
      'durable_invalid_request',
      'Instance IDs must be 1-256 characters without /, \\, #, ? or control characters.',
    );
  }
}

function pad(n: number): string {
  return String(n).padStart(6, '0');
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function isoSeconds(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function parseJsonText(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  const parsed = safeJson(text);
  return parsed === undefined ? text : parsed;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
