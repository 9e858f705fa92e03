import { z } from 'zod';
import topologyJson from './topology.json';

const correlationFilterSchema = z.object({
  correlationId: z.string().optional(),
  messageId: z.string().optional(),
  subject: z.string().optional(),
  contentType: z.string().optional(),
  properties: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
});

const ruleSchema = z
  .object({
    name: z.string().min(1),
    correlationFilter: correlationFilterSchema.optional(),
    /** Only the trivial "1=1" (match all) is used; anything richer belongs in a correlation filter. */
    sqlFilter: z.literal('1=1').optional(),
  })
  .refine((r) => (r.correlationFilter ? 1 : 0) + (r.sqlFilter ? 1 : 0) === 1, {
    message: 'a rule has exactly one of correlationFilter or sqlFilter',
  });

const isoDuration = z.string().regex(/^P(?!$)(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$/, 'ISO 8601 duration');

export const topologySchema = z.object({
  topic: z.object({
    name: z.string().min(1),
    requiresDuplicateDetection: z.boolean(),
    duplicateDetectionHistoryTimeWindow: isoDuration,
    defaultMessageTimeToLive: isoDuration,
  }),
  subscriptions: z
    .array(
      z.object({
        name: z.string().min(1),
        maxDeliveryCount: z.number().int().min(1).max(2000),
        lockDuration: isoDuration,
        deadLetteringOnMessageExpiration: z.boolean(),
        rules: z.array(ruleSchema).min(1),
      }),
    )
    .min(1),
});

export type Topology = z.infer<typeof topologySchema>;
export type SubscriptionDefinition = Topology['subscriptions'][number];
export type SubscriptionRule = SubscriptionDefinition['rules'][number];

/** The app's one Service Bus topology (also read by infra/ via loadJsonContent). */
export const TOPOLOGY: Topology = topologySchema.parse(topologyJson);

export const SUBSCRIPTIONS = {
  registerModel: 'register-model',
  notifyTeams: 'notify-teams',
  webhooks: 'webhooks',
  /** Scheduled webhook delivery attempts (content type application/vnd.tunedrop.webhook-attempt+json). */
  webhookRetries: 'webhook-retries',
} as const;

/** ISO 8601 duration (days, hours, minutes, seconds) to milliseconds. */
export function isoDurationToMs(duration: string): number {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(duration);
  if (!m) throw new Error(`not an ISO 8601 duration: ${duration}`);
  const [, d = '0', h = '0', min = '0', s = '0'] = m;
  return ((Number(d) * 24 + Number(h)) * 60 + Number(min)) * 60_000 + Number(s) * 1000;
}

export interface RoutableMessage {
  messageId?: string;
  correlationId?: string;
  subject?: string;
  contentType?: string;
  applicationProperties?: Record<string, string | number | boolean | Date | null | undefined>;
}

/** Service Bus correlation-filter semantics: every set field must equal the message's, properties included. */
export function ruleMatches(rule: SubscriptionRule, message: RoutableMessage): boolean {
  if (rule.sqlFilter) return true;
  const f = rule.correlationFilter;
  if (!f) return false;
  if (f.correlationId !== undefined && f.correlationId !== message.correlationId) return false;
  if (f.messageId !== undefined && f.messageId !== message.messageId) return false;
  if (f.subject !== undefined && f.subject !== message.subject) return false;
  if (f.contentType !== undefined && f.contentType !== message.contentType) return false;
  const props = message.applicationProperties ?? {};
  return Object.entries(f.properties).every(([key, value]) => props[key] === value);
}

/** A subscription receives a message when any of its rules matches. */
export function subscriptionMatches(subscription: SubscriptionDefinition, message: RoutableMessage): boolean {
  return subscription.rules.some((rule) => ruleMatches(rule, message));
}
