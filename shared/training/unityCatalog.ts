import { z } from 'zod';
import { type DatabricksConnection, DatabricksHttp } from './http';
import { ProviderError } from './provider';

/**
 * Unity Catalog client for the registration step: read a model version, wait until it is READY,
 * point an alias at it, and tag it with lineage.
 *
 * Wire: `GET /api/2.1/unity-catalog/models/{full_name}/versions[/{version}]`,
 * `PUT /api/2.1/unity-catalog/models/{full_name}/aliases/{alias}` `{version_num}`, and (UC model
 * version tags live in the MLflow UC registry API) `POST /api/2.0/mlflow/unity-catalog/model-versions/set-tag`
 * `{name, version, key, value}`.
 */

export const MODEL_VERSION_STATUSES = ['PENDING_REGISTRATION', 'FAILED_REGISTRATION', 'READY'] as const;

const versionNumber = z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]);

export const modelVersionSchema = z.object({
  model_name: z.string(),
  catalog_name: z.string(),
  schema_name: z.string(),
  version: versionNumber,
  status: z.string(),
  run_id: z.string().nullish(),
  source: z.string().nullish(),
  storage_location: z.string().nullish(),
  comment: z.string().nullish(),
  created_at: z.number().nullish(),
  updated_at: z.number().nullish(),
});
export type ModelVersionInfo = z.infer<typeof modelVersionSchema>;

const listSchema = z.object({
  model_versions: z.array(modelVersionSchema).optional(),
  next_page_token: z.string().nullish(),
});

const aliasSchema = z.object({ alias_name: z.string(), version_num: versionNumber });

/** Lineage written to a registered model version (tag keys are stable: documented in docs/training-provider.md). */
export interface ModelLineage {
  datasetUrl: string;
  datasetSha256: string;
  validationReportUrl?: string;
  runId: string;
  team: string;
  providerRunName?: string;
}

export const LINEAGE_TAG_KEYS: Record<keyof ModelLineage, string> = {
  datasetUrl: 'tunedrop.dataset_url',
  datasetSha256: 'tunedrop.dataset_sha256',
  validationReportUrl: 'tunedrop.validation_report_url',
  runId: 'tunedrop.run_id',
  team: 'tunedrop.team',
  providerRunName: 'tunedrop.provider_run_name',
};

export interface WaitOptions {
  /** Give up after this long; default 10 minutes. */
  timeoutMs?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/** `catalog.schema.model`, each part a plain identifier. */
const fullNameSchema = z.string().regex(/^[^.\s/]+\.[^.\s/]+\.[^.\s/]+$/, 'expected catalog.schema.model');

export class UnityCatalogClient {
  private readonly http: DatabricksHttp;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  /** Pass a connection, or a shared transport plus the clock to poll with. */
  constructor(
    connection: DatabricksConnection | DatabricksHttp,
    clock: { sleep?: (ms: number) => Promise<void>; now?: () => number } = {},
  ) {
    this.http = connection instanceof DatabricksHttp ? connection : new DatabricksHttp(connection);
    const c = connection instanceof DatabricksHttp ? clock : { ...connection, ...clock };
    this.sleep = c.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.now = c.now ?? Date.now;
  }

  async getModelVersion(fullName: string, version: number): Promise<ModelVersionInfo> {
    const name = checkName(fullName);
    const res = await this.http.request({
      method: 'GET',
      path: `/api/2.1/unity-catalog/models/${encodeURIComponent(name)}/versions/${version}`,
      operation: 'uc.getModelVersion',
    });
    return parse(modelVersionSchema, DatabricksHttp.json(res, 'uc.getModelVersion'), 'uc.getModelVersion');
  }

  async listModelVersions(fullName: string): Promise<ModelVersionInfo[]> {
    const name = checkName(fullName);
    const all: ModelVersionInfo[] = [];
    let pageToken: string | undefined;
    for (let page = 0; page < 50; page++) {
      const res = await this.http.request({
        method: 'GET',
        path: `/api/2.1/unity-catalog/models/${encodeURIComponent(name)}/versions`,
        query: { max_results: 100, page_token: pageToken },
        operation: 'uc.listModelVersions',
      });
      const body = parse(listSchema, DatabricksHttp.json(res, 'uc.listModelVersions'), 'uc.listModelVersions');
      all.push(...(body.model_versions ?? []));
      pageToken = body.next_page_token ?? undefined;
      if (!pageToken) break;
    }
    return all;
  }

