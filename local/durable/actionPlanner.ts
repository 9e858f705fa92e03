import type { EpisodePlan } from './commit';
import {
  hashActions,
  type Instance,
  iso,
  newEvent,
  type OpenTask,
  type ParentLink,
  pad,
  type Retryable,
  shortHash,
  timerRow,
} from './records';
import { packJson } from './store';
import {
  ActionType,
  EventType,
  flattenActions,
  type HistoryEvent,
  type LeafAction,
  type OrchestratorState,
  type RetryOptions,
} from './wire';

/** An orchestration-level failure the planner detects (nondeterminism, unsupported action): the instance fails. */
export class OrchestrationProblem extends Error {}

export interface TimerLimits {
  /** Timers longer than this are split into slices (ms). */
  maxShortTimerMs: number;
  /** Length of each slice of a long timer (ms). */
  longTimerIntervalMs: number;
}

/**
 * Turns what one replay returned into an episode plan: history events for the new actions, the
 * work items, timers and outbox messages they need, the instance's next status, and the engine's
 * bookkeeping of open task ids (which must match the sequence numbers the SDK allocates).
 */
export class ActionPlanner {
  constructor(private readonly limits: TimerLimits) {}

  /**
   * Events after which the SDK allocates a sequence number on its own (the timer of a retry, the next
   * attempt, the next slice of a long timer) go alone into an episode, so the engine knows which new
   * id is which.
   */
  needsOwnEpisode(event: HistoryEvent, task: OpenTask, now: number): boolean {
    if (task.k === 'retryable') {
      return event.EventType === EventType.TaskFailed || event.EventType === EventType.SubOrchestrationInstanceFailed;
    }
    if (task.k === 'retryTimer') return task.target.attempt + 1 <= task.target.retry.maxNumberOfAttempts;
    if (task.k === 'longTimer') return task.finalFireAt > now;
    return false;
  }

  /** Schedules what the SDK allocated an id for by itself after a needsOwnEpisode event. */
  continueSpecial(instance: Instance, plan: EpisodePlan, task: OpenTask, now: number): void {
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
      const fireAt =
        task.finalFireAt - now > this.limits.maxShortTimerMs ? now + this.limits.longTimerIntervalMs : task.finalFireAt;
      plan.events.push(newEvent(EventType.TimerCreated, now, { EventId: id, FireAt: iso(fireAt) }));
      plan.writes.push(timerRow(instance, id, fireAt));
      state.open[id] = { k: 'longTimer', finalFireAt: task.finalFireAt, action: task.action };
    }
  }

  /** Schedules the actions this replay added; throws OrchestrationProblem on nondeterminism or an unsupported action. */
  scheduleActions(instance: Instance, plan: EpisodePlan, result: OrchestratorState, now: number): void {
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
          const isLong = finalFireAt - now > this.limits.maxShortTimerMs;
          const fireAt = isLong ? now + this.limits.longTimerIntervalMs : finalFireAt;
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

  /** The orchestrator returned isDone: Completed (notifying a parent), or continue-as-new. */
  finish(instance: Instance, plan: EpisodePlan, result: OrchestratorState, now: number): void {
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

  /** The instance fails: nothing this episode scheduled runs, a parent is told. */
  fail(instance: Instance, plan: EpisodePlan, message: string, details: string | undefined, now: number): void {
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
}

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

/** The SDK JSON-encodes string inputs of activities and continueAsNew (Utils.processInput); undo that. */
function activityInput(input: unknown): unknown {
  if (typeof input !== 'string') return input;
  try {
    return JSON.parse(input);
  } catch {
    return input;
  }
}

function retryDelay(retry: RetryOptions, attempt: number): number {
  const delay = retry.firstRetryIntervalInMilliseconds * (retry.backoffCoefficient ?? 1) ** (attempt - 1);
  return Math.min(delay, retry.maxRetryIntervalInMilliseconds ?? Number.POSITIVE_INFINITY);
}
