import { describe, expect, it } from 'vitest';
import { createAuthenticator } from '../../../shared/auth/authenticate';
import { parseClientPrincipal } from '../../../shared/auth/easyAuth';
import {
  decide,
  defaultTeamAccess,
  type Principal,
  teamActionsFor,
  teamsAllowed,
} from '../../../shared/auth/principal';
import { staticTeamDirectory } from '../../../shared/auth/teamDirectory';
import type { TeamKeyStore } from '../../../shared/auth/teamKeys';
import { loadSettings } from '../../../shared/config/settings';

const teams = [
  { team: 'support', access: defaultTeamAccess('support') },
  { team: 'ops', access: { reader: ['ops.reader'], submitter: [], admin: ['3f1c2b9e-0a0a-4000-8000-000000000a0a'] } },
];

describe('team membership and the one decision rule', () => {
  it('maps app roles and group ids to teams and actions; roles accumulate', () => {
    const held = teamActionsFor({ roles: ['support.submitter', 'ops.reader'], groups: [] }, teams);
    expect([...(held.get('support') ?? [])].sort()).toEqual(['cancel', 'read', 'start']);
    expect([...(held.get('ops') ?? [])]).toEqual(['read']);
    const byGroup = teamActionsFor({ roles: [], groups: ['3f1c2b9e-0a0a-4000-8000-000000000a0a'] }, teams);
    expect([...(byGroup.get('ops') ?? [])].sort()).toEqual(['cancel', 'keys', 'read', 'start', 'subscribe']);
    expect(byGroup.has('support')).toBe(false);
    // A role of a team that is not configured grants nothing.
    expect(teamActionsFor({ roles: ['finance.admin'], groups: [] }, teams).size).toBe(0);
  });

  it('another team is hidden (404), a missing action on one’s own team forbidden (403), a platform admin allowed', () => {
    const reader: Principal = {
      id: 'entra:t/r',
      kind: 'user',
      via: 'bearer',
      platformAdmin: false,
      teams: teamActionsFor({ roles: ['support.reader'], groups: [] }, teams),
    };
    expect(decide(reader, 'read', 'support')).toBe('allow');
    expect(decide(reader, 'cancel', 'support')).toBe('forbidden');
    expect(decide(reader, 'read', 'ops')).toBe('hidden');
    expect(decide(reader, 'read', 'unconfigured')).toBe('hidden');
    expect(teamsAllowed(reader, 'read')).toEqual(['support']);
    expect(teamsAllowed(reader, 'start')).toEqual([]);
    const admin: Principal = { ...reader, platformAdmin: true, teams: new Map() };
    expect(decide(admin, 'subscribe', 'ops')).toBe('allow');
    expect(teamsAllowed(admin, 'read')).toBe('all');
  });
});

