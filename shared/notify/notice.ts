import { z } from 'zod';
import { AFTER_EVALUATION_ADVICE } from '../catalog';
import type { EventType, TunedropEvent } from '../events';
import type { TeamChannel } from '../pipeline/teams';
import type { RunRecord } from '../registry/runIndex';

const PROVIDER_NAMES: Record<string, string> = {
  databricks: 'Databricks',
  'azure-openai': 'Azure OpenAI',
};

/**
 * What a channel hears when its configuration has no `events` list: the outcomes a person acts
 * on. Not run.submitted or status changes (noise), and not run.completed: model.registered follows
 * it within seconds with everything run.completed says plus the registered version.
 */
export const DEFAULT_CHANNEL_EVENTS: readonly EventType[] = [
  'tunedrop.dataset.rejected',
  'tunedrop.run.failed',
  'tunedrop.run.cancelled',
  'tunedrop.run.timed_out',
  'tunedrop.model.registered',
  'tunedrop.catalog.changed',
];

/**
 * Whether a channel wants an event. A catalog change reaches a channel without an `events` list
 * only when a model the team was allowed disappeared (`quiet` is false); listing the type explicitly
 * gets every change.
 */
export function channelWants(channel: Pick<TeamChannel, 'events'>, type: EventType, quiet = false): boolean {
  if (!channel.events) return !quiet && DEFAULT_CHANNEL_EVENTS.includes(type);
  return channel.events.includes(type);
}

/** Events a channel hears by default only when they concern the team (see channelWants). */
export function isQuietByDefault(event: TunedropEvent): boolean {
  return event.type === 'tunedrop.catalog.changed' && event.data.allowedModelsRemoved.length === 0;
}

const runNotifySchema = z.array(z.string().min(1));

export class NotificationError extends Error {
  constructor(
    readonly code: 'team_config_invalid' | 'corrupt_run_record' | 'delivery_failed',
    message: string,
    /** Channel names (never URLs) the error is about. */
    readonly channels: string[] = [],
  ) {
    super(`${code}: ${message}`);
    this.name = 'NotificationError';
  }
}

/** The run record's `notify` (a JSON array of channel names: Azure Tables hold no arrays). */
export function decodeRunNotify(runId: string, value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    json = undefined;
  }
  const parsed = runNotifySchema.safeParse(json);
  if (!parsed.success) {
    throw new NotificationError('corrupt_run_record', `run ${runId}: "notify" is not a JSON array of channel names`);
  }
  return parsed.data;
}

/**
 * The channels an event goes to: the team's channels, narrowed by the manifest's `notify` list when
 * it had one, then each channel's event filter. A rejection whose `notify` names no configured
 * channel at all (the typo that got the drop rejected) goes to every channel that wants rejections:
 * the people who dropped the data must hear why it went nowhere.
 */
export function selectChannels(
  channels: readonly TeamChannel[],
  runNotify: readonly string[] | undefined,
  type: EventType,
  quiet = false,
): TeamChannel[] {
  let chosen = [...channels];
  if (runNotify) {
    const narrowed = channels.filter((c) => runNotify.includes(c.name));
    const typoRejection = type === 'tunedrop.dataset.rejected' && runNotify.length > 0 && narrowed.length === 0;
    if (!typoRejection) chosen = narrowed;
  }
  return chosen.filter((c) => channelWants(c, type, quiet));
}

export type Outcome = 'success' | 'failure' | 'warning' | 'info';

export interface NoticeLink {
  label: string;
  url: string;
}

/** One event as people read it; the Teams and Slack renderers draw the same facts. */
export interface Notice {
  eventId: string;
  eventType: EventType;
  runId: string;
  title: string;
  outcome: Outcome;
  /** Normalised status word: completed, failed, rejected, registered… */
  status: string;
  team: string;
  dataset: string;
  baseModel?: string;
  registered?: { model: string; version: string; alias?: string };
  /** Run created → this event (terminal events only). */
  durationMs?: number;
  /** Why it failed / was rejected / was cancelled; plain text, one line each. */
  reasons: string[];
  /** Label/value rows, in display order. Values are raw user data: renderers escape them. */
  facts: { label: string; value: string }[];
  links: NoticeLink[];
  /** The page's after-evaluation advice (run.completed, model.registered): what to try next. */
  advice?: string;
  time: string;
}

export interface NoticeLinks {
  /** TUNEDROP_PUBLIC_BASE_URL: run links are `${base}/api/runs/{runId}`. */
  publicBaseUrl?: string;
  /** Databricks workspace URL: MLflow experiment/run and Unity Catalog model links. */
  databricksHost?: string;
}

const MAX_REASONS = 5;
const MAX_REASON_CHARS = 300;

