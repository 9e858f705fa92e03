import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { ensureTable } from '../config/tables';
import { type Action, actionSchema, TEAM_KEY_ACTIONS } from './principal';

/**
 * Team keys: automation credentials scoped to one team and an action set. The key is
 * `tdk_{keyId}.{secret}` with 256 random bits of secret; only the SHA-256 of the secret is stored
 * (a hash of a high-entropy secret needs no slow KDF), compared in constant time. It is shown once,
 * at creation. Revoked keys stay as rows (audit) and never authenticate again.
 */
export const TEAM_KEY_PATTERN = /^tdk_([0-9a-f]{20})\.([A-Za-z0-9_-]{43})$/;
export const teamKeyIdSchema = z.string().regex(/^[0-9a-f]{20}$/, 'a team key id (20 hex digits)');

export const teamKeySchema = z.object({
  id: teamKeyIdSchema,
  team: z.string(),
  actions: z.array(actionSchema),
  description: z.string().optional(),
  createdAt: z.string(),
  createdBy: z.string(),
  expiresAt: z.string().optional(),
  lastUsedAt: z.string().optional(),
  revokedAt: z.string().optional(),
});
export type TeamKey = z.infer<typeof teamKeySchema>;
export const teamKeyWithSecretSchema = teamKeySchema.extend({ key: z.string().regex(TEAM_KEY_PATTERN) });
export type TeamKeyWithSecret = z.infer<typeof teamKeyWithSecretSchema>;

export const createTeamKeySchema = z
  .object({
    team: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a team id'),
    actions: z.array(z.enum(TEAM_KEY_ACTIONS)).min(1),
    description: z.string().max(200).optional(),
    /** Days until the key stops working; absent = until revoked. */
    expiresInDays: z.number().int().min(1).max(3650).optional(),
  })
  .strict();
export type CreateTeamKey = z.infer<typeof createTeamKeySchema>;

const PARTITION = 'teamkey';
/** last-used is written at most this often per key: one table write a minute, not one per request. */
const LAST_USED_RESOLUTION_MS = 60_000;

const entitySchema = z.object({
  rowKey: z.string(),
  team: z.string(),
  actions: z.string(),
  description: z.string().optional(),
  createdAt: z.string(),
  createdBy: z.string(),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  expiresAt: z.string().optional(),
  lastUsedAt: z.string().optional(),
  revokedAt: z.string().optional(),
});
type Entity = z.infer<typeof entitySchema>;

export interface VerifiedTeamKey {
  id: string;
  team: string;
  actions: Action[];
  description?: string;
}

export class TeamKeyStore {
  constructor(
    private readonly table: TableClient,
    private readonly now: () => Date = () => new Date(),
  ) {}

  ensure(): Promise<void> {
    return ensureTable(this.table);
  }

  async create(input: CreateTeamKey, createdBy: string): Promise<TeamKeyWithSecret> {
    const id = randomBytes(10).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const createdAt = this.now().toISOString();
    const expiresAt = input.expiresInDays
      ? new Date(this.now().getTime() + input.expiresInDays * 86_400_000).toISOString()
      : undefined;
    const entity = {
      partitionKey: PARTITION,
      rowKey: id,
      team: input.team,
      actions: [...new Set(input.actions)].join(','),
      ...(input.description ? { description: input.description } : {}),
      createdAt,
      createdBy,
      hash: sha256(secret),
      ...(expiresAt ? { expiresAt } : {}),
    };
    await this.table.createEntity(entity);
    return { ...toPublic(entitySchema.parse(entity)), key: `tdk_${id}.${secret}` };
  }

  async get(id: string): Promise<TeamKey | undefined> {
    const entity = await this.read(id);
    return entity ? toPublic(entity) : undefined;
  }

  async list(query: { teams: readonly string[] | 'all' }): Promise<TeamKey[]> {
    if (query.teams !== 'all' && query.teams.length === 0) return [];
    const filters = [odata`PartitionKey eq ${PARTITION}`];
    if (query.teams !== 'all') filters.push(`(${query.teams.map((t) => odata`team eq ${t}`).join(' or ')})`);
    const keys: TeamKey[] = [];
    for await (const e of this.table.listEntities({ queryOptions: { filter: filters.join(' and ') } })) {
      const parsed = entitySchema.safeParse(e);
      if (parsed.success) keys.push(toPublic(parsed.data));
    }
    return keys.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** false when there is no such key; revoking twice keeps the first time. */
  async revoke(id: string): Promise<TeamKey | undefined> {
    const entity = await this.read(id);
    if (!entity) return undefined;
    if (!entity.revokedAt) {
      const revokedAt = this.now().toISOString();
      await this.table.updateEntity({ partitionKey: PARTITION, rowKey: id, revokedAt }, 'Merge');
      entity.revokedAt = revokedAt;
    }
    return toPublic(entity);
  }

  /**
   * The key's team and actions when `presented` is a live key (right secret, not revoked, not
   * expired); undefined otherwise, the same for every failure. Records the last-used time.
   */
  async verify(presented: string): Promise<VerifiedTeamKey | undefined> {
    const m = TEAM_KEY_PATTERN.exec(presented);
    if (!m) return undefined;
    const [, id = '', secret = ''] = m;
    const entity = await this.read(id);
    if (!entity) return undefined;
    const expected = Buffer.from(entity.hash, 'hex');
    const actual = Buffer.from(sha256(secret), 'hex');
    if (!timingSafeEqual(expected, actual)) return undefined;
    const now = this.now();
    if (entity.revokedAt) return undefined;
    if (entity.expiresAt && Date.parse(entity.expiresAt) <= now.getTime()) return undefined;
    if (!entity.lastUsedAt || now.getTime() - Date.parse(entity.lastUsedAt) >= LAST_USED_RESOLUTION_MS) {
      // Best effort: a failed bookkeeping write must not fail the caller's request.
      await this.table
        .updateEntity({ partitionKey: PARTITION, rowKey: id, lastUsedAt: now.toISOString() }, 'Merge')
        .catch(() => undefined);
    }
    return { id, team: entity.team, actions: parseActions(entity.actions), description: entity.description };
  }

  private async read(id: string): Promise<Entity | undefined> {
    try {
      const parsed = entitySchema.safeParse(await this.table.getEntity(PARTITION, id));
      return parsed.success ? parsed.data : undefined;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    }
  }
}

function sha256(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

function parseActions(csv: string): Action[] {
  return csv
    .split(',')
    .map((a) => actionSchema.safeParse(a))
    .flatMap((r) => (r.success && r.data !== 'keys' ? [r.data] : []));
}

function toPublic(e: Entity): TeamKey {
  return {
    id: e.rowKey,
    team: e.team,
    actions: parseActions(e.actions),
    ...(e.description ? { description: e.description } : {}),
    createdAt: e.createdAt,
    createdBy: e.createdBy,
    ...(e.expiresAt ? { expiresAt: e.expiresAt } : {}),
    ...(e.lastUsedAt ? { lastUsedAt: e.lastUsedAt } : {}),
    ...(e.revokedAt ? { revokedAt: e.revokedAt } : {}),
  };
}