const clientPrincipal = (claims: { typ: string; val: string }[], tid = '11111111-2222-4333-8444-555555555555') =>
  Buffer.from(
    JSON.stringify({
      auth_typ: 'aad',
      name_typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
      role_typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role',
      claims: [
        { typ: 'http://schemas.microsoft.com/identity/claims/tenantid', val: tid },
        { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: 'oid-1' },
        { typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name', val: 'alice@contoso.com' },
        ...claims,
      ],
    }),
  ).toString('base64');

describe('App Service Authentication (x-ms-client-principal)', () => {
  const noKeys = { verify: async () => undefined } as unknown as TeamKeyStore;
  const request = (headers: Record<string, string>) => ({ headers: new Headers(headers), url: 'http://x/api/runs' });

  it('decodes roles (role_typ), groups and ids from the header', () => {
    const parsed = parseClientPrincipal(
      clientPrincipal([
        { typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role', val: 'support.admin' },
        { typ: 'groups', val: 'g-1' },
      ]),
    );
    expect(parsed).toMatchObject({
      oid: 'oid-1',
      name: 'alice@contoso.com',
      roles: ['support.admin'],
      groups: ['g-1'],
    });
    expect(parseClientPrincipal('not base64 json')).toBeUndefined();
  });

  it('trusts the header only when Easy Auth is enabled, and only for the configured tenant', async () => {
    const header = clientPrincipal([{ typ: 'roles', val: 'support.admin' }]);
    const off = createAuthenticator({ platformAdminRole: 'p', teams: staticTeamDirectory(teams), keys: noKeys });
    await expect(off.authenticate(request({ 'x-ms-client-principal': header }))).rejects.toMatchObject({
      reason: 'missing_credentials',
    });
    const on = createAuthenticator({
      easyAuth: { tenantId: '11111111-2222-4333-8444-555555555555' },
      platformAdminRole: 'p',
      teams: staticTeamDirectory(teams),
      keys: noKeys,
    });
    const principal = await on.authenticate(request({ 'x-ms-client-principal': header }));
    expect(principal).toMatchObject({ id: 'entra:11111111-2222-4333-8444-555555555555/oid-1', via: 'easy-auth' });
    expect(principal.teams.get('support')?.has('subscribe')).toBe(true);
    await expect(
      on.authenticate(
        request({ 'x-ms-client-principal': clientPrincipal([], '99999999-8888-4777-8666-555555555555') }),
      ),
    ).rejects.toMatchObject({ reason: 'wrong_tenant' });
    await expect(on.authenticate(request({ 'x-ms-client-principal': 'garbage' }))).rejects.toMatchObject({
      reason: 'invalid_client_principal',
    });
  });

  it('refuses a host key and a bearer token when no tenant is configured', async () => {
    const auth = createAuthenticator({ platformAdminRole: 'p', teams: staticTeamDirectory(teams), keys: noKeys });
    await expect(auth.authenticate(request({ 'x-functions-key': 'host-key-0123456789' }))).rejects.toMatchObject({
      reason: 'not_a_team_key',
    });
    await expect(auth.authenticate(request({ authorization: 'Bearer eyJhbGciOi.x.y' }))).rejects.toMatchObject({
      reason: 'token_auth_not_configured',
    });
  });
});

describe('auth settings', () => {
  const base = { AzureWebJobsStorage: 'UseDevelopmentStorage=true' };
  it('defaults to the tenant’s Entra issuers and JWKS URL, and needs an audience with a tenant', () => {
    const tid = '11111111-2222-4333-8444-555555555555';
    const s = loadSettings({ ...base, TUNEDROP_AUTH_TENANT_ID: tid, TUNEDROP_AUTH_AUDIENCE: 'api://a, 0000-1' });
    expect(s.auth.tokens).toEqual({
      tenantId: tid,
      audiences: ['api://a', '0000-1'],
      issuers: undefined,
      keys: { jwksUri: `https://login.microsoftonline.com/${tid}/discovery/v2.0/keys` },
    });
    expect(s.auth).toMatchObject({ easyAuth: false, platformAdminRole: 'tunedrop.platform-admin' });
    expect(() => loadSettings({ ...base, TUNEDROP_AUTH_TENANT_ID: tid })).toThrow(/TUNEDROP_AUTH_AUDIENCE/);
    expect(() => loadSettings({ ...base, TUNEDROP_AUTH_TENANT_ID: 'contoso' })).toThrow(/TUNEDROP_AUTH_TENANT_ID/);
    expect(() => loadSettings({ ...base, TUNEDROP_AUTH_EASY_AUTH: 'yes' })).toThrow(/TUNEDROP_AUTH_EASY_AUTH/);
  });

  it('refuses an inline JWKS that holds a private key', () => {
    const jwks = JSON.stringify({ keys: [{ kty: 'RSA', n: 'x', e: 'AQAB', d: 'secret' }] });
    expect(() => loadSettings({ ...base, TUNEDROP_AUTH_JWKS: jwks })).toThrow(/TUNEDROP_AUTH_JWKS/);
    expect(() => loadSettings({ ...base, TUNEDROP_AUTH_JWKS: jwks })).not.toThrow(/secret/);
  });
});
