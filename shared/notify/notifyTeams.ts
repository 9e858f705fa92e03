import { z } from 'zod';
import { parseEvent, type TunedropEvent } from '../events';
import type { TopicScheduler } from '../events/scheduler';
import type { OutboundPost, OutboundResult } from '../net/contracts';
import type { TeamConfigStore } from '../pipeline/ports';
import type { TeamChannel } from '../pipeline/teams';
import { loadTeamConfig } from '../pipeline/teams';
import type { RunIndex, RunRecord } from '../registry/runIndex';
import type { NotificationLog } from './deliveryLog';
import {
  decodeRunNotify,
  describeEvent,
  isQuietByDefault,
  type Notice,
  type NoticeLinks,
  NotificationError,
  selectChannels,
} from './notice';
import { renderSlackMessage, slackMessageSchema } from './slack';
import { renderTeamsMessage, teamsWorkflowMessageSchema } from './teams';

export interface NotifyDeps {
  /** The config container (`teams/{team}.json`). */
  config: TeamConfigStore;
  runIndex: Pick<RunIndex, 'get'>;
  log: NotificationLog;
  /** Outbound HTTP (shared/net safePost in the app; any OutboundPost in tests). */
  post: OutboundPost;
  links: NoticeLinks;
  now?: () => Date;
  /**
   * The bus redelivers an abandoned message at once, so ten quick 429s would dead-letter it within
   * a second: on 429 (Slack allows about one message per second per webhook) pause this long and
   * try once more before failing the channel. Default 1000 ms.
   */
  rateLimitPauseMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** One line per channel outcome; names channels, never their URLs. */
  trace?: (line: string) => void;
  /**
   * Retry with backoff: when channels fail, the event comes back as a scheduled message after
   * `delaysSeconds[attempt]` (the bus alone would redeliver at once, so a channel down for a minute
   * would be dead-lettered). Without it, or once the delays run out, a failure throws and the bus
   * retries, then dead-letters.
   */
  retry?: { scheduler: TopicScheduler; delaysSeconds: readonly number[] };
}

/** Attempt 1 at once, then after 30 s, 2 min, 10 min, 30 min, 1 h (≈ 1 h 43 min in all); then the bus. */
export const DEFAULT_NOTIFY_RETRY_SECONDS: readonly number[] = [0, 30, 120, 600, 1800, 3600];

/** Routes a scheduled retry to the notify-teams subscription only (topology.json). */
export const NOTIFY_RETRY_CONTENT_TYPE = 'application/vnd.tunedrop.notify-retry+json';

const notifyRetrySchema = z
  .object({ kind: z.literal('notify-retry'), attempt: z.number().int().min(2), event: z.unknown() })
  .strict();

export interface NotifyOutcome {
  eventId: string;
  eventType: TunedropEvent['type'];
  runId: string;
  team: string;
  /** Channels posted to by this invocation. */
  sent: string[];
  /** Channels an earlier delivery of the same event already reached (skipped). */
  alreadySent: string[];
  /** Set when there was nothing to do, and why. */
  nothingToDo?: 'team_not_configured' | 'no_channel_wants_it';
  /** Channels failed and the event is scheduled to come back. */
  retryScheduled?: { attempt: number; at: string; channels: string[] };
}

type ChannelResult = { channel: string; result: 'sent' | 'already_sent' } | { channel: string; error: string };

/**
 * Handle one notify-teams message: pick the channels that want this event, post a Teams card or a
 * Slack message to each, and remember per (event id, channel) what was sent. When channels fail,
 * after trying all of them: schedule the event to come back (deps.retry, with backoff), or — once
 * the delays are used up — throw, so the bus redelivers (up to maxDeliveryCount, then the
 * dead-letter queue). Every later attempt posts only to the channels that did not get it yet.
 */
export async function deliverNotifications(deps: NotifyDeps, message: unknown): Promise<NotifyOutcome> {
  const { event, attempt } = parseNotifyMessage(message);
  const base = { eventId: event.id, eventType: event.type, runId: event.subject, team: event.team };
  const run = await deps.runIndex.get(event.subject);
  const channels = await teamChannels(deps.config, event.team);
  if (!channels) {
    deps.trace?.(`notify: team "${event.team}" has no configuration; nobody to tell about ${event.type}`);
    return { ...base, sent: [], alreadySent: [], nothingToDo: 'team_not_configured' };
  }
  const wanted = selectChannels(
    channels,
    decodeRunNotify(event.subject, run?.notify),
    event.type,
    isQuietByDefault(event),
  );
  if (!wanted.length) return { ...base, sent: [], alreadySent: [], nothingToDo: 'no_channel_wants_it' };

  const notice = describeEvent(event, run, deps.links);
  const results = await Promise.all(wanted.map((channel) => deliverToChannel(deps, event, run, notice, channel)));
  const failed = results.filter((r): r is { channel: string; error: string } => 'error' in r);
  const done = results.filter((r): r is { channel: string; result: 'sent' | 'already_sent' } => 'result' in r);
  const sent = done.filter((r) => r.result === 'sent').map((r) => r.channel);
  const alreadySent = done.filter((r) => r.result === 'already_sent').map((r) => r.channel);
  const delay = deps.retry?.delaysSeconds[attempt];
  if (failed.length && deps.retry && delay !== undefined) {
    const at = new Date((deps.now?.() ?? new Date()).getTime() + delay * 1000);
    const next = attempt + 1;
    // Scheduling failing throws: the bus redelivers this message, and the receipts skip what was sent.
    await deps.retry.scheduler.schedule(
      {
        messageId: `${event.id}:notify:${next}`,
        contentType: NOTIFY_RETRY_CONTENT_TYPE,
        subject: event.subject,
        body: { kind: 'notify-retry', attempt: next, event },
      },
      at,
    );
    const channels = failed.map((f) => f.channel);
    deps.trace?.(
      `notify: ${event.type} ${event.id} retries ${channels.map((c) => `"${c}"`).join(', ')} at ${at.toISOString()} (attempt ${next})`,
    );
    return { ...base, sent, alreadySent, retryScheduled: { attempt: next, at: at.toISOString(), channels } };
  }
  if (failed.length) {
    throw new NotificationError(
      'delivery_failed',
      `${event.type} ${event.id} (run ${event.subject}) did not reach ${failed
        .map((f) => `"${f.channel}" (${f.error})`)
        .join(', ')}; the message will be retried`,
      failed.map((f) => f.channel),
    );
  }
  return { ...base, sent, alreadySent };
}

