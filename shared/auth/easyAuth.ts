import { z } from 'zod';

/**
 * App Service Authentication ("Easy Auth") puts the validated caller in `x-ms-client-principal`:
 * base64 of `{ auth_typ, name_typ, role_typ, claims: [{ typ, val }] }`. App Service strips client-
 * sent `x-ms-*` identity headers when it is enabled, which is the only reason the header can be
 * trusted: tunedrop reads it only when TUNEDROP_AUTH_EASY_AUTH says Easy Auth is on.
 */
export const CLIENT_PRINCIPAL_HEADER = 'x-ms-client-principal';

const clientPrincipalSchema = z.object({
  auth_typ: z.string(),
  name_typ: z.string().optional(),
  role_typ: z.string().optional(),
  claims: z.array(z.object({ typ: z.string(), val: z.string() })).max(2000),
});

/** Long (WS-Fed style) claim types App Service's default claim mapping produces, and their JWT names. */
const CLAIM_ALIASES: Record<string, string> = {
  'http://schemas.microsoft.com/identity/claims/tenantid': 'tid',
  'http://schemas.microsoft.com/identity/claims/objectidentifier': 'oid',
  'http://schemas.microsoft.com/ws/2008/06/identity/claims/role': 'roles',
  'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups': 'groups',
  'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier': 'sub',
  'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn': 'upn',
};

export interface EasyAuthClaims {
  tid?: string;
  oid?: string;
  sub?: string;
  name?: string;
  roles: string[];
  groups: string[];
  appid?: string;
  idtyp?: string;
}

/** Decode the header; undefined when it is not a client principal (the caller is then refused). */
export function parseClientPrincipal(header: string): EasyAuthClaims | undefined {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = clientPrincipalSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const { claims, role_typ: roleType, name_typ: nameType } = parsed.data;
  const out: EasyAuthClaims = { roles: [], groups: [] };
  for (const { typ, val } of claims) {
    const name = typ === roleType ? 'roles' : (CLAIM_ALIASES[typ] ?? typ);
    if (name === 'roles') out.roles.push(val);
    else if (name === 'groups') out.groups.push(val);
    else if (name === 'tid' || name === 'oid' || name === 'sub' || name === 'appid' || name === 'idtyp')
      out[name] = val;
    else if (typ === nameType || name === 'preferred_username' || name === 'upn') out.name ??= val;
  }
  return out;
}
