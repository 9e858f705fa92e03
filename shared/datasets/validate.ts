import { isUtf8 } from 'node:buffer';
import { createHash, type Hash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import {
  AFTER_EVALUATION_ADVICE,
  AZURE_OPENAI_LIMITS,
  AZURE_OPENAI_TRAINING_TYPES,
  type AzureOpenAITrainingType,
  azureOpenAIFacts,
  azureOpenAIRegionAllows,
  type Catalog,
  defaultCatalog,
  epochsForDuration,
  formatDecimalMB,
  GUIDANCE,
  isSupportedRegion,
  type ModelEntry,
  normalizeRegion,
  PROVIDER_LABELS,
  PROVIDER_TASKS,
  parseTrainingDuration,
  SUPPORTED_REGIONS,
  type Task,
  type TrainingProviderId,
  taskSchema,
  trainingProviderSchema,
} from '../catalog';
import { ERROR_CODES } from './codes';
import {
  acquireWorkerEngine,
  type BatchEngine,
  createInlineEngine,
  type EngineConfig,
  loadCounters,
  workerScript,
} from './engine';
import type { ReportIssue, ValidationReport } from './report';
import type { BatchResult } from './rows';
import { DuplicateTable, type IssueGroup, IssueTally, TokenHistogram } from './stats';
import { templateFor } from './templates';

export interface DatasetFile {
  name: string;
  size?: number;
  /** Training data (default) or evaluation data: only training tokens count towards the minimum and the bill. */
  role?: 'train' | 'eval';
  /** A fresh stream of the file's bytes; may be async (e.g. a blob download's readableStreamBody). */
  open(): NodeJS.ReadableStream | Readable | Promise<NodeJS.ReadableStream | Readable>;
  /**
   * Additive: a fresh stream of the bytes from `start` to the end of the file (a blob range
   * read). Sharded validation needs it; the reader stops early when its shard is done.
   */
  openRange?(start: number): NodeJS.ReadableStream | Readable | Promise<NodeJS.ReadableStream | Readable>;
}

export interface ValidateDatasetInput {
  model: string;
  task: Task;
  contextLength?: number;
  epochs?: number;
  /**
   * Additive: the run's `trainingDuration` (`3ep`, `10000tok`, `500ba`); epochs are derived from it
   * when `epochs` is not given (tokens through the training data's token count).
   */
  trainingDuration?: string;
  files: DatasetFile[];
  catalog?: Catalog;
  onProgress?(bytes: number): void;
  /** Additive: the workspace region, checked against the service's regions. */
  region?: string;
  /** Additive: worker threads for token counting (default: up to 2 for inputs ≥ 8 MB, when compiled). */
  workers?: number;
  /** Additive: longest accepted JSONL line (default 64 MiB). */
  maxLineBytes?: number;
  /**
   * Additive: the training provider the run goes to (default: the model's own). A model of
   * another provider is `model_not_supported`; a task the provider does not offer is `task_not_offered`.
   */
  provider?: TrainingProviderId;
  /** Additive, Azure OpenAI: regional (`standard`, default) or Global training, for the region check. */
  trainingType?: AzureOpenAITrainingType;
}

/** Thrown for arguments the caller must fix (not data problems: those go in the report). */
export class ValidationInputError extends Error {
  override name = 'ValidationInputError';
}

/** Thrown when a file cannot be read; the CLI maps it to exit code 2. */
export class DatasetReadError extends Error {
  override name = 'DatasetReadError';
}

const inputSchema = z.object({
  model: z.string().trim().min(1, 'model is required'),
  task: taskSchema,
  contextLength: z.number().int().positive().optional(),
  epochs: z.number().positive().finite().optional(),
  trainingDuration: z
    .string()
    .refine((v) => parseTrainingDuration(v) !== undefined, 'must be a number followed by ep, tok or ba, like "3ep"')
    .optional(),
  files: z.array(
    z
      .object({
        name: z.string().min(1),
        size: z.number().nonnegative().optional(),
        role: z.enum(['train', 'eval']).optional(),
      })
      .passthrough(),
  ),
  region: z.string().optional(),
  workers: z.number().int().min(0).max(64).optional(),
  maxLineBytes: z.number().int().positive().optional(),
  provider: trainingProviderSchema.optional(),
  trainingType: z.enum(AZURE_OPENAI_TRAINING_TYPES).optional(),
});

const PARALLEL_THRESHOLD_BYTES = 8 * 1024 * 1024;
const BATCH_BYTES = 1024 * 1024;
/** Continued pretraining is counted in chunks of at least this many characters… */
const CPT_CHUNK_CHARS = 1 << 16;
/** …split where the pre-tokenizer splits anyway; past this, at any line end (see docs). */
const CPT_FORCE_CHARS = 1 << 20;

export interface FileOutcome {
  name: string;
  role: 'train' | 'eval';
  bytes: number;
  rows: number;
  tokens: number;
  sha256: string;
  tally: IssueTally;
}

export class DatasetAccumulator {
  readonly histogram = new TokenHistogram();
  readonly duplicates = new DuplicateTable();
  rows = 0;
  validRows = 0;
  blankLines = 0;
  tokens = 0;
}

function countNewlines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) n++;
  return n;
}

