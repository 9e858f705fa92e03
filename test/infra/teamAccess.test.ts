import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../shared/api/routes';
import {
  type BicepFile,
  declarations,
  INFRA_DIR,
  objectProperties,
  readBicep,
  stringLiterals,
  stringValue,
  syntaxProblems,
  variableValue,
} from './bicep';

/**
 * infra/app/teamAccess.bicep: per-team drop access (ABAC on the blob path in the one datasets
 * container) and the API's identity settings. The condition is evaluated here against the
 * requests a team's uploader could make, with a small evaluator of the condition grammar it uses.
 */
let teamAccess: BicepFile;
let main: BicepFile;
let condition = '';

beforeAll(async () => {
  teamAccess = await readBicep(path.join(INFRA_DIR, 'app/teamAccess.bicep'));
  main = await readBicep(path.join(INFRA_DIR, 'main.bicep'));
  const template = variableValue(teamAccess, 'prefixCondition');
  condition = (template && stringValue(template)) ?? '';
});

interface StorageRequest {
  action: string;
  subOperation?: string;
  /** The blob's path inside the container (absent for List Blobs). */
  path?: string;
  /** List Blobs' prefix parameter. */
  prefix?: string;
}

const BLOBS = 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs';

/** Evaluates the subset of the Azure role assignment condition grammar teamAccess.bicep uses. */
function evaluate(text: string, request: StorageRequest): boolean {
  const tokens =
    text.match(
      /\(|\)|!|AND|OR|NOT|ActionMatches\{'[^']*'\}|SubOperationMatches\{'[^']*'\}|@(?:Resource|Request)\[[^\]]+\]\s+StringStartsWith\s+'[^']*'/g,
    ) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++];
  const primary = (): boolean => {
    const token = next();
    if (token === '(') {
      const value = or();
      if (next() !== ')') throw new Error('expected )');
      return value;
    }
    if (token === '!' || token === 'NOT') return !primary();
    let m = /^ActionMatches\{'([^']*)'\}$/.exec(token ?? '');
    if (m) return request.action === m[1];
    m = /^SubOperationMatches\{'([^']*)'\}$/.exec(token ?? '');
    if (m) return request.subOperation === m[1];
    m = /^@(Resource|Request)\[([^\]]+)\]\s+StringStartsWith\s+'([^']*)'$/.exec(token ?? '');
    if (m) {
      const value = m[2] === `${BLOBS}:path` ? request.path : m[2] === `${BLOBS}:prefix` ? request.prefix : undefined;
      return value?.startsWith(m[3] ?? '\u0000') === true;
    }
    throw new Error(`unexpected token ${token}`);
  };
  const and = (): boolean => {
    let value = primary();
    while (peek() === 'AND') {
      next();
      value = primary() && value;
    }
    return value;
  };
  const or = (): boolean => {
    let value = and();
    while (peek() === 'OR') {
      next();
      value = and() || value;
    }
    return value;
  };
  const result = or();
  if (i !== tokens.length) throw new Error(`trailing tokens from ${tokens[i]}`);
  return result;
}

describe('infra/app/teamAccess.bicep', () => {
  it('parses, and main.bicep wires it with the datasets container name from resources.json', () => {
    expect(syntaxProblems(teamAccess)).toEqual([]);
    const module = declarations(main, 'module_declaration').get('teamAccess');
    expect(module?.text).toContain("'app/teamAccess.bicep'");
    expect(module?.text).toContain('datasetsContainerName: resources.containers.datasets');
  });

  it('assigns Storage Blob Data Contributor on the datasets container only, with the path condition per team', () => {
    const assignments = declarations(teamAccess, 'resource_declaration').get('teamUploaderAssignments');
    expect(assignments?.text).toContain('scope: datasets');
    expect(assignments?.text).toContain("conditionVersion: '2.0'");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Bicep's own interpolation, as written in the file.
    expect(assignments?.text).toContain("condition: replace(prefixCondition, 'TEAM_PREFIX', '${uploader.team}/')");
    expect(stringValue(variableValue(teamAccess, 'storageBlobDataContributor')!)).toBe(
      'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
    );
  });

  it('lets a team’s uploader read, write, create, delete and list only under {team}/', () => {
    const support = condition.replaceAll('TEAM_PREFIX', 'support/');
    const allowed = (r: StorageRequest) => evaluate(support, r);
    for (const verb of ['read', 'write', 'add/action', 'delete']) {
      expect(allowed({ action: `${BLOBS}/${verb}`, path: 'support/sql/run.json' }), verb).toBe(true);
      expect(allowed({ action: `${BLOBS}/${verb}`, path: 'ops/runbooks/run.json' }), verb).toBe(false);
      // A team whose name starts with another's: the trailing slash keeps them apart.
      expect(allowed({ action: `${BLOBS}/${verb}`, path: 'support-eu/x/run.json' }), verb).toBe(false);
    }
    expect(allowed({ action: `${BLOBS}/read`, subOperation: 'Blob.List', prefix: 'support/sql/' })).toBe(true);
    expect(allowed({ action: `${BLOBS}/read`, subOperation: 'Blob.List', prefix: 'ops/' })).toBe(false);
    expect(allowed({ action: `${BLOBS}/read`, subOperation: 'Blob.List' })).toBe(false);
    expect(allowed({ action: `${BLOBS}/move/action`, path: 'support/sql/a.jsonl' })).toBe(false);
  });

  it('puts Easy Auth in front of every route but the public ones, and only when enabled', () => {
    const easyAuth = declarations(teamAccess, 'resource_declaration').get('easyAuth');
    expect(easyAuth?.text).toMatch(/= if \(enableEasyAuth\)/);
    expect(easyAuth?.text).toContain("unauthenticatedClientAction: 'Return401'");
    const publicPaths = API_ROUTES.filter((r) => r.access.kind === 'public')
      .map((r) => `/api/${r.route}`)
      .sort();
    const excluded = stringLiterals(teamAccess)
      .filter((s) => s.startsWith('/api/'))
      .sort();
    expect(excluded).toEqual(publicPaths);
  });

  it('takes the API’s audience and platform-admin role as parameters and hands them to the app settings', () => {
    const apiAuth = declarations(main, 'parameter_declaration').get('apiAuth');
    for (const key of ['clientId', 'appIdUri', 'enableEasyAuth', 'platformAdminRole', 'teamUploaders']) {
      expect(apiAuth?.text).toContain(`${key}:`);
    }
    const settings = objectProperties(variableValue(main, 'tunedropSettings')!);
    expect(settings.get('TUNEDROP_AUTH_TENANT_ID')?.text).toBe('tenant().tenantId');
    expect(settings.get('TUNEDROP_AUTH_AUDIENCE')?.text).toContain('apiAuth.clientId');
    expect(settings.get('TUNEDROP_AUTH_EASY_AUTH')?.text).toBe('string(apiAuth.enableEasyAuth)');
  });

  it('the evaluator itself fails closed on what it does not understand', () => {
    expect(() => evaluate("(ActionMatches{'x'} XOR", { action: 'x' })).toThrow();
    expect(evaluate(`@Resource[${BLOBS}:path] StringStartsWith 'a/'`, { action: 'r' })).toBe(false);
  });
});
