import * as df from 'durable-functions';
import { getServices } from '../shared/compositionRoot';
import {
  progressInputSchema,
  recordValidationProgressActivity,
  SHARD_ACTIVITIES,
} from '../shared/pipeline/shardedValidation';

/** A big drop's run shows `validating`; tunedrop.dataset.validation.progress is published. */
export async function recordValidationProgress(input: unknown) {
  return recordValidationProgressActivity(getServices().shardedValidation(), progressInputSchema.parse(input));
}

df.app.activity(SHARD_ACTIVITIES.recordValidationProgress, { handler: recordValidationProgress });
