/** Every status a run has, from drop to end: the run index, the events and the API use this one list. */
export const RUN_STATUSES = [
  'validating',
  'rejected',
  'submitted',
  'pending',
  'queued',
  'running',
  'completed',
  'failed',
  'cancelled',
  'timed_out',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = [
  'rejected',
  'completed',
  'failed',
  'cancelled',
  'timed_out',
];

/** The part of the list a training provider reports: intake's statuses come before, timed_out is ours. */
export const PROVIDER_RUN_STATUSES = [
  'pending',
  'queued',
  'running',
  'completed',
  'failed',
  'cancelled',
] as const satisfies readonly RunStatus[];
export type ProviderRunStatus = (typeof PROVIDER_RUN_STATUSES)[number];

export function isTerminalStatus(status: RunStatus): boolean {
  return TERMINAL_RUN_STATUSES.includes(status);
}
