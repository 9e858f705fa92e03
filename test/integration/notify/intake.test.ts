import { randomBytes } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  BlobDropStore,
  BlobReportStore,
  BlobTeamConfigStore,
  TableIntakeLog,
} from '../../../shared/adapters/azureStorage';
import { parseEvent, type TunedropEvent } from '../../../shared/events';
import type { OutboundPost } from '../../../shared/net/contracts';
import { safePost } from '../../../shared/net/outbound';
import { deliverNotifications, NotificationLog, teamsWorkflowMessageSchema } from '../../../shared/notify';
import { datasetEventFor } from '../../../shared/pipeline/datasetEvents';
import { handleDrop, type IntakeDeps } from '../../../shared/pipeline/intake';
import { RunIndex } from '../../../shared/registry/runIndex';
import { WebhookReceiver } from './receivers';

const suffix = randomBytes(3).toString('hex');
const team = `notify-intake-${suffix}`;
const post: OutboundPost = (url, body, headers, policy) =>
  safePost(url, body, headers, { ...policy, allowLoopbackHttp: true, responseTimeoutMs: 500 });

/** Intake stores the manifest's `notify` narrowing on the run record; notify-teams honours it. */
describe('intake → run record notify → notify-teams', () => {
  const connectionString = inject('azurite').connectionString;
  const blobs = BlobServiceClient.fromConnectionString(connectionString);
  const table = (name: string) =>
    TableClient.fromConnectionString(connectionString, name, { allowInsecureConnection: true });
  const datasets = blobs.getContainerClient(`ni-data-${suffix}`);
  const reports = blobs.getContainerClient(`ni-reports-${suffix}`);
  const config = blobs.getContainerClient(`ni-config-${suffix}`);
  const runIndex = new RunIndex(table(`niRuns${suffix}`));
  const intakeLog = table(`niIntake${suffix}`);
  const published: TunedropEvent[] = [];
  let receiver: WebhookReceiver;

  const deps: IntakeDeps = {
    drops: new BlobDropStore(datasets),
    reports: new BlobReportStore(reports),
    teams: new BlobTeamConfigStore(config),
    runIndex,
    intakeLog: new TableIntakeLog(intakeLog),
    validate: async ({ files }) => ({
      ok: true,
      report: { ok: true },
      markdown: '# ok\n',
      fileDigests: Object.fromEntries(files.map((f) => [f.name, 'a'.repeat(64)])),
      errorSummary: [],
    }),
    publishDatasetEvent: async (event) => {
      published.push(datasetEventFor(event));
    },
    startRun: async () => 'started',
    polling: { initialSeconds: 30, maxSeconds: 600 },
    deadlineHours: 168,
    now: () => new Date('2026-11-27T10:00:00Z'),
  };

  const drop = async (dataset: string, manifest: Record<string, unknown>) => {
    const train = '{"prompt":"a","response":"b"}\n';
    await datasets.getBlockBlobClient(`${team}/${dataset}/train.jsonl`).upload(train, train.length);
    const body = Buffer.from(JSON.stringify(manifest));
    const blob = datasets.getBlockBlobClient(`${team}/${dataset}/run.json`);
    const uploaded = await blob.upload(body, body.length);
    return handleDrop(deps, {
      blobName: `${team}/${dataset}/run.json`,
      url: blob.url,
      etag: uploaded.etag ?? '',
      content: body,
    });
  };
  const manifest = { model: 'mistralai/Mistral-7B-Instruct-v0.2', task: 'instruction', train: 'train.jsonl' };

  beforeAll(async () => {
    receiver = await WebhookReceiver.start('teams');
    await Promise.all([datasets.createIfNotExists(), reports.createIfNotExists(), config.createIfNotExists()]);
    await runIndex.ensure();
    await intakeLog.createTable().catch(() => undefined);
    const teamConfig = JSON.stringify({
      team,
      allowedModels: ['*'],
      allowedRegisterTo: ['ml.support'],
      defaults: { registerTo: 'ml.support' },
      channels: [
        { name: 'ops', kind: 'teams', url: receiver.url('ops-secret') },
        { name: 'dev', kind: 'teams', url: receiver.url('dev-secret') },
      ],
    });
    await config.getBlockBlobClient(`teams/${team}.json`).upload(teamConfig, teamConfig.length);
  });
  afterAll(async () => {
    await receiver?.stop();
  });

  it('records the narrowing when the manifest has one, nothing when it has none', async () => {
    const narrowed = await drop('narrowed', { ...manifest, notify: ['dev'] });
    expect(narrowed.outcome).toBe('started');
    expect((await runIndex.get((narrowed as { runId: string }).runId))?.notify).toBe('["dev"]');
    const open = await drop('open', manifest);
    expect((await runIndex.get((open as { runId: string }).runId))?.notify).toBeUndefined();
  });

  it('a drop rejected for an unknown channel keeps its list, and its rejection still reaches the team', async () => {
    const rejected = await drop('typo', { ...manifest, notify: ['pagr'] });
    expect(rejected).toMatchObject({ outcome: 'rejected', problems: [{ code: 'channel_not_allowed', count: 1 }] });
    const runId = (rejected as { runId: string }).runId;
    expect((await runIndex.get(runId))?.notify).toBe('["pagr"]');

    const event = published.find((e) => e.subject === runId && e.type === 'tunedrop.dataset.rejected');
    const outcome = await deliverNotifications(
      {
        config: new BlobTeamConfigStore(config),
        runIndex,
        log: new NotificationLog(table(`niLog${suffix}`)),
        post,
        links: {},
      },
      JSON.parse(JSON.stringify(parseEvent(event))),
    );
    expect(outcome.sent.sort()).toEqual(['dev', 'ops']);
    const card = teamsWorkflowMessageSchema.parse(receiver.received[0]?.body);
    expect(JSON.stringify(card)).toContain('channel_not_allowed (1×)');
  });
});
