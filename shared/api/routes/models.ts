import { TASKS } from '../../catalog';
import { defineRoute } from '../route';
import { listRegisteredModelsQuerySchema, modelListSchema, registeredModelPageSchema } from '../schemas';
import { nextLinkFor, scopeFilter } from './runs';

export const listModelsRoute = defineRoute({
  name: 'listModels',
  method: 'GET',
  route: 'models',
  authLevel: 'anonymous',
  summary: 'The models tunedrop can fine-tune, with retired ones (retiredOn, replacement)',
  tags: ['models'],
  access: { kind: 'signed-in' },
  responses: { 200: { description: 'The catalog', schema: modelListSchema } },
  async handle({ deps }) {
    const catalog = deps.currentCatalog ? await deps.currentCatalog() : deps.catalog;
    const now = deps.now();
    const source = catalog.source;
    return {
      status: 200,
      body: modelListSchema.parse({
        models: catalog.models.map((m) => (catalog.isWithdrawn(m.id) ? { ...m, status: 'withdrawn' } : m)),
        tasks: [...TASKS],
        source: {
          kind: source.kind,
          ...(source.kind === 'provider'
            ? {
                refreshedAt: source.refreshedAt,
                ageSeconds: Math.max(0, Math.floor((now.getTime() - Date.parse(source.refreshedAt)) / 1000)),
              }
            : {}),
          description: catalog.describeSource(now),
        },
      }),
    };
  },
});

export const listRegisteredModelsRoute = defineRoute({
  name: 'listRegisteredModels',
  method: 'GET',
  route: 'registered-models',
  authLevel: 'anonymous',
  summary:
    'Model versions tunedrop registered in Unity Catalog, with alias and lineage (run, dataset, SHA-256, report)',
  tags: ['models'],
  query: listRegisteredModelsQuerySchema,
  access: { kind: 'teams', action: 'read', team: ({ query }) => query.team },
  responses: { 200: { description: 'A page of registered model versions', schema: registeredModelPageSchema } },
  async handle({ query, deps, access }) {
    const page = await deps.modelIndex.list({
      team: query.team,
      teams: scopeFilter(access.scope),
      modelFullName: query.model,
      pageSize: query.pageSize,
      continuationToken: query.continuationToken,
    });
    const nextLink = page.continuationToken
      ? nextLinkFor('/api/registered-models', { ...query, continuationToken: page.continuationToken })
      : undefined;
    return { status: 200, body: registeredModelPageSchema.parse({ models: page.models, nextLink }) };
  },
});
