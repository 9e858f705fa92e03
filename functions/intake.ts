import { app, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { datasetEventFor } from '../shared/pipeline/datasetEvents';
import { handleDrop } from '../shared/pipeline/intake';
import { TRAINING_RUN_ORCHESTRATION } from '../shared/pipeline/runContracts';
import { getPipelineServices } from '../shared/pipeline/services';

/** A drop is committed by its manifest: datasets/{team}/{dataset}/run.json. Data blobs alone start nothing. */
export async function intake(manifest: unknown, context: InvocationContext): Promise<void> {
  const services = getPipelineServices();
  await services.ready();
  const metadata = context.triggerMetadata ?? {};
  const blobName = String(metadata.blobTrigger ?? '').replace(/^datasets\//, '');
  const properties = (metadata.properties ?? {}) as { eTag?: string; ETag?: string };
  const client = df.getClient(context);
  const result = await handleDrop(
    {
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
      log: (message) => context.log(message),
    },
    {
      blobName,
      url: String(metadata.uri ?? services.datasets.getBlobClient(blobName).url),
      etag: String(properties.eTag ?? properties.ETag ?? ''),
      content: Buffer.isBuffer(manifest) ? manifest : Buffer.from(String(manifest ?? '')),
    },
  );
  context.log(`intake ${blobName}: ${result.outcome}${'runId' in result && result.runId ? ` (${result.runId})` : ''}`);
}

app.storageBlob('intake', {
  path: 'datasets/{team}/{dataset}/run.json',
  connection: 'AzureWebJobsStorage',
  source: 'EventGrid',
  extraInputs: [df.input.durableClient()],
  handler: intake,
});
