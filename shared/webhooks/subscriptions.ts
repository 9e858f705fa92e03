import { randomBytes } from 'node:crypto';
import { odata, RestError, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { ensureTable, teamsFilter } from '../config/tables';
import { DEFAULT_SUBSCRIBED_EVENT_TYPES, EVENT_TYPES, type EventType } from '../events/types';
import type { OutboundPolicy } from '../net/contracts';
import { checkOutboundUrl } from '../net/outbound';
import {
  type CreateWebhookSubscription,
  createWebhookSubscriptionSchema,
  type WebhookSubscription,
  type WebhookSubscriptionStore,
  type WebhookSubscriptionWithSecret,
  webhookSubscriptionIdSchema,
} from './contracts';
import { WebhookError } from './errors';
import { generateWebhookSecret } from './signing';

const ROW_KEY = 'subscription';
/** After a rotation the old secret keeps signing (second signature) this long: receivers switch without dropping deliveries. */
export const DEFAULT_ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;

const entitySchema = z.object({
  partitionKey: webhookSubscriptionIdSchema,
  team: z.string(),
  url: z.string(),
  eventTypes: z.string().optional(),
  description: z.string().optional(),
  createdAt: z.string(),
  secretRotatedAt: z.string(),
  secret: z.string(),
  previousSecret: z.string().optional(),
  previousSecretExpiresAt: z.string().optional(),
});
type SubscriptionEntity = z.infer<typeof entitySchema> & { rowKey: string };

/** A subscription with what delivery needs and the API never sees. */
export interface SubscriptionForDelivery extends WebhookSubscription {
  /** Current secret first; the previous one while its rotation overlap lasts. */
  signingSecrets: string[];
}

export function newSubscriptionId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return `wh_${[...randomBytes(24)].map((b) => alphabet[b % alphabet.length]).join('')}`;
}

export interface TableSubscriptionStoreOptions {
  /** Outbound rules the target URL must pass at create time (allowLoopbackHttp in local mode). */
  policy: Pick<OutboundPolicy, 'allowLoopbackHttp'>;
  now?: () => Date;
  rotationOverlapMs?: number;
}

/**
 * Webhook subscriptions in an Azure Table (tunedropWebhooks), one entity per subscription,
 * PartitionKey = subscription id. The `whsec_` secret lives in the entity: only the app's identity
 * can read the table (Storage encrypts it at rest); no read path of this class returns it except
 * create and rotateSecret. Listing by team is a filtered scan (subscriptions number in the dozens).
 */
export class TableWebhookSubscriptionStore implements WebhookSubscriptionStore {
  private readonly now: () => Date;
  private readonly rotationOverlapMs: number;

  constructor(
    private readonly tableClient: TableClient,
    private readonly options: TableSubscriptionStoreOptions,
  ) {
    this.now = options.now ?? (() => new Date());
    this.rotationOverlapMs = options.rotationOverlapMs ?? DEFAULT_ROTATION_OVERLAP_MS;
  }

  /** The table exists (created on first use; idempotent). */
  ensure(): Promise<void> {
    return ensureTable(this.tableClient);
  }

  private async table(): Promise<TableClient> {
    await this.ensure();
    return this.tableClient;
  }

  async create(input: CreateWebhookSubscription): Promise<WebhookSubscriptionWithSecret> {
    const parsed = createWebhookSubscriptionSchema.safeParse(input);
    if (!parsed.success) {
      throw new WebhookError(
        'invalid_subscription',
        `not a valid subscription: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`,
      );
    }
    const { team, url, eventTypes, description } = parsed.data;
    const check = checkOutboundUrl(url, this.options.policy);
    if (!check.ok) throw new WebhookError('invalid_target_url', check.message, check.failure);
    // A URL is listed back by GET /api/webhooks and written to logs by host name: it must not carry a secret.
    if (check.url.username || check.url.password) {
      throw new WebhookError(
        'invalid_target_url',
        `credentials in the URL are not accepted (host ${check.url.host}): the receiver verifies the webhook signature instead`,
        'invalid_url',
      );
    }
    const at = this.now().toISOString();
    const entity: SubscriptionEntity = {
      partitionKey: newSubscriptionId(),
      rowKey: ROW_KEY,
      team,
      url,
      createdAt: at,
      secretRotatedAt: at,
      secret: generateWebhookSecret(),
    };
    if (eventTypes) entity.eventTypes = JSON.stringify([...new Set(eventTypes)]);
    if (description !== undefined) entity.description = description;
    await (await this.table()).createEntity(entity);
    return { ...toPublic(entity), secret: entity.secret };
  }

