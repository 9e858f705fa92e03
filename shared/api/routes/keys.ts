import { z } from 'zod';
import { createTeamKeySchema, teamKeyIdSchema, teamKeySchema, teamKeyWithSecretSchema } from '../../auth/teamKeys';
import { teamIdSchema } from '../../pipeline/teams';
import { ProblemError } from '../problem';
import { defineRoute } from '../route';
import { scopeFilter } from './runs';

export const keyPath = (id: string) => `/api/keys/${id}`;
const keyNotFound = (id: string) => new ProblemError('not_found', `There is no team key ${id}.`);

export const teamKeyListSchema = z.object({ keys: z.array(teamKeySchema) });
export const teamKeyIdParamsSchema = z.object({ id: teamKeyIdSchema });
export const listTeamKeysQuerySchema = z.object({ team: teamIdSchema.optional() });

export const createTeamKeyRoute = defineRoute({
  name: 'createTeamKey',
  method: 'POST',
  route: 'keys',
  authLevel: 'anonymous',
  summary: 'Issue a key for one team and a set of actions; the response carries the key, once',
  tags: ['keys'],
  body: createTeamKeySchema,
  access: { kind: 'team', action: 'keys', team: ({ body }) => body.team },
  responses: {
    201: {
      description: 'Issued. Store `key` now: only its hash is kept',
      schema: teamKeyWithSecretSchema,
      headers: { Location: 'The key (metadata only)' },
    },
  },
  problems: [403, 404, 422],
  async handle({ body, deps, access }) {
    const principal = access.principal;
    if (!principal) throw new ProblemError('unauthenticated');
    // No escalation: a key carries only actions its issuer holds on that team.
    const own = principal.teams.get(body.team);
    const beyond = principal.platformAdmin ? [] : body.actions.filter((a) => !own?.has(a));
    if (beyond.length) {
      throw new ProblemError('forbidden', `A key cannot carry actions you do not hold: ${beyond.join(', ')}.`, {
        team: body.team,
        action: beyond[0],
      });
    }
    await deps.auth.keys.ensure();
    const created = teamKeyWithSecretSchema.parse(await deps.auth.keys.create(body, principal.id));
    return { status: 201, headers: { Location: keyPath(created.id) }, body: created };
  },
});

export const listTeamKeysRoute = defineRoute({
  name: 'listTeamKeys',
  method: 'GET',
  route: 'keys',
  authLevel: 'anonymous',
  summary: 'Team keys (never the key itself): team, actions, creator, last use, revocation',
  tags: ['keys'],
  query: listTeamKeysQuerySchema,
  access: { kind: 'teams', action: 'keys', team: ({ query }) => query.team },
  responses: { 200: { description: 'Keys', schema: teamKeyListSchema } },
  problems: [404],
  async handle({ deps, access }) {
    await deps.auth.keys.ensure();
    const teams = scopeFilter(access.scope) ?? 'all';
    return { status: 200, body: teamKeyListSchema.parse({ keys: await deps.auth.keys.list({ teams }) }) };
  },
});

export const revokeTeamKeyRoute = defineRoute({
  name: 'revokeTeamKey',
  method: 'DELETE',
  route: 'keys/{id}',
  authLevel: 'anonymous',
  summary: 'Revoke a team key: it stops working at once (the record stays, with revokedAt)',
  tags: ['keys'],
  params: teamKeyIdParamsSchema,
  access: {
    kind: 'resource',
    action: 'keys',
    team: async ({ params, deps }) => {
      await deps.auth.keys.ensure();
      return (await deps.auth.keys.get(params.id))?.team;
    },
    notFound: (params) => keyNotFound(params.id),
  },
  responses: { 200: { description: 'Revoked', schema: teamKeySchema } },
  problems: [403, 404],
  async handle({ params, deps }) {
    const revoked = await deps.auth.keys.revoke(params.id);
    if (!revoked) throw keyNotFound(params.id);
    return { status: 200, body: teamKeySchema.parse(revoked) };
  },
});
