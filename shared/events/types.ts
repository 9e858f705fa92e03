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
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export const TERMINAL_RUN_EVENT_TYPES: readonly EventType[] = [
  'tunedrop.run.completed',
  'tunedrop.run.failed',
  'tunedrop.run.cancelled',
  'tunedrop.run.timed_out',
];
