import { randomBytes } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { type AzureOpenAIEmulator, startAzureOpenAIEmulator } from '../../../emulators/azure-openai';
import { startTrainingEmulator, type TrainingEmulator } from '../../../emulators/databricks';
import { createEvent, InMemoryEventPublisher } from '../../../shared/events';
import { type RegisterModelDeps, registerCompletedRun } from '../../../shared/pipeline/registerModel';
import { ArmModelDeployer } from '../../../shared/registry/azureOpenAIDeployment';
import { ModelIndex } from '../../../shared/registry/modelIndex';
import { RunIndex, type RunRecord } from '../../../shared/registry/runIndex';
import { UnityCatalogClient } from '../../../shared/training/unityCatalog';
import { fineTunedModelOn } from '../../support/azureOpenAI';

/**
 * registerModel for both providers on real parts: run and model index on Azurite, Unity Catalog on
 * the Databricks emulator, the Azure OpenAI data plane and its ARM stand-in (official SDKs), one
 * virtual clock. What each provider's registration records and announces, and what a failure leaves.
 */
let t = Date.parse('2026-11-30T06:00:00Z');
const sleep = async (ms: number) => {
  t += ms;
};
let databricks: TrainingEmulator;
let azure: AzureOpenAIEmulator;
let fineTuned: string;

beforeAll(async () => {
  databricks = await startTrainingEmulator({ now: () => t });
  azure = await startAzureOpenAIEmulator({ now: () => t });
  fineTuned = await fineTunedModelOn(azure, { now: () => t, advance: sleep }, 'run-aoai');
});
afterAll(async () => {
  await databricks?.stop();
  await azure?.stop();
});

let runIndex: RunIndex;
let modelIndex: ModelIndex;
let publisher: InMemoryEventPublisher;

beforeEach(async () => {
  const table = (prefix: string) =>
    TableClient.fromConnectionString(inject('azurite').connectionString, `${prefix}${randomBytes(5).toString('hex')}`, {
      allowInsecureConnection: true,
    });
  runIndex = new RunIndex(table('regruns'));
  await runIndex.ensure();
  modelIndex = new ModelIndex(table('regmodels'));
  publisher = new InMemoryEventPublisher();
});

const deps = (over: Partial<RegisterModelDeps> = {}): RegisterModelDeps => ({
  unityCatalog: new UnityCatalogClient({ workspaceUrl: databricks.url, auth: databricks.token, now: () => t, sleep }),
  deployer: new ArmModelDeployer({
    subscriptionId: '00000000-0000-0000-0000-000000000001',
    resourceGroup: 'rg-tunedrop',
    account: azure.account,
    sku: 'Standard',
    capacity: 1,
    credential: { getToken: async () => ({ token: azure.bearerToken, expiresOnTimestamp: t + 3_600_000 }) },
    endpoint: azure.managementUrl,
    sleep,
    now: () => t,
    pollMs: 10_000,
  }),
  teamDeployment: async () => ({ sku: 'Standard', capacity: 2 }),
  runIndex,
  modelIndex,
  publisher,
  alias: 'champion',
  ...over,
});

async function seedRun(runId: string, over: Partial<RunRecord>): Promise<RunRecord> {
  const record: RunRecord = {
    runId,
    team: 'support',
    dataset: 'bot',
    model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
    task: 'chat',
    status: 'completed',
    manifestUrl: `http://127.0.0.1/datasets/support/bot/run.json`,
    reportUrl: `http://127.0.0.1/reports/support/bot/${runId}.json`,
    datasetSha256: 'ab'.repeat(32),
    providerRunName: `prov-${runId}`,
    createdAt: new Date(t).toISOString(),
    updatedAt: new Date(t).toISOString(),
    ...over,
  };
  await runIndex.upsert(record);
  return record;
}

const completed = (run: RunRecord, registered: { model?: string; version?: string }) =>
  createEvent('tunedrop.run.completed', {
    subject: run.runId,
    team: run.team,
    model: run.model,
    time: '2026-11-30T07:00:00.000Z',
    data: {
      runId: run.runId,
      team: run.team,
      dataset: run.dataset,
      model: run.model,
      status: 'completed',
      providerRunName: run.providerRunName,
      endedAt: '2026-11-30T07:00:00.000Z',
      registeredModel: registered.model,
      registeredVersion: registered.version,
    },
  });