function stripBom(chunk: Buffer): Buffer {
  return chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf ? chunk.subarray(3) : chunk;
}

/**
 * A file's chunks as Buffers, the UTF-8 BOM stripped from the first. Each chunk as read (BOM
 * included) goes into `hash`, `outcome.bytes` and `progress` first: digest and size are the file's.
 */
async function* readFileChunks(
  file: DatasetFile,
  hash: Hash,
  outcome: { bytes: number },
  progress: (delta: number) => void,
): AsyncGenerator<Buffer> {
  let atStart = true;
  for await (const raw of await file.open()) {
    let chunk = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : (raw as Buffer);
    hash.update(chunk);
    outcome.bytes += chunk.length;
    progress(chunk.length);
    if (atStart) {
      chunk = stripBom(chunk);
      atStart = false;
    }
    yield chunk;
  }
}

/** Where the rows' 53-bit hashes go: checked against earlier rows at once, or kept for a later merge. */
export interface RowHashSink {
  add(hashes: Float64Array, lines: Float64Array, tally: IssueTally): void;
}

/** The single pass: each row checked against every earlier row of the dataset. */
export function checkDuplicates(table: DuplicateTable): RowHashSink {
  return {
    add(hashes, lines, tally) {
      for (let i = 0; i < hashes.length; i++) {
        if (table.seen(hashes[i] as number)) {
          tally.add('duplicate_examples', lines[i], 'the row repeats an earlier row');
        }
      }
    },
  };
}

export interface JsonlScan {
  rows: number;
  tokens: number;
  tally: IssueTally;
  /** Lines consumed (the line number of the last line, counting from 1). */
  lines: number;
}

/**
 * Streams JSONL bytes into batches of complete lines, hands them to the engine and merges
 * results in order (so "first lines" and duplicates are right). Line numbers start at
 * `firstLine`. Memory: the batches in flight, never the file.
 */
