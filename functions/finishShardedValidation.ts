import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { getServices } from '../shared/compositionRoot';
import { finishShardedValidationActivity } from '../shared/pipeline/shardedFinish';
import { finishInputSchema, SHARD_ACTIVITIES } from '../shared/pipeline/shardedValidation';

/** Merge of a big drop's shards, then intake's finish path: report, run index, dataset event, trainingRun. */
export async function finishShardedValidation(input: unknown, context: InvocationContext) {
  const services = getServices();
  await services.ready();
  const result = await finishShardedValidationActivity(
    services.shardedFinish(df.getClient(context), (message) => context.log(message)),
    finishInputSchema.parse(input),
  );
  context.log(`sharded validation: ${result.outcome}${'runId' in result && result.runId ? ` (${result.runId})` : ''}`);
  return result;
}

df.app.activity(SHARD_ACTIVITIES.finishShardedValidation, {
  handler: finishShardedValidation,
  extraInputs: [df.input.durableClient()],
});
