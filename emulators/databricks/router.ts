/** Which emulated API a request is for: the GraphQL endpoint, the Files API or a Unity Catalog call. */

export const GRAPHQL_PATH = '/api/2.0/genai-mapi/graphql';

export type Route =
  | { kind: 'graphql'; operation: string }
  | { kind: 'upload' | 'download' | 'head' | 'mkdir' | 'listdir'; operation: string; path: string }
  | { kind: 'table'; operation: string; fullName: string }
  | { kind: 'cluster'; operation: string }
  | { kind: 'json'; operation: string; model?: string; version?: number; alias?: string };

export type UnityCatalogRoute = Extract<Route, { kind: 'json' }>;

export function classify(method: string, pathname: string): Route | undefined {
  if (pathname === GRAPHQL_PATH && method === 'POST') return { kind: 'graphql', operation: 'graphql' };
  const decoded = decodeURIComponent(pathname);
  if (decoded.startsWith('/api/2.0/fs/files/')) {
    const path = decoded.slice('/api/2.0/fs/files'.length);
    if (method === 'PUT') return { kind: 'upload', operation: 'files.upload', path };
    if (method === 'GET') return { kind: 'download', operation: 'files.download', path };
    if (method === 'HEAD') return { kind: 'head', operation: 'files.head', path };
  }
  if (decoded.startsWith('/api/2.0/fs/directories/') && method === 'PUT') {
    return { kind: 'mkdir', operation: 'files.mkdir', path: decoded.slice('/api/2.0/fs/directories'.length) };
  }
  if (decoded.startsWith('/api/2.0/fs/directories/') && method === 'GET') {
    return { kind: 'listdir', operation: 'files.listDirectory', path: decoded.slice('/api/2.0/fs/directories'.length) };
  }
  const table = /^\/api\/2\.1\/unity-catalog\/tables\/([^/]+)$/.exec(decoded);
  if (table?.[1] && method === 'GET') return { kind: 'table', operation: 'uc.getTable', fullName: table[1] };
  if (decoded === '/api/2.1/clusters/get' && method === 'GET') return { kind: 'cluster', operation: 'clusters.get' };
  if (decoded === '/api/2.0/mlflow/unity-catalog/model-versions/set-tag' && method === 'POST')
    return { kind: 'json', operation: 'uc.setTag' };
  let m = /^\/api\/2\.1\/unity-catalog\/models\/([^/]+)\/versions\/(\d+)$/.exec(decoded);
  if (m && method === 'GET')
    return { kind: 'json', operation: 'uc.getModelVersion', model: m[1], version: Number(m[2]) };
  m = /^\/api\/2\.1\/unity-catalog\/models\/([^/]+)\/versions$/.exec(decoded);
  if (m && method === 'GET') return { kind: 'json', operation: 'uc.listModelVersions', model: m[1] };
  m = /^\/api\/2\.1\/unity-catalog\/models\/([^/]+)\/aliases\/([^/]+)$/.exec(decoded);
  if (m && method === 'PUT') return { kind: 'json', operation: 'uc.setAlias', model: m[1], alias: m[2] };
  return undefined;
}
