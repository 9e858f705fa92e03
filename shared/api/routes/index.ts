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

/** Resolves true when `check` succeeds within the probe timeout, false when it fails or hangs. */
function reaches(check: () => Promise<unknown>): Promise<boolean> {
  return Promise.race([
    check().then(
      () => true,
      () => false,
    ),
    new Promise<boolean>((resolve) => setTimeout(resolve, HEALTH_PROBE_TIMEOUT_MS, false).unref()),
  ]);
}

export const healthRoute = defineRoute({
  name: 'health',
  method: 'GET',
  route: 'health',
  authLevel: 'anonymous',
  access: { kind: 'public' },
  summary:
    'Health: the app answers and reaches its storage and its event bus (503 dependency_unavailable naming which does not)',
  tags: ['meta'],
  responses: { 200: { description: 'Alive, storage and bus reachable', schema: healthSchema } },
  problems: [503],
  async handle({ deps }) {
    // Storage: a point read of a row that never exists, one cheap round trip. Bus: the topic's
    // sender link. Both at once, each bounded, so a dead dependency answers within ~2 s.
    const busReachable = deps.busReachable?.bind(deps);
    const [storage, bus] = await Promise.all([
      reaches(() => deps.runIndex.get('health-probe')),
      busReachable ? reaches(busReachable) : Promise.resolve(undefined),
    ]);
    const checks = {
      storage: storage ? 'ok' : 'unreachable',
      bus: bus === undefined ? 'not_checked' : bus ? 'ok' : 'unreachable',
    } as const;
    const down = [
      ...(storage ? [] : ['storage (the run index)']),
      ...(bus === false ? ['the event bus (Service Bus topic)'] : []),
    ];
    if (down.length > 0) {
      throw new ProblemError('dependency_unavailable', `Not reachable: ${down.join(' and ')}.`, { checks });
    }
    return { status: 200, body: { status: 'ok', service: 'tunedrop', checks: { storage: 'ok', bus: checks.bus } } };
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
