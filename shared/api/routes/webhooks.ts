import type { Action } from '../../auth/principal';
import {
  createWebhookSubscriptionSchema,
  deliverySchema,
  webhookSubscriptionSchema,
  webhookSubscriptionWithSecretSchema,
} from '../../webhooks/contracts';
import type { RouteAccess } from '../access';
import type { ApiDeps, WebhookServices } from '../deps';
import { ProblemError } from '../problem';
import { defineRoute } from '../route';
import {
  deliveryIdParamsSchema,
  deliveryPageSchema,
  listDeliveriesQuerySchema,
  listWebhooksQuerySchema,
  webhookIdParamsSchema,
  webhookListSchema,
  webhookTestResultSchema,
} from '../schemas';
import { nextLinkFor, scopeFilter } from './runs';

export const webhookPath = (id: string) => `/api/webhooks/${id}`;

async function services(deps: ApiDeps): Promise<WebhookServices> {
  const webhooks = deps.webhooks;
  if (!webhooks) throw new ProblemError('webhooks_unavailable');
  await webhooks.ready?.();
  return webhooks;
}

const notFound = (id: string) => new ProblemError('not_found', `There is no webhook subscription ${id}.`);
const deliveryNotFound = (id: string) => new ProblemError('not_found', `There is no delivery ${id}.`);

/** A subscription route's access: the subscription's team decides. */
function subscriptionAccess(action: Action): RouteAccess<{ id: string }> {
  return {
    kind: 'resource',
    action,
    team: async ({ params, deps }) => (await (await services(deps)).subscriptions.get(params.id))?.team,
    notFound: (params) => notFound(params.id),
  };
}

export const createWebhookRoute = defineRoute({
  name: 'createWebhook',
  method: 'POST',
  route: 'webhooks',
  authLevel: 'anonymous',
  summary: 'Subscribe a URL to a team’s events; the response carries the signing secret, once',
  tags: ['webhooks'],
  body: createWebhookSubscriptionSchema,
  // Only for a team that is configured and where the caller holds `subscribe` (checked in the route layer).
  access: { kind: 'team', action: 'subscribe', team: ({ body }) => body.team },
  responses: {
    201: {
      description: 'Created. Store `secret` now: no other response returns it',
      schema: webhookSubscriptionWithSecretSchema,
      headers: { Location: 'The subscription' },
    },
  },
  problems: [403, 404, 422, 503],
  async handle({ body, deps }) {
    const { subscriptions } = await services(deps);
    const created = webhookSubscriptionWithSecretSchema.parse(await subscriptions.create(body));
    return { status: 201, headers: { Location: webhookPath(created.id) }, body: created };
  },
});

export const listWebhooksRoute = defineRoute({
  name: 'listWebhooks',
  method: 'GET',
  route: 'webhooks',
  authLevel: 'anonymous',
  summary: 'Webhook subscriptions, optionally of one team (never their secrets)',
  tags: ['webhooks'],
  query: listWebhooksQuerySchema,
  access: { kind: 'teams', action: 'read', team: ({ query }) => query.team },
  responses: { 200: { description: 'Subscriptions', schema: webhookListSchema } },
  problems: [404, 503],
  async handle({ query, deps, access }) {
    // Parsing through the secret-less schema strips a secret even if a store returned one.
    const { subscriptions } = await services(deps);
    const webhooks = await subscriptions.list({ ...query, teams: scopeFilter(access.scope) });
    return { status: 200, body: webhookListSchema.parse({ webhooks }) };
  },
});

export const getWebhookRoute = defineRoute({
  name: 'getWebhook',
  method: 'GET',
  route: 'webhooks/{id}',
  authLevel: 'anonymous',
  summary: 'One webhook subscription (never its secret)',
  tags: ['webhooks'],
  params: webhookIdParamsSchema,
  access: subscriptionAccess('read'),
  responses: { 200: { description: 'The subscription', schema: webhookSubscriptionSchema } },
  problems: [404, 503],
  async handle({ params, deps }) {
    const { subscriptions } = await services(deps);
    const found = await subscriptions.get(params.id);
    if (!found) throw notFound(params.id);
    return { status: 200, body: webhookSubscriptionSchema.parse(found) };
  },
});

