import type { RunIndex, RunRecord } from '../registry/runIndex';
import type { RunStatus } from '../runStatus';
import { isProviderError, type TrainingRunInfo } from '../training/provider';
import { type RunActivityDeps, recordRunEventActivity, runProvider, toRunState } from './activities';
import { type RecordRunEventInput, type RunState, TERMINAL_EVENT, TERMINAL_PROVIDER_STATUSES } from './runContracts';

/**
 * The run reconciler: finds runs whose index says they are still going while their orchestration
 * instance has ended (Failed, Terminated, Canceled), is gone (purged, never started) or Completed
 * without the index hearing of it, and brings the index, the provider and the subscribers in line:
 * a provider run still going is cancelled, the run gets its terminal status and reason, and the
 * terminal event is published with the same id the orchestration would have used (so at most once).
 */

/** Index statuses of a run that an orchestration should be driving. */
export const FOLLOWED_RUN_STATUSES: readonly RunStatus[] = ['submitted', 'pending', 'queued', 'running'];

/** Durable runtime statuses of an instance that is still driving its run. */
export const LIVE_INSTANCE_STATUSES: readonly string[] = ['Running', 'Pending', 'ContinuedAsNew', 'Suspended'];

export interface RunInstanceStatus {
  runtimeStatus: string;
  output?: unknown;
  input?: unknown;
}

/** The durable instance of a run (instance id = run id); undefined when there is none. */
export interface RunInstances {
  status(runId: string): Promise<RunInstanceStatus | undefined>;
}

/** The providers are the activities' own: each run is asked of the provider its index record names. */
export interface ReconcileDeps
  extends Pick<RunActivityDeps, 'provider' | 'providerName' | 'azureOpenAI' | 'publisher'> {
  runIndex: Pick<RunIndex, 'get' | 'list' | 'upsert'>;
  instances: RunInstances;
  now(): Date;
  /**
   * A run with no instance at all is left alone this long after its last index update: intake
   * writes the index before the instance exists. Default 10 minutes.
   */
  missingGraceMs?: number;
  log?(message: string): void;
}

export interface RunRepair {
  runId: string;
  previousStatus: RunStatus;
  status: 'completed' | 'failed' | 'cancelled';
  /** What the durable instance was: its runtime status, or `missing`. */
  instance: string;
  providerStatus?: string;
  providerRunCancelled: boolean;
  reason?: string;
}

export interface ReconcileReport {
  checked: number;
  repaired: RunRepair[];
  /** Runs that could not be repaired this time (the next pass tries again). */
  errors: { runId: string; message: string }[];
}

/** One pass over every followed run. */
export async function reconcileRuns(deps: ReconcileDeps): Promise<ReconcileReport> {
  const report: ReconcileReport = { checked: 0, repaired: [], errors: [] };
  for (const status of FOLLOWED_RUN_STATUSES) {
    let continuationToken: string | undefined;
    do {
      const page = await deps.runIndex.list({ status, pageSize: 100, continuationToken });
      for (const run of page.runs) {
        report.checked++;
        try {
          const repair = await reconcileRun(deps, run);
          if (repair) report.repaired.push(repair);
        } catch (err) {
          report.errors.push({ runId: run.runId, message: err instanceof Error ? err.message : String(err) });
        }
      }
      continuationToken = page.continuationToken;
    } while (continuationToken);
  }
  for (const r of report.repaired) {
    deps.log?.(
      `reconciler: run ${r.runId} was ${r.previousStatus} with its orchestration ${r.instance}; now ${r.status}${r.providerRunCancelled ? ' (provider run cancelled)' : ''}: ${r.reason ?? ''}`,
    );
  }
  return report;
}

/**
 * Repair one run if its orchestration no longer drives it. `cancelRequested` (the cancel API on
 * such a run) makes a run whose provider run had to be stopped end as cancelled, not failed.
 */
