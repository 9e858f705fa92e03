import { app, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { getServices } from '../shared/compositionRoot';
import { handleDrop } from '../shared/pipeline/intake';

/** A drop is committed by its manifest: datasets/{team}/{dataset}/run.json. Data blobs alone start nothing. */
export async function intake(manifest: unknown, context: InvocationContext): Promise<void> {
  const services = getServices();
  await services.ready();
  const metadata = context.triggerMetadata ?? {};
  const blobName = String(metadata.blobTrigger ?? '').replace(/^datasets\//, '');
  const properties = (metadata.properties ?? {}) as { eTag?: string; ETag?: string };
  const result = await handleDrop(
    services.intake(df.getClient(context), (message) => context.log(message)),
    {
      blobName,
      url: String(metadata.uri ?? services.drops.url(blobName)),
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
