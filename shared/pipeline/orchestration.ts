import * as df from 'durable-functions';
import { pollDelaySeconds } from './polling';
import {
  ACTIVITIES,
  CANCEL_EVENT,
  type RecordRunEventInput,
  type RunState,
  runStateSchema,
  type StagedData,
  stagedDataSchema,
  TERMINAL_PROVIDER_STATUSES,
  type TrainingRunInput,
  trainingRunInputSchema,
} from './runContracts';

/** Transient provider/storage trouble is retried by the engine before the orchestration sees it. */
const ACTIVITY_RETRY = (() => {
  const retry = new df.RetryOptions(5_000, 6);
  retry.backoffCoefficient = 2;
  retry.maxRetryIntervalInMilliseconds = 120_000;
  return retry;
})();

export type TrainingRunOutcome = { status: RunState['status'] | 'timed_out'; providerRunName: string; reason?: string };

const TERMINAL_EVENT = {
  completed: 'tunedrop.run.completed',
  failed: 'tunedrop.run.failed',
  cancelled: 'tunedrop.run.cancelled',
} as const;

/**
 * The trainingRun orchestration: deterministic control flow only; every I/O is an activity.
 * Submit once (idempotent on the run id), then poll with durable timers and exponential backoff
 * with deterministic jitter (reset when the status changes), announce each change once, honour
 * a `cancel` external event, and give up with run.timed_out at the deadline.
 */
export function* trainingRunOrchestrator(
  context: df.OrchestrationContext,
): Generator<df.Task, TrainingRunOutcome, unknown> {
  const input: TrainingRunInput = trainingRunInputSchema.parse(context.df.getInput());
  const runFacts = {
    runId: input.runId,
    team: input.team,
    dataset: input.dataset,
    model: input.model,
    task: input.task,
    manifestUrl: input.manifestUrl,
    reportUrl: input.reportUrl,
    registerTo: input.registerTo,
  };
  const record = (event: Omit<RecordRunEventInput, 'run' | 'time'>) =>
    context.df.callActivityWithRetry(ACTIVITIES.recordRunEvent, ACTIVITY_RETRY, {
      ...event,
      run: runFacts,
      time: context.df.currentUtcDateTime.toISOString(),
    } satisfies RecordRunEventInput);

  const staged: StagedData = stagedDataSchema.parse(
    yield context.df.callActivityWithRetry(ACTIVITIES.stageTrainingData, ACTIVITY_RETRY, input),
  );
  let state: RunState = runStateSchema.parse(
    yield context.df.callActivityWithRetry(ACTIVITIES.submitTrainingRun, ACTIVITY_RETRY, { ...input, staged }),
  );
  const deadline = new Date(context.df.currentUtcDateTime.getTime() + input.deadlineHours * 3_600_000);
  yield record({ type: 'tunedrop.run.submitted', factKey: 'submitted', state, status: state.status });

  let changes = 0;
  let pollsSinceChange = 0;
  let cancelRequested = false;
  const cancelEvent = context.df.waitForExternalEvent(CANCEL_EVENT);

  while (!isTerminal(state.status)) {
    const now = context.df.currentUtcDateTime;
    if (now.getTime() >= deadline.getTime()) {
      yield context.df.callActivityWithRetry(ACTIVITIES.cancelTrainingRun, ACTIVITY_RETRY, {
        runId: input.runId,
        providerRunName: state.providerRunName,
      });
      const reason = `no terminal status within ${input.deadlineHours} h; the run was cancelled`;
      yield record({
        type: 'tunedrop.run.timed_out',
        factKey: 'timed_out',
        state: { ...state, reason },
        previousStatus: state.status,
        status: 'timed_out',
      });
      return { status: 'timed_out', providerRunName: state.providerRunName, reason };
    }

    const delayMs = pollDelaySeconds(pollsSinceChange, input.runId, input.polling) * 1000;
    const timer = context.df.createTimer(new Date(Math.min(now.getTime() + delayMs, deadline.getTime())));
    if (!cancelRequested) {
      const winner = yield context.df.Task.any([timer, cancelEvent]);
      if (winner === cancelEvent) {
        timer.cancel();
        cancelRequested = true;
        yield context.df.callActivityWithRetry(ACTIVITIES.cancelTrainingRun, ACTIVITY_RETRY, {
          runId: input.runId,
          providerRunName: state.providerRunName,
        });
      }
    } else {
      yield timer;
    }

    const next: RunState = runStateSchema.parse(
      yield context.df.callActivityWithRetry(ACTIVITIES.getTrainingRunStatus, ACTIVITY_RETRY, {
        runId: input.runId,
        providerRunName: state.providerRunName,
      }),
    );
    if (next.status !== state.status || next.rawStatus !== state.rawStatus) {
      changes++;
      pollsSinceChange = 0;
      if (!isTerminal(next.status)) {
        yield record({
          type: 'tunedrop.run.status_changed',
          factKey: `${changes}:${next.rawStatus}`,
          state: next,
          previousStatus: state.status,
          status: next.status,
        });
      }
    } else {
      pollsSinceChange++;
    }
    state = next;
  }

  const terminal = state.status as (typeof TERMINAL_PROVIDER_STATUSES)[number];
  yield record({ type: TERMINAL_EVENT[terminal], factKey: terminal, state, status: terminal });
  return { status: terminal, providerRunName: state.providerRunName, reason: state.reason };
}

function isTerminal(status: string): boolean {
  return (TERMINAL_PROVIDER_STATUSES as readonly string[]).includes(status);
}
