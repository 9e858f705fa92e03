import { z } from 'zod';

/**
 * What a caller may do on a team's resources. `read`: runs, reports, registered models, webhook
 * subscriptions and deliveries; `start`: POST /api/runs; `cancel`: cancel a run; `subscribe`: create,
 * delete, rotate, test webhook subscriptions and redeliver deliveries; `keys`: issue, list and revoke
 * the team's keys.
 */
export const ACTIONS = ['read', 'start', 'cancel', 'subscribe', 'keys'] as const;
export type Action = (typeof ACTIONS)[number];
export const actionSchema = z.enum(ACTIONS);

/** The roles a team configuration maps app roles / groups to, and what each may do. */
export const TEAM_ROLES = ['reader', 'submitter', 'admin'] as const;
export type TeamRole = (typeof TEAM_ROLES)[number];
export const ROLE_ACTIONS: Record<TeamRole, readonly Action[]> = {
  reader: ['read'],
  submitter: ['read', 'start', 'cancel'],
  admin: ACTIONS,
};

/** Actions a team key may carry: never `keys` (a leaked key must not be able to mint more keys). */
export const TEAM_KEY_ACTIONS = ['read', 'start', 'cancel', 'subscribe'] as const satisfies readonly Action[];

/**
 * `access` in a team configuration: which app-role values or group object ids (as they appear in
 * the token's `roles` / `groups` claims) hold each role. Absent: the app roles `{team}.reader`,
 * `{team}.submitter`, `{team}.admin` (the convention infra/app/teamAccess.bicep documents).
 */
const claimValues = z.array(z.string().min(1).max(256)).max(100);
export const teamAccessSchema = z
  .object({ reader: claimValues.default([]), submitter: claimValues.default([]), admin: claimValues.default([]) })
  .strict();
export type TeamAccess = z.infer<typeof teamAccessSchema>;

export function defaultTeamAccess(team: string): TeamAccess {
  return { reader: [`${team}.reader`], submitter: [`${team}.submitter`], admin: [`${team}.admin`] };
}

export type TeamActions = ReadonlyMap<string, ReadonlySet<Action>>;

export type PrincipalKind = 'user' | 'application' | 'team-key';

/** Who is calling, and what they may do on which team. Never holds a token or a key. */
export interface Principal {
  /** Stable and log-safe: `entra:{tid}/{oid}`, `key:{keyId}`. */
  id: string;
  kind: PrincipalKind;
  /** For people reading logs: upn / app id / key description. Not used for decisions. */
  name?: string;
  /** How the caller was authenticated. */
  via: 'bearer' | 'easy-auth' | 'team-key';
  teams: TeamActions;
  /** Sees and does everything, on every team. */
  platformAdmin: boolean;
}

/** The claims membership is derived from (the token's `roles` and `groups`). */
export interface MembershipClaims {
  roles: readonly string[];
  groups: readonly string[];
}

/** A team as the authorizer sees it: its id and who holds which role. */
export interface TeamAccessEntry {
  team: string;
  access: TeamAccess;
}

/** Map a caller's roles and groups to teams and actions through each team's `access`. */
export function teamActionsFor(claims: MembershipClaims, teams: readonly TeamAccessEntry[]): TeamActions {
  const held = new Set([...claims.roles, ...claims.groups]);
  const result = new Map<string, Set<Action>>();
  for (const { team, access } of teams) {
    for (const role of TEAM_ROLES) {
      if (!access[role].some((value) => held.has(value))) continue;
      const actions = result.get(team) ?? new Set<Action>();
      for (const action of ROLE_ACTIONS[role]) actions.add(action);
      result.set(team, actions);
    }
  }
  return result;
}

export type Decision = 'allow' | 'hidden' | 'forbidden';

/**
 * The one rule: a platform admin may do anything; on a team the caller has no role in, the
 * resource does not exist for them (404, existence not revealed); on their own team, an action
 * their role lacks is refused (403).
 */
export function decide(principal: Principal, action: Action, team: string): Decision {
  if (principal.platformAdmin) return 'allow';
  const actions = principal.teams.get(team);
  if (!actions) return 'hidden';
  return actions.has(action) ? 'allow' : 'forbidden';
}

/** The teams on which the caller may do `action`; `all` for a platform admin. */
export function teamsAllowed(principal: Principal, action: Action): readonly string[] | 'all' {
  if (principal.platformAdmin) return 'all';
  return [...principal.teams].filter(([, actions]) => actions.has(action)).map(([team]) => team);
}
