import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { configureTunedropApp } from '../../../local/appAdapters';
import { type RunningFunctionHost, startFunctionHost } from '../../../local/host/host';
import { activeStandIn } from '../../../local/servicebus/active';
import { MAX_DELIVERY_COUNT_EXCEEDED } from '../../../local/servicebus/broker';
import type { ServiceBusTriggerExtension } from '../../../local/servicebus/extension';
import { createServiceBusStandInExtension } from '../../../local/servicebus/open';
import { localEventPublisher } from '../../../local/servicebus/publisher';
import { CONTAINERS, TABLES } from '../../../shared/config/resources';
import { createEvent } from '../../../shared/events';
import { SUBSCRIPTIONS } from '../../../shared/events/topology';
import { NOTIFICATIONS_TABLE, NotificationLog, teamsWorkflowMessageSchema } from '../../../shared/notify';
import { RunIndex } from '../../../shared/registry/runIndex';
import { EVENTS, runRecord } from '../../unit/notify/events';
import { WebhookReceiver } from './receivers';

const APP = path.resolve(__dirname, 'app');
const BUILT = path.resolve(__dirname, '../../../dist/functions/notifyTeams.js');
const suffix = randomBytes(3).toString('hex');
const team = `notifyhost-${suffix}`;

/** The compiled functions/notifyTeams.js in the local Functions host, fed by the Service Bus stand-in. */
describe('functions/notifyTeams (compiled) on the local host', () => {
  let host: RunningFunctionHost;
  let bus: ServiceBusTriggerExtension;
  let teams: WebhookReceiver;
  let slack: WebhookReceiver;
  let runIndex: RunIndex;
  let log: NotificationLog;
  const logs: string[] = [];

  const event = <T extends keyof typeof EVENTS>(name: T, runId: string) => {
    const e = EVENTS[name];
    return createEvent(e.type, {
      subject: runId,
      team,
      model: e.model,
      time: e.time,
      data: { ...e.data, runId, team } as never,
    });
  };

  beforeAll(async () => {
    if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run npx tsc -p tsconfig.build.json first`);
    const connectionString = inject('azurite').connectionString;
    process.env.AzureWebJobsStorage = connectionString;
    process.env.TUNEDROP_PUBLIC_BASE_URL = 'http://127.0.0.1:7071';
    // One scheduled retry after 1 s, then the bus's own redeliveries.
    process.env.TUNEDROP_NOTIFY_RETRY_SECONDS = '0,1';
    [teams, slack] = await Promise.all([WebhookReceiver.start('teams'), WebhookReceiver.start('slack')]);
    const config = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(CONTAINERS.config);
    await config.createIfNotExists();
    const teamConfig = JSON.stringify({
      team,
      allowedModels: ['*'],
      allowedRegisterTo: ['ml.support'],
      channels: [
        { name: 'ml-channel', kind: 'teams', url: teams.url('teams-secret') },
        { name: 'alerts', kind: 'slack', url: slack.url('slack-secret') },
      ],
    });
    await config.getBlockBlobClient(`teams/${team}.json`).upload(teamConfig, teamConfig.length);
    const table = (name: string) =>
      TableClient.fromConnectionString(connectionString, name, { allowInsecureConnection: true });
    runIndex = new RunIndex(table(TABLES.runs));
    await runIndex.ensure();
    log = new NotificationLog(table(NOTIFICATIONS_TABLE));

    bus = await createServiceBusStandInExtension({ connectionString, tableName: `sbNotify${suffix}` });
    host = await startFunctionHost({
      appRoot: APP,
      storageConnectionString: connectionString,
      port: 0,
      extensions: [bus],
      blobScanIntervalMs: 0,
      logger: (entry) => logs.push(entry.message),
    });
    // The function module is the repo's dist/: its composition root gets the local adapters.
    configureTunedropApp({ appRoot: path.resolve(__dirname, '../../..') });
  });

  afterAll(async () => {
    await host?.stop();
    await Promise.all([teams?.stop(), slack?.stop()]);
  });

  it('registers on the notify-teams subscription and posts the card a published event asks for', async () => {
    expect(bus.bindings.map((b) => [b.functionName, b.subscription])).toEqual([
      ['notifyTeams', SUBSCRIPTIONS.notifyTeams],
    ]);
    const runId = `run-host-${suffix}-1`;
    await runIndex.upsert({ ...runRecord({ runId, team }) });
    const registered = event('registered', runId);
    await localEventPublisher().publish(registered);
    await bus.drain();
    expect(teams.received).toHaveLength(1);
    const card = teamsWorkflowMessageSchema.parse(teams.received[0]?.body);
    expect(card.attachments[0]?.content.actions?.map((a) => a.url)).toContain(
      `http://127.0.0.1:7071/api/runs/${runId}`,
    );
    expect(slack.received).toHaveLength(1);
    expect(await activeStandIn().peek(SUBSCRIPTIONS.notifyTeams)).toEqual([]);
    expect(logs.some((l) => l.includes('sent to "') && l.includes(registered.id))).toBe(true);
  });

  it('a channel that stays down: a scheduled retry, then the bus redelivers (skipping the channel that got it) and dead-letters', async () => {
    const runId = `run-host-${suffix}-2`;
    await runIndex.upsert({ ...runRecord({ runId, team }) });
    teams.received.length = 0;
    slack.received.length = 0;
    slack.answer({ status: 500, body: '' });
    const failed = event('failed', runId);
    await localEventPublisher().publish(failed);
    await bus.drain();
    expect(teams.received).toHaveLength(1);
    expect(slack.received).toHaveLength(1);
    expect(await activeStandIn().peekDeadLetters(SUBSCRIPTIONS.notifyTeams)).toEqual([]);
    const [retry] = await activeStandIn().peek(SUBSCRIPTIONS.notifyTeams);
    expect(retry).toMatchObject({ messageId: `${failed.id}:notify:2` });
    expect(retry?.enqueuedTimeUtc.getTime()).toBeGreaterThan(Date.now());

    await new Promise((resolve) => setTimeout(resolve, 1100));
    await bus.drain();
    const max = activeStandIn().subscription(SUBSCRIPTIONS.notifyTeams).maxDeliveryCount;
    expect(teams.received).toHaveLength(1);
    expect(slack.received).toHaveLength(1 + max);
    const dead = await activeStandIn().peekDeadLetters(SUBSCRIPTIONS.notifyTeams);
    expect(dead.map((m) => [m.messageId, m.deadLetterReason])).toEqual([
      [`${failed.id}:notify:2`, MAX_DELIVERY_COUNT_EXCEEDED],
    ]);
    expect(await log.get(failed.id, 'alerts')).toMatchObject({
      status: 'failed',
      attempts: 1 + max,
      lastError: 'http_500',
    });
    expect(logs.join('\n')).not.toContain('slack-secret');
  });
});
