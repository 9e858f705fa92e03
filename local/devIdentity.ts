import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { importJWK, type JWK, SignJWT } from 'jose';
import { z } from 'zod';

/**
 * The local runtime's stand-in for a Microsoft Entra tenant: an RSA signing key (persisted under
 * .tunedrop/, mode 0600) that issues development access tokens for named principals. The app
 * trusts it the way it trusts a tenant in Azure — its issuer, audience, tenant id and public JWKS go
 * into the TUNEDROP_AUTH_* settings — so tokens go through the same validation (signature, iss,
 * aud, exp, nbf, tid) and the same role mapping. It is not a bypass: a token it did not sign, or
 * for another audience or tenant, is refused like any other.
 */
export const DEV_TENANT_ID = '7d0c0de0-0000-4000-8000-00000000fa11';
export const DEV_AUDIENCE = 'api://tunedrop-local';
export const DEV_ISSUER = `https://tunedrop.localhost/${DEV_TENANT_ID}/v2.0`;

export interface DevIdentity {
  tenantId: string;
  issuer: string;
  audience: string;
  kid: string;
  privateKey: JWK;
  publicJwks: { keys: JWK[] };
}

const storedSchema = z.object({
  kid: z.string().min(8),
  privateKey: z.object({ kty: z.literal('RSA'), n: z.string(), e: z.string(), d: z.string() }).passthrough(),
});

/** The dev signing key from `file`, generated on first use. */
export function loadOrCreateDevIdentity(file: string): DevIdentity {
  let stored: z.infer<typeof storedSchema>;
  if (existsSync(file)) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      throw new Error(`${file} is not valid JSON; delete it to generate a new dev signing key`);
    }
    const parsed = storedSchema.safeParse(json);
    if (!parsed.success) throw new Error(`${file} is not a dev signing key; delete it to generate a new one`);
    stored = parsed.data;
  } else {
    stored = generateKey();
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return identityOf(stored);
}

/** A dev issuer whose key lives only in memory (tests). */
export function createEphemeralDevIdentity(): DevIdentity {
  return identityOf(generateKey());
}

function generateKey(): z.infer<typeof storedSchema> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    kid: randomBytes(8).toString('hex'),
    privateKey: privateKey.export({ format: 'jwk' }) as z.infer<typeof storedSchema>['privateKey'],
  };
}

function identityOf(stored: z.infer<typeof storedSchema>): DevIdentity {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicKey } = stored.privateKey as JWK;
  return {
    tenantId: DEV_TENANT_ID,
    issuer: DEV_ISSUER,
    audience: DEV_AUDIENCE,
    kid: stored.kid,
    privateKey: stored.privateKey as JWK,
    publicJwks: { keys: [{ ...publicKey, kid: stored.kid, alg: 'RS256', use: 'sig' }] },
  };
}

/** App settings that make the app trust the dev issuer (and nothing else) for bearer tokens. */
export function devAuthSettings(identity: DevIdentity): Record<string, string> {
  return {
    TUNEDROP_AUTH_TENANT_ID: identity.tenantId,
    TUNEDROP_AUTH_AUDIENCE: identity.audience,
    TUNEDROP_AUTH_ISSUERS: identity.issuer,
    TUNEDROP_AUTH_JWKS: JSON.stringify(identity.publicJwks),
  };
}

export const devPrincipalSchema = z
  .object({
    /** App-role values (the `roles` claim). */
    roles: z.array(z.string().min(1)).default([]),
    /** Group object ids (the `groups` claim). */
    groups: z.array(z.string().min(1)).default([]),
    /** An application (client credentials) rather than a signed-in user. */
    application: z.boolean().default(false),
  })
  .strict();
export type DevPrincipal = z.infer<typeof devPrincipalSchema>;
export const devPrincipalsSchema = z.object({
  principals: z.record(z.string().regex(/^[a-z0-9-]+$/), devPrincipalSchema),
});

/** The named principals of examples/dev-principals.json (or another file). */
export function readDevPrincipals(file: string): Record<string, DevPrincipal> {
  const parsed = devPrincipalsSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`${file} must be {"principals": {name: {roles?, groups?, application?}}}`);
  return parsed.data.principals;
}

/** A stable object id per principal name, so a principal is the same caller across restarts. */
export function devObjectId(name: string): string {
  const h = createHash('sha256').update(`tunedrop-dev:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * A development access token shaped like an Entra v2 access token (iss, aud, tid, oid, sub, roles,
 * groups, scp or idtyp=app, exp, nbf, iat). `overrides` lets tests forge wrong ones.
 */
export async function issueDevToken(
  identity: DevIdentity,
  name: string,
  principal: DevPrincipal,
  options: {
    ttlSeconds?: number;
    now?: Date;
    overrides?: { audience?: string; issuer?: string; tenantId?: string; notBefore?: Date };
  } = {},
): Promise<string> {
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const oid = devObjectId(name);
  const claims: Record<string, unknown> = {
    tid: options.overrides?.tenantId ?? identity.tenantId,
    oid,
    ...(principal.roles.length ? { roles: principal.roles } : {}),
    ...(principal.groups.length ? { groups: principal.groups } : {}),
    ...(principal.application
      ? { idtyp: 'app', azp: name }
      : { scp: 'access', preferred_username: `${name}@tunedrop.localhost` }),
  };
  const key = await importJWK(identity.privateKey, 'RS256');
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: identity.kid })
    .setIssuer(options.overrides?.issuer ?? identity.issuer)
    .setAudience(options.overrides?.audience ?? identity.audience)
    .setSubject(oid)
    .setIssuedAt(now)
    .setNotBefore(options.overrides?.notBefore ? Math.floor(options.overrides.notBefore.getTime() / 1000) : now)
    .setExpirationTime(now + (options.ttlSeconds ?? 3600))
    .sign(key);
}
