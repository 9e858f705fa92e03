import { createHash } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { RestError } from '@azure/data-tables';
import type { ContainerClient } from '@azure/storage-blob';
import { isSupportedRegion } from '../catalog';
import { encodeRunNotify, type RunIndex } from '../registry/runIndex';
import type { IntakeProblem } from './errors';
import { dropDigest, runIdFor } from './ids';
import { type Manifest, parseManifest, resolveDataPath } from './manifest';
import type { TrainingRunInput } from './runContracts';
import { MANIFEST_NAME } from './submit';
import { applyTeamConfig, type TeamConfig, teamConfigSchema, teamIdSchema } from './teams';

/** A committed drop: the manifest blob that the blob trigger (or Event Grid) reported. */
export interface ManifestDrop {
  /** Blob name inside the datasets container: {team}/{dataset}/run.json */
  blobName: string;
  url: string;
  etag: string;
  content: Buffer;
}

export interface DataFile {
  /** Name relative to the drop folder (e.g. train.jsonl, texts/a.txt). */
  name: string;
  blobName: string;
  size: number;
}

export interface ValidationOutcome {
  ok: boolean;
  /** The full validation report (shared/datasets' ValidationReport), stored as validation.json. */
  report: Record<string, unknown> & { ok: boolean };
  markdown: string;
  /** sha256 of each data file, computed while streaming (lineage and the run id). */
  fileDigests: Record<string, string>;
  errorSummary: ErrorSummary[];
}

export interface ErrorSummary {
  code: string;
  count: number;
  /** The first problem's message for this code. */
  message?: string;
}

