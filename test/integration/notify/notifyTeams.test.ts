import { randomBytes } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { BlobTeamConfigStore } from '../../../shared/adapters/azureStorage';
import { createEvent, EventError, type TunedropEvent } from '../../../shared/events';
import type { ScheduledTopicMessage } from '../../../shared/events/scheduler';
import type { OutboundPost } from '../../../shared/net/contracts';
import { safePost } from '../../../shared/net/outbound';
import {
  deliverNotifications,
  NOTIFY_RETRY_CONTENT_TYPE,
  NotificationError,
  NotificationLog,
  type NotifyDeps,
  slackMessageSchema,
  teamsWorkflowMessageSchema,
} from '../../../shared/notify';
import { RunIndex } from '../../../shared/registry/runIndex';
import { EVENTS, runRecord } from '../../unit/notify/events';
import { WebhookReceiver } from './receivers';

const SECRET = `sig${randomBytes(8).toString('hex')}`;
const suffix = randomBytes(3).toString('hex');

/** Real outbound path: the SSRF-safe post, loopback http allowed as in local mode, short timeout. */
const post: OutboundPost = (url, body, headers, policy) =>
  safePost(url, body, headers, { ...policy, allowLoopbackHttp: true, responseTimeoutMs: 300 });

/** The same event for a fresh run id, so each test has its own (event id, channel) rows. */
function forRun<T extends TunedropEvent>(event: T, runId: string): TunedropEvent {
  return createEvent(event.type, {
    subject: runId,
    team: event.team,
    model: event.model,
    time: event.time,
    data: { ...event.data, runId } as never,
  });
}

