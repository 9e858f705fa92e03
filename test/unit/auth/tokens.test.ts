import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { base64url, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEphemeralDevIdentity, issueDevToken } from '../../../local/devIdentity';
import {
  entraIssuers,
  signingKeys,
  type TokenFailure,
  type TokenTrust,
  validateEntraToken,
} from '../../../shared/auth/tokens';

const TENANT = '11111111-2222-4333-8444-555555555555';
const OTHER_TENANT = '99999999-8888-4777-8666-555555555555';
const AUDIENCE = 'api://tunedrop-test';
const identity = {
  ...createEphemeralDevIdentity(),
  tenantId: TENANT,
  issuer: entraIssuers(TENANT)[1] ?? '',
  audience: AUDIENCE,
};
const trust: TokenTrust = {
  tenantId: TENANT,
  audiences: [AUDIENCE, '00000000-aaaa-4bbb-8ccc-000000000001'],
  issuers: entraIssuers(TENANT),
  keys: signingKeys({ jwks: identity.publicJwks as never }),
};
const principal = { roles: ['support.admin'], groups: [], application: false };

async function refusal(token: string, t: TokenTrust = trust): Promise<TokenFailure | 'accepted'> {
  try {
    await validateEntraToken(token, t);
    return 'accepted';
  } catch (err) {
    return (err as { reason: TokenFailure }).reason;
  }
}

describe('Entra ID access tokens (jose against the tenant’s keys)', () => {
  it('accepts a v2 token of the tenant for the API’s audience, and a v1 one (sts.windows.net issuer)', async () => {
    const v2 = await validateEntraToken(await issueDevToken(identity, 'alice', principal), trust);
    expect(v2).toMatchObject({ tid: TENANT, roles: ['support.admin'], preferred_username: 'alice@tunedrop.localhost' });
    const v1 = await issueDevToken(identity, 'bob', principal, {
      overrides: { issuer: `https://sts.windows.net/${TENANT}/` },
    });
    expect(await refusal(v1)).toBe('accepted');
  });

  it('refuses forged tokens: another key under the same kid, a tampered payload, alg none, HMAC with the public key', async () => {
    const forger = { ...identity, privateKey: createEphemeralDevIdentity().privateKey };
    expect(await refusal(await issueDevToken(forger, 'mallory', principal))).toBe('bad_signature');

    const genuine = await issueDevToken(identity, 'alice', { ...principal, roles: ['support.reader'] });
    const [header, payload, signature] = genuine.split('.');
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload ?? '')));
    const elevated = base64url.encode(JSON.stringify({ ...claims, roles: ['tunedrop.platform-admin'] }));
    expect(await refusal(`${header}.${elevated}.${signature}`)).toBe('bad_signature');

    const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT', kid: identity.kid }))}.${payload}.`;
    expect(await refusal(none)).not.toBe('accepted');

    const publicPem = JSON.stringify(identity.publicJwks.keys[0]);
    const hmac = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid: identity.kid })
      .sign(new TextEncoder().encode(publicPem));
    expect(await refusal(hmac)).toBe('bad_signature');
    expect(await refusal('not-a-jwt')).toBe('malformed');
  });

  it('refuses expired and not-yet-valid tokens (beyond 60 s of clock skew)', async () => {
    const hourAgo = new Date(Date.now() - 2 * 3600_000);
    expect(await refusal(await issueDevToken(identity, 'alice', principal, { now: hourAgo, ttlSeconds: 3600 }))).toBe(
      'expired',
    );
    const later = new Date(Date.now() + 600_000);
    expect(await refusal(await issueDevToken(identity, 'alice', principal, { overrides: { notBefore: later } }))).toBe(
      'not_yet_valid',
    );
    const skewed = new Date(Date.now() - 3600_000 - 30_000);
    expect(await refusal(await issueDevToken(identity, 'alice', principal, { now: skewed, ttlSeconds: 3600 }))).toBe(
      'accepted',
    );
  });

  it('refuses a token for another audience, and one of another tenant', async () => {
    const graph = await issueDevToken(identity, 'alice', principal, {
      overrides: { audience: 'https://graph.microsoft.com' },
    });
    expect(await refusal(graph)).toBe('wrong_audience');
    const otherIssuer = await issueDevToken(identity, 'eve', principal, {
      overrides: { tenantId: OTHER_TENANT, issuer: `https://login.microsoftonline.com/${OTHER_TENANT}/v2.0` },
    });
    expect(await refusal(otherIssuer)).toBe('wrong_issuer');
    // An issuer list that does not pin the tenant (e.g. a configured one) still checks tid.
    const loose = { ...trust, issuers: [...trust.issuers, identity.issuer] };
    const otherTid = await issueDevToken(identity, 'eve', principal, { overrides: { tenantId: OTHER_TENANT } });
    expect(await refusal(otherTid, loose)).toBe('wrong_tenant');
  });

  describe('keys from the tenant’s JWKS URL (the discovery/v2.0/keys shape), fetched and cached by jose', () => {
    let requests = 0;
    const server = createServer((req, res) => {
      requests++;
      if (req.url !== `/${TENANT}/discovery/v2.0/keys`) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(identity.publicJwks));
    });
    let remote: TokenTrust;
    beforeAll(async () => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      remote = { ...trust, keys: signingKeys({ jwksUri: `http://127.0.0.1:${port}/${TENANT}/discovery/v2.0/keys` }) };
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('verifies with the fetched key, fetches once for many tokens, and refuses an unknown kid', async () => {
      for (const name of ['a', 'b', 'c'])
        expect(await refusal(await issueDevToken(identity, name, principal), remote)).toBe('accepted');
      expect(requests).toBe(1);
      const stranger = {
        ...createEphemeralDevIdentity(),
        issuer: identity.issuer,
        audience: AUDIENCE,
        tenantId: TENANT,
      };
      expect(await refusal(await issueDevToken(stranger, 'x', principal), remote)).toBe('unknown_key');
    });

    it('refuses (keys_unavailable) when the key endpoint is down', async () => {
      const down = { ...trust, keys: signingKeys({ jwksUri: 'http://127.0.0.1:9/keys' }) };
      expect(await refusal(await issueDevToken(identity, 'a', principal), down)).toBe('keys_unavailable');
    });
  });
});