export interface IntakeDeps {
  datasets: ContainerClient;
  reports: ContainerClient;
  config: ContainerClient;
  runIndex: RunIndex;
  /** Remembers (manifest URL, ETag) pairs already handled: a redelivered event does no work twice. */
  intakeLog: TableClient;
  region?: string;
  validate(input: {
    manifest: Manifest;
    contextLength?: number;
    files: DataFile[];
    datasets: ContainerClient;
  }): Promise<ValidationOutcome>;
  publishDatasetEvent(event: DatasetEvent): Promise<void>;
  /** Start the trainingRun orchestration with instance id = runId; 'exists' when it already runs or ran. */
  startRun(input: TrainingRunInput): Promise<'started' | 'exists'>;
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
  | { outcome: 'duplicate'; runId?: string }
  | { outcome: 'rejected'; runId: string; problems: { code: string; count: number }[] }
  | { outcome: 'started' | 'already-running'; runId: string };

const DROP_PATH = /^([^/]+)\/([^/]+)\/run\.json$/;

export function parseDropPath(blobName: string): { team: string; dataset: string } | undefined {
  const m = DROP_PATH.exec(blobName);
  if (!m?.[1] || !m[2]) return undefined;
  return { team: m[1], dataset: m[2] };
}

/**
 * Intake of one committed drop: parse the manifest, apply the team's configuration, check the
 * data blobs, validate the data by streaming it, write the report, announce the outcome, and
 * start the run. Every refusal is a report plus a dataset.rejected event, never a silent drop.
 */
export async function handleDrop(deps: IntakeDeps, drop: ManifestDrop): Promise<IntakeResult> {
  const where = parseDropPath(drop.blobName);
  if (!where)
    return { outcome: 'ignored', reason: `${drop.blobName} is not a manifest (team/dataset/${MANIFEST_NAME})` };
  const { team, dataset } = where;
  const handled = await lookupHandledDrop(deps.intakeLog, drop.url, drop.etag);
  if (handled) {
    deps.log?.(`intake: ${drop.blobName} ETag ${drop.etag} already handled`);
    return { outcome: 'duplicate', runId: handled.runId };
  }

  const reject = async (runId: string, manifest: Partial<Manifest>, problems: IntakeProblem[]) => {
    const summary = summarizeProblems(problems);
    const report = {
      ok: false,
      model: manifest.model ?? null,
      task: manifest.task ?? null,
      files: [],
      rows: 0,
      errors: problems.map((p) => ({ code: p.code, message: p.message, ...(p.field ? { field: p.field } : {}) })),
      warnings: [],
      errorCounts: Object.fromEntries(summary.map((s) => [s.code, s.count])),
    };
    const markdown = renderRejectionMarkdown(team, dataset, problems);
    const urls = await writeReports(deps.reports, team, dataset, runId, report, markdown);
    await announceRejection(deps, { runId, team, dataset, manifest, manifestUrl: drop.url, urls, errors: summary });
    await rememberHandledDrop(deps.intakeLog, drop.url, drop.etag, runId);
    return { outcome: 'rejected' as const, runId, problems: summary };
  };

  const manifestOnlyRunId = runIdFor(drop.url, dropDigest(drop.content, {}));
  const teamId = teamIdSchema.safeParse(team);
  if (!teamId.success) {
    return reject(manifestOnlyRunId, {}, [
      { code: 'team_not_configured', message: `"${team}" is not a valid team id: ${teamId.error.issues[0]?.message}` },
    ]);
  }
  const parsed = parseManifest(drop.content);
  if (!parsed.ok) return reject(manifestOnlyRunId, {}, parsed.problems);
  const manifest = parsed.manifest;

  const teamConfig = await loadTeamConfig(deps.config, team);
  if (!teamConfig.ok) return reject(manifestOnlyRunId, manifest, [teamConfig.problem]);
  const applied = applyTeamConfig(teamConfig.config, manifest);
  const problems: IntakeProblem[] = applied.ok ? [] : [...applied.problems];
  if (deps.region && !isSupportedRegion(deps.region)) {
    problems.push({
      code: 'region_not_supported',
      message: `The workspace region "${deps.region}" does not run Foundation Model Fine-tuning (centralus, eastus, eastus2, northcentralus, westus).`,
    });
  }
  const dropFolder = `${team}/${dataset}`;
  const files = await findDataFiles(deps.datasets, dropFolder, manifest);
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
  if (problems.length || !applied.ok) return reject(manifestOnlyRunId, manifest, problems);
  const settings = applied.settings;

  const validation = await deps.validate({
    manifest,
    contextLength: settings.contextLength,
    files: [...files.files, ...files.evalFiles],
    datasets: deps.datasets,
  });
  const runId = runIdFor(drop.url, dropDigest(drop.content, validation.fileDigests));
  const urls = await writeReports(deps.reports, team, dataset, runId, validation.report, validation.markdown);
  const facts = { runId, team, dataset, model: manifest.model, task: manifest.task, manifestUrl: drop.url };
  const base = { ...facts, reportUrls: urls };
  const time = deps.now().toISOString();
  if (!validation.ok) {
    await deps.runIndex.upsert({
      ...facts,
      reportUrl: urls.json,
      notify: encodeRunNotify(manifest.notify),
      status: 'rejected',
      createdAt: time,
      updatedAt: time,
    });
    await deps.publishDatasetEvent({
      type: 'tunedrop.dataset.rejected',
      ...base,
      errors: validation.errorSummary,
      time,
    });
    await rememberHandledDrop(deps.intakeLog, drop.url, drop.etag, runId);
    return { outcome: 'rejected', runId, problems: validation.errorSummary };
  }

  const existing = await deps.runIndex.get(runId);
  if (!existing) {
    await deps.runIndex.upsert({
      ...facts,
      reportUrl: urls.json,
      registerTo: settings.registerTo,
      datasetSha256: dropDigest(Buffer.alloc(0), validation.fileDigests),
      notify: encodeRunNotify(manifest.notify),
      status: 'submitted',
      createdAt: time,
      updatedAt: time,
    });
  }
  await deps.publishDatasetEvent({
    type: 'tunedrop.dataset.validated',
    ...base,
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
    trainBlob: resolveDataPath(dropFolder, manifest.train),
    evalBlob: manifest.eval ? resolveDataPath(dropFolder, manifest.eval) : undefined,
    datasetSha256: dropDigest(Buffer.alloc(0), validation.fileDigests),
    trainingDuration: settings.trainingDuration,
    learningRate: manifest.learningRate,
    contextLength: settings.contextLength,
    customWeightsPath: manifest.customWeightsPath,
    polling: deps.polling,
    deadlineHours: deps.deadlineHours,
  });
  await rememberHandledDrop(deps.intakeLog, drop.url, drop.etag, runId);
  return { outcome: started === 'started' ? 'started' : 'already-running', runId };
}

async function announceRejection(
  deps: IntakeDeps,
  r: {
    runId: string;
    team: string;
    dataset: string;
    manifest: Partial<Manifest>;
    manifestUrl: string;
    urls: { json: string; markdown: string };
    errors: ErrorSummary[];
  },
): Promise<void> {
  const time = deps.now().toISOString();
  const model = r.manifest.model ?? 'unknown';
  const task = r.manifest.task ?? 'unknown';
  await deps.runIndex.upsert({
    runId: r.runId,
    team: r.team,
    dataset: r.dataset,
    model,
    task,
    status: 'rejected',
    manifestUrl: r.manifestUrl,
    reportUrl: r.urls.json,
    notify: encodeRunNotify(r.manifest.notify),
    createdAt: time,
    updatedAt: time,
  });
  await deps.publishDatasetEvent({
    type: 'tunedrop.dataset.rejected',
    runId: r.runId,
    team: r.team,
    dataset: r.dataset,
    model,
    task,
    manifestUrl: r.manifestUrl,
    reportUrls: r.urls,
    errors: r.errors,
    time,
  });
}

/** Problems grouped by code, each with its count and first message (what a rejection notice shows). */
export function summarizeProblems(problems: readonly { code: string; message: string }[]): ErrorSummary[] {
  const byCode = new Map<string, ErrorSummary>();
  for (const p of problems) {
    const seen = byCode.get(p.code);
    if (seen) seen.count += 1;
    else byCode.set(p.code, { code: p.code, count: 1, message: p.message });
  }
  return [...byCode.values()];
}

export async function loadTeamConfig(
  config: ContainerClient,
  team: string,
): Promise<{ ok: true; config: TeamConfig } | { ok: false; problem: IntakeProblem }> {
  const blob = config.getBlobClient(`teams/${team}.json`);
  let text: string;
  try {
    text = (await blob.downloadToBuffer()).toString('utf8');
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) {
      return {
        ok: false,
        problem: {
          code: 'team_not_configured',
          message: `Team "${team}" has no configuration (config/teams/${team}.json).`,
        },
      };
    }
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return {
      ok: false,
      problem: { code: 'team_not_configured', message: `config/teams/${team}.json is not valid JSON.` },
    };
  }
  const parsed = teamConfigSchema.safeParse(json);
  if (!parsed.success || parsed.data.team !== team) {
    return {
      ok: false,
      problem: {
        code: 'team_not_configured',
        message: `config/teams/${team}.json is not a valid team configuration${parsed.success ? ` (it names team "${parsed.data.team}")` : `: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`}.`,
      },
    };
  }
  return { ok: true, config: parsed.data };
}

