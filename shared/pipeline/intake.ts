import { createHash } from 'node:crypto';
import { isSupportedRegion, privateLinkRegionProblem, type TrainingProviderId } from '../catalog';
import { encodeRunNotify } from '../registry/runIndex';
import type { DataSources } from '../training/dataSources';
import {
  classifyDataLocation,
  clusterRuntimeProblem,
  type DataLocation,
  dataLocationProblem,
  providerDataPath,
  tableColumnProblems,
} from './dataLocation';
import type { IntakeProblem } from './errors';
import { dropDigest, runIdFor } from './ids';
import { type Manifest, parseManifest, resolveDataPath } from './manifest';
import type { DropStore, IntakeLog, ReportStore, RunStore, TeamConfigStore } from './ports';
import type { TrainingRunInput } from './runContracts';
import {
  type ShardedValidationInput,
  type ShardingSettings,
  shardedValidationInputSchema,
  validationIdFor,
} from './shardedValidation';
import { MANIFEST_NAME } from './submit';
import {
  applyTeamConfig,
  type EffectiveRunSettings,
  loadTeamConfig,
  readableDataFor,
  type TeamConfig,
  teamIdSchema,
} from './teams';
import {
  type DataFile,
  type DropValidator,
  type ErrorSummary,
  summarizeProblems,
  type ValidationOutcome,
} from './validation';

/** A committed drop: the manifest blob that the blob trigger (or Event Grid) reported. */
export interface ManifestDrop {
  /** Blob name inside the datasets container: {team}/{dataset}/run.json */
  blobName: string;
  url: string;
  etag: string;
  content: Buffer;
}

export interface IntakeDeps {
  drops: DropStore;
  reports: ReportStore;
  teams: TeamConfigStore;
  runIndex: RunStore;
  /** Remembers (manifest URL, ETag) pairs already handled: a redelivered event does no work twice. */
  intakeLog: IntakeLog;
  region?: string;
  /** Providers this deployment has a connection for; a team on another one is rejected (`provider_not_configured`). */
  providersConfigured?: readonly TrainingProviderId[];
  /** TUNEDROP_STORAGE_PRIVATE_LINK: training data is reached over Private Link (only eastus2 works). */
  storagePrivateLink?: boolean;
  /** Unity Catalog volumes, Delta tables and clusters (undefined: no workspace configured). */
  dataSources?: DataSources;
  validate: DropValidator;
  publishDatasetEvent(event: DatasetEvent): Promise<void>;
  /** Start the trainingRun orchestration with instance id = runId; 'exists' when it already runs or ran. */
  startRun(input: TrainingRunInput): Promise<'started' | 'exists'>;
  /**
   * Big drops are validated as a durable fan-out of byte-range shards instead of inline
   * (docs/validation.md, "Sharded intake"); undefined = always inline.
   */
  sharding?: ShardingSettings & {
    /** Start the validateDropSharded orchestration (instance id = input.validationId); 'exists' when it runs or ran. */
    start(input: ShardedValidationInput): Promise<'started' | 'exists'>;
  };
  polling: TrainingRunInput['polling'];
  deadlineHours: number;
  now(): Date;
  log?(message: string): void;
}

export interface DatasetEvent {
  type: 'tunedrop.dataset.validated' | 'tunedrop.dataset.rejected';
  runId: string;
  team: string;
  dataset: string;
  model: string;
  task: string;
  manifestUrl: string;
  reportUrls: { json: string; markdown: string };
  errors: { code: string; count: number; message?: string }[];
  time: string;
}

export type IntakeResult =
  | { outcome: 'ignored'; reason: string }
  /** Handed to the sharded validation orchestration, which finishes the drop (report, events, run). */
  | { outcome: 'validating'; validationId: string; dataBytes: number }
  | { outcome: 'duplicate'; runId?: string }
  | { outcome: 'rejected'; runId: string; problems: { code: string; count: number }[] }
  | { outcome: 'started' | 'already-running'; runId: string };

const DROP_PATH = /^([^/]+)\/([^/]+)\/run\.json$/;

