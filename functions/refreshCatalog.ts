import { app, type InvocationContext, type Timer } from '@azure/functions';
import { getServices } from '../shared/compositionRoot';
import { refreshCatalog } from '../shared/pipeline/catalogRefresh';

/** Daily (03:00 UTC) and at start: the catalog follows what the provider offers (docs/pipeline.md). */
export async function refreshCatalogTimer(_timer: Timer, context: InvocationContext): Promise<void> {
  const services = getServices();
  const deps = services.catalogRefresh((message) => context.log(message));
  if (!deps) {
    context.log('catalog refresh: no training provider configured (DATABRICKS_HOST); the seed table stays');
    return;
  }
  await services.ready();
  context.log(`catalog refresh: ${JSON.stringify(await refreshCatalog(deps))}`);
}

app.timer('refreshCatalog', {
  schedule: '0 0 3 * * *',
  runOnStartup: true,
  handler: refreshCatalogTimer,
});