  /** The version an MLflow run registered, if any. */
  async findVersionByRunId(fullName: string, runId: string): Promise<ModelVersionInfo | undefined> {
    const versions = await this.listModelVersions(fullName);
    return versions.filter((v) => v.run_id === runId).sort((a, b) => b.version - a.version)[0];
  }

  /**
   * Poll until the version is READY (backoff doubling from 1 s to 30 s, bounded by `timeoutMs`).
   * FAILED_REGISTRATION → ProviderError `bad_request`; still pending at the deadline → `timeout`.
   */
  async waitUntilReady(fullName: string, version: number, options: WaitOptions = {}): Promise<ModelVersionInfo> {
    const deadline = this.now() + (options.timeoutMs ?? 10 * 60_000);
    let delay = options.initialDelayMs ?? 1000;
    const maxDelay = options.maxDelayMs ?? 30_000;
    for (;;) {
      const info = await this.getModelVersion(fullName, version);
      if (info.status === 'READY') return info;
      if (info.status === 'FAILED_REGISTRATION') {
        throw new ProviderError('bad_request', `model version ${fullName}/${version} failed registration`, {
          operation: 'uc.waitUntilReady',
          providerCode: 'FAILED_REGISTRATION',
        });
      }
      const remaining = deadline - this.now();
      if (remaining <= 0) {
        throw new ProviderError(
          'timeout',
          `model version ${fullName}/${version} still ${info.status} at the deadline`,
          {
            operation: 'uc.waitUntilReady',
          },
        );
      }
      await this.sleep(Math.min(delay, remaining));
      delay = Math.min(maxDelay, delay * 2);
    }
  }

  async setAlias(fullName: string, alias: string, version: number): Promise<{ alias: string; version: number }> {
    const name = checkName(fullName);
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(alias)) throw new ProviderError('bad_request', `invalid alias "${alias}"`);
    const res = await this.http.request({
      method: 'PUT',
      path: `/api/2.1/unity-catalog/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`,
      json: { version_num: version },
      operation: 'uc.setAlias',
    });
    const body = parse(aliasSchema, DatabricksHttp.json(res, 'uc.setAlias'), 'uc.setAlias');
    return { alias: body.alias_name, version: body.version_num };
  }

  async setTag(fullName: string, version: number, key: string, value: string): Promise<void> {
    const name = checkName(fullName);
    await this.http.request({
      method: 'POST',
      path: '/api/2.0/mlflow/unity-catalog/model-versions/set-tag',
      json: { name, version: String(version), key, value },
      operation: 'uc.setTag',
    });
  }

  async setTags(fullName: string, version: number, tags: Record<string, string>): Promise<void> {
    for (const [key, value] of Object.entries(tags)) await this.setTag(fullName, version, key, value);
  }

  /** Tag a version with where its data came from (see {@link LINEAGE_TAG_KEYS}). */
  async setLineage(fullName: string, version: number, lineage: ModelLineage): Promise<Record<string, string>> {
    const tags: Record<string, string> = {};
    for (const [field, key] of Object.entries(LINEAGE_TAG_KEYS) as [keyof ModelLineage, string][]) {
      const value = lineage[field];
      if (value !== undefined && value !== '') tags[key] = value;
    }
    await this.setTags(fullName, version, tags);
    return tags;
  }
}

function checkName(fullName: string): string {
  const r = fullNameSchema.safeParse(fullName);
  if (!r.success) throw new ProviderError('bad_request', `"${fullName}" is not a catalog.schema.model name`);
  return fullName;
}

function parse<T>(schema: z.ZodType<T>, value: unknown, operation: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new ProviderError(
      'invalid_response',
      `${operation}: unexpected response shape: ${r.error.issues[0]?.message ?? ''}`,
      {
        operation,
      },
    );
  }
  return r.data;
}
