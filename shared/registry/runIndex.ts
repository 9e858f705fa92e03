import { odata, RestError, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { ensureTable, teamsFilter } from '../config/tables';
import { RUN_STATUSES, type RunStatus } from '../runStatus';

export const runRecordSchema = z.object({
  runId: z.string(),
  team: z.string(),
  dataset: z.string(),
  model: z.string(),
  task: z.string(),
  status: z.enum(RUN_STATUSES),
  rawStatus: z.string().optional(),
  reason: z.string().optional(),
  providerRunName: z.string().optional(),
  /** `databricks` or `azure-openai`; absent on runs from before the second provider (Databricks). */
  provider: z.string().optional(),
  /** Azure OpenAI: the deployment serving the fine-tuned model, when the team deploys. */
  deployment: z.string().optional(),
  manifestUrl: z.string(),
  /** A sharded validation's orchestration instance, while the run is `validating` (the reconciler's lead). */
  validationId: z.string().optional(),
  reportUrl: z.string().optional(),
  registerTo: z.string().optional(),
  datasetSha256: z.string().optional(),
  registeredModel: z.string().optional(),
  registeredVersion: z.string().optional(),
  modelAlias: z.string().optional(),
  mlflowExperimentId: z.string().optional(),
  mlflowRunId: z.string().optional(),
  /**
   * The channel names the manifest's `notify` narrowed the team's channels to, as a JSON array
   * (Azure Tables hold no arrays); absent = every channel of the team. Read by shared/notify.
   */
  notify: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  completedAt: z.string().optional(),
});
export type RunRecord = z.infer<typeof runRecordSchema>;

/** A manifest's `notify` list as the run record keeps it (a JSON array; undefined = every channel). */
export function encodeRunNotify(channels: readonly string[] | undefined): string | undefined {
  return channels ? JSON.stringify(channels) : undefined;
}

const ROW_KEY = 'run';

export interface RunPage {
  runs: RunRecord[];
  continuationToken?: string;
}

/**
 * Each run's facts for the API and the CLI, in an Azure Table (Azurite locally). One entity per
 * run, PartitionKey = run id so reads by id are point reads; lists filter by team/status, which
 * is a scan — fine at the scale of fine-tuning runs (thousands), revisit past that.
 */
export class RunIndex {
  constructor(private readonly table: TableClient) {}

  ensure(): Promise<void> {
    return ensureTable(this.table);
  }

  /** Create or merge fields into a run. */
  async upsert(record: Partial<RunRecord> & { runId: string }): Promise<void> {
    const entity: Record<string, unknown> = { partitionKey: record.runId, rowKey: ROW_KEY };
    for (const [key, value] of Object.entries(record)) if (value !== undefined) entity[key] = value;
    await this.table.upsertEntity(entity as { partitionKey: string; rowKey: string }, 'Merge');
  }

  async get(runId: string): Promise<RunRecord | undefined> {
    let entity: Record<string, unknown>;
    try {
      entity = await this.table.getEntity(runId, ROW_KEY);
    } catch (err) {
      if (err instanceof RestError && err.statusCode === 404) return undefined;
      throw err;
    }
    return toRecord(entity);
  }

  async list(query: {
    team?: string;
    /** Only these teams' runs (the caller's); undefined = every team. */
    teams?: readonly string[];
    dataset?: string;
    status?: RunStatus;
    pageSize?: number;
    continuationToken?: string;
  }): Promise<RunPage> {
    const filters = [odata`RowKey eq ${ROW_KEY}`];
    if (query.team) filters.push(odata`team eq ${query.team}`);
    if (query.teams) filters.push(teamsFilter(query.teams));
    if (query.dataset) filters.push(odata`dataset eq ${query.dataset}`);
    if (query.status) filters.push(odata`status eq ${query.status}`);
    const pages = this.table
      .listEntities({ queryOptions: { filter: filters.join(' and ') } })
      .byPage({ maxPageSize: query.pageSize ?? 50, continuationToken: query.continuationToken });
    const next = await pages.next();
    if (next.done) return { runs: [] };
    const page = next.value;
    return {
      runs: page.map(toRecord),
      continuationToken: page.continuationToken,
    };
  }
}

export class CorruptRunRecordError extends Error {
  readonly code = 'corrupt_run_record';
}

function toRecord(entity: Record<string, unknown>): RunRecord {
  const parsed = runRecordSchema.safeParse(entity);
  if (!parsed.success) {
    throw new CorruptRunRecordError(
      `run index entity ${String(entity.partitionKey)} does not match the run schema: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`,
    );
  }
  return parsed.data;
}
