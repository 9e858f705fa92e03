import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { z } from 'zod';

/**
 * Microsoft Entra ID access tokens for this API, validated with `jose` against the tenant's signing
 * keys. Checked: signature (RS256, key from the tenant's JWKS by `kid`), `iss` (the tenant's v1
 * `https://sts.windows.net/{tid}/` or v2 `https://login.microsoftonline.com/{tid}/v2.0` issuer),
 * `aud` (the API's client id or App ID URI), `exp` and `nbf` (with clock skew), and `tid` equal to
 * the trusted tenant. Sources: docs/api.md (Identity).
 */
export interface TokenTrust {
  tenantId: string;
  /** Accepted `aud` values: the app registration's client id and/or its App ID URI (api://…). */
  audiences: readonly string[];
  /** Accepted `iss` values; by default the tenant's v1 and v2 issuers. */
  issuers: readonly string[];
  /** Where signing keys come from: the tenant's JWKS over HTTPS, or (local runtime) a key set in the settings. */
  keys: JWTVerifyGetKey;
  /** Allowed clock skew for exp/nbf (seconds). */
  clockToleranceSeconds?: number;
  now?: () => Date;
}

export function entraIssuers(tenantId: string): string[] {
  return [`https://sts.windows.net/${tenantId}/`, `https://login.microsoftonline.com/${tenantId}/v2.0`];
}

export function entraJwksUri(tenantId: string): string {
  return `https://login.microsoftonline.com/${tenantId}/discovery/v2.0/keys`;
}

/** Keys from a JWKS URL (cached by jose, refetched on an unknown kid) or from an inline key set. */
export function signingKeys(source: { jwksUri: string } | { jwks: JSONWebKeySet }): JWTVerifyGetKey {
  return 'jwksUri' in source ? createRemoteJWKSet(new URL(source.jwksUri)) : createLocalJWKSet(source.jwks);
}

const stringList = z.array(z.string()).optional();
/** The claims tunedrop reads; the rest are ignored. */
export const entraClaimsSchema = z.object({
  tid: z.string().min(1),
  oid: z.string().optional(),
  sub: z.string().min(1),
  roles: stringList,
  groups: stringList,
  scp: z.string().optional(),
  /** v2: the client's app id; v1: appid. */
  azp: z.string().optional(),
  appid: z.string().optional(),
  /** Optional claim: `app` for app-only tokens (client credentials, managed identity). */
  idtyp: z.string().optional(),
  preferred_username: z.string().optional(),
  upn: z.string().optional(),
  /** Group overage: the groups did not fit in the token (resolve through Graph; not done here). */
  _claim_names: z.record(z.string(), z.unknown()).optional(),
});
export type EntraClaims = z.infer<typeof entraClaimsSchema>;

export type TokenFailure =
  | 'malformed'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'wrong_tenant'
  | 'unknown_key'
  | 'keys_unavailable'
  | 'invalid_claims';

export class TokenError extends Error {
  constructor(readonly reason: TokenFailure) {
    super(`token refused: ${reason}`);
  }
}

export async function validateEntraToken(token: string, trust: TokenTrust): Promise<EntraClaims> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, trust.keys, {
      issuer: [...trust.issuers],
      audience: [...trust.audiences],
      algorithms: ['RS256'],
      clockTolerance: trust.clockToleranceSeconds ?? 60,
      requiredClaims: ['exp', 'iss', 'aud'],
      ...(trust.now ? { currentDate: trust.now() } : {}),
    }));
  } catch (err) {
    throw new TokenError(failureOf(err));
  }
  const claims = entraClaimsSchema.safeParse(payload);
  if (!claims.success) throw new TokenError('invalid_claims');
  // The issuer check already pins the tenant for the default issuers; this also covers configured ones.
  if (claims.data.tid.toLowerCase() !== trust.tenantId.toLowerCase()) throw new TokenError('wrong_tenant');
  return claims.data;
}

function failureOf(err: unknown): TokenFailure {
  if (err instanceof errors.JWTExpired) return 'expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return 'wrong_issuer';
    if (err.claim === 'aud') return 'wrong_audience';
    if (err.claim === 'nbf') return 'not_yet_valid';
    return 'invalid_claims';
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) return 'unknown_key';
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) return 'keys_unavailable';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'bad_signature';
  // Anything jose itself did not raise (a failed JWKS fetch) is about the keys, not the token.
  return err instanceof errors.JOSEError ? 'malformed' : 'keys_unavailable';
}