const PRESENTATION: Record<EventType, { title: string; outcome: Outcome; status: string }> = {
  'tunedrop.dataset.validated': { title: 'Dataset validated', outcome: 'info', status: 'validated' },
  'tunedrop.dataset.rejected': { title: 'Dataset rejected', outcome: 'failure', status: 'rejected' },
  'tunedrop.run.submitted': { title: 'Training run submitted', outcome: 'info', status: 'submitted' },
  'tunedrop.run.status_changed': { title: 'Training run status changed', outcome: 'info', status: 'running' },
  'tunedrop.run.completed': { title: 'Training run completed', outcome: 'success', status: 'completed' },
  'tunedrop.run.failed': { title: 'Training run failed', outcome: 'failure', status: 'failed' },
  'tunedrop.run.cancelled': { title: 'Training run cancelled', outcome: 'warning', status: 'cancelled' },
  'tunedrop.run.timed_out': { title: 'Training run timed out', outcome: 'failure', status: 'timed out' },
  'tunedrop.model.registered': { title: 'Model registered', outcome: 'success', status: 'registered' },
  'tunedrop.catalog.changed': { title: 'Model catalog changed', outcome: 'info', status: 'catalog changed' },
  // Not delivered to channels (team configurations cannot list it; notify-teams does not receive it).
  'tunedrop.dataset.validation.progress': { title: 'Dataset validating', outcome: 'info', status: 'validating' },
};

const DURATION_TYPES: ReadonlySet<EventType> = new Set<EventType>([
  'tunedrop.dataset.rejected',
  'tunedrop.run.completed',
  'tunedrop.run.failed',
  'tunedrop.run.cancelled',
  'tunedrop.run.timed_out',
  'tunedrop.model.registered',
]);

/** A trained model is there to evaluate: the page's advice on what to do after evaluating it goes along. */
const ADVICE_TYPES: ReadonlySet<EventType> = new Set<EventType>([
  'tunedrop.run.completed',
  'tunedrop.model.registered',
]);

/** Build the notice for an event (pure). `run` is the run index record, when there is one. */
export function describeEvent(event: TunedropEvent, run: RunRecord | undefined, links: NoticeLinks = {}): Notice {
  const presentation =
    event.type === 'tunedrop.catalog.changed' && event.data.allowedModelsRemoved.length
      ? { ...PRESENTATION[event.type], outcome: 'warning' as const }
      : PRESENTATION[event.type];
  const data = event.data as Record<string, unknown>;
  const str = (key: string): string | undefined => (typeof data[key] === 'string' ? (data[key] as string) : undefined);
  // Intake records 'unknown' when a rejected manifest named no model.
  const baseModel = str('model') ?? event.model ?? (run?.model === 'unknown' ? undefined : run?.model);
  const team = str('team') ?? event.team;
  const dataset = str('dataset') ?? run?.dataset ?? '';
  let status = presentation.status;
  let title = presentation.title;
  const reasons: string[] = [];
  let registered: Notice['registered'];
  let provider: string | undefined;
  let deployment: { name: string; sku: string; capacity: number } | undefined;
  let mlflow: { experimentId?: string; runId?: string } = {
    experimentId: run?.mlflowExperimentId,
    runId: run?.mlflowRunId,
  };
  let reportUrl = run?.reportUrl ? markdownReport(run.reportUrl) : undefined;
  let endTime = event.time;

  switch (event.type) {
    case 'tunedrop.dataset.rejected': {
      reportUrl = event.data.reports.markdown;
      const firstMessage = new Map<string, string>();
      for (const e of event.data.errorSummary.firstErrors) {
        if (e.message && !firstMessage.has(e.code)) firstMessage.set(e.code, e.message);
      }
      for (const [code, count] of Object.entries(event.data.errorSummary.errorCounts)) {
        const message = firstMessage.get(code);
        reasons.push(`${code} (${count}×)${message ? `: ${message}` : ''}`);
      }
      break;
    }
    case 'tunedrop.dataset.validated':
      reportUrl = event.data.reports.markdown;
      break;
    case 'tunedrop.run.status_changed':
      status = event.data.status;
      title = `Training run ${event.data.status}`;
      break;
    case 'tunedrop.run.completed':
      endTime = event.data.endedAt ?? event.time;
      if (event.data.registeredModel && event.data.registeredVersion) {
        registered = { model: event.data.registeredModel, version: event.data.registeredVersion };
      }
      mlflow = { experimentId: event.data.mlflowExperimentId ?? mlflow.experimentId, runId: event.data.mlflowRunId };
      break;
    case 'tunedrop.run.failed':
      endTime = event.data.endedAt ?? event.time;
      reasons.push(event.data.reason);
      break;
    case 'tunedrop.run.cancelled':
      endTime = event.data.endedAt ?? event.time;
      if (event.data.reason) reasons.push(event.data.reason);
      break;
    case 'tunedrop.run.timed_out':
      endTime = event.data.endedAt ?? event.time;
      reasons.push(event.data.reason ?? `The run passed its deadline (${event.data.deadline}) and was cancelled.`);
      break;
    case 'tunedrop.model.registered':
      registered = { model: event.data.modelFullName, version: event.data.version, alias: event.data.alias };
      provider = event.data.provider;
      deployment = event.data.deployment;
      mlflow = {
        experimentId: event.data.lineage.mlflowExperimentId ?? mlflow.experimentId,
        runId: event.data.lineage.mlflowRunId ?? mlflow.runId,
      };
      break;
    case 'tunedrop.run.submitted':
      break;
    case 'tunedrop.catalog.changed': {
      const d = event.data;
      if (d.allowedModelsRemoved.length) {
        title = 'A model your team may train was removed';
        reasons.push(
          `${d.allowedModelsRemoved.join(', ')} ${d.allowedModelsRemoved.length === 1 ? 'is' : 'are'} no longer offered by ${d.provider} (refreshed ${d.refreshedAt}); drops naming ${d.allowedModelsRemoved.length === 1 ? 'it' : 'them'} are refused with model_not_supported.`,
        );
      }
      if (d.removed.length) reasons.push(`Removed: ${d.removed.join(', ')}`);
      if (d.added.length) reasons.push(`Added: ${d.added.join(', ')}`);
      for (const c of d.contextLengthChanged) reasons.push(`${c.model}: context length ${c.from} → ${c.to}`);
      break;
    }
  }
  provider ??= run?.provider;
  if (!registered && run?.registeredModel && run.registeredVersion && event.type === 'tunedrop.run.completed') {
    registered = { model: run.registeredModel, version: run.registeredVersion, alias: run.modelAlias };
  }

  const durationMs = DURATION_TYPES.has(event.type) && run?.createdAt ? elapsedMs(run.createdAt, endTime) : undefined;
  const shownReasons = reasons.slice(0, MAX_REASONS).map((r) => clip(r.replace(/\s+/g, ' ').trim(), MAX_REASON_CHARS));
  if (reasons.length > MAX_REASONS) shownReasons.push(`…and ${reasons.length - MAX_REASONS} more`);

  const facts: Notice['facts'] = [
    { label: 'Status', value: status },
    { label: 'Team', value: team },
    { label: 'Dataset', value: dataset },
  ];
  if (baseModel) facts.push({ label: 'Base model', value: baseModel });
  if (provider) facts.push({ label: 'Provider', value: PROVIDER_NAMES[provider] ?? provider });
  if (registered && provider === 'azure-openai') {
    facts.push({ label: 'Fine-tuned model', value: registered.model });
    facts.push({
      label: 'Deployment',
      value: deployment ? `${deployment.name} (${deployment.sku}, capacity ${deployment.capacity})` : 'not deployed',
    });
  } else if (registered) {
    facts.push({ label: 'Registered model', value: registered.model });
    facts.push({
      label: 'Version',
      value: registered.alias ? `${registered.version} (@${registered.alias})` : registered.version,
    });
  }
  if (durationMs !== undefined) facts.push({ label: 'Duration', value: formatDuration(durationMs) });
  const providerRun = str('providerRunName') ?? run?.providerRunName;
  if (providerRun) facts.push({ label: 'Provider run', value: providerRun });

  return {
    eventId: event.id,
    eventType: event.type,
    runId: event.subject,
    title,
    outcome: presentation.outcome,
    status,
    team,
    dataset,
    baseModel,
    registered,
    durationMs,
    reasons: shownReasons,
    facts,
    links: buildLinks({ runId: event.subject, reportUrl, mlflow, registered, links }),
    ...(ADVICE_TYPES.has(event.type) ? { advice: AFTER_EVALUATION_ADVICE } : {}),
    time: event.time,
  };
}

