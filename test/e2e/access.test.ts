import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadDrop } from '../../cli/uploadDrop';
import { seedExamples, startLocalProvider } from '../../local/pipelineDemo';
import type { LocalRuntime } from '../../local/runtime';
import type { Action } from '../../shared/auth/principal';
import { CONTAINERS } from '../../shared/config/resources';
import { tokenFor } from '../support/identity';
import { type LocalProvider, REPO, startPipelineRuntime } from './support';

/**
 * Teams kept apart, end to end on the local runtime: the real app (dist/) behind the local Functions
 * host, dev tokens from the local issuer validated like Entra tokens, team keys issued through the
 * API. Every principal × route × team: another team's resources are 404, a missing action 403,
 * everything else allowed. Expectations come from the roles as documented (docs/api.md), written out
 * here, not from the code under test.
 */
type Team = 'support' | 'ops';
const TEAMS: readonly Team[] = ['support', 'ops'];
const ALL: Action[] = ['read', 'start', 'cancel', 'subscribe', 'keys'];

/** Who holds what, from examples/dev-principals.json and examples/teams/*.json (access). */
const HOLDS: Record<string, Partial<Record<Team, Action[]>> | 'platform'> = {
  'platform-admin': 'platform',
  'support-admin': { support: ALL },
  'support-submitter': { support: ['read', 'start', 'cancel'] },
  'support-reader': { support: ['read'] },
  'ops-admin': { ops: ALL }, // through a group id, not an app role
  'ops-reader': { ops: ['read'] },
  'ci-bot': { support: ['read', 'start', 'cancel'] }, // an application (client credentials)
  nobody: {},
  'support-key': { support: ['read', 'start'] }, // a team key
  'ops-key': { ops: ['read', 'subscribe'] },
};
const PRINCIPALS = Object.keys(HOLDS);

type Expected = 'allow' | 404 | 403;
function expected(principal: string, action: Action, team: Team): Expected {
  const holds = HOLDS[principal];
  if (holds === 'platform') return 'allow';
  const actions = holds?.[team];
  if (!actions) return 404;
  return actions.includes(action) ? 'allow' : 403;
}

let runtime: LocalRuntime;
let provider: LocalProvider;
let base = '';
const logs: string[] = [];
const credentials = new Map<string, Record<string, string>>();
const runs: Record<Team, string> = { support: '', ops: '' };
const hooks: Record<Team, string> = { support: '', ops: '' };
const deliveries: Record<Team, string> = { support: '', ops: '' };
const keys: Record<Team, string> = { support: '', ops: '' };

