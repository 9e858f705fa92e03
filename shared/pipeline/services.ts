import { Readable } from 'node:stream';
import { TableClient } from '@azure/data-tables';
import { ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { ServiceBusClient, type ServiceBusSender } from '@azure/service-bus';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { localEventPublisher } from '../../local/servicebus/publisher';
import { standInTopicScheduler } from '../../local/servicebus/scheduler';
import { CONTAINERS, TABLES } from '../config/resources';
import { loadSettings, type Settings } from '../config/settings';
import { ensureTable } from '../config/tables';
import { renderValidationMarkdown, validateDataset } from '../datasets';
import { type EventPublisher, ServiceBusEventPublisher, TOPOLOGY } from '../events';
import { serviceBusTopicScheduler, type TopicScheduler } from '../events/scheduler';
import type { OutboundPolicy } from '../net/contracts';
import { ModelIndex } from '../registry/modelIndex';
import { RunIndex } from '../registry/runIndex';
import { DATABRICKS_PROVIDER, DatabricksTrainingProvider } from '../training/databricks';
import { type BlobSource, FilesApiClient, type StagingConfig } from '../training/staging';
import type { RunActivityDeps } from './activities';
import { summarizeProblems, type ValidationOutcome } from './intake';

/**
 * The composition root: builds every collaborator once per process from the settings. The
 * functions/ files call this; nothing else in shared/ reads the environment.
 */
export interface PipelineServices {
  settings: Settings;
  datasets: ContainerClient;
  reports: ContainerClient;
  config: ContainerClient;
  runIndex: RunIndex;
  /** Registered model versions with lineage (registerModel writes, the API reads). */
  modelIndex: ModelIndex;
  intakeLog: TableClient;
  publisher: EventPublisher;
  /** A table client for one of resources.json's tables (the webhook and notification stores use this). */
  table(name: string): TableClient;
  /** Azure mode: the one sender to the topic (events, scheduled retries). Local mode has the stand-in instead. */
  topicSender(): ServiceBusSender;
  /** Where retries are scheduled (webhook attempts, notifications): the topic in Azure, the stand-in locally. */
  topicScheduler(): TopicScheduler;
  /** Rules for calls to user-configured URLs (webhooks, Teams/Slack): http to loopback only in local mode. */
  outboundPolicy: Pick<OutboundPolicy, 'allowLoopbackHttp'>;
  runActivities(): RunActivityDeps;
  validate: (input: {
    manifest: { model: string; task: 'chat' | 'instruction' | 'continued_pretraining' };
    contextLength?: number;
    files: { name: string; blobName: string; size: number }[];
    datasets: ContainerClient;
  }) => Promise<ValidationOutcome>;
  /** Containers and tables exist (idempotent; once per process). */
  ready(): Promise<void>;
}

let cached: PipelineServices | undefined;

export function getPipelineServices(env: Record<string, string | undefined> = process.env): PipelineServices {
  cached ??= createPipelineServices(loadSettings(env));
  return cached;
}

function credentialFor(clientId?: string): TokenCredential {
  return clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
}

export function createPipelineServices(settings: Settings): PipelineServices {
  const storage = settings.storage;
  const blobService =
    'connectionString' in storage
      ? BlobServiceClient.fromConnectionString(storage.connectionString)
      : new BlobServiceClient(`https://${storage.accountName}.blob.core.windows.net`, credentialFor(storage.clientId));
  const table = (name: string) =>
    'connectionString' in storage
      ? TableClient.fromConnectionString(storage.connectionString, name, { allowInsecureConnection: true })
      : new TableClient(`https://${storage.accountName}.table.core.windows.net`, name, credentialFor(storage.clientId));

  const datasets = blobService.getContainerClient(CONTAINERS.datasets);
  const reports = blobService.getContainerClient(CONTAINERS.reports);
  const config = blobService.getContainerClient(CONTAINERS.config);
  const runIndex = new RunIndex(table(TABLES.runs));
  const modelIndex = new ModelIndex(table(TABLES.models));
  const intakeLog = table(TABLES.intake);
  let sender: ServiceBusSender | undefined;
  const topicSender = (): ServiceBusSender => {
    sender ??= createTopicSender(settings);
    return sender;
  };
  const publisher: EventPublisher =
    settings.mode === 'local' ? localEventPublisher() : new ServiceBusEventPublisher(topicSender());
  const topicScheduler = (): TopicScheduler =>
    settings.mode === 'local' ? standInTopicScheduler() : serviceBusTopicScheduler(topicSender());

  let readyOnce: Promise<void> | undefined;
  const ready = () => {
    readyOnce ??= (async () => {
      await Promise.all([datasets.createIfNotExists(), reports.createIfNotExists(), config.createIfNotExists()]);
      await Promise.all([runIndex.ensure(), ensureTable(intakeLog)]);
    })();
    return readyOnce;
  };

  const blobs: BlobSource = {
    open: async (blobPath) => {
      const body = (await datasets.getBlobClient(blobPath).download()).readableStreamBody;
      if (!body) throw new Error(`blob ${blobPath} has no body`);
      return body instanceof Readable ? body : Readable.from(body);
    },
    list: async (prefix) => {
      const names: string[] = [];
      for await (const b of datasets.listBlobsFlat({ prefix })) names.push(b.name);
      return names;
    },
  };

  let activities: RunActivityDeps | undefined;
  const runActivities = (): RunActivityDeps => {
    if (activities) return activities;
    const databricks = settings.databricks;
    if (!databricks) throw new Error('DATABRICKS_HOST is not set: the training provider is not configured');
    const auth = databricks.token ?? credentialFor(databricks.clientId);
    const connection = { workspaceUrl: databricks.host, auth };
    const staging: StagingConfig =
      settings.staging?.kind === 'volume-mapping'
        ? { mappings: [{ container: CONTAINERS.datasets, volumePath: settings.staging.volumePath }] }
        : { mappings: [], uploadVolumePath: settings.staging?.volumePath };
    activities = {
      provider: new DatabricksTrainingProvider({ ...connection, experimentDir: settings.experimentRoot }),
      providerName: DATABRICKS_PROVIDER,
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

  const validate: PipelineServices['validate'] = async (input) => {
    const report = await validateDataset({
      model: input.manifest.model,
      task: input.manifest.task,
      contextLength: input.contextLength,
      region: settings.databricks?.region,
      files: input.files.map((f) => ({ name: f.name, size: f.size, open: () => blobs.open(f.blobName) })),
    });
    const fileDigests = Object.fromEntries((report.files ?? []).map((f) => [f.name, f.sha256 ?? '']));
    return {
      ok: report.ok,
      report: report as unknown as ValidationOutcome['report'],
      markdown: renderValidationMarkdown(report),
      fileDigests,
      errorSummary: summarizeProblems(report.errors).map((e) => ({
        ...e,
        count: report.errorCounts[e.code] ?? e.count,
      })),
    };
  };

  return {
    settings,
    datasets,
    reports,
    config,
    runIndex,
    modelIndex,
    intakeLog,
    publisher,
    table,
    topicSender,
    topicScheduler,
    outboundPolicy: { allowLoopbackHttp: settings.mode === 'local' },
    runActivities,
    validate,
    ready,
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
