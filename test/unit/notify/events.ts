import { createEvent, type TunedropEvent } from '../../../shared/events';
import type { RunRecord } from '../../../shared/registry/runIndex';

/** One realistic event of each type notify-teams receives, for run `run-1` of team `support`. */
export const RUN_ID = 'run-1';
const team = 'support';
const dataset = 'support-bot';
const model = 'meta-llama/Meta-Llama-3.1-8B-Instruct';
const manifestUrl = 'http://127.0.0.1:10000/devstoreaccount1/datasets/support/support-bot/run.json';
const reports = {
  json: 'http://127.0.0.1:10000/devstoreaccount1/reports/support/support-bot/run-1/validation.json',
  markdown: 'http://127.0.0.1:10000/devstoreaccount1/reports/support/support-bot/run-1/validation.md',
};
const envelope = { subject: RUN_ID, team, model };
const runBase = { runId: RUN_ID, team, dataset, model, providerRunName: 'ift-abc123' };

export const CREATED_AT = '2026-11-27T10:00:00.000Z';

export function runRecord(overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    runId: RUN_ID,
    team,
    dataset,
    model,
    task: 'chat',
    status: 'running',
    manifestUrl,
    reportUrl: reports.json,
    providerRunName: 'ift-abc123',
    mlflowExperimentId: '4242',
    mlflowRunId: 'mlrun-9',
    createdAt: CREATED_AT,
    updatedAt: CREATED_AT,
    ...overrides,
  };
}

export const EVENTS = {
  rejected: createEvent('tunedrop.dataset.rejected', {
    ...envelope,
    time: '2026-11-27T10:00:42.000Z',
    data: {
      runId: RUN_ID,
      team,
      dataset,
      manifestUrl,
      reports,
      model,
      task: 'chat',
      errorSummary: {
        errorCounts: { invalid_json: 3, last_not_assistant: 1 },
        firstErrors: [{ code: 'invalid_json', message: 'line 4: Unexpected token } in JSON', line: 4 }],
      },
    },
  }),
  submitted: createEvent('tunedrop.run.submitted', {
    ...envelope,
    time: '2026-11-27T10:01:00.000Z',
    data: { ...runBase, status: 'submitted', submittedAt: '2026-11-27T10:01:00.000Z' },
  }),
  completed: createEvent('tunedrop.run.completed', {
    ...envelope,
    time: '2026-11-27T12:05:00.000Z',
    data: {
      ...runBase,
      status: 'completed',
      endedAt: '2026-11-27T12:05:00.000Z',
      registeredModel: 'ml.support.support_bot',
      registeredVersion: '3',
      mlflowExperimentId: '4242',
      mlflowRunId: 'mlrun-9',
    },
  }),
  failed: createEvent('tunedrop.run.failed', {
    ...envelope,
    time: '2026-11-27T10:20:00.000Z',
    data: { ...runBase, status: 'failed', reason: 'CUDA out of memory at step 120' },
  }),
  cancelled: createEvent('tunedrop.run.cancelled', {
    ...envelope,
    time: '2026-11-27T10:10:00.000Z',
    data: { ...runBase, status: 'cancelled', reason: 'cancelled by alice via the API' },
  }),
  timedOut: createEvent('tunedrop.run.timed_out', {
    ...envelope,
    time: '2026-12-04T10:00:00.000Z',
    data: { ...runBase, status: 'timed_out', deadline: '2026-12-04T10:00:00.000Z' },
  }),
  registered: createEvent('tunedrop.model.registered', {
    ...envelope,
    time: '2026-11-27T12:05:00.000Z',
    data: {
      runId: RUN_ID,
      team,
      dataset,
      model,
      modelFullName: 'ml.support.support_bot',
      version: '3',
      alias: 'candidate',
      lineage: { manifestUrl, providerRunName: 'ift-abc123', mlflowExperimentId: '4242', mlflowRunId: 'mlrun-9' },
    },
  }),
} satisfies Record<string, TunedropEvent>;
