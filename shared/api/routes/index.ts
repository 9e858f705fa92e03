import { buildOpenApiDocument, type OpenApiDocument } from '../openapi';
import { ProblemError } from '../problem';
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

const HEALTH_PROBE_TIMEOUT_MS = 2_000;

export const healthRoute = defineRoute({
  name: 'health',
  method: 'GET',
  route: 'health',
  authLevel: 'anonymous',
  access: { kind: 'public' },
  summary: 'Health: the app answers and reaches its storage (503 dependency_unavailable when it does not)',
  tags: ['meta'],
  responses: { 200: { description: 'Alive and storage reachable', schema: healthSchema } },
  problems: [503],
  async handle({ deps }) {
    // A point read of a row that never exists: one cheap round trip, bounded so a dead storage answers fast.
    const reached = await Promise.race([
      deps.runIndex.get('health-probe').then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((resolve) => setTimeout(resolve, HEALTH_PROBE_TIMEOUT_MS, false).unref()),
    ]);
    if (!reached) {
      throw new ProblemError('dependency_unavailable', 'Storage (the run index) is not reachable.', {
        checks: { storage: 'unreachable' },
      });
    }
    return { status: 200, body: { status: 'ok', service: 'tunedrop', checks: { storage: 'ok' } } };
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
