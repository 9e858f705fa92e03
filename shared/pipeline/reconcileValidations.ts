import type { RunIndex, RunRecord } from '../registry/runIndex';
import { LIVE_INSTANCE_STATUSES } from './reconcile';
import { type FinishInput, type ShardedValidationInput, shardedValidationInputSchema } from './shardedValidation';

/**
 * The reconciler's second half: runs left `validating` by a sharded validation whose orchestration
 * ended without finishing (its finish activity failed past its retries, e.g. storage was down; or
 * it was terminated). The drop is rejected the way the orchestration itself would have done it
 * (`validation_failed`: report, run `rejected`, `dataset.rejected`), under the `validating` record's
 * run id, so the run never stays `validating`.
 */

export interface ValidationInstanceStatus {
  runtimeStatus: string;
  input?: unknown;
  output?: unknown;
}

export interface ValidationReconcileDeps {
  runIndex: Pick<RunIndex, 'list' | 'upsert'>;
  instances: { status(instanceId: string): Promise<ValidationInstanceStatus | undefined> };
  /** The sharded validation's finish activity (shardedFinish.ts) with a failed outcome. */
  finish(input: ShardedValidationInput, outcome: Extract<FinishInput['outcome'], { kind: 'failed' }>): Promise<unknown>;
  now(): Date;
  /** A run whose orchestration is missing (purged) is left alone this long after its last update. Default 10 minutes. */
  missingGraceMs?: number;
  log?(message: string): void;
}

export interface ValidationRepair {
  runId: string;
  validationId: string;
  /** The orchestration's runtime status, or `missing`. */
  instance: string;
  /** `rejected`: through the finish path (report and event); `index-only`: no input to finish with. */
  repairedBy: 'rejected' | 'index-only';
}

export interface ValidationReconcileReport {
  checked: number;
  repaired: ValidationRepair[];
  errors: { runId: string; message: string }[];
}

export async function reconcileValidations(deps: ValidationReconcileDeps): Promise<ValidationReconcileReport> {
  const report: ValidationReconcileReport = { checked: 0, repaired: [], errors: [] };
  let continuationToken: string | undefined;
  do {
    const page = await deps.runIndex.list({ status: 'validating', pageSize: 100, continuationToken });
    for (const run of page.runs) {
      report.checked++;
      try {
        const repair = await reconcileValidation(deps, run);
        if (repair) {
          report.repaired.push(repair);
          deps.log?.(
            `reconciler: run ${repair.runId} was validating with its validation ${repair.validationId} ${repair.instance}; now rejected (${repair.repairedBy})`,
          );
        }
      } catch (err) {
        report.errors.push({ runId: run.runId, message: err instanceof Error ? err.message : String(err) });
      }
    }
    continuationToken = page.continuationToken;
  } while (continuationToken);
  return report;
}

async function reconcileValidation(
  deps: ValidationReconcileDeps,
  run: RunRecord,
): Promise<ValidationRepair | undefined> {
  // Only the sharded path records `validating`, always with its instance id.
  if (run.status !== 'validating' || !run.validationId) return undefined;
  const instance = await deps.instances.status(run.validationId);
  if (instance && LIVE_INSTANCE_STATUSES.includes(instance.runtimeStatus)) return undefined;
  const now = deps.now();
  if (!instance && now.getTime() - Date.parse(run.updatedAt) < (deps.missingGraceMs ?? 10 * 60_000)) return undefined;
  const instanceWas = instance?.runtimeStatus ?? 'missing';
  const input = shardedValidationInputSchema.safeParse(instance?.input);
  if (input.success) {
    await deps.finish(input.data, {
      kind: 'failed',
      code: 'validation_failed',
      runId: run.runId,
      message: `The sharded validation ended ${instanceWas} before it finished${outputText(instance?.output)}. Upload run.json again to retry.`,
    });
    return { runId: run.runId, validationId: run.validationId, instance: instanceWas, repairedBy: 'rejected' };
  }
  // Purged: nothing to write a report from. The index at least stops saying `validating`.
  await deps.runIndex.upsert({
    ...run,
    status: 'rejected',
    reason: `validation_failed: the sharded validation ${run.validationId} is ${instanceWas}; upload run.json again to retry`,
    updatedAt: now.toISOString(),
  });
  return { runId: run.runId, validationId: run.validationId, instance: instanceWas, repairedBy: 'index-only' };
}

function outputText(output: unknown): string {
  if (output === undefined || output === null || output === '') return '';
  const text = typeof output === 'string' ? output : JSON.stringify(output);
  return ` (${text.replace(/\s+/g, ' ').slice(0, 300)})`;
}