export async function scanJsonl(
  chunks: AsyncIterable<Buffer>,
  engine: BatchEngine,
  acc: DatasetAccumulator,
  maxLineBytes: number,
  duplicates: RowHashSink,
  firstLine = 1,
): Promise<JsonlScan> {
  const tally = new IssueTally();
  const outcome = { rows: 0, tokens: 0, tally, lines: 0 };
  const queue: Promise<BatchResult>[] = [];
  let nextLine = firstLine;
  let parts: Buffer[] = [];
  let partsBytes = 0;
  let carry: Buffer[] = [];
  let carryBytes = 0;
  let skippingLongLine = false;

  const merge = (r: BatchResult) => {
    outcome.rows += r.rows;
    outcome.tokens += r.tokenTotal;
    acc.rows += r.rows;
    acc.validRows += r.validRows;
    acc.blankLines += r.blankLines;
    acc.tokens += r.tokenTotal;
    acc.histogram.addAll(r.rowTokens);
    tally.merge(r.issues);
    duplicates.add(r.rowHashes, r.rowLines, tally);
  };
  const flush = async () => {
    if (partsBytes === 0) return;
    const batch = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, partsBytes);
    parts = [];
    partsBytes = 0;
    const lines = countNewlines(batch);
    queue.push(engine.process(batch, nextLine));
    nextLine += lines;
    while (queue.length >= engine.parallelism) merge(await (queue.shift() as Promise<BatchResult>));
  };
  const addComplete = async (buf: Buffer) => {
    parts.push(buf);
    partsBytes += buf.length;
    if (partsBytes >= BATCH_BYTES) await flush();
  };

  try {
    for await (let chunk of chunks) {
      if (skippingLongLine) {
        const nl = chunk.indexOf(10);
        if (nl === -1) continue;
        skippingLongLine = false;
        nextLine++;
        chunk = chunk.subarray(nl + 1);
      }
      const last = chunk.lastIndexOf(10);
      if (last === -1) {
        carry.push(chunk);
        carryBytes += chunk.length;
      } else {
        if (carryBytes > 0) {
          await addComplete(Buffer.concat([...carry, chunk.subarray(0, last + 1)]));
          carry = [];
          carryBytes = 0;
        } else {
          await addComplete(chunk.subarray(0, last + 1));
        }
        const rest = chunk.subarray(last + 1);
        if (rest.length > 0) {
          carry = [rest];
          carryBytes = rest.length;
        }
      }
      if (carryBytes > maxLineBytes) {
        await flush();
        tally.add('invalid_json', nextLine, `the line is longer than ${maxLineBytes} bytes`);
        outcome.rows++;
        acc.rows++;
        carry = [];
        carryBytes = 0;
        skippingLongLine = true;
      }
    }
    if (skippingLongLine) nextLine++;
    else if (carryBytes > 0) await addComplete(Buffer.concat([...carry, Buffer.from('\n')]));
    await flush();
    while (queue.length > 0) merge(await (queue.shift() as Promise<BatchResult>));
  } catch (err) {
    await Promise.allSettled(queue);
    throw err;
  }
  outcome.lines = nextLine - firstLine;
  return outcome;
}

/** One JSONL file in a single pass. */
async function validateJsonlFile(
  file: DatasetFile,
  engine: BatchEngine,
  acc: DatasetAccumulator,
  maxLineBytes: number,
  progress: (delta: number) => void,
): Promise<FileOutcome> {
  const hash = createHash('sha256');
  const read = { bytes: 0 };
  try {
    const scan = await scanJsonl(
      readFileChunks(file, hash, read, progress),
      engine,
      acc,
      maxLineBytes,
      checkDuplicates(acc.duplicates),
    );
    return {
      name: file.name,
      role: file.role ?? 'train',
      bytes: read.bytes,
      rows: scan.rows,
      tokens: scan.tokens,
      sha256: hash.digest('hex'),
      tally: scan.tally,
    };
  } catch (err) {
    if (err instanceof DatasetReadError) throw err;
    throw new DatasetReadError(`cannot read ${file.name}: ${(err as Error).message}`);
  }
}

/** The last position in `text` where a tiktoken-style count may be split: before a letter that starts a line. */
function safeSplit(text: string, force: boolean): number {
  for (let i = text.lastIndexOf('\n'); i > 0; i = text.lastIndexOf('\n', i - 1)) {
    if (i + 1 < text.length && /\p{L}/u.test(text[i + 1] as string)) return i + 1;
    if (text.length - i > CPT_CHUNK_CHARS) break;
  }
  if (!force) return -1;
  const nl = text.lastIndexOf('\n');
  return nl > 0 ? nl + 1 : text.length;
}

/**
 * A continued-pretraining .txt file: UTF-8 checked per line, tokens counted over the whole text
 * in chunks split where the pre-tokenizer would split anyway.
 */