export function parseDropPath(blobName: string): { team: string; dataset: string } | undefined {
  const m = DROP_PATH.exec(blobName);
  if (!m?.[1] || !m[2]) return undefined;
  return { team: m[1], dataset: m[2] };
}

/** What a rejected drop leaves behind: its report, its run record, a dataset.rejected event and the intake log entry. */
export interface Rejection {
  runId: string;
  manifest: Partial<Manifest>;
  report: unknown;
  markdown: string;
  errors: ErrorSummary[];
}

/**
 * Intake of one committed drop: parse the manifest, apply the team's configuration, check the
 * data blobs, validate the data by streaming it, write the report, announce the outcome, and
 * start the run. Every refusal goes through reject(): a report plus a dataset.rejected event,
 * never a silent drop. An exception is such a refusal too (`intake_failed`, the error in the
 * report); only when even the rejection cannot be written (storage down) does it throw, and the
 * trigger retries.
 */
export async function handleDrop(deps: IntakeDeps, drop: ManifestDrop): Promise<IntakeResult> {
  const where = parseDropPath(drop.blobName);
  if (!where)
    return { outcome: 'ignored', reason: `${drop.blobName} is not a manifest (team/dataset/${MANIFEST_NAME})` };
  const { team, dataset } = where;
  const handled = await deps.intakeLog.lookup(drop.url, drop.etag);
  if (handled) {
    deps.log?.(`intake: ${drop.blobName} ETag ${drop.etag} already handled`);
    return { outcome: 'duplicate', runId: handled.runId };
  }

  const ctx: DropContext = { team, dataset, drop };
  const reject = (r: Rejection) => rejectDrop(deps, ctx, r);
  const refuse = (manifest: Partial<Manifest>, problems: IntakeProblem[]) => reject(refusalOf(ctx, manifest, problems));

  // Any exception past this point is this drop's rejection (intake_failed), not a retried failure:
  // a drop that breaks intake must not crash-loop into the poison queue while the drops behind it wait.
  let manifestSoFar: Partial<Manifest> = {};
  const proceed = async (): Promise<IntakeResult> => {
    const teamId = teamIdSchema.safeParse(team);
    if (!teamId.success) {
      return refuse({}, [
        {
          code: 'team_not_configured',
          message: `"${team}" is not a valid team id: ${teamId.error.issues[0]?.message}`,
        },
      ]);
    }
    const parsed = parseManifest(drop.content);
    if (!parsed.ok) return refuse({}, parsed.problems);
    const manifest = parsed.manifest;
    manifestSoFar = manifest;

    const teamConfig = await loadTeamConfig(deps.teams, team);
    if (!teamConfig.ok) return refuse(manifest, [teamConfig.problem]);
    const applied = applyTeamConfig(teamConfig.config, manifest);
    const problems: IntakeProblem[] = applied.ok ? [] : [...applied.problems];
    const provider = applied.ok ? applied.settings.provider : (manifest.provider ?? teamConfig.config.provider);
    if (deps.providersConfigured && !deps.providersConfigured.includes(provider)) {
      problems.push({
        code: 'provider_not_configured',
        field: manifest.provider ? 'provider' : undefined,
        message: `Training provider "${provider}" is not configured in this deployment (configured: ${deps.providersConfigured.join(', ') || 'none'}).`,
      });
    }
    // The Databricks workspace region; an Azure OpenAI account's region is checked by the validator per model.
    if (provider === 'databricks' && deps.region && !isSupportedRegion(deps.region)) {
      problems.push({
        code: 'region_not_supported',
        message: `The workspace region "${deps.region}" does not run Foundation Model Fine-tuning (centralus, eastus, eastus2, northcentralus, westus).`,
      });
    }
    const privateLink = privateLinkRegionProblem(deps.storagePrivateLink ?? false, deps.region);
    if (privateLink) problems.push({ code: 'private_link_region_not_supported', message: `${privateLink}.` });
    const dropFolder = `${team}/${dataset}`;
    const locations = {
      train: classifyDataLocation(manifest.train),
      eval: manifest.eval ? classifyDataLocation(manifest.eval) : undefined,
    };
    const inDatabricks = await checkDatabricksData(deps, teamConfig.config, manifest, locations);
    problems.push(...inDatabricks.problems);
    const files =
      locations.train.kind === 'drop' || locations.eval?.kind === 'drop'
        ? await findDataFiles(deps.drops, dropFolder, {
            ...manifest,
            train: locations.train.kind === 'drop' ? manifest.train : '',
            eval: locations.eval?.kind === 'drop' ? manifest.eval : undefined,
          })
        : { files: [], evalFiles: [], problems: [] };
    files.files.push(...inDatabricks.files.filter((f) => f.role !== 'eval'));
    files.evalFiles.push(...inDatabricks.files.filter((f) => f.role === 'eval'));
    problems.push(...files.problems);
    for (const f of files.files) {
      if (f.size > teamConfig.config.maxDataFileBytes) {
        problems.push({
          code: 'file_too_large',
          field: 'train',
          message: `${f.name} is ${f.size} bytes; team "${team}" allows at most ${teamConfig.config.maxDataFileBytes} bytes per data file.`,
        });
      }
    }
    if (problems.length || !applied.ok) return refuse(manifest, problems);
    const settings = applied.settings;

    const sharded = inDatabricks.table ? undefined : shardedValidationFor(deps, ctx, manifest, settings, files);
    if (sharded) {
      await sharded.start(sharded.input);
      deps.log?.(
        `intake: ${drop.blobName}: ${sharded.input.files.length} file(s), ${sharded.dataBytes} bytes: sharded validation ${sharded.input.validationId}`,
      );
      return { outcome: 'validating', validationId: sharded.input.validationId, dataBytes: sharded.dataBytes };
    }
    const validation = inDatabricks.table
      ? serviceValidatedTable(manifest, inDatabricks.table)
      : await deps.validate({
          provider: settings.provider,
          manifest,
          contextLength: settings.contextLength,
          trainingDuration: settings.trainingDuration,
          files: [...files.files, ...files.evalFiles.map((f) => ({ ...f, role: 'eval' as const }))],
        });
    return finishValidation(deps, ctx, {
      manifest,
      settings,
      locations,
      dataPrepClusterId: inDatabricks.table?.clusterId,
      validation,
    });
  };
  try {
    return await proceed();
  } catch (err) {
    const message = (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).split('\n')[0] ?? '';
    deps.log?.(`intake: ${drop.blobName} failed (${message}); rejecting it with intake_failed`);
    return refuse(manifestSoFar, [
      {
        code: 'intake_failed',
        message: `Intake could not handle this drop: ${message.slice(0, 500) || 'unknown error'}. Fix the drop and upload run.json again.`,
      },
    ]);
  }
}

