import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  AzureCliCredential,
  ChainedTokenCredential,
  DeviceCodeCredential,
  ManagedIdentityCredential,
  type TokenCredential,
} from '@azure/identity';
import { issueDevToken, loadOrCreateDevIdentity, readDevPrincipals } from '../local/devIdentity';

/** Where `tunedrop dev` keeps the local dev issuer's signing key, and the named principals it knows. */
export const LOCAL_DEV_IDENTITY_FILE = path.join('.tunedrop', 'dev-identity.json');
export const DEV_PRINCIPALS_FILE = path.join('examples', 'dev-principals.json');
/** Who the CLI is against a local runtime when nothing else is said (as the host master key was). */
export const DEFAULT_DEV_PRINCIPAL = 'platform-admin';

export type TokenSource = () => Promise<string>;

/**
 * A token for the API's audience from @azure/identity: the Azure CLI's login, else a managed
 * identity (on Azure compute), else the device-code flow (prints a code to enter in a browser).
 */
export function azureIdentityTokens(
  audience: string,
  credential: TokenCredential = new ChainedTokenCredential(
    new AzureCliCredential(),
    new ManagedIdentityCredential(),
    new DeviceCodeCredential(),
  ),
): TokenSource {
  const scope = `${audience.replace(/\/+$/, '')}/.default`;
  return async () => {
    const token = await credential.getToken(scope);
    if (!token) throw new Error(`no token for ${scope}`);
    return token.token;
  };
}

/** A development token for a named principal, signed by the local runtime's dev key. */
export function devTokens(cwd: string, principal: string): TokenSource {
  let cached: { token: string; until: number } | undefined;
  return async () => {
    if (cached && cached.until > Date.now()) return cached.token;
    const keyFile = path.join(cwd, LOCAL_DEV_IDENTITY_FILE);
    if (!existsSync(keyFile)) {
      throw new Error(`${LOCAL_DEV_IDENTITY_FILE} does not exist: start the local runtime (npm start) first`);
    }
    const principals = readDevPrincipals(path.join(cwd, DEV_PRINCIPALS_FILE));
    const spec = principals[principal];
    if (!spec)
      throw new Error(
        `no dev principal "${principal}" in ${DEV_PRINCIPALS_FILE}: ${Object.keys(principals).join(', ')}`,
      );
    const token = await issueDevToken(loadOrCreateDevIdentity(keyFile), principal, spec);
    cached = { token, until: Date.now() + 50 * 60_000 };
    return token;
  };
}

export function hasLocalDevIdentity(cwd: string): boolean {
  return existsSync(path.join(cwd, LOCAL_DEV_IDENTITY_FILE)) && existsSync(path.join(cwd, DEV_PRINCIPALS_FILE));
}
