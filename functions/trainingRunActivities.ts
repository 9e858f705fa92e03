import * as df from 'durable-functions';
import { getServices } from '../shared/compositionRoot';
import {
  cancelTrainingRunActivity,
  getTrainingRunStatusActivity,
  recordRunEventActivity,
  stageTrainingDataActivity,
  submitTrainingRunActivity,
} from '../shared/pipeline/activities';
import {
  ACTIVITIES,
  recordRunEventInputSchema,
  runRefInputSchema,
  submitInputSchema,
  trainingRunInputSchema,
} from '../shared/pipeline/runContracts';

// The trainingRun activities: all of the orchestration's I/O. Each parses its input with zod.
const deps = () => getServices().runActivities();

export const stageTrainingData = (input: unknown) =>
  stageTrainingDataActivity(deps(), trainingRunInputSchema.parse(input));
export const submitTrainingRun = (input: unknown) => submitTrainingRunActivity(deps(), submitInputSchema.parse(input));
export const getTrainingRunStatus = (input: unknown) =>
  getTrainingRunStatusActivity(deps(), runRefInputSchema.parse(input));
export const cancelTrainingRun = (input: unknown) => cancelTrainingRunActivity(deps(), runRefInputSchema.parse(input));
export const recordRunEvent = (input: unknown) =>
  recordRunEventActivity(deps(), recordRunEventInputSchema.parse(input));

df.app.activity(ACTIVITIES.stageTrainingData, { handler: stageTrainingData });
df.app.activity(ACTIVITIES.submitTrainingRun, { handler: submitTrainingRun });
df.app.activity(ACTIVITIES.getTrainingRunStatus, { handler: getTrainingRunStatus });
df.app.activity(ACTIVITIES.cancelTrainingRun, { handler: cancelTrainingRun });
df.app.activity(ACTIVITIES.recordRunEvent, { handler: recordRunEvent });