async function validateTextFile(
  file: DatasetFile,
  config: EngineConfig,
  acc: DatasetAccumulator,
  progress: (delta: number) => void,
): Promise<FileOutcome> {
  const { counter } = await loadCounters(config);
  const tally = new IssueTally();
  const hash = createHash('sha256');
  const outcome = { name: file.name, role: file.role ?? 'train', bytes: 0, rows: 0, tokens: 0, sha256: '', tally };
  let carry: Buffer = Buffer.alloc(0);
  let pending = '';
  let line = 1;
  let broken = false;
  let sawText = false;
  const countText = (final: boolean) => {
    while (pending.length > 0) {
      if (!final && pending.length < CPT_CHUNK_CHARS) return;
      const at = final ? pending.length : safeSplit(pending, pending.length > CPT_FORCE_CHARS);
      if (at < 0) return;
      if (counter) outcome.tokens += counter.text(pending.slice(0, at));
      pending = pending.slice(at);
    }
  };
  const take = (buf: Buffer) => {
    if (broken) return;
    if (!isUtf8Buffer(buf)) {
      // Find the offending line for the report.
      let start = 0;
      let n = line;
      while (start < buf.length) {
        let end = buf.indexOf(10, start);
        if (end === -1) end = buf.length;
        if (!isUtf8Buffer(buf.subarray(start, end))) break;
        n++;
        start = end + 1;
      }
      tally.add('invalid_utf8', n, 'the file is not valid UTF-8 from this line');
      broken = true;
      return;
    }
    line += countNewlines(buf);
    const text = buf.toString('utf8');
    if (!sawText && text.trim().length > 0) sawText = true;
    pending += text;
    countText(false);
  };
  try {
    for await (const chunk of readFileChunks(file, hash, outcome, progress)) {
      const joined = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      const last = joined.lastIndexOf(10);
      if (last === -1) {
        carry = joined;
        continue;
      }
      take(joined.subarray(0, last + 1));
      carry = Buffer.from(joined.subarray(last + 1));
    }
    if (carry.length > 0) take(carry);
    countText(true);
  } catch (err) {
    throw new DatasetReadError(`cannot read ${file.name}: ${(err as Error).message}`);
  }
  outcome.sha256 = hash.digest('hex');
  if (outcome.bytes === 0) tally.add('empty_file', undefined, 'the file is empty');
  else if (!sawText && !broken) tally.add('empty_text', undefined, 'the file contains only whitespace');
  outcome.rows = sawText ? 1 : 0;
  acc.rows += outcome.rows;
  if (sawText && !broken) {
    acc.validRows++;
    acc.tokens += outcome.tokens;
    if (counter) acc.histogram.add(outcome.tokens);
  }
  const sizeIssue = continuedPretrainingFileSizeIssue(outcome.bytes);
  if (sizeIssue) tally.add('file_size_outside_recommended', undefined, sizeIssue);
  return outcome;
}

/**
 * The page's file-size guidance for continued pretraining, in its decimal units: best 60–256 MB,
 * over 1 GB processes slowly. Undefined inside the range.
 */
export function continuedPretrainingFileSizeIssue(bytes: number): string | undefined {
  if (bytes > GUIDANCE.slowFileBytes) return `${formatDecimalMB(bytes)}: files over 1 GB process slowly`;
  const { min, max } = GUIDANCE.continuedPretrainingFileBytes;
  if (bytes < min || bytes > max) return `${formatDecimalMB(bytes)}: files are best 60–256 MB`;
  return undefined;
}

function isUtf8Buffer(buf: Buffer): boolean {
  return isUtf8(buf);
}

function extensionOf(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? name;
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot).toLowerCase();
}

/**
 * A file's issues in a canonical order: by first line, then the ones without a line in the order
 * they were found. (Insertion order would depend on batch boundaries, which differ between a
 * single pass and merged shards.)
 */