describe('notify-teams handler on Azurite with real HTTP receivers', () => {
  let teams: WebhookReceiver;
  let slack: WebhookReceiver;
  let config: ContainerClient;
  let runIndex: RunIndex;
  let log: NotificationLog;
  let traces: string[];
  let pauses: number[];
  let deps: NotifyDeps;
  let runCounter = 0;

  const writeTeam = async (team: string, body: unknown) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    await config.getBlockBlobClient(`teams/${team}.json`).upload(text, Buffer.byteLength(text));
  };
  const newRun = async (notify?: string[]) => {
    const runId = `run-notify-${suffix}-${++runCounter}`;
    await runIndex.upsert(runRecord({ runId, notify: notify ? JSON.stringify(notify) : undefined }));
    return runId;
  };

  beforeAll(async () => {
    const connectionString = inject('azurite').connectionString;
    [teams, slack] = await Promise.all([WebhookReceiver.start('teams'), WebhookReceiver.start('slack')]);
    config = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(`notify-cfg-${suffix}`);
    await config.createIfNotExists();
    const table = (name: string) =>
      TableClient.fromConnectionString(connectionString, name, { allowInsecureConnection: true });
    runIndex = new RunIndex(table(`notifyRuns${suffix}`));
    await runIndex.ensure();
    log = new NotificationLog(table(`notifyLog${suffix}`));
    await writeTeam('support', {
      team: 'support',
      allowedModels: ['*'],
      allowedRegisterTo: ['ml.support'],
      channels: [
        { name: 'support-ml', kind: 'teams', url: teams.url(SECRET) },
        {
          name: 'support-alerts',
          kind: 'slack',
          url: slack.url(SECRET),
          events: ['tunedrop.run.submitted', 'tunedrop.run.failed', 'tunedrop.model.registered'],
        },
        {
          name: 'support-leads',
          kind: 'teams',
          url: teams.url(`${SECRET}-leads`),
          events: ['tunedrop.model.registered', 'tunedrop.run.failed'],
        },
      ],
    });
  });

  afterAll(async () => {
    await Promise.all([teams?.stop(), slack?.stop()]);
  });

  beforeEach(() => {
    teams.received.length = 0;
    slack.received.length = 0;
    teams.answer('default');
    slack.answer('default');
    traces = [];
    deps = {
      config: new BlobTeamConfigStore(config),
      runIndex,
      log,
      post,
      links: { publicBaseUrl: 'https://tunedrop.example.com' },
      trace: (line) => traces.push(line),
      sleep: async (ms) => {
        pauses.push(ms);
      },
    };
    pauses = [];
  });

  it('posts a Teams card and a Slack message to the channels the run uses and that want the event', async () => {
    const runId = await newRun(['support-ml', 'support-alerts']); // support-leads narrowed out by the manifest
    const event = forRun(EVENTS.registered, runId);
    const outcome = await deliverNotifications(deps, JSON.stringify(event));

    expect(outcome.sent.sort()).toEqual(['support-alerts', 'support-ml']);
    expect(teams.received).toHaveLength(1);
    expect(slack.received).toHaveLength(1);
    const card = teamsWorkflowMessageSchema.parse(teams.received[0]?.body);
    expect(teams.received[0]?.path).toContain(`/workflows/${SECRET}/`);
    expect(teams.received[0]?.contentType).toBe('application/json');
    expect(JSON.stringify(card)).toContain('ml.support.support_bot');
    expect(card.attachments[0]?.content.actions?.map((a) => a.url)).toContain(
      `https://tunedrop.example.com/api/runs/${runId}`,
    );
    const message = slackMessageSchema.parse(slack.received[0]?.body);
    expect(message.text).toBe('✅ Model registered: support/support-bot → ml.support.support_bot v3');

    const rows = await log.forEvent(event.id);
    expect(rows.map((r) => [r.channel, r.status, r.httpStatus, r.attempts]).sort()).toEqual([
      ['support-alerts', 'sent', 200, 1],
      ['support-ml', 'sent', 202, 1],
    ]);
  });

  it('filters per channel: run.submitted reaches only the channel that asked for it; run.completed nobody (defaults)', async () => {
    const runId = await newRun();
    const submitted = await deliverNotifications(deps, forRun(EVENTS.submitted, runId));
    expect(submitted.sent).toEqual(['support-alerts']);
    expect(teams.received).toHaveLength(0);
    const completed = await deliverNotifications(deps, forRun(EVENTS.completed, runId));
    expect(completed).toMatchObject({ sent: [], nothingToDo: 'no_channel_wants_it' });
    expect(slack.received).toHaveLength(1);
  });

  it('a failing channel makes the handler throw; the retry skips channels that got it and reaches the recovered one', async () => {
    const runId = await newRun();
    const event = forRun(EVENTS.failed, runId); // wanted by all three channels
    slack.answer({ status: 503, body: 'service_unavailable' });

    const first = await deliverNotifications(deps, event).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(NotificationError);
    expect(first).toMatchObject({ code: 'delivery_failed', channels: ['support-alerts'] });
    expect((first as Error).message).toContain('"support-alerts" (http_503 service_unavailable)');
    expect(teams.delivered()).toHaveLength(2);

    slack.answer({ status: 429, body: 'rate_limited' });
    await expect(deliverNotifications(deps, event)).rejects.toThrow(/"support-alerts" \(http_429 rate_limited\)/);
    expect(teams.received).toHaveLength(2); // not re-posted
    expect(slack.received).toHaveLength(3); // the 429 was tried twice, a pause apart
    expect(pauses).toEqual([1000]);
    expect((await log.get(event.id, 'support-alerts'))?.attempts).toBe(2);

    slack.answer('default');
    const third = await deliverNotifications(deps, event);
    expect(third.sent).toEqual(['support-alerts']);
    expect(third.alreadySent.sort()).toEqual(['support-leads', 'support-ml']);
    expect(teams.received).toHaveLength(2);
    expect(slack.delivered()).toHaveLength(1);
    expect(slack.received).toHaveLength(4);
    expect(await log.get(event.id, 'support-alerts')).toMatchObject({ status: 'sent', attempts: 3, httpStatus: 200 });

    // A fourth delivery (duplicate after the bus's detection window) posts nothing at all.
    const fourth = await deliverNotifications(deps, event);
    expect(fourth.sent).toEqual([]);
    expect(slack.received).toHaveLength(4);
  });

  it('with a retry schedule, a failing channel comes back later as a scheduled message, not at once; the last attempt throws', async () => {
    const runId = await newRun();
    const event = forRun(EVENTS.failed, runId);
    const scheduled: { message: ScheduledTopicMessage; at: Date }[] = [];
    const now = new Date('2026-11-27T12:00:00Z');
    const withRetry: NotifyDeps = {
      ...deps,
      now: () => now,
      retry: {
        scheduler: { schedule: async (message, at) => void scheduled.push({ message, at }) },
        delaysSeconds: [0, 30, 120],
      },
    };
    slack.answer({ status: 503, body: 'service_unavailable' });

    const first = await deliverNotifications(withRetry, event);
    expect(first.sent.sort()).toEqual(['support-leads', 'support-ml']);
    expect(first.retryScheduled).toEqual({ attempt: 2, at: '2026-11-27T12:00:30.000Z', channels: ['support-alerts'] });
    expect(scheduled).toHaveLength(1);
    expect(scheduled[0]?.message).toMatchObject({
      messageId: `${event.id}:notify:2`,
      contentType: NOTIFY_RETRY_CONTENT_TYPE,
      subject: runId,
    });

    // The retry arrives as the bus delivers it: JSON text of the scheduled body. Still down: attempt 3 in 120 s.
    const second = await deliverNotifications(withRetry, JSON.stringify(scheduled[0]?.message.body));
    expect(second).toMatchObject({ sent: [], retryScheduled: { attempt: 3, at: '2026-11-27T12:02:00.000Z' } });
    expect(second.alreadySent.sort()).toEqual(['support-leads', 'support-ml']);
    // Attempt 3 is the last one the schedule has: failing again throws (the bus takes over, then dead-letters).
    await expect(deliverNotifications(withRetry, scheduled[1]?.message.body)).rejects.toMatchObject({
      code: 'delivery_failed',
      channels: ['support-alerts'],
    });
    slack.answer('default');
    const recovered = await deliverNotifications(withRetry, scheduled[1]?.message.body);
    expect(recovered.sent).toEqual(['support-alerts']);
    expect(teams.delivered()).toHaveLength(2);
    expect(slack.delivered()).toHaveLength(1);
  });

  it('one 429 is waited out inside the invocation (the bus would redeliver at once)', async () => {
    const runId = await newRun(['support-alerts']);
    slack.answerNext({ status: 429, body: 'rate_limited' });
    const outcome = await deliverNotifications(deps, forRun(EVENTS.failed, runId));
    expect(outcome.sent).toEqual(['support-alerts']);
    expect(pauses).toEqual([1000]);
    expect(slack.received).toHaveLength(2);
  });

  it('a receiver that never answers is a response_timeout, and no error or log line carries the webhook URL', async () => {
    const runId = await newRun(['support-ml']);
    teams.answer('hang');
    const error = await deliverNotifications(deps, forRun(EVENTS.cancelled, runId)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'delivery_failed', channels: ['support-ml'] });
    expect((error as Error).message).toContain('response_timeout');
    for (const text of [(error as Error).message, ...traces]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain('127.0.0.1');
    }
    const row = await log.get(forRun(EVENTS.cancelled, runId).id, 'support-ml');
    expect(JSON.stringify(row)).not.toContain(SECRET);
  });

  it('a rejected drop reaches the team; a team without configuration is nothing to do; a broken one is an error', async () => {
    const runId = await newRun(['pager']); // the unknown channel that got the drop rejected
    const rejected = await deliverNotifications(deps, forRun(EVENTS.rejected, runId));
    expect(rejected.sent).toEqual(['support-ml']);
    const card = teamsWorkflowMessageSchema.parse(teams.received[0]?.body);
    expect(JSON.stringify(card)).toContain('invalid_json (3×)');

    const stranger = createEvent('tunedrop.run.failed', {
      ...EVENTS.failed,
      team: `nobody-${suffix}`,
      data: { ...EVENTS.failed.data, team: `nobody-${suffix}` },
    });
    expect(await deliverNotifications(deps, stranger)).toMatchObject({ nothingToDo: 'team_not_configured' });

    await writeTeam(`broken-${suffix}`, '{"team": "broken", "channels": "nope"}');
    const broken = createEvent('tunedrop.run.failed', {
      ...EVENTS.failed,
      team: `broken-${suffix}`,
      data: { ...EVENTS.failed.data, team: `broken-${suffix}` },
    });
    await expect(deliverNotifications(deps, broken)).rejects.toMatchObject({ code: 'team_config_invalid' });
  });

  it('a message that is not a tunedrop event is a coded error (the bus retries, then dead-letters it)', async () => {
    await expect(deliverNotifications(deps, '{"hello":')).rejects.toBeInstanceOf(EventError);
    await expect(deliverNotifications(deps, { specversion: '1.0', type: 'x' })).rejects.toMatchObject({
      code: 'unknown_event_type',
    });
  });
});
