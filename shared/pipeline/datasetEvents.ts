import { createEvent, type TunedropEvent } from '../events';
import type { DatasetEvent } from './intake';

/** dataset.validated / dataset.rejected from intake's outcome. */
export function datasetEventFor(event: DatasetEvent): TunedropEvent {
  const envelope = { subject: event.runId, team: event.team, model: event.model, time: event.time };
  const base = {
    runId: event.runId,
    team: event.team,
    dataset: event.dataset,
    manifestUrl: event.manifestUrl,
    reports: event.reportUrls,
  };
  if (event.type === 'tunedrop.dataset.validated') {
    return createEvent(event.type, {
      ...envelope,
      data: { ...base, model: event.model, task: event.task as 'chat' | 'instruction' | 'continued_pretraining' },
    });
  }
  return createEvent(event.type, {
    ...envelope,
    data: {
      ...base,
      model: event.model === 'unknown' ? undefined : event.model,
      task: event.task === 'unknown' ? undefined : event.task,
      errorSummary: {
        errorCounts: Object.fromEntries(event.errors.map((e) => [e.code, e.count])),
        firstErrors: event.errors.slice(0, 20).map((e) => ({ code: e.code, message: e.message ?? '' })),
      },
    },
  });
}
