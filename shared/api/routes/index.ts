import { buildOpenApiDocument, type OpenApiDocument } from '../openapi';
import { type AnyRoute, defineRoute } from '../route';
import { healthSchema } from '../schemas';
import { createTeamKeyRoute, listTeamKeysRoute, revokeTeamKeyRoute } from './keys';
import { listModelsRoute, listRegisteredModelsRoute } from './models';
import { cancelRunRoute, createRunRoute, getRunRoute, listRunsRoute } from './runs';
import {
  createWebhookRoute,
  deleteWebhookRoute,
  getWebhookRoute,
  listDeliveriesRoute,
  listWebhooksRoute,
  redeliverRoute,
  rotateWebhookSecretRoute,
  testWebhookRoute,
} from './webhooks';

export const healthRoute = defineRoute({
  name: 'health',
  method: 'GET',
  route: 'health',
  authLevel: 'anonymous',
  access: { kind: 'public' },
  summary: 'Liveness: the app is loaded and answering',
  tags: ['meta'],
  responses: { 200: { description: 'Alive', schema: healthSchema } },
  async handle() {
    return { status: 200, body: { status: 'ok', service: 'tunedrop' } };
  },
});

let document: OpenApiDocument | undefined;

export const openApiRoute = defineRoute({
  name: 'openapi',
  method: 'GET',
  route: 'openapi.json',
  authLevel: 'anonymous',
  access: { kind: 'public' },
  summary: 'This API’s OpenAPI 3.1 document',
  tags: ['meta'],
  responses: { 200: { description: 'The OpenAPI document' } },
  async handle() {
    document ??= buildOpenApiDocument(API_ROUTES);
    return { status: 200, body: document };
  },
});

/** Every route the app serves; functions/http/ registers each under its `name`. */
export const API_ROUTES: readonly AnyRoute[] = [
  createRunRoute,
  listRunsRoute,
  getRunRoute,
  cancelRunRoute,
  listModelsRoute,
  listRegisteredModelsRoute,
  createWebhookRoute,
  listWebhooksRoute,
  getWebhookRoute,
  deleteWebhookRoute,
  rotateWebhookSecretRoute,
  testWebhookRoute,
  listDeliveriesRoute,
  redeliverRoute,
  createTeamKeyRoute,
  listTeamKeysRoute,
  revokeTeamKeyRoute,
  healthRoute,
  openApiRoute,
];
