import { createEvent, type EventPublisher, parseEvent } from '../events';
import type { DeploymentResult, ModelDeployer } from '../registry/azureOpenAIDeployment';
import type { ModelIndex } from '../registry/modelIndex';
import type { RunIndex } from '../registry/runIndex';
import type { UnityCatalogClient } from '../training/unityCatalog';

export interface RegisterModelDeps {
  /** Databricks runs: the Unity Catalog client. */
  unityCatalog?: UnityCatalogClient;
  /** Azure OpenAI runs: creates deployments when the team configuration asks for one. */
  deployer?: ModelDeployer;
  /** Azure OpenAI runs: the team's deployment SKU and capacity, or undefined when the team does not deploy. */
  teamDeployment?(team: string): Promise<{ sku: string; capacity: number } | undefined>;
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
  const record = await deps.runIndex.get(runId);
  if (record?.provider === 'azure-openai') return registerAzureOpenAIRun(deps, event, record);
  if (!registeredModel || !registeredVersion) {
    throw new Error(`run ${runId} completed without a registered model version yet; retrying`);
  }
  const run = record;
  if (!run) throw new Error(`run ${runId} is not in the run index`);
  if (!deps.unityCatalog) throw new Error('no Unity Catalog client is configured for Databricks runs');
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
        provider: 'databricks',
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

/**
 * Azure OpenAI: "registering" records the fine-tuned model id with its lineage and, when the team
 * configuration asks for it, deploys it as `{team}-{dataset}` and waits until the deployment
 * succeeds. Idempotent: the deployer adopts an existing deployment of the same model, the index
 * write replaces, the event id derives from model@version.
 */
async function registerAzureOpenAIRun(
  deps: RegisterModelDeps,
  event: Extract<ReturnType<typeof parseEvent>, { type: 'tunedrop.run.completed' }>,
  run: NonNullable<Awaited<ReturnType<RunIndex['get']>>>,
): Promise<{ modelFullName: string; version: string }> {
  const { runId, registeredModel } = event.data;
  if (!registeredModel) throw new Error(`run ${runId} completed without a fine-tuned model id yet; retrying`);
  const version = '1';
  const wanted = deps.teamDeployment ? await deps.teamDeployment(run.team) : undefined;
  let deployment: DeploymentResult | undefined;
  if (wanted) {
    if (!deps.deployer)
      throw new Error(`team ${run.team} deploys models, but no Azure OpenAI account id is configured`);
    deployment = await deps.deployer.deploy({
      team: run.team,
      dataset: run.dataset,
      fineTunedModel: registeredModel,
      sku: wanted.sku,
      capacity: wanted.capacity,
    });
  }
  await deps.runIndex.upsert({
    runId,
    registeredModel,
    registeredVersion: version,
    modelAlias: deployment?.name,
    deployment: deployment?.name,
  });
  await deps.modelIndex.record({
    modelFullName: registeredModel,
    version,
    alias: deployment?.name ?? '',
    provider: 'azure-openai',
    deploymentName: deployment?.name,
    deploymentSku: deployment?.sku,
    deploymentCapacity: deployment?.capacity,
    runId,
    team: run.team,
    dataset: run.dataset,
    baseModel: run.model,
    datasetUrl: run.manifestUrl,
    datasetSha256: run.datasetSha256,
    validationReportUrl: run.reportUrl,
    providerRunName: run.providerRunName,
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
        version,
        ...(deployment ? { alias: deployment.name } : {}),
        provider: 'azure-openai',
        ...(deployment
          ? {
              deployment: {
                name: deployment.name,
                sku: deployment.sku,
                capacity: deployment.capacity,
                provisioningState: deployment.provisioningState,
              },
            }
          : {}),
        lineage: { manifestUrl: run.manifestUrl, providerRunName: run.providerRunName },
      },
    }),
  );
  return { modelFullName: registeredModel, version };
}
