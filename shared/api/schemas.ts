import { z } from 'zod';
import { createTeamKeySchema, teamKeySchema, teamKeyWithSecretSchema } from '../auth/teamKeys';
import { TASKS } from '../catalog';
import { manifestSchema } from '../pipeline/manifest';
import { datasetNamePattern } from '../pipeline/submit';
import { teamIdSchema } from '../pipeline/teams';
import { registeredModelSchema } from '../registry/modelIndex';
import { runRecordSchema } from '../registry/runIndex';
import { RUN_STATUSES } from '../runStatus';
import {
  createWebhookSubscriptionSchema,
  DELIVERY_STATUSES,
  deliverySchema,
  webhookSubscriptionSchema,
  webhookSubscriptionWithSecretSchema,
} from '../webhooks/contracts';
import { problemSchema } from './problem';

export const datasetNameSchema = z
  .string()
  .regex(datasetNamePattern, 'dataset names are letters, digits, ".", "_" or "-" (max 128)');

export const createRunRequestSchema = z
  .object({
    team: teamIdSchema,
    dataset: datasetNameSchema,
    /** Written as datasets/{team}/{dataset}/run.json before intake; absent = use the run.json already there. */
    manifest: manifestSchema.optional(),
  })
  .strict();

export const runLinksSchema = z.object({
  self: z.string(),
  cancel: z.string(),
  report: z.string().optional(),
});

export const runSchema = runRecordSchema.extend({ links: runLinksSchema });
export type ApiRun = z.infer<typeof runSchema>;

export const runPageSchema = z.object({ runs: z.array(runSchema), nextLink: z.string().optional() });

export const runAcceptedSchema = z.object({
  /** Absent while a large drop is still validating (the run id derives from the data's digests). */
  runId: z.string().optional(),
  /** `validating`: the drop is larger than what is validated inside the request; intake continues in the background. */
  outcome: z.enum(['started', 'already-running', 'validating']),
  status: z.enum(RUN_STATUSES).optional(),
  /** Bytes of data in the drop folder (set for `validating`). */
  dataBytes: z.number().int().nonnegative().optional(),
  links: runLinksSchema.partial({ self: true, cancel: true }).extend({
    /** Where the run appears once validated: the run list filtered by team and dataset. */
    runs: z.string().optional(),
  }),
});

const pageSize = z.coerce.number().int().min(1).max(200).optional();

/**
 * A page token as the list endpoints hand it out (an Azure Tables continuation token: base64 of a
 * JSON object with the next partition key). Anything else is refused here, as a 400, instead of
 * failing inside the storage SDK.
 */
export const continuationTokenSchema = z
  .string()
  .min(1)
  .max(2048)
  .refine((token) => {
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(token)) return false;
    try {
      const decoded: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
      return (
        typeof decoded === 'object' &&
        decoded !== null &&
        typeof (decoded as { nextPartitionKey?: unknown }).nextPartitionKey === 'string'
      );
    } catch {
      return false;
    }
  }, 'not a continuation token this API handed out (use the nextLink of the previous page)');
export const listRunsQuerySchema = z.object({
  team: teamIdSchema.optional(),
  dataset: datasetNameSchema.optional(),
  status: z.enum(RUN_STATUSES).optional(),
  pageSize,
  continuationToken: continuationTokenSchema.optional(),
});

export const runIdParamsSchema = z.object({ id: z.string().regex(/^run-[A-Za-z0-9-]{1,64}$/, 'a run id (run-…)') });

export const modelSchema = z.object({
  id: z.string(),
  family: z.string(),
  licence: z.string(),
  tokenizer: z.string(),
  maxContextLength: z.number().int(),
  instruct: z.boolean(),
  supportsSystemRole: z.boolean(),
  /** `withdrawn`: in the seed table, but the provider no longer offers it (last catalog refresh). */
  status: z.enum(['supported', 'retired', 'withdrawn']),
  retiredOn: z.string().optional(),
  replacement: z.string().optional(),
});
export const catalogSourceSchema = z.object({
  kind: z.enum(['seed', 'provider']),
  /** When the provider's list was last read (kind provider). */
  refreshedAt: z.string().optional(),
  ageSeconds: z.number().int().nonnegative().optional(),
  description: z.string(),
});
export const modelListSchema = z.object({
  models: z.array(modelSchema),
  tasks: z.array(z.enum(TASKS)),
  source: catalogSourceSchema.optional(),
});

export const listRegisteredModelsQuerySchema = z.object({
  team: teamIdSchema.optional(),
  /** Unity Catalog `catalog.schema.model`: that model's versions, in version order. */
  model: z
    .string()
    .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'catalog.schema.model')
    .optional(),
  pageSize,
  continuationToken: continuationTokenSchema.optional(),
});
export const registeredModelPageSchema = z.object({
  models: z.array(registeredModelSchema),
  nextLink: z.string().optional(),
});

export const webhookListSchema = z.object({ webhooks: z.array(webhookSubscriptionSchema) });
export const webhookIdParamsSchema = z.object({
  id: z.string().regex(/^wh_[A-Za-z0-9]{16,40}$/, 'a webhook id (wh_…)'),
});
export const listWebhooksQuerySchema = z.object({ team: teamIdSchema.optional() });
export const webhookTestResultSchema = z.object({ delivered: z.boolean(), result: z.string() });

export const deliveryPageSchema = z.object({ deliveries: z.array(deliverySchema), nextLink: z.string().optional() });
export const deliveryIdParamsSchema = z.object({
  id: z.string().regex(/^dl_[A-Za-z0-9]{16,64}$/, 'a delivery id (dl_…)'),
});
export const listDeliveriesQuerySchema = z.object({
  status: z.enum(DELIVERY_STATUSES).optional(),
  team: teamIdSchema.optional(),
  pageSize,
  continuationToken: continuationTokenSchema.optional(),
});

export const healthSchema = z.object({
  status: z.literal('ok'),
  service: z.literal('tunedrop'),
  /** What was reached to answer (storage: a point read of the run index; bus: the topic's sender link). */
  checks: z.object({ storage: z.literal('ok'), bus: z.enum(['ok', 'not_checked']).optional() }).optional(),
});

/** Named components of the OpenAPI document (schema → component name). */
export const API_COMPONENTS: ReadonlyMap<z.ZodType, string> = new Map<z.ZodType, string>([
  [problemSchema, 'Problem'],
  [manifestSchema, 'Manifest'],
  [createRunRequestSchema, 'CreateRunRequest'],
  [runLinksSchema, 'RunLinks'],
  [runSchema, 'Run'],
  [runPageSchema, 'RunPage'],
  [runAcceptedSchema, 'RunAccepted'],
  [modelSchema, 'Model'],
  [modelListSchema, 'ModelList'],
  [registeredModelSchema, 'RegisteredModel'],
  [registeredModelPageSchema, 'RegisteredModelPage'],
  [createWebhookSubscriptionSchema, 'CreateWebhookSubscription'],
  [webhookSubscriptionSchema, 'WebhookSubscription'],
  [webhookSubscriptionWithSecretSchema, 'WebhookSubscriptionWithSecret'],
  [webhookListSchema, 'WebhookSubscriptionList'],
  [webhookTestResultSchema, 'WebhookTestResult'],
  [deliverySchema, 'Delivery'],
  [deliveryPageSchema, 'DeliveryPage'],
  [healthSchema, 'Health'],
  [createTeamKeySchema, 'CreateTeamKey'],
  [teamKeySchema, 'TeamKey'],
  [teamKeyWithSecretSchema, 'TeamKeyWithSecret'],
]);