function toIssues(tally: IssueTally, file: string | undefined, kind: 'error' | 'warning'): ReportIssue[] {
  const out: ReportIssue[] = [];
  const groups = [...tally.groups.values()];
  if (file !== undefined) {
    const first = (g: IssueGroup) => g.lines[0] ?? Number.MAX_SAFE_INTEGER;
    // Stable: groups without a line keep their order; two codes never share a first line's rank
    // unless one row has both (then by code).
    groups.sort((a, b) => first(a) - first(b) || (first(a) === Number.MAX_SAFE_INTEGER ? 0 : a.code < b.code ? -1 : 1));
  }
  for (const g of groups) {
    const isError = g.code in ERROR_CODES;
    if (isError !== (kind === 'error')) continue;
    out.push({
      code: g.code,
      ...(g.lines[0] !== undefined ? { line: g.lines[0], lines: g.lines } : {}),
      message: g.message,
      count: g.count,
      ...(file !== undefined ? { file } : {}),
    });
  }
  return out;
}

/**
 * Azure OpenAI's file rules: the training file (the first file) needs at least 10 examples, and
 * every file must be under 512 MB. (Databricks' token rules do not apply: the service has none.)
 */
export function azureOpenAIDatasetIssues(
  files: ReadonlyArray<{ name: string; bytes: number; rows: number }>,
): Array<{ code: 'too_few_examples' | 'file_too_large'; message: string }> {
  const issues: ReturnType<typeof azureOpenAIDatasetIssues> = [];
  const train = files[0];
  if (train && train.rows > 0 && train.rows < AZURE_OPENAI_LIMITS.minTrainingExamples) {
    issues.push({
      code: 'too_few_examples',
      message: `${train.name}: ${train.rows} example(s); Azure OpenAI needs at least ${AZURE_OPENAI_LIMITS.minTrainingExamples}`,
    });
  }
  for (const f of files) {
    if (f.bytes >= AZURE_OPENAI_LIMITS.maxFileBytes) {
      issues.push({
        code: 'file_too_large',
        message: `${f.name}: ${f.bytes} bytes; Azure OpenAI takes files under 512 MB`,
      });
    }
  }
  return issues;
}

/**
 * Dataset-level token rules from the provider's guidance, on the training tokens only (evaluation
 * data is not trained on). Chat and instruction: below one full context length of the run is an
 * error (the service cannot fill one sequence); below the model's full context length is the page's
 * recommendation, a warning.
 */
export function datasetTokenIssues(
  task: Task,
  trainTokens: number,
  contextLength: number | undefined,
  model?: Pick<ModelEntry, 'id' | 'maxContextLength'>,
): Array<{ code: 'too_many_tokens' | 'insufficient_tokens' | 'below_recommended_tokens'; message: string }> {
  const issues: ReturnType<typeof datasetTokenIssues> = [];
  const tokens = trainTokens;
  if (tokens >= GUIDANCE.maxDatasetTokens) {
    issues.push({
      code: 'too_many_tokens',
      message: `${tokens} tokens; datasets of 10 billion tokens or more are not supported`,
    });
  }
  if (task !== 'continued_pretraining' && contextLength !== undefined && tokens < contextLength) {
    issues.push({
      code: 'insufficient_tokens',
      message: `${tokens} training tokens; ${task} data needs at least one full context length of the run (${contextLength})`,
    });
  } else if (task !== 'continued_pretraining' && model && tokens < model.maxContextLength) {
    issues.push({
      code: 'below_recommended_tokens',
      message: `${tokens} training tokens; Databricks recommends providing at least one full context length of tokens for the model to train on (${model.maxContextLength} for ${model.id})`,
    });
  }
  if (task === 'continued_pretraining' && tokens < GUIDANCE.continuedPretrainingMinTokens) {
    issues.push({
      code: 'below_recommended_tokens',
      message: `${tokens} tokens; continued pretraining should have at least ${GUIDANCE.continuedPretrainingMinTokens}`,
    });
  }
  return issues;
}

/** How the report's epochs were decided. */
export type EpochsBasis = 'epochs' | 'trainingDuration' | 'batches' | 'default';

