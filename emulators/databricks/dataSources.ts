import type { IncomingMessage, ServerResponse } from 'node:http';
import { drain, json } from './http';

/**
 * The emulator's side of "data already in Databricks" (issue 14), with the services' wire format:
 * Files API directory listing (`GET /api/2.0/fs/directories{path}`), Unity Catalog Tables API
 * (`GET /api/2.1/unity-catalog/tables/{full_name}`) and Clusters API (`GET /api/2.1/clusters/get`).
 * Tests and the demo put tables and clusters in with `addTable` / `addCluster`; volume files are the
 * Files API's (`state.files`).
 */

export interface EmulatorTable {
  fullName: string;
  columns: { name: string; typeText: string }[];
  /** Rows, for the record: the emulator does not train on them. */
  rows?: number;
}

export interface EmulatorCluster {
  clusterId: string;
  sparkVersion: string;
  state?: 'RUNNING' | 'TERMINATED' | 'PENDING';
}

export class DataSourceRegistry {
  readonly tables = new Map<string, EmulatorTable>();
  readonly clusters = new Map<string, EmulatorCluster>();

  addTable(table: EmulatorTable): void {
    this.tables.set(table.fullName.toLowerCase(), table);
  }

  addCluster(cluster: EmulatorCluster): void {
    this.clusters.set(cluster.clusterId, cluster);
  }
}

export async function listDirectory(
  /** The Files API's files (EmulatorState.files), typed structurally: state.ts imports this module. */
  state: { files: ReadonlyMap<string, { path: string; bytes: Buffer }> },
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  await drain(req);
  const dir = path.replace(/\/+$/, '');
  const prefix = `${dir}/`;
  const children = new Map<string, { path: string; is_directory: boolean; file_size?: number; name: string }>();
  for (const file of state.files.values()) {
    if (!file.path.startsWith(prefix)) continue;
    const rest = file.path.slice(prefix.length);
    const [name, ...deeper] = rest.split('/');
    if (!name) continue;
    if (deeper.length) children.set(name, { path: `${prefix}${name}/`, is_directory: true, name });
    else
      children.set(name, {
        path: file.path,
        is_directory: false,
        file_size: file.bytes.length,
        name,
      });
  }
  if (children.size === 0) {
    return json(res, 404, { error_code: 'NOT_FOUND', message: `The directory ${path} does not exist.` });
  }
  json(res, 200, { contents: [...children.values()].sort((a, b) => (a.name < b.name ? -1 : 1)) });
}

export function getTable(registry: DataSourceRegistry, res: ServerResponse, fullName: string) {
  const table = registry.tables.get(fullName.toLowerCase());
  if (!table) {
    return json(res, 404, { error_code: 'TABLE_DOES_NOT_EXIST', message: `Table '${fullName}' does not exist.` });
  }
  const [catalog, schema, name] = table.fullName.split('.');
  json(res, 200, {
    name,
    catalog_name: catalog,
    schema_name: schema,
    full_name: table.fullName,
    table_type: 'MANAGED',
    data_source_format: 'DELTA',
    columns: table.columns.map((c, position) => ({
      name: c.name,
      type_text: c.typeText,
      type_name: c.typeText.toUpperCase().replace(/<.*$/, ''),
      position,
      nullable: true,
    })),
  });
}

export function getCluster(registry: DataSourceRegistry, res: ServerResponse, clusterId: string | null) {
  const cluster = clusterId ? registry.clusters.get(clusterId) : undefined;
  if (!cluster) {
    return json(res, 400, {
      error_code: 'INVALID_PARAMETER_VALUE',
      message: `Cluster ${clusterId ?? ''} does not exist`,
    });
  }
  json(res, 200, {
    cluster_id: cluster.clusterId,
    spark_version: cluster.sparkVersion,
    state: cluster.state ?? 'RUNNING',
    cluster_name: `cluster-${cluster.clusterId}`,
  });
}
