import { TableClient } from '@azure/data-tables';
import { ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { ServiceBusClient, type ServiceBusSender } from '@azure/service-bus';
import { BlobServiceClient } from '@azure/storage-blob';
import type { DurableClient } from 'durable-functions';
import {
  BlobCatalogStore,
  BlobDropStore,
  BlobReportStore,
  BlobShardResultStore,
  BlobTeamConfigStore,
  TableIntakeLog,
} from './adapters/azureStorage';
import type { ApiDeps, RunControl } from './api/deps';
import { INBOUND_TOLERANCE_SECONDS, type InboundWebhookCheck, TableReplayLog } from './api/inboundSignature';
import { type AuthServices, createAuthServices } from './auth';
import { defaultCatalog, type TrainingProviderId } from './catalog';
import { CONTAINERS, TABLES } from './config/resources';
import { loadSettings, type Settings } from './config/settings';
import { ensureTable } from './config/tables';
import { type EventPublisher, ServiceBusEventPublisher, TOPOLOGY } from './events';
import { serviceBusTopicScheduler, type TopicScheduler } from './events/scheduler';
import type { OutboundPolicy, OutboundPost } from './net/contracts';
import { safePost } from './net/outbound';
import { DEFAULT_NOTIFY_RETRY_SECONDS, NOTIFICATIONS_TABLE, NotificationLog, type NotifyDeps } from './notify';
import type { RunActivityDeps } from './pipeline/activities';
import {
  type CatalogRefreshDeps,
  type CatalogStore,
  listTeamConfigs,
  loadCurrentCatalog,
} from './pipeline/catalogRefresh';
import { datasetEventFor } from './pipeline/datasetEvents';
import type { FinishDeps } from './pipeline/intake';
import { handleDrop, type IntakeDeps } from './pipeline/intake';
import type { DropStore, IntakeLog, ReportStore, TeamConfigStore } from './pipeline/ports';
import { durableRunInstances, LIVE_INSTANCE_STATUSES, reconcileRun } from './pipeline/reconcile';
import type { RegisterModelDeps } from './pipeline/registerModel';
import { CANCEL_EVENT, TRAINING_RUN_ORCHESTRATION } from './pipeline/runContracts';
import { type ShardedValidationDeps, VALIDATE_DROP_SHARDED } from './pipeline/shardedValidation';
import { loadTeamConfig } from './pipeline/teams';
import { createDropValidator, type DropValidator } from './pipeline/validation';
import { ArmModelDeployer, type ModelDeployer } from './registry/azureOpenAIDeployment';
import { ModelIndex } from './registry/modelIndex';
import { RunIndex } from './registry/runIndex';
import { AzureOpenAITrainingProvider } from './training/azureOpenAI';
import { DATABRICKS_PROVIDER, DatabricksTrainingProvider } from './training/databricks';
import { DatabricksDataSources, type DataSources } from './training/dataSources';
import type { DatabricksConnection } from './training/http';
import { ProviderError, type TrainingProvider } from './training/provider';
import { type BlobSource, FilesApiClient, type StagingConfig } from './training/staging';
import { createWebhookServices, TopicDeliveryScheduler, type WebhookServices } from './webhooks';
import { verifyWebhook } from './webhooks/signing';

/**
 * The Functions app's composition root: the one place that reads the settings and builds every
 * adapter (Azure Storage, Service Bus, the training provider) and every use case's deps. The
 * functions/ files ask it for what they run with; nothing else in shared/ reads the environment
 * or constructs an SDK client.
 *
 * Override point: a runtime that hosts this app somewhere other than Azure (the local runtime in
 * local/) hands in its own adapters with `overrideAdapters()` before the first invocation, e.g.
 * the Service Bus stand-in's publisher and scheduler. Production code never branches on where
 * it runs.
 */

/** The adapters a hosting runtime may replace. */
export interface AppAdapters {
  /** Where events go (Azure: the training-events topic). */
  publisher: EventPublisher;
  /** Where retries are scheduled (Azure: scheduled messages on the topic). */
  topicScheduler: TopicScheduler;
  /** Rules for calls to user-configured URLs (Azure: https only, no private addresses). */
  outboundPolicy: Pick<OutboundPolicy, 'allowLoopbackHttp'>;
}

export type ApiDurableClient = Pick<DurableClient, 'getStatus' | 'startNew' | 'raiseEvent'>;

/**
 * 256 MiB: about 6 s of validation at the measured 45 MB/s (Llama 3; Mistral is ~20x slower per
 * byte), well inside the 230 s an Azure HTTP request may take.
 */
export const INLINE_VALIDATION_MAX_BYTES = 256 * 1024 * 1024;

export interface AppServices {
  settings: Settings;
  drops: DropStore;
  reports: ReportStore;
  teams: TeamConfigStore;
  intakeLog: IntakeLog;
  runIndex: RunIndex;
  /** Registered model versions with lineage (registerModel writes, the API reads). */
  modelIndex: ModelIndex;
  publisher: EventPublisher;
  topicScheduler: TopicScheduler;
  outboundPolicy: Pick<OutboundPolicy, 'allowLoopbackHttp'>;
  /** Azure: the one sender to the topic, shared by the publisher and the schedulers (made on first use). */
  topicSender(): ServiceBusSender;
  validate: DropValidator;
  /** The trainingRun activities' deps (the training provider, staging, run index, publisher). */
  runActivities(): RunActivityDeps;
  /** registerModel's deps: the model registry (Unity Catalog, owned by the Databricks adapter). */
  registration(): RegisterModelDeps;
  /** The catalog's last good copy from the provider (config container). */
  catalogStore: CatalogStore;
  /** Unity Catalog volumes, tables and clusters; undefined without a workspace (DATABRICKS_HOST). */
  dataSources(): DataSources | undefined;
  /** refreshCatalog's deps (the timer function); undefined without a training provider. */
  catalogRefresh(log?: (message: string) => void): CatalogRefreshDeps | undefined;
  /** The sharded validation's activities (shards, digests, progress). */
  shardedValidation(): ShardedValidationDeps;
  /** The sharded validation's finish activity: merge, then intake's finish path through this invocation's durable client. */
  shardedFinish(
    client: Pick<DurableClient, 'getStatus' | 'startNew'>,
    log?: (message: string) => void,
  ): ShardedValidationDeps & { finish: FinishDeps; log?(message: string): void };
  /** The intake use case's deps, starting runs through this invocation's durable client. */
  intake(client: Pick<DurableClient, 'getStatus' | 'startNew'>, log?: (message: string) => void): IntakeDeps;
  /** notifyTeams's deps. */
  notifications(trace?: (line: string) => void): NotifyDeps;
  webhooks(): WebhookServices;
  /** Who calls the API: token validation (JWKS cache), the team directory (config cache), team keys. */
  auth(): AuthServices;
  /** The HTTP API's deps for one invocation. */
  api(client: () => ApiDurableClient, log?: (message: string) => void): ApiDeps;
  /** Containers and tables exist. Idempotent; a failure is retried by the next call. */
  ready(): Promise<void>;
}

let overrides: Partial<AppAdapters> = {};
let cached: AppServices | undefined;

/** The hosting runtime's adapters; call before the first invocation (later calls rebuild the services). */
export function overrideAdapters(adapters: Partial<AppAdapters>): void {
  overrides = { ...adapters };
  cached = undefined;
}

/** The app's services, built once per process from the environment and the overrides. */
export function getServices(env: Record<string, string | undefined> = process.env): AppServices {
  cached ??= createAppServices(loadSettings(env), overrides);
  return cached;
}

function credentialFor(clientId?: string): TokenCredential {
  return clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
}

/** Every adapter and use-case dependency from the settings (tests call this with their own settings). */
export function createAppServices(settings: Settings, adapters: Partial<AppAdapters> = {}): AppServices {
  const storage = settings.storage;
  const blobService =
    'connectionString' in storage
      ? BlobServiceClient.fromConnectionString(storage.connectionString)
      : new BlobServiceClient(`https://${storage.accountName}.blob.core.windows.net`, credentialFor(storage.clientId));
  const table = (name: string) =>
    'connectionString' in storage
      ? TableClient.fromConnectionString(storage.connectionString, name, { allowInsecureConnection: true })
      : new TableClient(`https://${storage.accountName}.table.core.windows.net`, name, credentialFor(storage.clientId));

  const containers = {
    datasets: blobService.getContainerClient(CONTAINERS.datasets),
    reports: blobService.getContainerClient(CONTAINERS.reports),
    config: blobService.getContainerClient(CONTAINERS.config),
  };
  const drops = new BlobDropStore(containers.datasets);
  const reports = new BlobReportStore(containers.reports);
  const teams = new BlobTeamConfigStore(containers.config);
  const intakeTable = table(TABLES.intake);
  const intakeLog = new TableIntakeLog(intakeTable);
  const runIndex = new RunIndex(table(TABLES.runs));
  const modelIndex = new ModelIndex(table(TABLES.models));

  let sender: ServiceBusSender | undefined;
  const topicSender = (): ServiceBusSender => {
    sender ??= createTopicSender(settings);
    return sender;
  };
  const publisher = adapters.publisher ?? lazyPublisher(() => new ServiceBusEventPublisher(topicSender()));
  const topicScheduler = adapters.topicScheduler ?? {
    schedule: (message, at) => serviceBusTopicScheduler(topicSender()).schedule(message, at),
  };
  const outboundPolicy = adapters.outboundPolicy ?? { allowLoopbackHttp: false };
  const post: OutboundPost = (url, body, headers, policy) =>
    safePost(url, body, headers, { ...policy, ...outboundPolicy });

  let readyOnce: Promise<void> | undefined;
  const ready = (): Promise<void> => {
    readyOnce ??= (async () => {
      await Promise.all(Object.values(containers).map((c) => c.createIfNotExists()));
      await Promise.all([runIndex.ensure(), ensureTable(intakeTable)]);
    })().catch((err: unknown) => {
      readyOnce = undefined;
      throw err;
    });
    return readyOnce;
  };

  const catalogStore = new BlobCatalogStore(containers.config);
  let sources: DataSources | undefined;
  const dataSources = (): DataSources | undefined => {
    const config = settings.databricks;
    if (!config) return undefined;
    sources ??= new DatabricksDataSources({
      workspaceUrl: config.host,
      auth: config.token ?? credentialFor(config.clientId),
    });
    return sources;
  };
  /** Shard results too big for an activity's output: `.validation/{validationId}/…` in the reports container. */
  const shardResults = new BlobShardResultStore(containers.reports, '.validation');
  const shardedValidation = (): ShardedValidationDeps => ({
    drops,
    shardResults,
    runIndex,
    publisher,
    catalog: () => loadCurrentCatalog(catalogStore),
    region: settings.databricks?.region,
    azureOpenAI: settings.azureOpenAI,
  });
  const validate = createDropValidator(drops, settings.databricks?.region, {
    catalog: () => loadCurrentCatalog(catalogStore),
    openVolumeFile: (path, bytes) => {
      const s = dataSources();
      if (!s) throw new Error('volume data needs the Databricks workspace (DATABRICKS_HOST)');
      return s.openVolumeFile(path, bytes);
    },
    azureOpenAI: settings.azureOpenAI,
  });
  const providersConfigured: TrainingProviderId[] = [
    ...(settings.databricks ? (['databricks'] as const) : []),
    ...(settings.azureOpenAI ? (['azure-openai'] as const) : []),
  ];
  let azureOpenAI: AzureOpenAITrainingProvider | undefined;
  const azureOpenAIAdapter = () => {
    azureOpenAI ??= createAzureOpenAIProvider(settings);
    return azureOpenAI;
  };
  let deployer: ModelDeployer | undefined;

  let databricks: { connection: DatabricksConnection; provider: DatabricksTrainingProvider } | undefined;
  const databricksAdapter = () => {
    if (databricks) return databricks;
    const config = settings.databricks;
    if (!config) throw new Error('DATABRICKS_HOST is not set: the training provider is not configured');
    const connection = { workspaceUrl: config.host, auth: config.token ?? credentialFor(config.clientId) };
    databricks = {
      connection,
      provider: new DatabricksTrainingProvider({ ...connection, experimentDir: settings.experimentRoot }),
    };
    return databricks;
  };
  let activities: RunActivityDeps | undefined;
  const runActivities = (): RunActivityDeps => {
    if (activities) return activities;
    const azure = azureOpenAIAdapter();
    if (!settings.databricks && !azure) {
      throw new Error('neither DATABRICKS_HOST nor AZURE_OPENAI_ENDPOINT is set: no training provider is configured');
    }
    const { connection, provider } = settings.databricks
      ? databricksAdapter()
      : {
          connection: { workspaceUrl: 'https://databricks.invalid', auth: '' },
          provider: unconfiguredProvider(DATABRICKS_PROVIDER),
        };
    const staging: StagingConfig =
      settings.staging?.kind === 'volume-mapping'
        ? { mappings: [{ container: CONTAINERS.datasets, volumePath: settings.staging.volumePath }] }
        : { mappings: [], uploadVolumePath: settings.staging?.volumePath };
    const blobs: BlobSource = {
      open: (name) => drops.open(name),
      list: async (prefix) => {
        const names: string[] = [];
        for await (const f of drops.list(prefix)) names.push(f.name);
        return names;
      },
    };
    activities = {
      provider,
      providerName: DATABRICKS_PROVIDER,
      azureOpenAI: azure,
      staging: {
        config: staging,
        datasetsContainer: CONTAINERS.datasets,
        blobs,
        files: new FilesApiClient(connection),
      },
      runIndex,
      publisher,
      experimentRoot: settings.experimentRoot,
    };
    return activities;
  };

  let notificationLog: NotificationLog | undefined;
  let webhookServices: WebhookServices | undefined;
  const webhooks = (): WebhookServices => {
    webhookServices ??= createWebhookServices({
      subscriptionsTable: table(TABLES.webhookSubscriptions),
      deliveriesTable: table(TABLES.webhookDeliveries),
      scheduler: new TopicDeliveryScheduler(topicScheduler),
      post: safePost,
      policy: outboundPolicy,
      retrySchedule: settings.webhookRetrySeconds,
    });
    return webhookServices;
  };

  const intake: AppServices['intake'] = (client, log) => ({
    drops,
    reports,
    teams,
    runIndex,
    intakeLog,
    region: settings.databricks?.region,
    // With no provider configured at all (e.g. an API-only test setup) intake keeps its old behaviour
    // and the run fails at submission; with one configured, a team on the other is refused up front.
    providersConfigured: providersConfigured.length > 0 ? providersConfigured : undefined,
    storagePrivateLink: settings.storagePrivateLink,
    dataSources: dataSources(),
    // One line when the data starts streaming through the validator: where a long intake spends its time.
    validate: (input) => {
      const bytes = input.files.reduce((sum, f) => sum + f.size, 0);
      log?.(`intake: validating ${input.files.length} file(s), ${bytes} bytes, for ${input.manifest.model}`);
      return validate(input);
    },
    publishDatasetEvent: (event) => publisher.publish(datasetEventFor(event)),
    startRun: durableRunStarter(client),
    polling: settings.polling,
    deadlineHours: settings.runDeadlineHours,
    sharding: {
      ...settings.sharding,
      start: async (input) => {
        // Only "not found" means no instance (as for runs): any other status failure propagates.
        if (await durableRunInstances(client).status(input.validationId)) return 'exists';
        await client.startNew(VALIDATE_DROP_SHARDED, { instanceId: input.validationId, input });
        return 'started';
      },
    },
    now: () => new Date(),
    log,
  });

  let authServices: AuthServices | undefined;
  const auth = (): AuthServices => {
    authServices ??= createAuthServices(settings.auth, {
      config: containers.config,
      teamKeysTable: table(TABLES.teamKeys),
    });
    return authServices;
  };

  const inbound = settings.inboundWebhookSecret
    ? inboundCheckFor(settings.inboundWebhookSecret, new TableReplayLog(intakeTable))
    : undefined;

  return {
    settings,
    drops,
    reports,
    teams,
    intakeLog,
    runIndex,
    modelIndex,
    publisher,
    topicScheduler,
    outboundPolicy,
    topicSender,
    validate,
    runActivities,
    shardedValidation,
    shardedFinish: (client, log) => ({ ...shardedValidation(), finish: intake(client, log), log }),
    catalogStore,
    dataSources,
    catalogRefresh: (log) => {
      if (!settings.databricks) return undefined;
      const { provider } = databricksAdapter();
      return {
        provider: { name: DATABRICKS_PROVIDER, listModels: () => provider.listModels() },
        store: catalogStore,
        teams: () => listTeamConfigs(teams, log),
        publisher,
        now: () => new Date(),
        log,
      };
    },
    registration: () => ({
      unityCatalog: settings.databricks ? databricksAdapter().provider.unityCatalog : undefined,
      get deployer() {
        deployer ??= createDeployer(settings);
        return deployer;
      },
      teamDeployment: async (team) => {
        const loaded = await loadTeamConfig(teams, team);
        return loaded.ok ? loaded.config.deployment : undefined;
      },
      runIndex,
      modelIndex,
      publisher,
      alias: settings.modelAlias,
    }),
    intake,
    notifications: (trace) => {
      notificationLog ??= new NotificationLog(table(NOTIFICATIONS_TABLE));
      return {
        config: teams,
        runIndex,
        log: notificationLog,
        post,
        links: { publicBaseUrl: settings.publicBaseUrl, databricksHost: settings.databricks?.host },
        trace,
        retry: {
          scheduler: topicScheduler,
          delaysSeconds: settings.notifyRetrySeconds ?? DEFAULT_NOTIFY_RETRY_SECONDS,
        },
      };
    },
    webhooks,
    auth,
    api: (client, log) => ({
      ready: async () => {
        await ready();
        await auth().keys.ensure();
      },
      runIndex,
      modelIndex,
      drops,
      intakeLog,
      busReachable: async () => publisher.checkReachable?.(),
      handleDrop: (drop) => handleDrop(intake(client(), log), drop),
      runs: durableRunControl(client, async (runId) => {
        const run = await runIndex.get(runId);
        if (!run) return 'not_running';
        const repaired = await reconcileRun(
          {
            ...runActivities(),
            instances: durableRunInstances(client()),
            now: () => new Date(),
            missingGraceMs: 0,
            log,
          },
          run,
          { cancelRequested: true },
        );
        return repaired ? 'repaired' : 'not_running';
      }),
      catalog: defaultCatalog,
      currentCatalog: () => loadCurrentCatalog(catalogStore),
      get webhooks() {
        return webhooks();
      },
      inbound,
      inlineValidationMaxBytes: INLINE_VALIDATION_MAX_BYTES,
      auth: auth(),
      now: () => new Date(),
    }),
    ready,
  };
}

/**
 * Start a run's orchestration (instance id = run id) unless its instance exists. Only "not found"
 * means there is none: any other failure to read the status propagates (intake turns it into an
 * `intake_failed` rejection, or the trigger's retry when even that cannot be stored) instead of
 * starting over an instance that may be running.
 */
export function durableRunStarter(client: Pick<DurableClient, 'getStatus' | 'startNew'>): IntakeDeps['startRun'] {
  const instances = durableRunInstances(client);
  return async (input) => {
    if (await instances.status(input.runId)) return 'exists';
    await client.startNew(TRAINING_RUN_ORCHESTRATION, { instanceId: input.runId, input });
    return 'started';
  };
}

/**
 * Cancel = the orchestration's external event, on instance id = run id, while the instance runs.
 * When it has ended or vanished with the run still going in the index, raising an event would
 * change nothing: `repair` (the reconciler for that run) cancels at the provider and ends the run.
 */
export function durableRunControl(
  client: () => ApiDurableClient,
  repair?: (runId: string) => Promise<'repaired' | 'not_running'>,
): RunControl {
  return {
    async cancel(runId) {
      const status = await durableRunInstances(client()).status(runId);
      if (status && LIVE_INSTANCE_STATUSES.includes(status.runtimeStatus)) {
        await client().raiseEvent(runId, CANCEL_EVENT, { requestedBy: 'api' });
        return 'raised';
      }
      return repair ? repair(runId) : 'not_running';
    },
  };
}

/** The inbound signature check for a `whsec_` secret, with webhook-ids remembered in the intake table. */
export function inboundCheckFor(secret: string, replay: TableReplayLog): InboundWebhookCheck {
  return {
    verify: (headers, body, now) =>
      verifyWebhook(secret, headers, body, { now, toleranceSeconds: INBOUND_TOLERANCE_SECONDS }),
    replay,
  };
}

/** A publisher whose client is made on first publish (a function that never publishes opens no connection). */
function lazyPublisher(create: () => EventPublisher): EventPublisher {
  let made: EventPublisher | undefined;
  const get = () => {
    made ??= create();
    return made;
  };
  return {
    publish: async (event) => get().publish(event),
    publishMany: async (events) => {
      const publisher = get();
      if (publisher.publishMany) await publisher.publishMany(events);
      else for (const event of events) await publisher.publish(event);
    },
    checkReachable: async () => get().checkReachable?.(),
  };
}

function createTopicSender(settings: Settings): ServiceBusSender {
  const sb = settings.serviceBus;
  if (!sb) throw new Error('ServiceBusConnection__fullyQualifiedNamespace is not set: events have nowhere to go');
  const client =
    'connectionString' in sb
      ? new ServiceBusClient(sb.connectionString)
      : new ServiceBusClient(sb.fullyQualifiedNamespace, credentialFor(sb.clientId));
  return client.createSender(TOPOLOGY.topic.name);
}

/** The Azure OpenAI provider from settings: the managed identity in Azure, a key only when one is set. */
function createAzureOpenAIProvider(settings: Settings): AzureOpenAITrainingProvider | undefined {
  const azure = settings.azureOpenAI;
  if (!azure) return undefined;
  return new AzureOpenAITrainingProvider({
    endpoint: azure.endpoint,
    auth: azure.apiKey ? { apiKey: azure.apiKey } : { credential: credentialFor(azure.clientId) },
    trainingType: azure.trainingType,
    // A loopback endpoint is the local emulator: it processes files in about a second, Azure in minutes.
    filePollMs: isLoopbackHttp(azure.endpoint) ? 250 : 5_000,
  });
}

/**
 * The control-plane deployer, when AZURE_OPENAI_ACCOUNT_ID is set. In Azure: the managed identity
 * against management.azure.com. Against a loopback http endpoint (the emulator's control-plane
 * stand-in): that endpoint, with the local key as the bearer token.
 */
function createDeployer(settings: Settings): ModelDeployer | undefined {
  const azure = settings.azureOpenAI;
  if (!azure?.account) return undefined;
  const local = isLoopbackHttp(azure.endpoint) && azure.apiKey;
  const credential: TokenCredential = local
    ? { getToken: async () => ({ token: azure.apiKey as string, expiresOnTimestamp: Date.now() + 3_600_000 }) }
    : credentialFor(azure.clientId);
  return new ArmModelDeployer({
    subscriptionId: azure.account.subscriptionId,
    resourceGroup: azure.account.resourceGroup,
    account: azure.account.name,
    credential,
    endpoint: local ? azure.endpoint : undefined,
    pollMs: local ? 250 : 15_000,
    sku: 'Standard',
    capacity: 1,
  });
}

function isLoopbackHttp(endpoint: string): boolean {
  const url = new URL(endpoint);
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

/** A provider slot with no connection: every call is a coded, non-retryable error. */
function unconfiguredProvider(name: string): TrainingProvider {
  const fail = async (): Promise<never> => {
    throw new ProviderError('bad_request', `the ${name} training provider is not configured`);
  };
  return { create: fail, get: fail, events: fail, cancel: fail, listModels: fail };
}
