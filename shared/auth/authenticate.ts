import { CLIENT_PRINCIPAL_HEADER, type EasyAuthClaims, parseClientPrincipal } from './easyAuth';
import { type Action, type MembershipClaims, type Principal, teamActionsFor } from './principal';
import type { TeamDirectory } from './teamDirectory';
import { TEAM_KEY_PATTERN, type TeamKeyStore } from './teamKeys';
import { type EntraClaims, TokenError, type TokenTrust, validateEntraToken } from './tokens';

/** Why a request has no principal; the API answers 401 `unauthenticated` with this as `reason`. */
export type AuthFailure =
  | 'missing_credentials'
  | 'invalid_token'
  | 'token_auth_not_configured'
  | 'invalid_team_key'
  | 'not_a_team_key'
  | 'invalid_client_principal'
  | 'wrong_tenant';

export class AuthenticationError extends Error {
  constructor(
    readonly reason: AuthFailure,
    /** Finer reason for logs (e.g. the token check that failed); never a credential. */
    readonly detail?: string,
  ) {
    super(`unauthenticated: ${reason}${detail ? ` (${detail})` : ''}`);
  }
}

export interface AuthOptions {
  /** Entra ID (or, locally, the dev issuer) tokens are accepted when set. */
  tokens?: TokenTrust;
  /** Trust App Service Authentication's x-ms-client-principal (only when Easy Auth is enabled in front of the app). */
  easyAuth?: { tenantId?: string };
  /** App-role value or group id that makes a caller platform admin. */
  platformAdminRole: string;
  teams: TeamDirectory;
  keys: TeamKeyStore;
}

export interface Authenticator {
  authenticate(request: { headers: Headers; url: string }): Promise<Principal>;
}

/**
 * One request → one principal. Credentials, in order: Easy Auth's client principal (when trusted),
 * `Authorization: Bearer` (an Entra token, or a team key), a team key in `x-functions-key` / `?code=`.
 */
export function createAuthenticator(options: AuthOptions): Authenticator {
  const fromClaims = async (
    base: Pick<Principal, 'id' | 'kind' | 'name' | 'via'>,
    claims: MembershipClaims,
  ): Promise<Principal> => {
    const held = new Set([...claims.roles, ...claims.groups]);
    return {
      ...base,
      platformAdmin: held.has(options.platformAdminRole),
      teams: teamActionsFor(claims, await options.teams.list()),
    };
  };

  const fromTeamKey = async (presented: string): Promise<Principal> => {
    const key = await options.keys.verify(presented);
    if (!key) throw new AuthenticationError('invalid_team_key');
    // A key for a team that is no longer configured grants nothing.
    const configured = (await options.teams.list()).some((t) => t.team === key.team);
    return {
      id: `key:${key.id}`,
      kind: 'team-key',
      name: key.description,
      via: 'team-key',
      platformAdmin: false,
      teams: configured ? new Map([[key.team, new Set<Action>(key.actions)]]) : new Map(),
    };
  };

  return {
    async authenticate({ headers, url }) {
      const clientPrincipal = headers.get(CLIENT_PRINCIPAL_HEADER);
      if (options.easyAuth && clientPrincipal) {
        const claims = parseClientPrincipal(clientPrincipal);
        if (!claims) throw new AuthenticationError('invalid_client_principal');
        if (options.easyAuth.tenantId && claims.tid?.toLowerCase() !== options.easyAuth.tenantId.toLowerCase()) {
          throw new AuthenticationError('wrong_tenant');
        }
        return fromClaims(easyAuthIdentity(claims), claims);
      }

      const authorization = headers.get('authorization');
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
      if (bearer) {
        if (TEAM_KEY_PATTERN.test(bearer)) return fromTeamKey(bearer);
        if (!options.tokens) throw new AuthenticationError('token_auth_not_configured');
        let claims: EntraClaims;
        try {
          claims = await validateEntraToken(bearer, options.tokens);
        } catch (err) {
          if (err instanceof TokenError) {
            throw new AuthenticationError(err.reason === 'wrong_tenant' ? 'wrong_tenant' : 'invalid_token', err.reason);
          }
          throw err;
        }
        return fromClaims(tokenIdentity(claims), { roles: claims.roles ?? [], groups: claims.groups ?? [] });
      }

      const key = headers.get('x-functions-key') ?? safeQuery(url, 'code');
      if (key) {
        if (TEAM_KEY_PATTERN.test(key)) return fromTeamKey(key);
        // A host or function key of the Functions host: it no longer speaks for any team.
        throw new AuthenticationError('not_a_team_key');
      }
      throw new AuthenticationError('missing_credentials');
    },
  };
}

function tokenIdentity(claims: EntraClaims): Pick<Principal, 'id' | 'kind' | 'name' | 'via'> {
  // App-only tokens (client credentials, managed identity) carry no delegated scopes.
  const application = claims.idtyp === 'app' || claims.scp === undefined;
  return {
    id: `entra:${claims.tid}/${claims.oid ?? claims.sub}`,
    kind: application ? 'application' : 'user',
    name: claims.preferred_username ?? claims.upn ?? claims.azp ?? claims.appid,
    via: 'bearer',
  };
}

function easyAuthIdentity(claims: EasyAuthClaims): Pick<Principal, 'id' | 'kind' | 'name' | 'via'> {
  return {
    id: `entra:${claims.tid ?? 'unknown'}/${claims.oid ?? claims.sub ?? 'unknown'}`,
    kind: claims.idtyp === 'app' ? 'application' : 'user',
    name: claims.name ?? claims.appid,
    via: 'easy-auth',
  };
}

function safeQuery(url: string, name: string): string | null {
  try {
    return new URL(url).searchParams.get(name);
  } catch {
    return null;
  }
}