async function call(
  as: string | Record<string, string>,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const headers = typeof as === 'string' ? credentials.get(as) : as;
  if (!headers) throw new Error(`no credential for ${String(as)}`);
  const response = await fetch(`${base}/api/${route}`, {
    method,
    headers: { ...headers, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : {}, headers: response.headers };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  provider = await startLocalProvider();
  runtime = await startPipelineRuntime(provider, {
    storage: 'memory',
    // Deliveries to the dead target fail after two quick tries, so each team has a failed one.
    appSettings: {
      TUNEDROP_POLL_INITIAL_SECONDS: '1',
      TUNEDROP_POLL_MAX_SECONDS: '2',
      TUNEDROP_WEBHOOK_RETRY_SECONDS: '0,1',
    },
    logger: (entry) => logs.push(entry.message),
  });
  base = runtime.host.baseUrl.replace(/\/$/, '');
  await seedExamples(runtime.host.storageConnectionString, path.join(REPO, 'examples'), { drop: false, log: () => {} });
  for (const name of PRINCIPALS.filter((p) => !p.endsWith('-key'))) {
    credentials.set(name, { authorization: `Bearer ${await tokenFor(name)}` });
  }
  // Team keys, issued through the API by each team's admin.
  for (const [team, name, actions, admin] of [
    ['support', 'support-key', ['read', 'start'], 'support-admin'],
    ['ops', 'ops-key', ['read', 'subscribe'], 'ops-admin'],
  ] as const) {
    const created = await call(admin, 'POST', 'keys', { team, actions, description: `${team} automation` });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    keys[team] = String(created.json.id);
    credentials.set(name, { 'x-functions-key': String(created.json.key) });
  }
  // A subscription per team to a dead loopback target, then one drop per team.
  for (const team of TEAMS) {
    const hook = await call('platform-admin', 'POST', 'webhooks', { team, url: 'http://127.0.0.1:9/dead' });
    expect(hook.status).toBe(201);
    hooks[team] = String(hook.json.id);
  }
  const datasets = BlobServiceClient.fromConnectionString(runtime.host.storageConnectionString).getContainerClient(
    CONTAINERS.datasets,
  );
  await uploadDrop(datasets, path.join(REPO, 'examples', 'sql-instructions'), 'support', 'sql');
  await uploadDrop(datasets, path.join(REPO, 'examples', 'ops-runbooks'), 'ops', 'runbooks');
  for (const team of TEAMS) {
    runs[team] = await until(`a ${team} run`, async () => {
      const page = await call('platform-admin', 'GET', `runs?team=${team}`);
      return (page.json.runs as { runId: string }[] | undefined)?.[0]?.runId;
    });
    deliveries[team] = await until(`a ${team} delivery`, async () => {
      const page = await call('platform-admin', 'GET', `deliveries?team=${team}`);
      return (page.json.deliveries as { id: string }[] | undefined)?.[0]?.id;
    });
  }
}, 120_000);

afterAll(async () => {
  await runtime?.stop();
  await provider?.emulator.stop();
});

/** One row of the matrix: what the call does, on which team's resource, needing which action. */
interface Case {
  route: string;
  action: Action;
  /** Fresh per call when the call consumes the resource (delete, revoke). */
  request(team: Team): Promise<[method: string, route: string, body?: unknown]>;
}

const CASES: Case[] = [
  { route: 'GET /api/runs?team=', action: 'read', request: async (t) => ['GET', `runs?team=${t}`] },
  { route: 'GET /api/runs/{id}', action: 'read', request: async (t) => ['GET', `runs/${runs[t]}`] },
  {
    route: 'POST /api/runs',
    action: 'start',
    request: async (t) => ['POST', 'runs', { team: t, dataset: t === 'ops' ? 'runbooks' : 'sql' }],
  },
  { route: 'POST /api/runs/{id}/cancel', action: 'cancel', request: async (t) => ['POST', `runs/${runs[t]}/cancel`] },
  {
    route: 'GET /api/registered-models?team=',
    action: 'read',
    request: async (t) => ['GET', `registered-models?team=${t}`],
  },
  { route: 'GET /api/webhooks?team=', action: 'read', request: async (t) => ['GET', `webhooks?team=${t}`] },
  { route: 'GET /api/webhooks/{id}', action: 'read', request: async (t) => ['GET', `webhooks/${hooks[t]}`] },
  {
    route: 'POST /api/webhooks',
    action: 'subscribe',
    request: async (t) => ['POST', 'webhooks', { team: t, url: 'http://127.0.0.1:9/other' }],
  },
  {
    route: 'POST /api/webhooks/{id}/rotate',
    action: 'subscribe',
    request: async (t) => ['POST', `webhooks/${hooks[t]}/rotate`],
  },
  {
    route: 'POST /api/webhooks/{id}/test',
    action: 'subscribe',
    request: async (t) => ['POST', `webhooks/${hooks[t]}/test`],
  },
  {
    route: 'DELETE /api/webhooks/{id}',
    action: 'subscribe',
    request: async (t) => {
      const fresh = await call('platform-admin', 'POST', 'webhooks', { team: t, url: 'http://127.0.0.1:9/doomed' });
      return ['DELETE', `webhooks/${fresh.json.id}`];
    },
  },
  { route: 'GET /api/deliveries?team=', action: 'read', request: async (t) => ['GET', `deliveries?team=${t}`] },
  {
    route: 'POST /api/deliveries/{id}/redeliver',
    action: 'subscribe',
    request: async (t) => ['POST', `deliveries/${deliveries[t]}/redeliver`],
  },
  { route: 'POST /api/keys', action: 'keys', request: async (t) => ['POST', 'keys', { team: t, actions: ['read'] }] },
  { route: 'GET /api/keys?team=', action: 'keys', request: async (t) => ['GET', `keys?team=${t}`] },
  {
    route: 'DELETE /api/keys/{id}',
    action: 'keys',
    request: async (t) => {
      const fresh = await call('platform-admin', 'POST', 'keys', { team: t, actions: ['read'] });
      return ['DELETE', `keys/${fresh.json.id}`];
    },
  },
];

describe('principals × routes × teams on the local runtime', () => {
  it('denies every cross-team read, write, cancel and subscription (404), a missing action (403), and allows the rest', async () => {
    const table: string[] = [];
    const mismatches: string[] = [];
    let allowed = 0;
    let hidden = 0;
    let forbidden = 0;
    for (const c of CASES) {
      for (const principal of PRINCIPALS) {
        for (const team of TEAMS) {
          const want = expected(principal, c.action, team);
          const [method, route, body] = await c.request(team);
          const got = await call(principal, method, route, body);
          const outcome: Expected =
            got.status === 404 && got.json.code === 'not_found' ? 404 : got.status === 403 ? 403 : 'allow';
          if (got.status === 401 || got.status >= 500 || outcome !== want) {
            mismatches.push(
              `${principal} ${c.route} ${team}: want ${want}, got ${got.status} ${JSON.stringify(got.json)}`,
            );
          }
          if (want === 403) expect(got.headers.get('content-type')).toBe('application/problem+json');
          if (want === 'allow') allowed++;
          else if (want === 404) hidden++;
          else forbidden++;
          table.push(`${c.route.padEnd(36)} ${principal.padEnd(18)} ${team.padEnd(8)} ${got.status}`);
        }
      }
    }
    console.info(
      `access matrix: ${CASES.length} routes × ${PRINCIPALS.length} principals × ${TEAMS.length} teams = ${table.length} calls; ` +
        `${allowed} allowed, ${hidden} hidden (404), ${forbidden} forbidden (403)`,
    );
    expect(mismatches).toEqual([]);
    expect(hidden).toBeGreaterThan(100);
    expect(forbidden).toBeGreaterThan(20);
  }, 120_000);

  it('limits unfiltered lists to the caller’s teams', async () => {
    const teamsIn = async (as: string, route: string, field: string) =>
      [...new Set(((await call(as, 'GET', route)).json[field] as { team: string }[]).map((r) => r.team))].sort();
    for (const [route, field] of [
      ['runs', 'runs'],
      ['webhooks', 'webhooks'],
      ['deliveries', 'deliveries'],
      ['keys', 'keys'],
    ] as const) {
      expect(await teamsIn('platform-admin', route, field), route).toEqual(['ops', 'support']);
      expect(await teamsIn(route === 'keys' ? 'support-admin' : 'support-reader', route, field), route).toEqual([
        'support',
      ]);
      expect(await teamsIn(route === 'keys' ? 'ops-admin' : 'ops-key', route, field), route).toEqual(['ops']);
      expect(await teamsIn('nobody', route, field), route).toEqual([]);
    }
  });

  it('refuses forged, expired, wrong-audience and wrong-tenant tokens, host keys and revoked keys (401), and logs decisions without secrets', async () => {
    const refused = async (headers: Record<string, string>) => {
      const res = await call(headers, 'GET', 'runs');
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      return res.json.reason;
    };
    const good = await tokenFor('support-admin');
    const [h, p] = good.split('.');
    const elevated = Buffer.from(
      JSON.stringify({
        ...JSON.parse(Buffer.from(p ?? '', 'base64url').toString()),
        roles: ['tunedrop.platform-admin'],
      }),
    ).toString('base64url');
    expect(await refused({ authorization: `Bearer ${h}.${elevated}.${good.split('.')[2]}` })).toBe('invalid_token');
    expect(
      await refused({
        authorization: `Bearer ${await tokenFor('support-admin', undefined, { now: new Date(Date.now() - 3 * 3600_000) })}`,
      }),
    ).toBe('invalid_token');
    expect(
      await refused({
        authorization: `Bearer ${await tokenFor('support-admin', undefined, { overrides: { audience: 'api://someone-else' } })}`,
      }),
    ).toBe('invalid_token');
    expect(
      await refused({
        authorization: `Bearer ${await tokenFor('support-admin', undefined, { overrides: { tenantId: '99999999-8888-4777-8666-555555555555' } })}`,
      }),
    ).toBe('wrong_tenant');
    expect(await refused({ 'x-functions-key': 'e2e-master-key-0123456789' })).toBe('not_a_team_key');
    const revoke = await call('support-admin', 'DELETE', `keys/${keys.support}`);
    expect(revoke.status).toBe(200);
    expect(await refused(credentials.get('support-key') ?? {})).toBe('invalid_team_key');

    const decisions = logs.filter((l) => l.startsWith('auth '));
    expect(
      decisions.some((l) =>
        /^auth deny route=getRun principal=entra:\S+ kind=user via=bearer team=support action=read decision=hidden status=404$/.test(
          l,
        ),
      ),
    ).toBe(true);
    expect(
      decisions.some((l) =>
        /^auth deny route=cancelRun .* team=support action=cancel decision=forbidden status=403$/.test(l),
      ),
    ).toBe(true);
    expect(
      decisions.some((l) =>
        /^auth allow route=listRuns principal=key:[0-9a-f]{20} kind=team-key via=team-key team=support action=read$/.test(
          l,
        ),
      ),
    ).toBe(true);
    const secrets = [good, ...[...credentials.values()].flatMap((c) => Object.values(c))];
    for (const line of logs) for (const s of secrets) expect(line).not.toContain(s.replace(/^Bearer /, ''));
  });
});
