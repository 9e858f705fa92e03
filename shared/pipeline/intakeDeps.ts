import type { DurableClient } from 'durable-functions';
import { datasetEventFor } from './datasetEvents';
import type { IntakeDeps } from './intake';
import { TRAINING_RUN_ORCHESTRATION } from './runContracts';
import type { PipelineServices } from './services';

/**
 * The deps handleDrop runs with, shared by the blob trigger (functions/intake.ts) and
 * `POST /api/runs`: the same validation, events, run index, intake log and orchestration start.
 */
export function createIntakeDeps(
  services: PipelineServices,
  client: Pick<DurableClient, 'getStatus' | 'startNew'>,
  log?: (message: string) => void,
): IntakeDeps {
  return {
    datasets: services.datasets,
    reports: services.reports,
    config: services.config,
    runIndex: services.runIndex,
    intakeLog: services.intakeLog,
    region: services.settings.databricks?.region,
    validate: services.validate,
    publishDatasetEvent: (event) => services.publisher.publish(datasetEventFor(event)),
    startRun: async (input) => {
      const existing = await client.getStatus(input.runId).catch(() => undefined);
      if (existing?.runtimeStatus) return 'exists';
      await client.startNew(TRAINING_RUN_ORCHESTRATION, { instanceId: input.runId, input });
      return 'started';
    },
    polling: services.settings.polling,
    deadlineHours: services.settings.runDeadlineHours,
    now: () => new Date(),
    log,
  };
}
