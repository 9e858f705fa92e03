import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { CONTAINERS } from '../../../shared/config/resources';
import { handleDrop, type IntakeDeps } from '../../../shared/pipeline/intake';
import { azuriteServices, configureTeam, REPO, RecordingDurableClient } from '../api/support';

/** Intake applies the page's rules with the run's own settings: epochs from trainingDuration, Private Link. */
describe('intake: epochs from trainingDuration, Private Link', () => {
  const services = azuriteServices(inject('azurite').connectionString, { DATABRICKS_REGION: 'eastus' });
  const team = `rules-${randomBytes(3).toString('hex')}`;
  const train = readFileSync(path.join(REPO, 'examples', 'sql-instructions', 'train.jsonl'));

  beforeAll(async () => {
    await configureTeam(services, team); // the example team: defaults.trainingDuration "2ep"
  });

  // The recording client answers the two calls intake makes; its types are the API tests' narrower ones.
  const durableClient = () => new RecordingDurableClient() as unknown as Parameters<typeof services.intake>[0];
  const createIntakeDeps = (s: typeof services, client: ReturnType<typeof durableClient>) => s.intake(client);
  const blobs = BlobServiceClient.fromConnectionString(inject('azurite').connectionString);
  const datasets = blobs.getContainerClient(CONTAINERS.datasets);
  const reports = blobs.getContainerClient(CONTAINERS.reports);

  async function drop(deps: IntakeDeps, dataset: string, manifest: Record<string, unknown>) {
    await datasets.getBlockBlobClient(`${team}/${dataset}/train.jsonl`).upload(train, train.length);
    const body = Buffer.from(JSON.stringify(manifest));
    const blob = datasets.getBlockBlobClient(`${team}/${dataset}/run.json`);
    const uploaded = await blob.upload(body, body.length);
    const result = await handleDrop(deps, {
      blobName: `${team}/${dataset}/run.json`,
      url: blob.url,
      etag: uploaded.etag ?? '',
      content: body,
    });
    if (result.outcome === 'ignored' || result.outcome === 'duplicate' || result.outcome === 'validating')
      throw new Error(result.outcome);
    const report = JSON.parse(
      (await reports.getBlobClient(`${team}/${dataset}/${result.runId}/validation.json`).downloadToBuffer()).toString(
        'utf8',
      ),
    );
    return { result, report };
  }

  const manifest = {
    model: 'mistralai/Mistral-7B-Instruct-v0.2',
    task: 'instruction',
    train: 'train.jsonl',
    contextLength: 512,
  };

  it('"10ep" in run.json: the report carries 10 epochs, the warning and 10 × the training tokens', async () => {
    const deps = createIntakeDeps(services, durableClient());
    const { result, report } = await drop(deps, 'ten-epochs', { ...manifest, trainingDuration: '10ep' });
    expect(result.outcome).toBe('started');
    expect(report).toMatchObject({ epochs: 10, epochsBasis: 'trainingDuration', trainingDuration: '10ep' });
    expect(report.warningCounts.epochs_outside_recommended).toBe(1);
    expect(report.estimatedBillableTokens).toBe(10 * report.trainTokens);
    const validated = services.events.events.find(
      (e) => e.type === 'tunedrop.dataset.validated' && e.data.dataset === 'ten-epochs',
    );
    expect(validated).toBeDefined();
  });

  it('no duration in run.json: the team default ("2ep") decides', async () => {
    const deps = createIntakeDeps(services, durableClient());
    const { report } = await drop(deps, 'team-default', manifest);
    expect(report).toMatchObject({ epochs: 2, epochsBasis: 'trainingDuration', trainingDuration: '2ep' });
    expect(report.warningCounts.epochs_outside_recommended).toBeUndefined();
  });

  it('storage over Private Link outside eastus2: refused with private_link_region_not_supported', async () => {
    const deps = { ...createIntakeDeps(services, durableClient()), storagePrivateLink: true };
    const { result, report } = await drop(deps, 'private-link', manifest);
    expect(result.outcome).toBe('rejected');
    expect(report.errorCounts).toEqual({ private_link_region_not_supported: 1 });
    expect(report.errors[0].message).toContain('eastus2');
  });
});
