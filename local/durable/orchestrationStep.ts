import type { InvokeRequest, InvokeResult } from '../host/contract';
import { type ActionPlanner, OrchestrationProblem } from './actionPlanner';
import type { EpisodeCommitter, EpisodePlan } from './commit';
import type { InstanceTable } from './instances';
import {
  completionId,
  type EngineState,
  type Instance,
  type Message,
  newEvent,
  type OpenTask,
  parseJsonText,
} from './records';
import { type ReplaySettings, replayOrchestrator } from './replay';
import { EventType, type HistoryEvent, TERMINAL_STATUSES } from './wire';

/** Completions folded into one orchestrator episode at most (keeps the commit under the 100-op batch limit). */
export const MAX_EVENTS_PER_EPISODE = 60;

export interface OrchestrationStepOptions {
  instances: InstanceTable;
  planner: ActionPlanner;
  committer: EpisodeCommitter;
  invoke(request: InvokeRequest): Promise<InvokeResult>;
  replay: ReplaySettings;
}

/**
 * One orchestrator episode for an instance with ready inbox messages: choose which messages this
 * episode consumes, replay the orchestrator with them, plan what it scheduled, commit.
 */
export class OrchestrationStep {
  constructor(private readonly options: OrchestrationStepOptions) {}

  /** Returns whether anything changed. */
  async run(instance: Instance, messages: Message[], now: number): Promise<boolean> {
    const { instances, planner, committer } = this.options;
    messages.sort((a, b) => a.seq - b.seq || a.row.rowKey.localeCompare(b.row.rowKey));
    if (TERMINAL_STATUSES.has(instance.runtimeStatus)) {
      await instances.store.deleteRows(messages.map((m) => m.row));
      return true;
    }
    const terminate = messages.find((m) => m.kind === 'terminate');
    if (terminate) {
      await this.terminateNow(instance, messages.slice(0, MAX_EVENTS_PER_EPISODE), terminate, now);
      return true;
    }

    const past = await instances.history(instance);
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
        if (planner.needsOwnEpisode(message.event, task, now)) {
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
      await committer.commit(instance, { consumed, events: [], update: {}, state });
      return true;
    }

    const newEvents: HistoryEvent[] = [
      newEvent(EventType.OrchestratorStarted, now),
      ...selected.map((m) => ({ ...m.event, IsPlayed: false })),
    ];
    const outcome = await replayOrchestrator(this.options.invoke, instance, past, newEvents, this.options.replay);
    const plan: EpisodePlan = { consumed, events: newEvents, update: {}, state, writes: [], outbox: [], deletes: [] };

    if (outcome.kind === 'failed') {
      planner.fail(instance, plan, outcome.message, outcome.details, now);
    } else {
      const result = outcome.state;
      plan.update.customStatus = result.customStatus;
      try {
        if (special) planner.continueSpecial(instance, plan, special.task, now);
        planner.scheduleActions(instance, plan, result, now);
        if (result.isDone) planner.finish(instance, plan, result, now);
        else plan.update.runtimeStatus = 'Running';
      } catch (err) {
        if (!(err instanceof OrchestrationProblem)) throw err;
        planner.fail(instance, plan, err.message, undefined, now);
      }
    }
    plan.events.push(newEvent(EventType.OrchestratorCompleted, now));
    await committer.commit(instance, plan);
    return true;
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
    await this.options.committer.commit(instance, plan);
  }
}
