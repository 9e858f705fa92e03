import { TASKS } from '../../catalog';
import { defineRoute } from '../route';
import { modelListSchema } from '../schemas';

export const listModelsRoute = defineRoute({
  name: 'listModels',
  method: 'GET',
  route: 'models',
  authLevel: 'function',
  summary: 'The models tunedrop can fine-tune, with retired ones (retiredOn, replacement)',
  tags: ['models'],
  responses: { 200: { description: 'The catalog', schema: modelListSchema } },
  async handle({ deps }) {
    return { status: 200, body: modelListSchema.parse({ models: deps.catalog.models, tasks: [...TASKS] }) };
  },
});
