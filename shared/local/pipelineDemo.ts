import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { CONTAINERS } from '../config/resources';
import { uploadDrop } from '../pipeline/submit';
import { FAST_TIMINGS, startTrainingEmulator, type TrainingEmulator } from '../training/emulator';

/**
 * What makes `npm start` the whole pipeline offline: the training-provider emulator (a stand-in for
 * the Databricks service, speaking its wire format) and the app settings that point the app at it.
 * Settings already in the environment win, so a real workspace can be used locally too.
 */
export async function startLocalProvider(): Promise<{
  emulator: TrainingEmulator;
  appSettings: Record<string, string>;
}> {
  const emulator = await startTrainingEmulator({ timings: FAST_TIMINGS, dataMustExist: true });
  return {
    emulator,
    appSettings: {
      DATABRICKS_HOST: emulator.url,
      DATABRICKS_TOKEN: emulator.token,
      DATABRICKS_REGION: 'eastus2',
      TUNEDROP_STAGING_VOLUME: '/Volumes/main/tunedrop/staging',
      TUNEDROP_EXPERIMENT_ROOT: '/Shared/tunedrop',
      TUNEDROP_POLL_INITIAL_SECONDS: '2',
      TUNEDROP_POLL_MAX_SECONDS: '10',
    },
  };
}

/** Team configurations into the config container (teams/{team}.json), and the example drops for team support. */
export async function seedExamples(
  connectionString: string,
  examplesRoot: string,
  options: { drop: boolean; log: (line: string) => void },
): Promise<void> {
  const service = BlobServiceClient.fromConnectionString(connectionString);
  const config = service.getContainerClient(CONTAINERS.config);
  await config.createIfNotExists();
  const teamsDir = path.join(examplesRoot, 'teams');
  for (const file of readdirSync(teamsDir).filter((f) => f.endsWith('.json'))) {
    const body = readFileSync(path.join(teamsDir, file));
    await config.getBlockBlobClient(`teams/${file}`).upload(body, body.length);
    options.log(`team configuration config/teams/${file}`);
  }
  if (!options.drop) return;
  const datasets = service.getContainerClient(CONTAINERS.datasets);
  for (const dataset of ['support-bot', 'sql-instructions', 'ops-runbooks']) {
    const drop = await uploadDrop(datasets, path.join(examplesRoot, dataset), 'support', dataset);
    options.log(`dropped examples/${dataset} → datasets/${drop.manifestBlob}`);
  }
}
