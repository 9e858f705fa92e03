import { AuthenticationError } from '../auth/authenticate';
import { type Action, decide, type Principal, teamsAllowed } from '../auth/principal';
import type { ApiDeps } from './deps';
import { ProblemError } from './problem';

/**
 * Who may call a route: every route states one (the type requires it), and the route layer
 * (shared/api/route.ts) enforces it before the handler runs.
 * - `public`: anyone (health, the OpenAPI document).
 * - `signed-in`: any authenticated caller (the model catalog holds no team's data).
 * - `team`: the request names the team (`POST /api/runs`, `POST /api/webhooks`): the caller needs `action` on it.
 * - `teams`: a list; an explicit `?team=` needs `action` on it, otherwise the list is limited to
 *   the teams where the caller has `action`.
 * - `resource`: the route addresses one resource by id: its team (looked up) decides; no such
 *   resource and another team's resource answer the same 404.
 */
export type RouteAccess<P = unknown, Q = unknown, B = unknown> =
  | { kind: 'public' }
  | { kind: 'signed-in' }
  | { kind: 'team'; action: Action; team(input: { params: P; query: Q; body: B }): string }
  | { kind: 'teams'; action: Action; team(input: { params: P; query: Q; body: B }): string | undefined }
  | {
      kind: 'resource';
      action: Action;
      /** The resource's team; undefined when there is no such resource. */
      team(input: { params: P; deps: ApiDeps }): Promise<string | undefined>;
      notFound(params: P): ProblemError;
    };

/** What the handler may rely on once access was granted. */
export interface AccessGrant {
  /** Undefined only on public routes. */
  principal?: Principal;
  /** The teams the handler may read or act on: for lists, the filter to apply. */
  scope: readonly string[] | 'all';
}

export type AccessLog = (message: string) => void;

/** 401 `unauthenticated` for a request without a usable credential (the reason, never the credential). */
export function unauthenticated(err: AuthenticationError): ProblemError {
  const detail =
    err.reason === 'not_a_team_key'
      ? 'Function and host keys do not authorize API calls: send a team key or a Microsoft Entra access token.'
      : err.reason === 'missing_credentials'
        ? 'Send a Microsoft Entra access token (Authorization: Bearer) or a team key (x-functions-key).'
        : 'The credential was refused.';
  return new ProblemError('unauthenticated', detail, { reason: err.reason });
}

export async function authenticateRequest(
  deps: ApiDeps,
  request: { headers: Headers; url: string },
  route: string,
  log: AccessLog,
): Promise<Principal> {
  try {
    return await deps.auth.authenticator.authenticate(request);
  } catch (err) {
    if (err instanceof AuthenticationError) {
      log(`auth deny route=${route} reason=${err.reason}${err.detail ? ` check=${err.detail}` : ''} status=401`);
      throw unauthenticated(err);
    }
    throw err;
  }
}

/** Apply a route's access rule; throws the 404/403 problem, logs every decision. */
export async function enforceAccess<P, Q, B>(
  access: Exclude<RouteAccess<P, Q, B>, { kind: 'public' }>,
  principal: Principal,
  input: { params: P; query: Q; body: B; deps: ApiDeps },
  route: string,
  log: AccessLog,
): Promise<AccessGrant> {
  const who = `principal=${principal.id} kind=${principal.kind} via=${principal.via}${principal.platformAdmin ? ' platformAdmin=true' : ''}`;
  const allow = (team: string, action: string, scope: AccessGrant['scope']): AccessGrant => {
    log(`auth allow route=${route} ${who} team=${team} action=${action}`);
    return { principal, scope };
  };
  if (access.kind === 'signed-in') return allow('-', 'read-catalog', teamsAllowed(principal, 'read'));

  let team: string | undefined;
  let notFound: () => ProblemError;
  if (access.kind === 'teams') {
    team = access.team(input);
    if (team === undefined) {
      const scope = teamsAllowed(principal, access.action);
      return allow(scope === 'all' ? '*' : `*(${scope.join(',') || 'none'})`, access.action, scope);
    }
    notFound = () => new ProblemError('not_found', `There is no team ${team} you may see.`);
  } else if (access.kind === 'team') {
    team = access.team(input);
    notFound = () => new ProblemError('not_found', `There is no team ${team} you may use.`);
  } else {
    team = await access.team({ params: input.params, deps: input.deps });
    notFound = () => access.notFound(input.params);
    if (team === undefined) {
      log(`auth deny route=${route} ${who} team=- action=${access.action} decision=no-such-resource status=404`);
      throw notFound();
    }
  }
  // Creating things for a team (runs, subscriptions, keys) needs the team to be configured, even for a platform admin.
  if (access.kind === 'team' && !(await input.deps.auth.teams.list()).some((t) => t.team === team)) {
    log(`auth deny route=${route} ${who} team=${team} action=${access.action} decision=team-not-configured status=404`);
    throw notFound();
  }
  const decision = decide(principal, access.action, team);
  if (decision === 'allow') return allow(team, access.action, [team]);
  log(
    `auth deny route=${route} ${who} team=${team} action=${access.action} decision=${decision} status=${decision === 'hidden' ? 404 : 403}`,
  );
  if (decision === 'hidden') throw notFound();
  throw new ProblemError('forbidden', `Your role on team ${team} does not include "${access.action}".`, {
    team,
    action: access.action,
  });
}