/** The drop being handled, as the finishing steps need it. */
export interface DropContext {
  team: string;
  dataset: string;
  drop: Pick<ManifestDrop, 'url' | 'etag' | 'content'>;
}

/** What finishing a drop writes to and starts: shared by inline intake and the sharded validation's last activity. */
export type FinishDeps = Pick<
  IntakeDeps,
  'reports' | 'runIndex' | 'intakeLog' | 'publishDatasetEvent' | 'startRun' | 'polling' | 'deadlineHours' | 'now'
>;

/** The refusal of a drop: its report, its run record (`rejected`), dataset.rejected and the intake log entry. */
export async function rejectDrop(deps: FinishDeps, ctx: DropContext, r: Rejection): Promise<IntakeResult> {
  const { team, dataset, drop } = ctx;
  const urls = await deps.reports.write(`${team}/${dataset}/${r.runId}`, r.report, r.markdown);
  const time = deps.now().toISOString();
  const facts = {
    runId: r.runId,
    team,
    dataset,
    model: r.manifest.model ?? 'unknown',
    task: r.manifest.task ?? 'unknown',
    manifestUrl: drop.url,
  };
  await deps.runIndex.upsert({
    ...facts,
    reportUrl: urls.json,
    notify: encodeRunNotify(r.manifest.notify),
    status: 'rejected',
    reason: rejectionReason(r.errors),
    createdAt: time,
    updatedAt: time,
  });
  await deps.publishDatasetEvent({
    type: 'tunedrop.dataset.rejected',
    ...facts,
    reportUrls: urls,
    errors: r.errors,
    time,
  });
  await deps.intakeLog.remember(drop.url, drop.etag, r.runId);
  return { outcome: 'rejected', runId: r.runId, problems: r.errors };
}

