import * as df from 'durable-functions';
import { getServices } from '../shared/compositionRoot';
import { digestDataFileActivity, digestTaskInputSchema, SHARD_ACTIVITIES } from '../shared/pipeline/shardedValidation';

/** The sha256 of one data file of a big drop (one sequential read, beside the shards). */
export async function digestDataFile(input: unknown) {
  return digestDataFileActivity(getServices().shardedValidation(), digestTaskInputSchema.parse(input));
}

df.app.activity(SHARD_ACTIVITIES.digestDataFile, { handler: digestDataFile });
