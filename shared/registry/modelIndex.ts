import { odata, RestError, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { ensureTable, teamsFilter } from '../config/tables';

/** One registered model version with its lineage: what registerModel recorded after Unity Catalog. */
export const registeredModelSchema = z.object({
  /** Unity Catalog `catalog.schema.model`; Azure OpenAI: the fine-tuned model id (`<base>.ft-<job>-<suffix>`). */
  modelFullName: z.string(),
  version: z.string(),
  /** Unity Catalog alias; Azure OpenAI: the deployment name ('' when not deployed). */
  alias: z.string(),
  /** `databricks` (also when absent: models recorded before the second provider) or `azure-openai`. */
  provider: z.string().optional(),
  deploymentName: z.string().optional(),
  deploymentSku: z.string().optional(),
  deploymentCapacity: z.number().optional(),
  runId: z.string(),
  team: z.string(),
  dataset: z.string(),
  /** The base model that was fine-tuned. */
  baseModel: z.string(),
  datasetUrl: z.string(),
  datasetSha256: z.string().optional(),
  validationReportUrl: z.string().optional(),
  providerRunName: z.string().optional(),
  mlflowRunId: z.string().optional(),
  registeredAt: z.string(),
});
export type RegisteredModel = z.infer<typeof registeredModelSchema>;

export interface RegisteredModelPage {
  models: RegisteredModel[];
  continuationToken?: string;
}

/**
 * Registered model versions (Tables: tunedropModels), PartitionKey = the model's full name (so a
 * model's versions are one partition), RowKey = the version zero-padded (they sort as numbers).
 * Writes replace: registering the same version again (a redelivered run.completed) is a no-op.
 */
export class ModelIndex {
  constructor(private readonly table: TableClient) {}

  ensure(): Promise<void> {
    return ensureTable(this.table);
  }

  async record(model: RegisteredModel): Promise<void> {
    await this.ensure();
    const entity: Record<string, unknown> = {
      partitionKey: model.modelFullName,
      rowKey: model.version.padStart(10, '0'),
    };
    for (const [key, value] of Object.entries(model)) if (value !== undefined) entity[key] = value;
    await this.table.upsertEntity(entity as { partitionKey: string; rowKey: string }, 'Replace');
  }

  async get(modelFullName: string, version: string): Promise<RegisteredModel | undefined> {
    await this.ensure();
    try {
      return toModel(await this.table.getEntity(modelFullName, version.padStart(10, '0')));
    } catch (err) {
      if (err instanceof RestError && err.statusCode === 404) return undefined;
      throw err;
    }
  }

  /** By team and/or model (a model's versions come in version order), paged. */
  async list(query: {
    team?: string;
    /** Only these teams' models (the caller's); undefined = every team. */
    teams?: readonly string[];
    modelFullName?: string;
    pageSize?: number;
    continuationToken?: string;
  }): Promise<RegisteredModelPage> {
    await this.ensure();
    const filters: string[] = [];
    if (query.modelFullName) filters.push(odata`PartitionKey eq ${query.modelFullName}`);
    if (query.team) filters.push(odata`team eq ${query.team}`);
    if (query.teams) filters.push(teamsFilter(query.teams));
    const pages = this.table
      .listEntities({ queryOptions: filters.length ? { filter: filters.join(' and ') } : {} })
      .byPage({ maxPageSize: query.pageSize ?? 50, continuationToken: query.continuationToken });
    const next = await pages.next();
    if (next.done) return { models: [] };
    return { models: next.value.map(toModel), continuationToken: next.value.continuationToken };
  }
}

function toModel(entity: Record<string, unknown>): RegisteredModel {
  const parsed = registeredModelSchema.safeParse(entity);
  if (!parsed.success) {
    throw new Error(
      `model index entity ${String(entity.partitionKey)}/${String(entity.rowKey)} does not match the schema: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`,
    );
  }
  return parsed.data;
}
