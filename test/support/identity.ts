import path from 'node:path';
import {
  createEphemeralDevIdentity,
  type DevPrincipal,
  devAuthSettings,
  issueDevToken,
  readDevPrincipals,
} from '../../local/devIdentity';

/**
 * The tests' tenant: a dev issuer with an in-memory key, trusted by the app through the same
 * TUNEDROP_AUTH_* settings `npm start` uses. Tokens go through the real validation and role mapping.
 */
export const TEST_IDENTITY = createEphemeralDevIdentity();
export const TEST_AUTH_SETTINGS = devAuthSettings(TEST_IDENTITY);
export const DEV_PRINCIPALS = readDevPrincipals(path.resolve(__dirname, '..', '..', 'examples', 'dev-principals.json'));

/** A token for a principal of examples/dev-principals.json, or for an ad-hoc one (`spec`). */
export function tokenFor(
  name: string,
  spec?: Partial<DevPrincipal>,
  options?: Parameters<typeof issueDevToken>[3],
): Promise<string> {
  const principal = spec ? { roles: [], groups: [], application: false, ...spec } : DEV_PRINCIPALS[name];
  if (!principal) throw new Error(`no dev principal ${name}`);
  return issueDevToken(TEST_IDENTITY, name, principal, options);
}