/** The run id of a drop refused before its data's digests were known: from the manifest alone. */
export function manifestOnlyRunIdFor(drop: Pick<ManifestDrop, 'url' | 'content'>): string {
  return runIdFor(drop.url, dropDigest(drop.content, {}));
}

/** The report and markdown of a refusal with intake codes (no data validated). */
export function refusalOf(
  ctx: DropContext,
  manifest: Partial<Manifest>,
  problems: IntakeProblem[],
  runId = manifestOnlyRunIdFor(ctx.drop),
): Rejection {
  return {
    runId,
    manifest,
    report: refusalReport(manifest, problems),
    markdown: renderRejectionMarkdown(ctx.team, ctx.dataset, problems),
    errors: summarizeProblems(problems),
  };
}

/** A drop whose data has been validated (inline, by the service for a table, or merged from shards). */
export interface ValidatedDrop {
  manifest: Manifest;
  settings: Pick<EffectiveRunSettings, 'provider' | 'registerTo' | 'trainingDuration' | 'contextLength'>;
  locations: { train: DataLocation; eval?: DataLocation };
  dataPrepClusterId?: string;
  validation: ValidationOutcome;
}

/** The run id of validated data: the manifest URL, the manifest bytes and the data files' sha256. */
export function validatedRunIdFor(drop: Pick<ManifestDrop, 'url' | 'content'>, fileDigests: Record<string, string>) {
  return runIdFor(drop.url, dropDigest(drop.content, fileDigests));
}

/**
 * The one finish path after validation: a failed validation is a rejection; a passed one writes
 * the report, records the run (`submitted`, also over a `validating` record the sharded path
 * wrote), publishes dataset.validated and starts the trainingRun orchestration (instance id = run
 * id; an existing instance is left alone). Idempotent: the same drop finished twice writes the same
 * records, publishes events with the same ids and starts nothing new.
 */
export async function finishValidation(deps: FinishDeps, ctx: DropContext, done: ValidatedDrop): Promise<IntakeResult> {
  const { team, dataset, drop } = ctx;
  const { manifest, settings, locations, validation } = done;
  const runId = validatedRunIdFor(drop, validation.fileDigests);
  if (!validation.ok) {
    return rejectDrop(deps, ctx, {
      runId,
      manifest,
      report: validation.report,
      markdown: validation.markdown,
      errors: validation.errorSummary,
    });
  }
  const dropFolder = `${team}/${dataset}`;
  const urls = await deps.reports.write(`${dropFolder}/${runId}`, validation.report, validation.markdown);
  const facts = { runId, team, dataset, model: manifest.model, task: manifest.task, manifestUrl: drop.url };
  const time = deps.now().toISOString();
  const existing = await deps.runIndex.get(runId);
  const datasetSha256 = dropDigest(Buffer.alloc(0), validation.fileDigests);
  // `validating`: the sharded path's record; `rejected`: an earlier attempt on the same bytes (e.g. its
  // data was replaced mid-validation) — this one passed, so the run goes on from here.
  if (!existing || existing.status === 'validating' || existing.status === 'rejected') {
    await deps.runIndex.upsert({
      ...facts,
      reportUrl: urls.json,
      registerTo: settings.registerTo,
      provider: settings.provider,
      datasetSha256,
      notify: encodeRunNotify(manifest.notify),
      status: 'submitted',
      reason: existing?.reason ? '' : undefined,
      createdAt: existing?.createdAt ?? time,
      updatedAt: time,
    });
  }
  await deps.publishDatasetEvent({
    type: 'tunedrop.dataset.validated',
    ...facts,
    reportUrls: urls,
    errors: [],
    time: existing?.createdAt ?? time,
  });
  const started = await deps.startRun({
    runId,
    team,
    dataset,
    model: manifest.model,
    task: manifest.task,
    manifestUrl: drop.url,
    reportUrl: urls.json,
    registerTo: settings.registerTo,
    trainBlob: locations.train.kind === 'drop' ? resolveDataPath(dropFolder, manifest.train) : '',
    evalBlob: manifest.eval && locations.eval?.kind === 'drop' ? resolveDataPath(dropFolder, manifest.eval) : undefined,
    // Data already in Databricks goes to the service as it is: no staging.
    ...(locations.train.kind !== 'drop' ? { trainDataPath: providerDataPath(locations.train) } : {}),
    ...(locations.eval && locations.eval.kind !== 'drop' ? { evalDataPath: providerDataPath(locations.eval) } : {}),
    ...(done.dataPrepClusterId ? { dataPrepClusterId: done.dataPrepClusterId } : {}),
    datasetSha256,
    trainingDuration: settings.trainingDuration,
    learningRate: manifest.learningRate,
    contextLength: settings.contextLength,
    customWeightsPath: manifest.customWeightsPath,
    provider: settings.provider,
    batchSize: manifest.batchSize,
    learningRateMultiplier: manifest.learningRateMultiplier,
    seed: manifest.seed,
    suffix: manifest.suffix,
    polling: deps.polling,
    deadlineHours: deps.deadlineHours,
  });
  await deps.intakeLog.remember(drop.url, drop.etag, runId);
  return { outcome: started === 'started' ? 'started' : 'already-running', runId };
}

