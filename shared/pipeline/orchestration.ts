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
  TERMINAL_EVENT,
  TERMINAL_PROVIDER_STATUSES,
  type TrainingRunInput,
  trainingRunInputSchema,
} from './runContracts';

/** Transient provider/storage trouble is retried by the engine before the orchestration sees it. */
function activityRetry(polling: TrainingRunInput['polling']): df.RetryOptions {
  const retry = new df.RetryOptions((polling.retryFirstSeconds ?? 5) * 1000, polling.retryAttempts ?? 6);
  retry.backoffCoefficient = 2;
  retry.maxRetryIntervalInMilliseconds = 120_000;
  return retry;
}

export type TrainingRunOutcome = {
  status: RunState['status'] | 'timed_out';
  providerRunName?: string;
  reason?: string;
};

/** Longest failure reason kept in the index and the event (an exception text can be long). */
const MAX_REASON = 500;

/**
 * The trainingRun orchestration: deterministic control flow only; every I/O is an activity.
 * Submit once (idempotent on the run id), then poll with durable timers and exponential backoff
 * with deterministic jitter (reset when the status changes), announce each change once, honour
 * a `cancel` external event, and give up with run.timed_out at the deadline.
 *
 * Whatever ends it otherwise (an activity out of retries, an exception here), the run still ends:
 * the provider run is cancelled if it is still going, the index says failed with the reason and
 * run.failed is published (same event id as any earlier attempt, so at most once). Only if even
 * that cannot be recorded does the instance fail, and the reconciler (reconcile.ts) repairs it.
 */
export function* trainingRunOrchestrator(
  context: df.OrchestrationContext,
): Generator<df.Task, TrainingRunOutcome, unknown> {
  const input: TrainingRunInput = trainingRunInputSchema.parse(context.df.getInput());
  const progress: RunProgress = {};
  try {
    return yield* followRun(context, input, progress);
  } catch (err) {
    return yield* endAfterFailure(context, input, progress, err);
  }
}

/** What the orchestration knows so far, for ending the run cleanly when something throws. */
interface RunProgress {
  state?: RunState;
}

function* endAfterFailure(
  context: df.OrchestrationContext,
  input: TrainingRunInput,
  progress: RunProgress,
  err: unknown,
): Generator<df.Task, TrainingRunOutcome, unknown> {
  const retry = activityRetry(input.polling);
  const state = progress.state;
  const time = context.df.currentUtcDateTime.toISOString();
  if (state && isTerminal(state.status)) {
    // The provider run ended and only announcing it failed: announce it as it ended, once more.
    const terminal = state.status as (typeof TERMINAL_PROVIDER_STATUSES)[number];
    yield context.df.callActivityWithRetry(ACTIVITIES.recordRunEvent, retry, {
      type: TERMINAL_EVENT[terminal],
      factKey: terminal,
      run: runFactsOf(input),
      time,
      state,
      status: terminal,
    } satisfies RecordRunEventInput);
    return { status: terminal, providerRunName: state.providerRunName, reason: state.reason };
  }
  let cancelled = false;
  if (state) {
    try {
      yield context.df.callActivityWithRetry(ACTIVITIES.cancelTrainingRun, retry, {
        runId: input.runId,
        providerRunName: state.providerRunName,
        provider: input.provider,
      });
      cancelled = true;
    } catch {
      // Recorded below as part of the reason; the reconciler tries again.
    }
  }
  const what = describeFailure(err);
  const atProvider = state
    ? cancelled
      ? '; the provider run was cancelled'
      : '; cancelling the provider run failed too'
    : '';
  const reason = `${what}${atProvider}`.slice(0, MAX_REASON);
  const failedState: RunState = state
    ? { ...state, status: 'failed', reason }
    : { providerRunName: 'unknown', status: 'failed', rawStatus: 'NOT_SUBMITTED', reason };
  // If this throws too (storage down past retries), the instance fails and the reconciler repairs the run.
  yield context.df.callActivityWithRetry(ACTIVITIES.recordRunEvent, retry, {
    type: TERMINAL_EVENT.failed,
    factKey: 'failed',
    run: runFactsOf(input),
    time,
    state: failedState,
    previousStatus: state?.status,
    status: 'failed',
  } satisfies RecordRunEventInput);
  return { status: 'failed', providerRunName: state?.providerRunName, reason };
}

/** The message of an activity failure or exception, without the engine's stack. */
export function describeFailure(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const firstLine = message.split('\n')[0]?.trim() || 'unknown error';
  return `the run's orchestration failed: ${firstLine}`;
}

function runFactsOf(input: TrainingRunInput): RecordRunEventInput['run'] {
  return {
    runId: input.runId,
    team: input.team,
    dataset: input.dataset,
    model: input.model,
    task: input.task,
    manifestUrl: input.manifestUrl,
    reportUrl: input.reportUrl,
    registerTo: input.registerTo,
  };
}

function* followRun(
  context: df.OrchestrationContext,
  input: TrainingRunInput,
  progress: RunProgress,
): Generator<df.Task, TrainingRunOutcome, unknown> {
  const ACTIVITY_RETRY = activityRetry(input.polling);
  const runFacts = runFactsOf(input);
  const record = (event: Omit<RecordRunEventInput, 'run' | 'time'>) =>
    context.df.callActivityWithRetry(ACTIVITIES.recordRunEvent, ACTIVITY_RETRY, {
      ...event,
      run: runFacts,
      time: context.df.currentUtcDateTime.toISOString(),
    } satisfies RecordRunEventInput);

  const staged: StagedData = stagedDataSchema.parse(
    yield context.df.callActivityWithRetry(ACTIVITIES.stageTrainingData, ACTIVITY_RETRY, input),
  );
  if (staged.rejected) {
    // The provider refused the data after upload: the run ends failed with its reason, nothing is submitted.
    const state: RunState = {
      providerRunName: '',
      status: 'failed',
      rawStatus: 'file_rejected',
      reason: staged.rejected,
    };
    yield record({ type: 'tunedrop.run.failed', factKey: 'failed', state, status: 'failed' });
    return { status: 'failed', providerRunName: '', reason: staged.rejected };
  }
  let state: RunState = runStateSchema.parse(
    yield context.df.callActivityWithRetry(ACTIVITIES.submitTrainingRun, ACTIVITY_RETRY, { ...input, staged }),
  );
  progress.state = state;
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
        provider: input.provider,
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
          provider: input.provider,
        });
      }
    } else {
      yield timer;
    }

    const next: RunState = runStateSchema.parse(
      yield context.df.callActivityWithRetry(ACTIVITIES.getTrainingRunStatus, ACTIVITY_RETRY, {
        runId: input.runId,
        providerRunName: state.providerRunName,
        provider: input.provider,
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
    progress.state = state;
  }

  const terminal = state.status as (typeof TERMINAL_PROVIDER_STATUSES)[number];
  yield record({ type: TERMINAL_EVENT[terminal], factKey: terminal, state, status: terminal });
  return { status: terminal, providerRunName: state.providerRunName, reason: state.reason };
}

function isTerminal(status: string): boolean {
  return (TERMINAL_PROVIDER_STATUSES as readonly string[]).includes(status);
}
