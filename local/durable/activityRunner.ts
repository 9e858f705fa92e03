import type { InvokeRequest, InvokeResult } from '../host/contract';
import type { Clock } from './clock';
import { errorText, messageRow, newEvent, pad, safeJson } from './records';
import { type DurableStore, type Row, statusOf, unpackJson } from './store';
import { EventType, type FailureDetails, type HistoryEvent } from './wire';

export interface ActivityRunnerOptions {
  store: DurableStore;
  clock: Clock;
  invoke(request: InvokeRequest): Promise<InvokeResult>;
  /** Trigger type of a registered function: scheduling a non-activity fails the task, as the extension does. */
  functionKind?(name: string): string | undefined;
  maxConcurrent: number;
  /** Called when an activity settles, so the dispatcher replays its orchestrator at once. */
  onSettled(): void;
  log(message: string): void;
}

/**
 * Runs activity work items (`a-` rows) through the host, at most maxConcurrent at a time, and records
 * each result (TaskCompleted / TaskFailed) as an inbox message in the same transaction that retires
 * the work item. Retries are not its business: the orchestrator's RetryableTask schedules new attempts.
 */
export class ActivityRunner {
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Work items finished during scan `generation`: a scan that predates the completion must not run them again. */
  private readonly recentlyDone = new Map<string, number>();
  private generation = 0;
  private accepting = false;

  constructor(private readonly options: ActivityRunnerOptions) {}

  get running(): number {
    return this.inFlight.size;
  }

  /** Starts taking work items (they are only started while accepting). */
  open(): void {
    this.accepting = true;
  }

  /** Stops taking new work items; running ones go on (see drain). */
  close(): void {
    this.accepting = false;
  }

  /** Waits up to graceMs for running work items to record their results. */
  async drain(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight.values()]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** The dispatcher starts scan number `generation`; completions older than the previous scan are forgotten. */
  beginScan(generation: number): void {
    this.generation = generation;
    for (const [key, doneAt] of this.recentlyDone) if (doneAt < generation - 1) this.recentlyDone.delete(key);
  }

  /** Starts the work item unless it is running, just finished, or the runner is full or closed. */
  offer(row: Row, generation: number): void {
    const key = `${row.partitionKey}|${row.rowKey}`;
    if (this.inFlight.has(key) || this.inFlight.size >= this.options.maxConcurrent || !this.accepting) return;
    // This scan may predate the completion that deleted the row: do not run it twice.
    if ((this.recentlyDone.get(key) ?? -1) >= generation) return;
    const run = this.run(row).finally(() => {
      this.recentlyDone.set(key, this.generation);
      this.inFlight.delete(key);
      this.options.onSettled();
    });
    this.inFlight.set(key, run);
  }

  /** Runs one work item and records its result; never throws. */
  async run(row: Row): Promise<void> {
    const { store, clock, invoke, functionKind } = this.options;
    const name = String(row.name);
    const taskId = Number(row.taskId);
    const exec = String(row.exec);
    let event: HistoryEvent;
    try {
      if (functionKind && functionKind(name) !== 'activityTrigger') {
        throw new Error(`The function '${name}' doesn't exist or is not an activity function.`);
      }
      const result = await invoke({ functionName: name, triggerValue: unpackJson(row, 'input') });
      event = newEvent(EventType.TaskCompleted, clock.now(), {
        TaskScheduledId: taskId,
        Result: JSON.stringify(result.returnValue ?? null),
      });
    } catch (err) {
      event = newEvent(EventType.TaskFailed, clock.now(), {
        TaskScheduledId: taskId,
        ...activityFailure(name, err),
      });
    }
    try {
      // Record the completion and retire the work item in one transaction: a completed activity never runs again.
      await store.transact([
        ['upsert', messageRow(row.partitionKey, `m-a-${exec}-${pad(taskId)}`, 'event', event, exec), 'Replace'],
        ['delete', { partitionKey: row.partitionKey, rowKey: row.rowKey }],
      ]);
    } catch (err) {
      // 404: the work item is gone (its execution ended, or another engine recorded it): nothing to record.
      const status = statusOf(err);
      if (status !== 404) this.options.log(`could not record completion of activity '${name}': ${errorText(err)}`);
    }
  }
}

/** TaskFailed fields for an activity's error, forwarding FailureDetails when wrapActivityHandler sent them. */
export function activityFailure(
  name: string,
  err: unknown,
): Pick<HistoryEvent, 'Reason' | 'Details' | 'FailureDetails'> {
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
