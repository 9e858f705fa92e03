import * as df from 'durable-functions';
import { getServices } from '../shared/compositionRoot';
import { SHARD_ACTIVITIES, shardTaskInputSchema, validateShardActivity } from '../shared/pipeline/shardedValidation';

/** One byte-range shard of a big drop: range reads of its lines, validated; the result inline or by reference. */
export async function validateDataShard(input: unknown) {
  return validateShardActivity(getServices().shardedValidation(), shardTaskInputSchema.parse(input));
}

df.app.activity(SHARD_ACTIVITIES.validateShard, { handler: validateDataShard });