function buildLinks(input: {
  runId: string;
  reportUrl?: string;
  mlflow: { experimentId?: string; runId?: string };
  registered?: { model: string; version: string };
  links: NoticeLinks;
}): NoticeLink[] {
  const out: NoticeLink[] = [];
  if (input.reportUrl) out.push({ label: 'Validation report', url: input.reportUrl });
  const base = input.links.publicBaseUrl?.replace(/\/+$/, '');
  if (base) out.push({ label: 'Run details', url: `${base}/api/runs/${encodeURIComponent(input.runId)}` });
  const host = input.links.databricksHost?.replace(/\/+$/, '');
  if (host && input.mlflow.experimentId) {
    const experiment = `${host}/ml/experiments/${encodeURIComponent(input.mlflow.experimentId)}`;
    out.push(
      input.mlflow.runId
        ? { label: 'MLflow run', url: `${experiment}/runs/${encodeURIComponent(input.mlflow.runId)}` }
        : { label: 'MLflow experiment', url: experiment },
    );
  }
  if (host && input.registered) {
    const parts = input.registered.model.split('.');
    if (parts.length === 3) {
      const path = parts.map(encodeURIComponent).join('/');
      out.push({
        label: 'Model in Unity Catalog',
        url: `${host}/explore/data/models/${path}/version/${encodeURIComponent(input.registered.version)}`,
      });
    }
  }
  return out.filter((l) => isWebUrl(l.url));
}

/** Only http(s) links reach a card: event data is parsed with z.url(), which also admits javascript: and data:. */
export function isWebUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

function markdownReport(url: string): string {
  return url.replace(/\/validation\.json(\?.*)?$/, '/validation.md$1');
}

function elapsedMs(from: string, to: string): number | undefined {
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

/** 42s, 3m 12s, 2h 05m, 3d 4h. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

export const OUTCOME_EMOJI: Record<Outcome, string> = {
  success: '✅',
  failure: '❌',
  warning: '⚠️',
  info: 'ℹ️',
};
