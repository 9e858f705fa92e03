import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { getServices } from '../shared/compositionRoot';
import { durableRunInstances, reconcileRuns as reconcile } from '../shared/pipeline/reconcile';
import { reconcileValidations } from '../shared/pipeline/reconcileValidations';
import { finishShardedValidationActivity } from '../shared/pipeline/shardedFinish';

/**
 * Every 5 minutes: runs the index still shows as going whose orchestration has ended or vanished
 * are repaired, and so are runs left `validating` by a sharded validation that ended without finishing
 * (docs/operations.md). Each repair is logged; the terminal event reaches every subscriber.
 */
export async function reconcileRuns(_timer: Timer, context: InvocationContext): Promise<void> {
  const services = getServices();
  await services.ready();
  const client = df.getClient(context);
  const instances = durableRunInstances(client);
  const runActivities = services.runActivities();
  const log = (message: string) => context.log(message);
  const report = await reconcile({ ...runActivities, instances, now: () => new Date(), log });
  for (const e of report.errors) context.warn(`reconciler: run ${e.runId} not repaired this pass: ${e.message}`);
  context.log(`reconciler: ${report.checked} followed runs checked, ${report.repaired.length} repaired`);

  const validations = await reconcileValidations({
    runIndex: runActivities.runIndex,
    instances,
    finish: (input, outcome) =>
      finishShardedValidationActivity(services.shardedFinish(client, log), { input, outcome }),
    now: () => new Date(),
    log,
  });
  for (const e of validations.errors) context.warn(`reconciler: run ${e.runId} not repaired this pass: ${e.message}`);
  context.log(`reconciler: ${validations.checked} validating runs checked, ${validations.repaired.length} repaired`);
}

app.timer('reconcileRuns', {
  schedule: '0 */5 * * * *',
  extraInputs: [df.input.durableClient()],
  handler: reconcileRuns,
});
