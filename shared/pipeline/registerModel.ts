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
  return recordAndAnnounce(deps, event, run, {
    provider: 'databricks',
    modelFullName: registeredModel,
    version: registeredVersion,
    alias: deps.alias,
  });
}

/**
 * Azure OpenAI: "registering" records the fine-tuned model id with its lineage and, when the team
 * configuration asks for it, deploys it as `{team}-{dataset}` and waits until the deployment
 * succeeds. Idempotent: the deployer adopts an existing deployment of the same model, the index
 * write replaces, the event id derives from model@version.
 */
async function registerAzureOpenAIRun(
  deps: RegisterModelDeps,
  event: CompletedRunEvent,
  run: IndexedRun,
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
  return recordAndAnnounce(deps, event, run, {
    provider: 'azure-openai',
    modelFullName: registeredModel,
    version,
    alias: deployment?.name,
    deployment,
  });
}

type CompletedRunEvent = Extract<ReturnType<typeof parseEvent>, { type: 'tunedrop.run.completed' }>;
type IndexedRun = NonNullable<Awaited<ReturnType<RunIndex['get']>>>;

/** What a provider's registration produced; the rest of the record comes from the run. */
interface Registration {
  provider: 'databricks' | 'azure-openai';
  modelFullName: string;
  version: string;
  /** Databricks: the Unity Catalog alias. Azure OpenAI: the deployment's name, when the team deploys. */
  alias: string | undefined;
  deployment?: DeploymentResult;
}

/**
 * The registration's last steps, the same for every provider: the run index, the model index
 * (lineage), then model.registered. Databricks runs carry their MLflow ids; a record written
 * before the second provider has no `provider`, which reads as Databricks, so only Azure OpenAI
 * records name theirs.
 */
async function recordAndAnnounce(
  deps: RegisterModelDeps,
  event: CompletedRunEvent,
  run: IndexedRun,
  r: Registration,
): Promise<{ modelFullName: string; version: string }> {
  const { runId } = event.data;
  const databricks = r.provider === 'databricks';
  const deployment = r.deployment;
  await deps.runIndex.upsert({
    runId,
    registeredModel: r.modelFullName,
    registeredVersion: r.version,
    modelAlias: r.alias,
    deployment: deployment?.name,
  });
  await deps.modelIndex.record({
    modelFullName: r.modelFullName,
    version: r.version,
    alias: r.alias ?? '',
    ...(databricks
      ? {}
      : {
          provider: r.provider,
          deploymentName: deployment?.name,
          deploymentSku: deployment?.sku,
          deploymentCapacity: deployment?.capacity,
        }),
    runId,
    team: run.team,
    dataset: run.dataset,
    baseModel: run.model,
    datasetUrl: run.manifestUrl,
    datasetSha256: run.datasetSha256,
    validationReportUrl: run.reportUrl,
    providerRunName: run.providerRunName,
    mlflowRunId: databricks ? run.mlflowRunId : undefined,
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
        modelFullName: r.modelFullName,
        version: r.version,
        ...(r.alias !== undefined ? { alias: r.alias } : {}),
        provider: r.provider,
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
        lineage: {
          manifestUrl: run.manifestUrl,
          providerRunName: run.providerRunName,
          ...(databricks ? { mlflowExperimentId: run.mlflowExperimentId, mlflowRunId: run.mlflowRunId } : {}),
        },
      },
    }),
  );
  return { modelFullName: r.modelFullName, version: r.version };
}