export async function reconcileRun(
  deps: ReconcileDeps,
  run: RunRecord,
  options: { cancelRequested?: boolean } = {},
): Promise<RunRepair | undefined> {
  if (!FOLLOWED_RUN_STATUSES.includes(run.status)) return undefined;
  const instance = await deps.instances.status(run.runId);
  if (instance && LIVE_INSTANCE_STATUSES.includes(instance.runtimeStatus)) return undefined;
  const now = deps.now();
  if (!instance && now.getTime() - Date.parse(run.updatedAt) < (deps.missingGraceMs ?? 10 * 60_000)) return undefined;

  const provider = run.providerRunName ? runProvider(deps, run.provider) : undefined;
  const info = provider && run.providerRunName ? await providerRun(provider, run.providerRunName) : undefined;
  let providerRunCancelled = false;
  if (provider && info && !isTerminal(info.status)) {
    try {
      await provider.provider.cancel(info.ref);
      providerRunCancelled = true;
    } catch (err) {
      if (!isProviderError(err, 'already_finished')) throw err;
    }
  }

  const instanceWas = instance?.runtimeStatus ?? 'missing';
  const state: RunState | undefined = info ? toRunState(info) : undefined;
  let status: RunRepair['status'];
  let reason: string | undefined;
  if (info && isTerminal(info.status) && !providerRunCancelled) {
    // The provider knows how it ended: that is the truth to announce.
    status = info.status as RunRepair['status'];
    reason = info.reason;
  } else if (options.cancelRequested || instance?.runtimeStatus === 'Terminated') {
    status = 'cancelled';
    reason = options.cancelRequested
      ? `cancelled on request after the run's orchestration had ended (${instanceWas})`
      : `the run's orchestration was terminated`;
  } else {
    status = 'failed';
    reason = `the run's orchestration ${instance ? `ended ${instanceWas}` : 'is missing'}${outputText(instance?.output)}`;
  }
  if (providerRunCancelled) reason = `${reason}; the provider run was cancelled`;
  if (!info && run.providerRunName) reason = `${reason}; the provider does not know run ${run.providerRunName}`;

  const input: RecordRunEventInput = {
    type: TERMINAL_EVENT[status],
    factKey: status,
    time: now.toISOString(),
    run: {
      runId: run.runId,
      team: run.team,
      dataset: run.dataset,
      model: run.model,
      task: run.task as RecordRunEventInput['run']['task'],
      manifestUrl: run.manifestUrl,
      reportUrl: run.reportUrl ?? '',
      registerTo: run.registerTo ?? '',
    },
    state: {
      ...(state ?? { providerRunName: run.providerRunName ?? 'unknown', rawStatus: run.rawStatus ?? 'UNKNOWN' }),
      status,
      reason: reason?.slice(0, 500),
    },
    previousStatus: previousProviderStatus(run.status),
    status,
  };
  await recordRunEventActivity(deps, input);
  return {
    runId: run.runId,
    previousStatus: run.status,
    status,
    instance: instanceWas,
    providerStatus: info?.rawStatus,
    providerRunCancelled,
    reason: input.state?.reason,
  };
}

async function providerRun(
  { provider, ref }: ReturnType<typeof runProvider>,
  name: string,
): Promise<TrainingRunInfo | undefined> {
  try {
    return await provider.get(ref(name));
  } catch (err) {
    if (isProviderError(err, 'not_found')) return undefined;
    throw err;
  }
}

function isTerminal(status: string): boolean {
  return (TERMINAL_PROVIDER_STATUSES as readonly string[]).includes(status);
}

function previousProviderStatus(status: RunStatus): RecordRunEventInput['previousStatus'] {
  return status === 'submitted' ? 'pending' : (status as RecordRunEventInput['previousStatus']);
}

function outputText(output: unknown): string {
  if (output === undefined || output === null || output === '') return '';
  const text = typeof output === 'string' ? output : JSON.stringify(output);
  return `: ${text.split('\n')[0]?.slice(0, 300)}`;
}

/** RunInstances over the durable client: a 404 is "no instance"; any other failure is an error, never "missing". */
export function durableRunInstances(client: {
  getStatus(instanceId: string): Promise<{ runtimeStatus?: string; output?: unknown; input?: unknown } | undefined>;
}): RunInstances {
  return {
    async status(runId) {
      try {
        const status = await client.getStatus(runId);
        return status?.runtimeStatus
          ? { runtimeStatus: status.runtimeStatus, output: status.output, input: status.input }
          : undefined;
      } catch (err) {
        if (err instanceof Error && /HTTP 404/.test(err.message)) return undefined;
        throw err;
      }
    },
  };
}