function decideEpochs(
  input: Pick<ValidateDatasetInput, 'epochs' | 'trainingDuration'>,
  trainTokens: number,
): { epochs: number; basis: EpochsBasis; billable: (trainTokens: number) => number } {
  if (input.epochs !== undefined) {
    const epochs = input.epochs;
    return { epochs, basis: 'epochs', billable: (t) => Math.round(t * epochs) };
  }
  const duration = input.trainingDuration ? parseTrainingDuration(input.trainingDuration) : undefined;
  if (duration?.unit === 'ep') {
    return { epochs: duration.amount, basis: 'trainingDuration', billable: (t) => t * duration.amount };
  }
  if (duration?.unit === 'tok') {
    const epochs = epochsForDuration(`${duration.amount}tok`, trainTokens);
    if (epochs !== undefined) return { epochs, basis: 'trainingDuration', billable: () => duration.amount };
  }
  const epochs = GUIDANCE.defaultEpochs;
  return { epochs, basis: duration?.unit === 'ba' ? 'batches' : 'default', billable: (t) => t * epochs };
}

/** Everything validation decides before reading a byte: arguments, model, context, engine config. */
export interface PreparedValidation {
  input: ValidateDatasetInput;
  started: number;
  catalog: Catalog;
  datasetTally: IssueTally;
  model: ModelEntry | undefined;
  /** The run goes to Azure OpenAI: its chat format and file rules, no Databricks token/epochs guidance. */
  isAzureOpenAI: boolean;
  contextLength: number | undefined;
  isText: boolean;
  config: EngineConfig;
  tokensCounted: boolean;
  /** The files with the task's extension, in input order. */
  eligible: DatasetFile[];
}

