import type { TableClient } from '@azure/data-tables';
import type { ContainerClient } from '@azure/storage-blob';
import type { JSONWebKeySet } from 'jose';
import type { AuthSettings } from '../config/settings';
import { type Authenticator, createAuthenticator } from './authenticate';
import { blobTeamDirectory, type TeamDirectory } from './teamDirectory';
import { TeamKeyStore } from './teamKeys';
import { entraIssuers, signingKeys } from './tokens';

export * from './authenticate';
export * from './principal';
export * from './teamDirectory';
export * from './teamKeys';
export * from './tokens';

/** Identity for the HTTP API: who is calling, the configured teams, and the team keys. */
export interface AuthServices {
  authenticator: Authenticator;
  teams: TeamDirectory;
  keys: TeamKeyStore;
}

/** Built once per process (the JWKS and team-directory caches live here). */
export function createAuthServices(
  settings: AuthSettings,
  parts: { config: ContainerClient; teamKeysTable: TableClient; log?: (message: string) => void },
): AuthServices {
  const teams = blobTeamDirectory(parts.config, { log: parts.log });
  const keys = new TeamKeyStore(parts.teamKeysTable);
  const tokens = settings.tokens;
  const authenticator = createAuthenticator({
    tokens: tokens
      ? {
          tenantId: tokens.tenantId,
          audiences: tokens.audiences,
          issuers: tokens.issuers ?? entraIssuers(tokens.tenantId),
          keys: signingKeys(
            'jwksUri' in tokens.keys ? tokens.keys : { jwks: tokens.keys.jwks as unknown as JSONWebKeySet },
          ),
        }
      : undefined,
    easyAuth: settings.easyAuth ? { tenantId: tokens?.tenantId } : undefined,
    platformAdminRole: settings.platformAdminRole,
    teams,
    keys,
  });
  return { authenticator, teams, keys };
}
