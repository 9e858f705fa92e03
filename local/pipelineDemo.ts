import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { TunedropApiClient } from '../cli/apiClient';
import type { TokenSource } from '../cli/credentials';
import { uploadDrop } from '../cli/uploadDrop';
import { type AzureOpenAIEmulator, FAST_AZURE_TIMINGS, startAzureOpenAIEmulator } from '../emulators/azure-openai';
import { FAST_TIMINGS, startTrainingEmulator, type TrainingEmulator } from '../emulators/databricks';
import { CONTAINERS } from '../shared/config/resources';
import { MANIFEST_NAME } from '../shared/pipeline/submit';
import type { WebhookInbox } from './webhookInbox';

/**
 * What makes `npm start` the whole pipeline offline: the training-provider emulator (a stand-in for
 * the Databricks service, speaking its wire format) and the app settings that point the app at it.
 * Settings already in the environment win, so a real workspace can be used locally too.
 * With `stateDir` (storage on disk) the emulator keeps its runs there, so a restart resumes them.
 */
export async function startLocalProvider(
  options: {
    stateDir?: string;
    /**
     * Test-only (the crash test, via TUNEDROP_DEV_EMULATOR_HOLD_CREATE): the first createFinetune
     * creates the run and then never answers, so the caller can be killed in that window.
     */
    holdFirstCreate?: boolean;
    log?: (line: string) => void;
  } = {},
): Promise<{
  emulator: TrainingEmulator;
  azureOpenAI: AzureOpenAIEmulator;
  appSettings: Record<string, string>;
  stop(): Promise<void>;
}> {
  const emulator = await startTrainingEmulator({
    timings: FAST_TIMINGS,
    dataMustExist: true,
    stateDir: options.stateDir,
    onHold: (operation) =>
      options.log?.(`provider emulator: ${operation} created the run and withholds its answer (held for a crash test)`),
  });
  if (options.holdFirstCreate) emulator.state.holdResponseAfterCreate(1);
  // One local secret for both planes: the key is also the bearer token the ARM stand-in accepts.
  const key = randomBytes(16).toString('hex');
  const azureOpenAI = await startAzureOpenAIEmulator({ timings: FAST_AZURE_TIMINGS, apiKey: key, bearerToken: key });
  return {
    emulator,
    azureOpenAI,
    stop: async () => {
      await Promise.all([emulator.stop(), azureOpenAI.stop()]);
    },
    appSettings: {
      AZURE_OPENAI_ENDPOINT: azureOpenAI.url,
      AZURE_OPENAI_API_KEY: key,
      AZURE_OPENAI_REGION: 'swedencentral',
      AZURE_OPENAI_ACCOUNT_ID: `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-local/providers/Microsoft.CognitiveServices/accounts/${azureOpenAI.account}`,
      DATABRICKS_HOST: emulator.url,
      DATABRICKS_TOKEN: emulator.token,
      DATABRICKS_REGION: 'eastus2',
      TUNEDROP_STAGING_VOLUME: '/Volumes/main/tunedrop/staging',
      TUNEDROP_EXPERIMENT_ROOT: '/Shared/tunedrop',
      TUNEDROP_POLL_INITIAL_SECONDS: '2',
      TUNEDROP_POLL_MAX_SECONDS: '10',
      TUNEDROP_WEBHOOK_RETRY_SECONDS: '0,2,5,10',
      TUNEDROP_NOTIFY_RETRY_SECONDS: '0,2,5,10',
    },
  };
}

/** The example drops and the team each goes to: teams kept apart, and one team on each training provider. */
export const EXAMPLE_DROPS = [
  { dataset: 'support-bot', team: 'support' },
  { dataset: 'sql-instructions', team: 'support' },
  { dataset: 'ops-runbooks', team: 'ops' },
  // A team on the Azure OpenAI provider (examples/teams/assist.json).
  { dataset: 'assist-tool-calls', team: 'assist' },
] as const;

/** Team configurations into the config container (teams/{team}.json), and the example drops (EXAMPLE_DROPS). */
export async function seedExamples(
  connectionString: string,
  examplesRoot: string,
  options: { drop: boolean; log: (line: string) => void; beforeDrops?: () => Promise<void> },
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
  await options.beforeDrops?.();
  const datasets = service.getContainerClient(CONTAINERS.datasets);
  for (const { dataset, team } of EXAMPLE_DROPS) {
    // Kept storage (`.tunedrop/azurite`) already has this drop: the same bytes would map to the same
    // run and start nothing, so say so instead of dropping again.
    const manifest = datasets.getBlobClient(`${team}/${dataset}/${MANIFEST_NAME}`);
    const local = readFileSync(path.join(examplesRoot, dataset, MANIFEST_NAME));
    if ((await manifest.exists()) && (await manifest.downloadToBuffer()).equals(local)) {
      options.log(
        `examples/${dataset} is already in datasets/${team}/${dataset} (its run stands; --memory for a fresh demo)`,
      );
      continue;
    }
    const drop = await uploadDrop(datasets, path.join(examplesRoot, dataset), team, dataset);
    options.log(`dropped examples/${dataset} → datasets/${drop.manifestBlob}`);
  }
}

/** Where examples/teams/*.json point their Teams/Slack channels, and the demo webhook subscription goes. */
export const DEMO_INBOX_PORT = 7072;
export const DEMO_WEBHOOK_NAME = 'support-demo';

/**
 * A webhook subscription for team support pointing at the local inbox, made through the product's
 * own HTTP API; the inbox then verifies every delivery with its secret. The secret is only known
 * at creation or rotation, so a restart on kept storage rotates the existing subscription.
 */
export async function subscribeInboxToWebhooks(api: { baseUrl: string; token: TokenSource }, inbox: WebhookInbox) {
  const target = `${inbox.url}/inbox/webhooks/${DEMO_WEBHOOK_NAME}`;
  const client = new TunedropApiClient({ baseUrl: api.baseUrl, token: api.token, keySource: 'local dev identity' });
  const existing = (await client.listWebhooks('support')).find((w) => w.url === target);
  const subscription = existing
    ? await client.rotateWebhookSecret(existing.id)
    : await client.createWebhook({ team: 'support', url: target, description: 'npm start demo inbox' });
  inbox.trust(DEMO_WEBHOOK_NAME, subscription.secret);
  return { id: subscription.id, url: target };
}
