import { createEvent, type EventPublisher, parseEvent } from '../events';
import type { ModelIndex } from '../registry/modelIndex';
import type { RunIndex } from '../registry/runIndex';
import type { UnityCatalogClient } from '../training/unityCatalog';

export interface RegisterModelDeps {
  unityCatalog: UnityCatalogClient;
  runIndex: RunIndex;
  modelIndex: ModelIndex;
  publisher: EventPublisher;
  alias: string;
}

/**
 * On run.completed: wait for the Unity Catalog version to be READY, set the alias and the lineage
 * tags, record it in the run index and the model index, publish model.registered. Every step is idempotent (alias and
 * tags are puts, the event id is derived from model@version), so a redelivered message is harmless.
 * Throwing lets the bus retry and, after max delivery count, dead-letter — never a silent drop.
 */
export async function registerCompletedRun(
  deps: RegisterModelDeps,
  message: unknown,
): Promise<{ modelFullName: string; version: string }> {
  const event = parseEvent(message);
  if (event.type !== 'tunedrop.run.completed') {
    throw new Error(`register-model received ${event.type}; its subscription filter admits run.completed only`);
  }
  const { runId, registeredModel, registeredVersion } = event.data;
  if (!registeredModel || !registeredVersion) {
    throw new Error(`run ${runId} completed without a registered model version yet; retrying`);
  }
  const run = await deps.runIndex.get(runId);
  if (!run) throw new Error(`run ${runId} is not in the run index`);
  const version = Number(registeredVersion);
  await deps.unityCatalog.waitUntilReady(registeredModel, version);
  await deps.unityCatalog.setAlias(registeredModel, deps.alias, version);
  await deps.unityCatalog.setLineage(registeredModel, version, {
    datasetUrl: run.manifestUrl,
    datasetSha256: run.datasetSha256 ?? '',
    validationReportUrl: run.reportUrl,
    runId,
    team: run.team,
    providerRunName: run.providerRunName,
  });
  await deps.runIndex.upsert({ runId, registeredModel, registeredVersion, modelAlias: deps.alias });
  await deps.modelIndex.record({
    modelFullName: registeredModel,
    version: registeredVersion,
    alias: deps.alias,
    runId,
    team: run.team,
    dataset: run.dataset,
    baseModel: run.model,
    datasetUrl: run.manifestUrl,
    datasetSha256: run.datasetSha256,
    validationReportUrl: run.reportUrl,
    providerRunName: run.providerRunName,
    mlflowRunId: run.mlflowRunId,
    registeredAt: event.time,
  });
  await deps.publisher.publish(
    createEvent('tunedrop.model.registered', {
      subject: runId,
      team: run.team,
      model: run.model,
      time: event.time,
      data: {
        runId,
        team: run.team,
        dataset: run.dataset,
        model: run.model,
        modelFullName: registeredModel,
        version: registeredVersion,
        alias: deps.alias,
        lineage: {
          manifestUrl: run.manifestUrl,
          providerRunName: run.providerRunName,
          mlflowExperimentId: run.mlflowExperimentId,
          mlflowRunId: run.mlflowRunId,
        },
      },
    }),
  );
  return { modelFullName: registeredModel, version: registeredVersion };
}