  async get(id: string): Promise<WebhookSubscription | undefined> {
    const entity = await this.read(id);
    return entity && toPublic(entity);
  }

  /** Delivery only: the subscription with its signing secrets. */
  async getForDelivery(id: string): Promise<SubscriptionForDelivery | undefined> {
    const entity = await this.read(id);
    return entity && this.forDelivery(entity);
  }

  async list(query: { team?: string; teams?: readonly string[] }): Promise<WebhookSubscription[]> {
    return (await this.scan(query.team, query.teams)).map(toPublic);
  }

  /** Delivery only: a team's subscriptions that want this event type. */
  async matching(team: string, type: EventType): Promise<SubscriptionForDelivery[]> {
    return (await this.scan(team))
      .filter((e) => {
        const types = parseEventTypes(e);
        return types === undefined ? DEFAULT_SUBSCRIBED_EVENT_TYPES.includes(type) : types.includes(type);
      })
      .map((e) => this.forDelivery(e));
  }

  async delete(id: string): Promise<boolean> {
    if (!webhookSubscriptionIdSchema.safeParse(id).success) return false;
    try {
      await (await this.table()).deleteEntity(id, ROW_KEY);
      return true;
    } catch (err) {
      if (err instanceof RestError && err.statusCode === 404) return false;
      throw err;
    }
  }

  async rotateSecret(id: string): Promise<WebhookSubscriptionWithSecret | undefined> {
    const entity = await this.read(id);
    if (!entity) return undefined;
    const now = this.now();
    const rotated: SubscriptionEntity = {
      ...entity,
      secret: generateWebhookSecret(),
      secretRotatedAt: now.toISOString(),
      previousSecret: entity.secret,
      previousSecretExpiresAt: new Date(now.getTime() + this.rotationOverlapMs).toISOString(),
    };
    await (await this.table()).updateEntity(rotated, 'Replace');
    return { ...toPublic(rotated), secret: rotated.secret };
  }

  private async read(id: string): Promise<SubscriptionEntity | undefined> {
    if (!webhookSubscriptionIdSchema.safeParse(id).success) return undefined;
    try {
      return toEntity(await (await this.table()).getEntity(id, ROW_KEY));
    } catch (err) {
      if (err instanceof RestError && err.statusCode === 404) return undefined;
      throw err;
    }
  }

  private async scan(team?: string, teams?: readonly string[]): Promise<SubscriptionEntity[]> {
    const filters = [odata`RowKey eq ${ROW_KEY}`];
    if (team !== undefined) filters.push(odata`team eq ${team}`);
    if (teams) filters.push(teamsFilter(teams));
    const out: SubscriptionEntity[] = [];
    for await (const e of (await this.table()).listEntities({ queryOptions: { filter: filters.join(' and ') } })) {
      out.push(toEntity(e));
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.partitionKey.localeCompare(b.partitionKey));
  }

  private forDelivery(entity: SubscriptionEntity): SubscriptionForDelivery {
    const signingSecrets = [entity.secret];
    if (
      entity.previousSecret &&
      entity.previousSecretExpiresAt &&
      Date.parse(entity.previousSecretExpiresAt) > this.now().getTime()
    ) {
      signingSecrets.push(entity.previousSecret);
    }
    return { ...toPublic(entity), signingSecrets };
  }
}

function parseEventTypes(entity: SubscriptionEntity): EventType[] | undefined {
  if (entity.eventTypes === undefined) return undefined;
  const parsed = z.array(z.enum(EVENT_TYPES)).safeParse(safeJson(entity.eventTypes));
  if (!parsed.success)
    throw new WebhookError('corrupt_record', `subscription ${entity.partitionKey} has unreadable eventTypes`);
  return parsed.data;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function toEntity(raw: Record<string, unknown>): SubscriptionEntity {
  const parsed = entitySchema.safeParse(raw);
  if (!parsed.success) {
    // Field names only: the entity holds a secret.
    throw new WebhookError(
      'corrupt_record',
      `webhook subscription entity ${String(raw.partitionKey)} does not match the schema: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`,
    );
  }
  return { ...parsed.data, rowKey: ROW_KEY };
}

/** The API's view: everything but secrets. */
function toPublic(entity: SubscriptionEntity): WebhookSubscription {
  const out: WebhookSubscription = {
    id: entity.partitionKey,
    team: entity.team,
    url: entity.url,
    createdAt: entity.createdAt,
    secretRotatedAt: entity.secretRotatedAt,
  };
  const types = parseEventTypes(entity);
  if (types) out.eventTypes = types;
  if (entity.description !== undefined) out.description = entity.description;
  return out;
}