describe('registerModel, Databricks run', () => {
  it('sets the alias and lineage, records run and model index, announces model.registered with MLflow lineage', async () => {
    databricks.state.addModelVersion('ml.support.bot', { runId: 'mlflow-run-1' });
    const run = await seedRun('run-dbx', { mlflowExperimentId: 'exp-1', mlflowRunId: 'mlflow-run-1' });
    const result = await registerCompletedRun(deps(), completed(run, { model: 'ml.support.bot', version: '1' }));
    expect(result).toEqual({ modelFullName: 'ml.support.bot', version: '1' });

    expect(await runIndex.get(run.runId)).toMatchObject({
      registeredModel: 'ml.support.bot',
      registeredVersion: '1',
      modelAlias: 'champion',
    });
    expect((await runIndex.get(run.runId))?.deployment).toBeUndefined();
    const model = await modelIndex.get('ml.support.bot', '1');
    expect(model).toMatchObject({
      alias: 'champion',
      runId: run.runId,
      team: 'support',
      dataset: 'bot',
      baseModel: run.model,
      datasetUrl: run.manifestUrl,
      datasetSha256: run.datasetSha256,
      validationReportUrl: run.reportUrl,
      providerRunName: run.providerRunName,
      mlflowRunId: 'mlflow-run-1',
      registeredAt: '2026-11-30T07:00:00.000Z',
    });
    // Records from Databricks name no provider (absent reads as Databricks) and no deployment.
    expect(model?.provider).toBeUndefined();
    expect(model?.deploymentName).toBeUndefined();

    expect(publisher.events).toHaveLength(1);
    expect(publisher.events[0]?.type).toBe('tunedrop.model.registered');
    expect(publisher.events[0]?.data).toEqual({
      runId: run.runId,
      team: 'support',
      dataset: 'bot',
      model: run.model,
      modelFullName: 'ml.support.bot',
      version: '1',
      alias: 'champion',
      provider: 'databricks',
      lineage: {
        manifestUrl: run.manifestUrl,
        providerRunName: run.providerRunName,
        mlflowExperimentId: 'exp-1',
        mlflowRunId: 'mlflow-run-1',
      },
    });
  });

  it('a completion without a model version yet, or without Unity Catalog: an error, nothing recorded or announced', async () => {
    const run = await seedRun('run-dbx-early', {});
    await expect(registerCompletedRun(deps(), completed(run, { model: 'ml.support.bot' }))).rejects.toThrow(
      /without a registered model version yet/,
    );
    databricks.state.addModelVersion('ml.support.other', {});
    await expect(
      registerCompletedRun(
        deps({ unityCatalog: undefined }),
        completed(run, { model: 'ml.support.other', version: '1' }),
      ),
    ).rejects.toThrow(/no Unity Catalog client/);
    expect((await runIndex.get(run.runId))?.registeredModel).toBeUndefined();
    expect(publisher.events).toEqual([]);
  });
});

describe('registerModel, Azure OpenAI run', () => {
  it('deploys as {team}-{dataset}, records the deployment, announces it without MLflow lineage', async () => {
    const run = await seedRun('run-aoai-deploy', {
      provider: 'azure-openai',
      team: 'assist',
      dataset: 'travel',
      model: 'gpt-4o-mini-2024-07-18',
    });
    const result = await registerCompletedRun(deps(), completed(run, { model: fineTuned }));
    expect(result).toEqual({ modelFullName: fineTuned, version: '1' });
    expect(await runIndex.get(run.runId)).toMatchObject({
      registeredModel: fineTuned,
      registeredVersion: '1',
      modelAlias: 'assist-travel',
      deployment: 'assist-travel',
    });
    const model = await modelIndex.get(fineTuned, '1');
    expect(model).toMatchObject({
      alias: 'assist-travel',
      provider: 'azure-openai',
      deploymentName: 'assist-travel',
      deploymentSku: 'Standard',
      deploymentCapacity: 2,
      runId: run.runId,
      providerRunName: run.providerRunName,
    });
    expect(model?.mlflowRunId).toBeUndefined();
    expect(publisher.events.map((e) => e.data)).toEqual([
      {
        runId: run.runId,
        team: 'assist',
        dataset: 'travel',
        model: 'gpt-4o-mini-2024-07-18',
        modelFullName: fineTuned,
        version: '1',
        alias: 'assist-travel',
        provider: 'azure-openai',
        deployment: { name: 'assist-travel', sku: 'Standard', capacity: 2, provisioningState: 'Succeeded' },
        lineage: { manifestUrl: run.manifestUrl, providerRunName: run.providerRunName },
      },
    ]);
  });

  it('a team that does not deploy: the model id recorded with an empty alias, no alias or deployment announced', async () => {
    const run = await seedRun('run-aoai-nodeploy', { provider: 'azure-openai', dataset: 'plain' });
    await registerCompletedRun(deps({ teamDeployment: async () => undefined }), completed(run, { model: fineTuned }));
    const stored = await runIndex.get(run.runId);
    expect(stored).toMatchObject({ registeredModel: fineTuned, registeredVersion: '1' });
    expect(stored?.modelAlias).toBeUndefined();
    expect(stored?.deployment).toBeUndefined();
    expect(await modelIndex.get(fineTuned, '1')).toMatchObject({ alias: '', provider: 'azure-openai' });
    const data = publisher.events[0]?.data as Record<string, unknown>;
    expect(data.alias).toBeUndefined();
    expect(data.deployment).toBeUndefined();
    expect(data.provider).toBe('azure-openai');
  });

  it('a team that deploys with no account configured, or no model id yet: an error, nothing announced', async () => {
    const run = await seedRun('run-aoai-nodeployer', { provider: 'azure-openai' });
    await expect(
      registerCompletedRun(deps({ deployer: undefined }), completed(run, { model: fineTuned })),
    ).rejects.toThrow(/no Azure OpenAI account id is configured/);
    await expect(registerCompletedRun(deps(), completed(run, {}))).rejects.toThrow(/without a fine-tuned model id yet/);
    expect((await runIndex.get(run.runId))?.registeredModel).toBeUndefined();
    expect(publisher.events).toEqual([]);
  });
});