/**
 * The sharded path's input when the drop qualifies: JSONL (chat, instruction) data files in the
 * datasets container, together at least the threshold. Volume files, tables and continued
 * pretraining stay inline.
 */
function shardedValidationFor(
  deps: IntakeDeps,
  ctx: DropContext,
  manifest: Manifest,
  settings: EffectiveRunSettings,
  found: { files: DataFile[]; evalFiles: DataFile[] },
):
  | { input: ShardedValidationInput; dataBytes: number; start: NonNullable<IntakeDeps['sharding']>['start'] }
  | undefined {
  const sharding = deps.sharding;
  if (!sharding || manifest.task === 'continued_pretraining') return undefined;
  const files = [
    ...found.files.map((f) => ({ ...f, role: 'train' as const })),
    ...found.evalFiles.map((f) => ({ ...f, role: 'eval' as const })),
  ];
  if (files.length === 0 || files.some((f) => f.volumePath || !f.blobName || f.etag === undefined)) return undefined;
  const dataBytes = files.reduce((n, f) => n + f.size, 0);
  if (dataBytes < sharding.thresholdBytes) return undefined;
  const input: ShardedValidationInput = {
    validationId: validationIdFor(ctx.drop.url, ctx.drop.etag),
    team: ctx.team,
    dataset: ctx.dataset,
    drop: { url: ctx.drop.url, etag: ctx.drop.etag, content: ctx.drop.content.toString('base64') },
    settings: {
      model: manifest.model,
      task: manifest.task,
      provider: settings.provider,
      registerTo: settings.registerTo,
      ...(settings.trainingDuration !== undefined ? { trainingDuration: settings.trainingDuration } : {}),
      ...(settings.contextLength !== undefined ? { contextLength: settings.contextLength } : {}),
    },
    files: files.map((f) => ({
      name: f.name,
      blobName: f.blobName,
      size: f.size,
      etag: f.etag as string,
      role: f.role,
    })),
    shardBytes: sharding.shardBytes,
    parallelism: sharding.parallelism,
    polling: { retryFirstSeconds: deps.polling.retryFirstSeconds ?? 5, retryAttempts: deps.polling.retryAttempts ?? 6 },
  };
  return { input: shardedValidationInputSchema.parse(input), dataBytes, start: sharding.start };
}

