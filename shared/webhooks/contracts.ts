import { z } from 'zod';
import { EVENT_TYPES } from '../events/types';
import { teamIdSchema } from '../pipeline/teams';

/**
 * The webhook contracts the HTTP API, the CLI and the delivery functions share. The stores and
 * the delivery engine (shared/webhooks/*.ts) implement them; functions/http/ only talks to these.
 */

export const webhookSubscriptionIdSchema = z
  .string()
  .regex(/^wh_[A-Za-z0-9]{16,40}$/, 'a webhook subscription id (wh_…)');
export const deliveryIdSchema = z.string().regex(/^dl_[A-Za-z0-9]{16,64}$/, 'a delivery id (dl_…)');

/** Body of `POST /api/webhooks`. */
export const createWebhookSubscriptionSchema = z
  .object({
    team: teamIdSchema,
    /** Target URL: https (http only to loopback in local mode); checked again before every delivery. */
    url: z.string().url().max(2048),
    /** Event types to deliver; omitted = every event type except `tunedrop.dataset.validation.progress` (ask for it by name). */
    eventTypes: z.array(z.enum(EVENT_TYPES)).min(1).optional(),
    description: z.string().max(200).optional(),
  })
  .strict();
export type CreateWebhookSubscription = z.infer<typeof createWebhookSubscriptionSchema>;

/** A subscription as the API shows it: never the secret. */
export const webhookSubscriptionSchema = z.object({
  id: webhookSubscriptionIdSchema,
  team: teamIdSchema,
  url: z.string(),
  eventTypes: z.array(z.enum(EVENT_TYPES)).optional(),
  description: z.string().optional(),
  createdAt: z.string(),
  secretRotatedAt: z.string(),
});
export type WebhookSubscription = z.infer<typeof webhookSubscriptionSchema>;

/** Returned by create and rotate only: the one time the `whsec_…` secret leaves the service. */
export const webhookSubscriptionWithSecretSchema = webhookSubscriptionSchema.extend({
  secret: z.string().regex(/^whsec_[A-Za-z0-9+/=]+$/),
});
export type WebhookSubscriptionWithSecret = z.infer<typeof webhookSubscriptionWithSecretSchema>;

export const DELIVERY_STATUSES = ['pending', 'retrying', 'succeeded', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** One event bound for one subscription, with its attempts. */
export const deliverySchema = z.object({
  id: deliveryIdSchema,
  subscriptionId: webhookSubscriptionIdSchema,
  team: z.string(),
  eventId: z.string(),
  eventType: z.enum(EVENT_TYPES),
  /** The run id (the event's subject). */
  subject: z.string(),
  status: z.enum(DELIVERY_STATUSES),
  attempts: z.number().int().nonnegative(),
  /** Last attempt's outcome: an HTTP status or a coded failure (`timeout`, `blocked_address`, …). */
  lastResult: z.string().optional(),
  lastAttemptAt: z.string().optional(),
  nextAttemptAt: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Delivery = z.infer<typeof deliverySchema>;

export interface DeliveryPage {
  deliveries: Delivery[];
  continuationToken?: string;
}

/** Subscriptions (Tables: tunedropWebhooks). Secrets live in the entity (Storage encrypts at rest; only the app identity reads it) and are only returned by create/rotate. */
export interface WebhookSubscriptionStore {
  create(input: CreateWebhookSubscription): Promise<WebhookSubscriptionWithSecret>;
  get(id: string): Promise<WebhookSubscription | undefined>;
  /** `teams`: only these teams' subscriptions (the caller's); undefined = every team. */
  list(query: { team?: string; teams?: readonly string[] }): Promise<WebhookSubscription[]>;
  /** false when there was nothing to delete. */
  delete(id: string): Promise<boolean>;
  rotateSecret(id: string): Promise<WebhookSubscriptionWithSecret | undefined>;
}

/** What the HTTP API asks of webhook delivery. */
export interface WebhookDeliveryApi {
  /** Sign and send a `tunedrop.webhook.test`-style ping now (not retried); returns the attempt's outcome. */
  sendTest(subscriptionId: string): Promise<{ delivered: boolean; result: string }>;
  listDeliveries(query: {
    status?: DeliveryStatus;
    team?: string;
    teams?: readonly string[];
    pageSize?: number;
    continuationToken?: string;
  }): Promise<DeliveryPage>;
  getDelivery(id: string): Promise<Delivery | undefined>;
  /** Start the delivery over (attempts from one, retries again); only `failed` deliveries. */
  redeliver(id: string): Promise<Delivery>;
}