export const deleteWebhookRoute = defineRoute({
  name: 'deleteWebhook',
  method: 'DELETE',
  route: 'webhooks/{id}',
  authLevel: 'anonymous',
  summary: 'Delete a webhook subscription',
  tags: ['webhooks'],
  params: webhookIdParamsSchema,
  access: subscriptionAccess('subscribe'),
  responses: { 204: { description: 'Deleted' } },
  problems: [403, 404, 503],
  async handle({ params, deps }) {
    const { subscriptions } = await services(deps);
    if (!(await subscriptions.delete(params.id))) throw notFound(params.id);
    return { status: 204 };
  },
});

export const rotateWebhookSecretRoute = defineRoute({
  name: 'rotateWebhookSecret',
  method: 'POST',
  route: 'webhooks/{id}/rotate',
  authLevel: 'anonymous',
  summary: 'Replace the signing secret; the response carries the new one, once',
  tags: ['webhooks'],
  params: webhookIdParamsSchema,
  access: subscriptionAccess('subscribe'),
  responses: {
    200: { description: 'Rotated. Store `secret` now', schema: webhookSubscriptionWithSecretSchema },
  },
  problems: [403, 404, 503],
  async handle({ params, deps }) {
    const { subscriptions } = await services(deps);
    const rotated = await subscriptions.rotateSecret(params.id);
    if (!rotated) throw notFound(params.id);
    return { status: 200, body: webhookSubscriptionWithSecretSchema.parse(rotated) };
  },
});

export const testWebhookRoute = defineRoute({
  name: 'testWebhook',
  method: 'POST',
  route: 'webhooks/{id}/test',
  authLevel: 'anonymous',
  summary: 'Send a signed test event to the subscription now (not retried) and report the outcome',
  tags: ['webhooks'],
  params: webhookIdParamsSchema,
  access: subscriptionAccess('subscribe'),
  responses: { 200: { description: 'The attempt’s outcome', schema: webhookTestResultSchema } },
  problems: [403, 404, 503],
  async handle({ params, deps }) {
    const webhooks = await services(deps);
    if (!(await webhooks.subscriptions.get(params.id))) throw notFound(params.id);
    return { status: 200, body: webhookTestResultSchema.parse(await webhooks.deliveries.sendTest(params.id)) };
  },
});

export const listDeliveriesRoute = defineRoute({
  name: 'listDeliveries',
  method: 'GET',
  route: 'deliveries',
  authLevel: 'anonymous',
  summary: 'Webhook deliveries, e.g. ?status=failed, paged (follow nextLink)',
  tags: ['webhooks'],
  query: listDeliveriesQuerySchema,
  access: { kind: 'teams', action: 'read', team: ({ query }) => query.team },
  responses: { 200: { description: 'A page of deliveries', schema: deliveryPageSchema } },
  problems: [404, 503],
  async handle({ query, deps, access }) {
    const { deliveries } = await services(deps);
    const page = await deliveries.listDeliveries({ ...query, teams: scopeFilter(access.scope) });
    const nextLink = page.continuationToken
      ? nextLinkFor('/api/deliveries', { ...query, continuationToken: page.continuationToken })
      : undefined;
    return { status: 200, body: deliveryPageSchema.parse({ deliveries: page.deliveries, nextLink }) };
  },
});

export const redeliverRoute = defineRoute({
  name: 'redeliverDelivery',
  method: 'POST',
  route: 'deliveries/{id}/redeliver',
  authLevel: 'anonymous',
  summary: 'Start a failed delivery over (attempts from one, retried again)',
  tags: ['webhooks'],
  params: deliveryIdParamsSchema,
  access: {
    kind: 'resource',
    action: 'subscribe',
    team: async ({ params, deps }) => (await (await services(deps)).deliveries.getDelivery(params.id))?.team,
    notFound: (params) => deliveryNotFound(params.id),
  },
  responses: { 202: { description: 'Queued again', schema: deliverySchema } },
  problems: [403, 404, 409, 503],
  async handle({ params, deps }) {
    const { deliveries } = await services(deps);
    const delivery = await deliveries.getDelivery(params.id);
    if (!delivery) throw deliveryNotFound(params.id);
    if (delivery.status !== 'failed') {
      throw new ProblemError(
        'delivery_not_failed',
        `The delivery is ${delivery.status}; only failed ones are redelivered.`,
      );
    }
    return { status: 202, body: deliverySchema.parse(await deliveries.redeliver(params.id)) };
  },
});