/** The report of a drop refused before its data was read: the same shape as a validation report. */
function refusalReport(manifest: Partial<Manifest>, problems: IntakeProblem[]) {
  return {
    ok: false,
    model: manifest.model ?? null,
    task: manifest.task ?? null,
    files: [],
    rows: 0,
    errors: problems.map((p) => ({ code: p.code, message: p.message, ...(p.field ? { field: p.field } : {}) })),
    warnings: [],
    errorCounts: Object.fromEntries(summarizeProblems(problems).map((s) => [s.code, s.count])),
  };
}

type InDatabricks = {
  problems: IntakeProblem[];
  /** Volume files, validated like dropped files (read through the Files API). */
  files: DataFile[];
  /** Set when the data is a Delta table: its rows are validated by the service. */
  table?: { fullNames: string[]; columns: string[]; clusterId: string; sparkVersion: string };
};

/**
 * Data already in Databricks: the team may read it (its grants, default its own schemas); volume
 * files exist (listed through the Files API); a Delta table exists with the columns its task needs,
 * and the data-prep cluster exists and runs DBR 12.2 LTS ML or later.
 */
async function checkDatabricksData(
  deps: IntakeDeps,
  team: TeamConfig,
  manifest: Manifest,
  locations: { train: DataLocation; eval?: DataLocation },
): Promise<InDatabricks> {
  const out: InDatabricks = { problems: [], files: [] };
  const remote = (['train', 'eval'] as const).flatMap((field) => {
    const location = locations[field];
    return location && location.kind !== 'drop' ? [{ field, location }] : [];
  });
  if (remote.length === 0) return out;
  const sources = deps.dataSources;
  if (!sources) {
    out.problems.push({
      code: 'data_location_not_allowed',
      field: remote[0]?.field,
      message: 'Data in Unity Catalog needs the Databricks workspace (DATABRICKS_HOST), which is not configured.',
    });
    return out;
  }
  const grants = readableDataFor(team);
  const tables: { fullName: string; columns: string[] }[] = [];
  for (const { field, location } of remote) {
    const denied = dataLocationProblem(field, location, grants, team.team);
    if (denied) {
      out.problems.push(denied);
      continue;
    }
    if (location.kind === 'volume') {
      const listed = await sources.listVolumeFiles(location.path);
      if (!listed?.length) {
        out.problems.push({
          code: 'volume_file_missing',
          field,
          message: `"${field}": ${location.path} was not found in volume ${location.catalog}.${location.schema}.${location.volume}.`,
        });
        continue;
      }
      for (const f of listed) {
        if (f.bytes > team.maxDataFileBytes) {
          out.problems.push({
            code: 'file_too_large',
            field,
            message: `${f.path} is ${f.bytes} bytes; team "${team.team}" allows at most ${team.maxDataFileBytes} bytes per data file.`,
          });
        }
        out.files.push({ name: f.path, blobName: '', size: f.bytes, volumePath: f.path, role: field });
      }
    } else if (location.kind === 'table') {
      const table = await sources.getTable(location.fullName);
      if (!table) {
        out.problems.push({
          code: 'table_not_found',
          field,
          message: `"${field}": the Delta table ${location.fullName} does not exist (or is not visible to tunedrop).`,
        });
        continue;
      }
      const missing = tableColumnProblems(field, location.fullName, manifest.task, table.columns);
      out.problems.push(...missing);
      if (!missing.length) tables.push({ fullName: location.fullName, columns: table.columns.map((c) => c.name) });
    }
  }
  if (remote.some((r) => r.location.kind === 'table')) {
    const clusterId = manifest.dataPrepClusterId ?? team.defaults.dataPrepClusterId;
    if (!clusterId) {
      out.problems.push({
        code: 'data_prep_cluster_missing',
        field: 'dataPrepClusterId',
        message:
          'A Delta table needs a data-prep cluster: set "dataPrepClusterId" in run.json or defaults.dataPrepClusterId in the team configuration.',
      });
      return out;
    }
    const cluster = await sources.getCluster(clusterId);
    if (!cluster) {
      out.problems.push({
        code: 'cluster_not_found',
        field: 'dataPrepClusterId',
        message: `The data-prep cluster ${clusterId} does not exist.`,
      });
      return out;
    }
    const tooOld = clusterRuntimeProblem(clusterId, cluster.sparkVersion);
    if (tooOld) out.problems.push(tooOld);
    else if (tables.length) {
      out.table = {
        fullNames: tables.map((t) => t.fullName),
        columns: tables[0]?.columns ?? [],
        clusterId,
        sparkVersion: cluster.sparkVersion,
      };
    }
  }
  return out;
}