async function findDataFiles(
  datasets: ContainerClient,
  dropFolder: string,
  manifest: Manifest,
): Promise<{ files: DataFile[]; evalFiles: DataFile[]; problems: IntakeProblem[] }> {
  const problems: IntakeProblem[] = [];
  const list = async (field: 'train' | 'eval', relative: string): Promise<DataFile[]> => {
    const target = resolveDataPath(dropFolder, relative);
    const found: DataFile[] = [];
    for await (const b of datasets.listBlobsFlat({ prefix: target })) {
      if (b.name === target || b.name.startsWith(`${target}/`)) {
        found.push({
          name: b.name.slice(dropFolder.length + 1),
          blobName: b.name,
          size: b.properties.contentLength ?? 0,
        });
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
  const files = await list('train', manifest.train);
  const evalFiles = manifest.eval ? await list('eval', manifest.eval) : [];
  return { files, evalFiles, problems };
}

async function writeReports(
  reports: ContainerClient,
  team: string,
  dataset: string,
  runId: string,
  report: unknown,
  markdown: string,
): Promise<{ json: string; markdown: string }> {
  await reports.createIfNotExists();
  const folder = `${team}/${dataset}/${runId}`;
  const json = reports.getBlockBlobClient(`${folder}/validation.json`);
  const md = reports.getBlockBlobClient(`${folder}/validation.md`);
  const body = JSON.stringify(report, null, 2);
  await json.upload(body, Buffer.byteLength(body), { blobHTTPHeaders: { blobContentType: 'application/json' } });
  await md.upload(markdown, Buffer.byteLength(markdown), {
    blobHTTPHeaders: { blobContentType: 'text/markdown; charset=utf-8' },
  });
  return { json: json.url, markdown: md.url };
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

/** The intake log's keys for one manifest version: URL digest, ETag without punctuation (Table keys forbid some). */
function intakeLogKeys(url: string, etag: string): { partitionKey: string; rowKey: string } {
  return { partitionKey: createHash('sha256').update(url).digest('hex'), rowKey: etag.replace(/[^A-Za-z0-9]/g, '') };
}

/**
 * Whether this version of a manifest (URL + ETag) was handled already, and the run it became:
 * undefined when it was not. Lets a redelivered event, or the API asking again, do no work twice.
 */
export async function lookupHandledDrop(
  log: TableClient,
  url: string,
  etag: string,
): Promise<{ runId?: string } | undefined> {
  const { partitionKey, rowKey } = intakeLogKeys(url, etag);
  try {
    const entity = await log.getEntity<{ runId?: unknown }>(partitionKey, rowKey);
    return typeof entity.runId === 'string' ? { runId: entity.runId } : {};
  } catch (err) {
    if (err instanceof RestError && err.statusCode === 404) return undefined;
    throw err;
  }
}

async function rememberHandledDrop(log: TableClient, url: string, etag: string, runId: string): Promise<void> {
  await log.upsertEntity({ ...intakeLogKeys(url, etag), runId }, 'Replace');
}
