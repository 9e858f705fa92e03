/** The CloudEvents `type` values tunedrop publishes: the one list every part reads. */
export const EVENT_TYPES = [
  'tunedrop.dataset.validated',
  'tunedrop.dataset.rejected',
  'tunedrop.run.submitted',
  'tunedrop.run.status_changed',
  'tunedrop.run.completed',
  'tunedrop.run.failed',
  'tunedrop.run.cancelled',
  'tunedrop.run.timed_out',
  'tunedrop.model.registered',
  'tunedrop.catalog.changed',
  'tunedrop.dataset.validation.progress',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export const TERMINAL_RUN_EVENT_TYPES: readonly EventType[] = [
  'tunedrop.run.completed',
  'tunedrop.run.failed',
  'tunedrop.run.cancelled',
  'tunedrop.run.timed_out',
];

/**
 * Progress of a long (sharded) validation: many per run, for dashboards and webhooks that ask for
 * it by name. Never routed to Teams/Slack (not in the notify-teams subscription's filter), and a
 * webhook subscription without an `eventTypes` list does not get it (docs/events.md).
 */
export const PROGRESS_EVENT_TYPES: readonly EventType[] = ['tunedrop.dataset.validation.progress'];

/** Types a webhook subscription without an `eventTypes` list receives: every type but progress. */
export const DEFAULT_SUBSCRIBED_EVENT_TYPES: readonly EventType[] = EVENT_TYPES.filter(
  (t) => !PROGRESS_EVENT_TYPES.includes(t),
);