/**
 * A Delta table's report: the table and its columns were checked here; the rows are read and
 * validated by the service on the data-prep cluster ("done by the service").
 */
function serviceValidatedTable(manifest: Manifest, table: NonNullable<InDatabricks['table']>): ValidationOutcome {
  const report = {
    ok: true,
    model: manifest.model,
    task: manifest.task,
    files: [],
    tables: table.fullNames,
    columns: table.columns,
    dataPrepCluster: { clusterId: table.clusterId, sparkVersion: table.sparkVersion },
    rowValidation: 'done by the service',
    rows: 0,
    errors: [],
    warnings: [],
    errorCounts: {},
  };
  const markdown = [
    `# Dataset validation: ✅ table checked`,
    '',
    `- Model: \`${manifest.model}\``,
    `- Task: ${manifest.task}`,
    `- Delta table(s): ${table.fullNames.join(', ')} (columns: ${table.columns.join(', ')})`,
    `- Data-prep cluster: ${table.clusterId} (${table.sparkVersion})`,
    '- Row-level validation: done by the service (it reads the table on the data-prep cluster); tokens and the billable estimate are not known before the run.',
    '',
  ].join('\n');
  return {
    ok: true,
    report,
    markdown,
    // The table's identity stands in for file digests (run id, lineage): same table names → same run.
    fileDigests: Object.fromEntries(table.fullNames.map((n) => [n, createHash('sha256').update(n).digest('hex')])),
    errorSummary: [],
  };
}

async function findDataFiles(
  drops: DropStore,
  dropFolder: string,
  manifest: Manifest,
): Promise<{ files: DataFile[]; evalFiles: DataFile[]; problems: IntakeProblem[] }> {
  const problems: IntakeProblem[] = [];
  const list = async (field: 'train' | 'eval', relative: string): Promise<DataFile[]> => {
    const target = resolveDataPath(dropFolder, relative);
    const found: DataFile[] = [];
    for await (const f of drops.list(target)) {
      if (f.name === target || f.name.startsWith(`${target}/`)) {
        found.push({ name: f.name.slice(dropFolder.length + 1), blobName: f.name, size: f.size, etag: f.etag });
      }
    }
    if (!found.length) {
      problems.push({
        code: 'data_file_missing',
        field,
        message: `"${field}": ${relative} was not found next to run.json (upload data files before the manifest).`,
      });
    }
    return found;
  };
  const files = manifest.train ? await list('train', manifest.train) : [];
  const evalFiles = manifest.eval ? await list('eval', manifest.eval) : [];
  return { files, evalFiles, problems };
}

function renderRejectionMarkdown(team: string, dataset: string, problems: IntakeProblem[]): string {
  return [
    `# Drop rejected: ${team}/${dataset}`,
    '',
    'The drop was refused before its data was validated. Fix these and upload `run.json` again:',
    '',
    '| code | field | problem |',
    '| --- | --- | --- |',
    ...problems.map((p) => `| \`${p.code}\` | ${p.field ?? ''} | ${p.message.replace(/\|/g, '\\|')} |`),
    '',
  ].join('\n');
}

/**
 * Why a drop was rejected, in the run record (what `GET /api/runs/{id}` and `tunedrop runs show`
 * print): each code with its count and first message, at most 1,000 characters. The report has
 * the rest; its blob may not be readable by the caller (Entra-only storage in Azure).
 */
export function rejectionReason(errors: readonly ErrorSummary[]): string {
  const text = errors
    .map((e) => `${e.code}${e.count > 1 ? ` ×${e.count}` : ''}${e.message ? `: ${e.message}` : ''}`)
    .join('; ');
  return text.length > 1000 ? `${text.slice(0, 999)}…` : text;
}