/** Checks the arguments (throws ValidationInputError) and the model, region, epochs and extensions. */
export function prepareValidation(input: ValidateDatasetInput): PreparedValidation {
  const started = Date.now();
  const parsed = inputSchema.safeParse(input);
  if (!parsed.success) {
    throw new ValidationInputError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  const catalog = input.catalog ?? defaultCatalog;
  const datasetTally = new IssueTally();

  const lookup = catalog.lookup(input.model);
  let model: ModelEntry | undefined;
  if (lookup.ok) model = lookup.model;
  else {
    datasetTally.add(lookup.code, undefined, lookup.message);
    model = lookup.model;
  }
  let contextLength = input.contextLength ?? model?.maxContextLength;
  if (model && input.contextLength !== undefined && input.contextLength > model.maxContextLength) {
    datasetTally.add(
      'context_length_too_large',
      undefined,
      `context length ${input.contextLength} exceeds ${model.id}'s maximum of ${model.maxContextLength}`,
    );
    contextLength = model.maxContextLength;
  }
  const provider: TrainingProviderId = input.provider ?? model?.provider ?? 'databricks';
  const isAzureOpenAI = provider === 'azure-openai';
  if (model && model.provider !== provider) {
    datasetTally.add(
      'model_not_supported',
      undefined,
      `model "${model.id}" is fine-tuned by ${PROVIDER_LABELS[model.provider]}, not by ${PROVIDER_LABELS[provider]}; its models: ${catalog
        .forProvider(provider)
        .supported()
        .map((m) => m.id)
        .join(', ')}`,
    );
  }
  if (!PROVIDER_TASKS[provider].includes(input.task)) {
    datasetTally.add(
      'task_not_offered',
      undefined,
      `${PROVIDER_LABELS[provider]} does not offer "${input.task}"; it offers ${PROVIDER_TASKS[provider].join(', ')}`,
    );
  }
  const azureFacts = isAzureOpenAI && model ? azureOpenAIFacts(model.id) : undefined;
  if (input.region !== undefined && azureFacts) {
    const trainingType = input.trainingType ?? 'standard';
    if (!azureOpenAIRegionAllows(azureFacts, normalizeRegion(input.region), trainingType)) {
      datasetTally.add(
        'region_not_supported',
        undefined,
        trainingType === 'standard'
          ? `region "${input.region}" does not run standard training of ${azureFacts.id}; use one of ${azureFacts.standardTrainingRegions.join(', ')}${azureFacts.globalTraining ? ', or Global training' : ''}`
          : `region "${input.region}" does not offer Global training of ${azureFacts.id}`,
      );
    }
  } else if (input.region !== undefined && !isAzureOpenAI) {
    if (!isSupportedRegion(input.region)) {
      datasetTally.add(
        'region_not_supported',
        undefined,
        `region "${input.region}" does not run fine-tuning; use one of ${SUPPORTED_REGIONS.join(', ')}`,
      );
    }
  }
  const isText = input.task === 'continued_pretraining';
  const wanted = isText ? '.txt' : '.jsonl';
  if (input.files.length === 0) {
    datasetTally.add('empty_file', undefined, isText ? 'the folder has no .txt files' : 'no data file given');
  }
  for (const f of input.files) {
    if (extensionOf(f.name) !== wanted) {
      datasetTally.add('wrong_extension', undefined, `${f.name}: ${input.task} data must be ${wanted} files`);
    }
  }

  const template = model ? templateFor(model) : undefined;
  const config: EngineConfig = {
    rules: {
      task: input.task === 'instruction' ? 'instruction' : 'chat',
      supportsSystemRole: model?.supportsSystemRole ?? true,
      contextLength: contextLength ?? Number.MAX_SAFE_INTEGER,
      maxLineBytes: input.maxLineBytes ?? MAX_LINE_BYTES,
      ...(isAzureOpenAI ? { chatFormat: 'openai' as const } : {}),
    },
    tokenizer: template ? model?.tokenizer : undefined,
    template,
  };
  const tokensCounted = Boolean(template);
  const eligible = input.files.filter((f) => extensionOf(f.name) === wanted);
  return {
    input,
    started,
    catalog,
    datasetTally,
    model,
    isAzureOpenAI,
    contextLength,
    isText,
    config,
    tokensCounted,
    eligible,
  };
}

/**
 * Validate a dataset for a model and task: structure, exact token counts, truncation, dataset
 * rules. Data problems are in the report (ok: false); only bad arguments
 * (ValidationInputError) and unreadable files (DatasetReadError) throw.
 */
export async function validateDataset(input: ValidateDatasetInput): Promise<ValidationReport> {
  const prepared = prepareValidation(input);
  const { config, isText, eligible } = prepared;
  let progressed = 0;
  const progress = (delta: number) => {
    progressed += delta;
    input.onProgress?.(progressed);
  };
  const acc = new DatasetAccumulator();
  const outcomes: FileOutcome[] = [];
  if (isText) {
    for (const f of eligible) outcomes.push(await validateTextFile(f, config, acc, progress));
  } else if (eligible.length > 0) {
    const engine = await createEngine(prepared);
    try {
      for (const f of eligible) {
        outcomes.push(await validateJsonlFile(f, engine, acc, input.maxLineBytes ?? MAX_LINE_BYTES, progress));
      }
    } finally {
      await engine.close();
    }
  }
  return finishReport(prepared, acc, outcomes);
}

export const MAX_LINE_BYTES = 64 * 1024 * 1024;

/** The batch engine for JSONL: worker threads for inputs of 8 MB or more when compiled. */
export async function createEngine(prepared: PreparedValidation, knownBytes?: number): Promise<BatchEngine> {
  const { input, config, eligible } = prepared;
  const bytes = knownBytes ?? eligible.reduce((n, f) => n + (f.size ?? Number.POSITIVE_INFINITY), 0);
  const script = workerScript();
  const workers =
    input.workers ?? (script && bytes >= PARALLEL_THRESHOLD_BYTES ? Math.min(2, availableParallelism()) : 0);
  return workers > 0 && script ? await acquireWorkerEngine(config, workers, script) : await createInlineEngine(config);
}

/** The report from what the files gave: the same for a single pass and for merged shards. */
export function finishReport(
  prepared: PreparedValidation,
  acc: DatasetAccumulator,
  outcomes: FileOutcome[],
): ValidationReport {
  const { input, datasetTally, tokensCounted, contextLength, model, isAzureOpenAI, catalog, started } = prepared;
  if (!prepared.isText && prepared.eligible.length > 0) {
    for (const o of outcomes) {
      if (o.rows === 0) o.tally.add('empty_file', undefined, 'the file has no rows');
    }
    if (acc.blankLines > 0) datasetTally.add('blank_lines', undefined, `${acc.blankLines} blank line(s) skipped`);
  }

  if (isAzureOpenAI) {
    for (const issue of azureOpenAIDatasetIssues(outcomes)) datasetTally.add(issue.code, undefined, issue.message);
  }
  const trainTokens = outcomes.reduce((n, o) => (o.role === 'train' ? n + o.tokens : n), 0);
  if (tokensCounted && acc.validRows > 0 && !isAzureOpenAI) {
    for (const issue of datasetTokenIssues(input.task, trainTokens, contextLength, model)) {
      datasetTally.add(issue.code, undefined, issue.message);
    }
  }
  const decided = decideEpochs(input, trainTokens);
  const epochs = decided.epochs;
  // The 1–4 epochs guidance is Databricks'; Azure OpenAI picks a default per dataset and gives no range.
  if (
    !isAzureOpenAI &&
    decided.basis !== 'batches' &&
    (epochs < GUIDANCE.recommendedEpochs.min || epochs > GUIDANCE.recommendedEpochs.max)
  ) {
    const shown = Number.isInteger(epochs) ? String(epochs) : epochs.toFixed(2);
    const from = decided.basis === 'trainingDuration' ? ` (trainingDuration ${input.trainingDuration})` : '';
    datasetTally.add(
      'epochs_outside_recommended',
      undefined,
      `${shown} epochs${from}; Databricks recommends starting with ${GUIDANCE.recommendedEpochs.min}–${GUIDANCE.recommendedEpochs.max}`,
    );
  }

  const errors = [
    ...toIssues(datasetTally, undefined, 'error'),
    ...outcomes.flatMap((o) => toIssues(o.tally, o.name, 'error')),
  ];
  const warnings = [
    ...toIssues(datasetTally, undefined, 'warning'),
    ...outcomes.flatMap((o) => toIssues(o.tally, o.name, 'warning')),
  ];
  const countBy = (issues: ReportIssue[]) => {
    const counts: Record<string, number> = {};
    for (const i of issues) counts[i.code] = (counts[i.code] ?? 0) + (i.count ?? 1);
    return counts;
  };
  const sha256 =
    outcomes.length === 1
      ? (outcomes[0] as FileOutcome).sha256
      : createHash('sha256')
          .update(
            [...outcomes]
              .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
              .map((o) => `${o.sha256}  ${o.name}\n`)
              .join(''),
          )
          .digest('hex');
  const h = acc.histogram;
  return {
    ok: errors.length === 0,
    model: model?.id ?? input.model,
    task: input.task,
    files: outcomes.map((o) => ({ name: o.name, bytes: o.bytes, rows: o.rows, tokens: o.tokens, sha256: o.sha256 })),
    rows: acc.rows,
    tokens: {
      total: acc.tokens,
      perExample: {
        min: h.total ? h.min : 0,
        p50: h.quantile(0.5),
        p95: h.quantile(0.95),
        max: h.max,
      },
    },
    estimatedBillableTokens: Math.round(decided.billable(trainTokens)),
    errors: errors as ValidationReport['errors'],
    warnings: warnings as ValidationReport['warnings'],
    errorCounts: countBy(errors),
    warningCounts: countBy(warnings),
    validRows: acc.validRows,
    blankLines: acc.blankLines,
    ...(contextLength !== undefined ? { contextLength } : {}),
    epochs,
    epochsBasis: decided.basis,
    ...(input.trainingDuration !== undefined ? { trainingDuration: input.trainingDuration } : {}),
    trainTokens,
    tokenizer: tokensCounted ? (model?.tokenizer ?? null) : null,
    tokensCounted,
    duplicateCheck: acc.duplicates.full ? 'partial' : 'complete',
    sha256,
    bytes: outcomes.reduce((n, o) => n + o.bytes, 0),
    ...(model ? { licence: catalog.licenceNote(model) } : {}),
    advice: AFTER_EVALUATION_ADVICE,
    durationMs: Date.now() - started,
  };
}
