import { posix } from 'node:path';
import type { Task } from '../catalog';
import type { IntakeProblem } from './errors';

/**
 * Where a manifest's `train`/`eval` data lives (issue 14): next to run.json (the drop), in a Unity
 * Catalog volume (`/Volumes/c/s/v/…` or `dbfs:/Volumes/c/s/v/…`), or in a Delta table
 * (`catalog.schema.table`). A three-part dotted name whose last part is a data-file extension
 * (`data.v2.jsonl`) is a file in the drop, not a table.
 */
export type DataLocation =
  | { kind: 'drop'; path: string }
  | { kind: 'volume'; catalog: string; schema: string; volume: string; path: string }
  | { kind: 'table'; catalog: string; schema: string; table: string; fullName: string };

const IDENTIFIER = '[A-Za-z_][A-Za-z0-9_-]*';
const TABLE = new RegExp(`^(${IDENTIFIER})\\.(${IDENTIFIER})\\.(${IDENTIFIER})$`);
const VOLUME = /^\/Volumes\/([^/]+)\/([^/]+)\/([^/]+)(\/.*)?$/;
const FILE_EXTENSIONS = new Set(['jsonl', 'json', 'txt', 'csv', 'parquet']);

export function classifyDataLocation(value: string): DataLocation {
  // Normalise before reading catalog/schema/volume, so `..` cannot step into another volume unseen.
  const bare = value.startsWith('dbfs:') ? value.slice('dbfs:'.length) : value;
  const volume = bare.startsWith('/Volumes/') ? VOLUME.exec(posix.normalize(bare)) : null;
  if (volume) {
    const [, catalog, schema, vol, rest] = volume as unknown as [string, string, string, string, string | undefined];
    return { kind: 'volume', catalog, schema, volume: vol, path: `/Volumes/${catalog}/${schema}/${vol}${rest ?? ''}` };
  }
  const table = TABLE.exec(value);
  if (table && !FILE_EXTENSIONS.has((table[3] as string).toLowerCase())) {
    const [, catalog, schema, name] = table as unknown as [string, string, string, string];
    return { kind: 'table', catalog, schema, table: name, fullName: `${catalog}.${schema}.${name}` };
  }
  return { kind: 'drop', path: value };
}

/** What the service is given for a location: the volume path as `dbfs:/Volumes/…`, or the table name. */
export function providerDataPath(location: Exclude<DataLocation, { kind: 'drop' }>): string {
  return location.kind === 'volume' ? `dbfs:${location.path}` : location.fullName;
}

/**
 * Whether a team may read a volume or table: its `readableData` grants (`catalog`,
 * `catalog.schema` or `catalog.schema.volume_or_table`), or by default only the `catalog.schema`
 * prefixes it may register into (its own).
 */
export function dataLocationProblem(
  field: 'train' | 'eval',
  location: Exclude<DataLocation, { kind: 'drop' }>,
  grants: readonly string[],
  team: string,
): IntakeProblem | undefined {
  const securable =
    location.kind === 'volume' ? `${location.catalog}.${location.schema}.${location.volume}` : location.fullName;
  const lower = securable.toLowerCase();
  const allowed = grants.some((g) => {
    const prefix = g.toLowerCase();
    return lower === prefix || lower.startsWith(`${prefix}.`);
  });
  return allowed
    ? undefined
    : {
        code: 'data_location_not_allowed',
        field,
        message: `Team "${team}" may not read ${location.kind === 'volume' ? 'volume' : 'table'} ${securable}. Readable: ${grants.join(', ') || 'none'}.`,
      };
}

/** Delta table columns each task needs (chat: `messages`; instruction: `prompt` plus `response` or `completion`). */
export function tableColumnProblems(
  field: 'train' | 'eval',
  fullName: string,
  task: Task,
  columns: readonly { name: string; typeText?: string }[],
): IntakeProblem[] {
  const names = new Set(columns.map((c) => c.name.toLowerCase()));
  if (task === 'continued_pretraining') {
    return [
      {
        code: 'table_task_not_supported',
        field,
        message: `${fullName}: continued pretraining reads .txt files from a volume, not a Delta table.`,
      },
    ];
  }
  const missing =
    task === 'chat'
      ? names.has('messages')
        ? []
        : ['messages']
      : [
          ...(names.has('prompt') ? [] : ['prompt']),
          ...(names.has('response') || names.has('completion') ? [] : ['response or completion']),
        ];
  return missing.map((column) => ({
    code: 'table_missing_column' as const,
    field,
    message: `${fullName} has no "${column}" column, which ${task} data needs (columns: ${columns.map((c) => c.name).join(', ') || 'none'}).`,
  }));
}

/**
 * The data-prep cluster must run Databricks Runtime 12.2 LTS ML or later (the page's requirement
 * for Delta table input). `sparkVersion` is the Clusters API's `spark_version`, e.g.
 * `13.3.x-cpu-ml-scala2.12` or `12.2.x-gpu-ml-scala2.12`.
 */
export function clusterRuntimeProblem(clusterId: string, sparkVersion: string): IntakeProblem | undefined {
  const m = /^(\d+)\.(\d+)\.[^-]+-(.*)$/.exec(sparkVersion);
  const ml = m ? /(^|-)ml(-|$)/.test(m[3] as string) : false;
  const major = m ? Number(m[1]) : 0;
  const minor = m ? Number(m[2]) : 0;
  const recentEnough = major > 12 || (major === 12 && minor >= 2);
  if (m && ml && recentEnough) return undefined;
  return {
    code: 'cluster_runtime_too_old',
    field: 'dataPrepClusterId',
    message: `Cluster ${clusterId} runs ${sparkVersion}; Delta table input needs Databricks Runtime 12.2 LTS ML or later (an ML runtime).`,
  };
}
