import { classifyDataLocation } from './dataLocation';
import {
  type DropContext,
  type FinishDeps,
  finishValidation,
  type IntakeResult,
  manifestOnlyRunIdFor,
  refusalOf,
  rejectDrop,
  validatedRunIdFor,
} from './intake';
import { parseManifest } from './manifest';
import { type FinishInput, fileDigestsOf, mergeShardOutputs, type ShardedValidationDeps } from './shardedValidation';

/**
 * The sharded validation's last activity: merge the shard results into the single-pass report and
 * run intake's own finish path (finishValidation / rejectDrop), then drop the shard results.
 * Idempotent: run twice (a retry, a redelivery) it writes the same records and events.
 */
export async function finishShardedValidationActivity(
  deps: ShardedValidationDeps & { finish: FinishDeps; log?(message: string): void },
  { input, outcome }: FinishInput,
): Promise<IntakeResult> {
  const drop = { url: input.drop.url, etag: input.drop.etag, content: Buffer.from(input.drop.content, 'base64') };
  const ctx: DropContext = { team: input.team, dataset: input.dataset, drop };
  const parsed = parseManifest(drop.content);
  // Intake parsed this manifest before starting the orchestration; the bytes travelled with it.
  if (!parsed.ok) throw new Error(`the manifest of ${input.validationId} no longer parses`);
  const manifest = parsed.manifest;
  let result: IntakeResult;
  if (outcome.kind === 'merged') {
    const validation = await mergeShardOutputs(deps, input, outcome.digests, outcome.shards);
    result = await finishValidation(deps.finish, ctx, {
      manifest,
      settings: input.settings,
      locations: {
        train: classifyDataLocation(manifest.train),
        eval: manifest.eval ? classifyDataLocation(manifest.eval) : undefined,
      },
      validation,
    });
  } else {
    // The run id the `validating` record was written under, when the digests were known.
    const runId =
      outcome.runId ??
      (outcome.digests ? validatedRunIdFor(drop, fileDigestsOf(outcome.digests)) : manifestOnlyRunIdFor(drop));
    result = await rejectDrop(
      deps.finish,
      ctx,
      refusalOf(ctx, manifest, [{ code: outcome.code, message: outcome.message }], runId),
    );
  }
  await deps.shardResults.remove(`${input.validationId}/`).catch((err: unknown) => {
    deps.log?.(`sharded validation ${input.validationId}: shard results not removed (${String(err)})`);
  });
  return result;
}