/** A notify-teams message: an event from the topic, or a scheduled retry carrying one. */
function parseNotifyMessage(message: unknown): { event: TunedropEvent; attempt: number } {
  let value = message;
  if (typeof message === 'string' || Buffer.isBuffer(message)) {
    try {
      value = JSON.parse(message.toString());
    } catch {
      return { event: parseEvent(message), attempt: 1 };
    }
  }
  const retry = notifyRetrySchema.safeParse(value);
  if (retry.success) return { event: parseEvent(retry.data.event), attempt: retry.data.attempt };
  return { event: parseEvent(value), attempt: 1 };
}

async function deliverToChannel(
  deps: NotifyDeps,
  event: TunedropEvent,
  run: RunRecord | undefined,
  notice: Notice,
  channel: TeamChannel,
): Promise<ChannelResult> {
  const previous = await deps.log.get(event.id, channel.name);
  if (previous?.status === 'sent') {
    deps.trace?.(`notify: "${channel.name}" already has ${event.type} ${event.id}`);
    return { channel: channel.name, result: 'already_sent' };
  }
  const now = () => (deps.now?.() ?? new Date()).toISOString();
  const record = {
    eventId: event.id,
    channel: channel.name,
    kind: channel.kind,
    eventType: event.type,
    runId: event.subject,
    team: run?.team ?? event.team,
    attempts: (previous?.attempts ?? 0) + 1,
  };
  const body = renderFor(channel.kind, notice);
  const outcome = body.ok ? describeResult(await postWithPause(deps, channel.url, body.json)) : { error: body.error };
  if ('error' in outcome) {
    await deps.log.record({
      ...record,
      status: 'failed',
      httpStatus: outcome.httpStatus,
      lastError: outcome.error,
      updatedAt: now(),
    });
    deps.trace?.(`notify: "${channel.name}" (${channel.kind}) failed: ${outcome.error}`);
    return { channel: channel.name, error: outcome.error };
  }
  const at = now();
  await deps.log.record({ ...record, status: 'sent', httpStatus: outcome.httpStatus, sentAt: at, updatedAt: at });
  deps.trace?.(`notify: "${channel.name}" (${channel.kind}) got ${event.type} (HTTP ${outcome.httpStatus})`);
  return { channel: channel.name, result: 'sent' };
}

function renderFor(
  kind: TeamChannel['kind'],
  notice: Notice,
): { ok: true; json: string } | { ok: false; error: string } {
  const parsed =
    kind === 'teams'
      ? teamsWorkflowMessageSchema.safeParse(renderTeamsMessage(notice))
      : slackMessageSchema.safeParse(renderSlackMessage(notice));
  if (!parsed.success)
    return { ok: false, error: `invalid_${kind}_message at ${parsed.error.issues[0]?.path.join('.')}` };
  return { ok: true, json: JSON.stringify(parsed.data) };
}

async function postWithPause(deps: NotifyDeps, url: string, body: string): Promise<OutboundResult> {
  const first = await safely(deps.post, url, body);
  if ('failure' in first || first.status !== 429) return first;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  await sleep(deps.rateLimitPauseMs ?? 1000);
  return safely(deps.post, url, body);
}

async function safely(post: OutboundPost, url: string, body: string): Promise<OutboundResult> {
  try {
    return await post(url, body, { 'content-type': 'application/json' });
  } catch (err) {
    // A post implementation that throws instead of returning a failure: keep its message out (it may hold the URL).
    return { ok: false, failure: 'connection_error', message: (err as Error).name };
  }
}

/**
 * 2xx is delivered (Teams Workflows answers 202, Slack 200 `ok`). Anything else is an error code
 * for logs and the table: `http_429`, `http_404 no_service` (Slack's error words are safe to
 * show; other bodies are not echoed), or the outbound failure (`response_timeout`…).
 */
function describeResult(result: OutboundResult): { httpStatus: number } | { error: string; httpStatus?: number } {
  if ('failure' in result) return { error: result.failure };
  if (result.ok && result.status >= 200 && result.status < 300) return { httpStatus: result.status };
  const word = result.body.trim();
  const slackCode = /^[a-z_]{2,64}$/.test(word) && word !== 'ok' ? ` ${word}` : '';
  return { error: `http_${result.status}${slackCode}`, httpStatus: result.status };
}

/** The team's channels, or undefined when the team has no configuration file. */
async function teamChannels(config: TeamConfigStore, team: string): Promise<TeamChannel[] | undefined> {
  const loaded = await loadTeamConfig(config, team);
  if (loaded.ok) return loaded.config.channels;
  if (loaded.missing) return undefined;
  throw new NotificationError('team_config_invalid', loaded.problem.message);
}
