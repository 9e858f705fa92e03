import * as df from 'durable-functions';
import { validatedRunIdFor } from '../shared/pipeline/intake';
import { createShardedValidationOrchestrator, VALIDATE_DROP_SHARDED } from '../shared/pipeline/shardedValidation';

/** Sharded validation of a big drop (docs/validation.md, "Sharded intake"): deterministic control flow only. */
export const validateDropSharded = createShardedValidationOrchestrator(validatedRunIdFor);

df.app.orchestration(VALIDATE_DROP_SHARDED, validateDropSharded);
