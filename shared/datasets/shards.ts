import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { ValidationReport } from './report';
import { type HistogramState, type IssueGroup, IssueTally } from './stats';
import {
  checkDuplicates,
  createEngine,
  DatasetAccumulator,
  type DatasetFile,
  DatasetReadError,
  type FileOutcome,
  finishReport,
  MAX_LINE_BYTES,
  type PreparedValidation,
  prepareValidation,
  type RowHashSink,
  scanJsonl,
  type ValidateDatasetInput,
  ValidationInputError,
} from './validate';

/**
 * Sharded validation of big JSONL files: the file is cut into byte ranges, each validated on its
 * own (a worker, an activity, an instance), and the shard results merge into exactly the report
 * a single pass gives (see docs/validation.md, "Sharded validation").
 *
 * Ranges align to line starts the way Hadoop's text input does, without a planning pass: a shard
 * owns the lines that *start* in its nominal range [start, end). It reads from start - 1, skips
 * to the first line start, and reads past `end` to finish its last line. So neighbouring shards
 * own disjoint, contiguous sets of lines, and the planner needs only the file size.
 */
export interface ShardPlan {
  file: string;
  index: number;
  /** Nominal byte range; the shard owns the lines that start in it. */
  start: number;
  end: number;
}

/** A shard's outcome as plain data (an activity's output). Line numbers are relative to the shard. */
export interface ShardResult {
  file: string;
  index: number;
  /** The aligned range actually read: the first and one past the last byte of the shard's lines. */
  alignedStart: number;
  alignedEnd: number;
  /** Lines owned (blank lines and over-long lines included). */
  lines: number;
  rows: number;
  validRows: number;
  blankLines: number;
  tokens: number;
  histogram: HistogramState;
  /** Issues without duplicate_examples, lines counted from 1 at the shard's first line. */
  issues: IssueGroup[];
  /** 53-bit hash and relative line of each valid row, in order: the merge replays them. */
  rowHashes: number[];
  rowLines: number[];
}

/** Nominal ranges of `shardBytes` (the last one takes the rest). */
export function planShards(file: string, size: number, shardBytes: number): ShardPlan[] {
  if (!Number.isInteger(shardBytes) || shardBytes < 1) throw new ValidationInputError('shardBytes must be ≥ 1');
  const plans: ShardPlan[] = [];
  for (let start = 0, index = 0; start < size || index === 0; start += shardBytes, index++) {
    plans.push({ file, index, start, end: Math.min(size, start + shardBytes) });
    if (size === 0) break;
  }
  return plans;
}

type Stream = NodeJS.ReadableStream | Readable;

/**
 * The bytes of the lines that start in [shard.start, shard.end), from a range read. `bounds`
 * receives the aligned range. The UTF-8 BOM is stripped from the file's first shard.
 */
export async function* shardChunks(
  file: DatasetFile,
  shard: ShardPlan,
  bounds: { alignedStart: number; alignedEnd: number },
): AsyncGenerator<Buffer> {
  if (!file.openRange) throw new ValidationInputError(`${file.name}: sharded validation needs range reads`);
  const from = shard.start === 0 ? 0 : shard.start - 1;
  const stream: Stream = await file.openRange(from);
  let position = from; // absolute offset of the next byte of `stream`
  let aligned = shard.start === 0; // found the first line start
  bounds.alignedStart = shard.start === 0 ? 0 : -1;
  let atFileStart = shard.start === 0;
  try {
    for await (const raw of stream) {
      let chunk = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : (raw as Buffer);
      const chunkStart = position;
      position += chunk.length;
      if (!aligned) {
        const nl = chunk.indexOf(10);
        if (nl === -1) continue;
        aligned = true;
        bounds.alignedStart = chunkStart + nl + 1;
        chunk = chunk.subarray(nl + 1);
      }
      if (atFileStart) {
        if (chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
        atFileStart = false;
      }
      const offset = position - chunk.length; // absolute offset of chunk[0]
      if (bounds.alignedStart >= shard.end) {
        // No line starts in this shard.
        bounds.alignedEnd = bounds.alignedStart;
        return;
      }
      if (position < shard.end) {
        yield chunk;
        continue;
      }
      // The shard's last line is the one holding byte end - 1: it ends at the first \n at or after it.
      const nl = chunk.indexOf(10, Math.max(0, shard.end - 1 - offset));
      if (nl === -1) {
        yield chunk;
        continue;
      }
      bounds.alignedEnd = offset + nl + 1;
      yield chunk.subarray(0, nl + 1);
      return;
    }
    // End of file inside the shard's last line (or before its first line start).
    if (bounds.alignedStart < 0) bounds.alignedStart = position;
    bounds.alignedEnd = position;
  } finally {
    // Stop the range read early: the shard is done.
    (stream as Readable).destroy?.();
  }
}

function collectRows(into: { rowHashes: number[]; rowLines: number[] }): RowHashSink {
  return {
    add(hashes, lines) {
      for (let i = 0; i < hashes.length; i++) {
        into.rowHashes.push(hashes[i] as number);
        into.rowLines.push(lines[i] as number);
      }
    },
  };
}

/** Validates one shard of a JSONL file (an activity's work). */
export async function validateShard(
  prepared: PreparedValidation,
  file: DatasetFile,
  shard: ShardPlan,
): Promise<ShardResult> {
  const acc = new DatasetAccumulator();
  const rows = { rowHashes: [] as number[], rowLines: [] as number[] };
  const bounds = { alignedStart: -1, alignedEnd: -1 };
  const engine = await createEngine(prepared, shard.end - shard.start);
  try {
    const scan = await scanJsonl(
      shardChunks(file, shard, bounds),
      engine,
      acc,
      prepared.input.maxLineBytes ?? MAX_LINE_BYTES,
      collectRows(rows),
    );
    return {
      file: shard.file,
      index: shard.index,
      alignedStart: bounds.alignedStart,
      alignedEnd: bounds.alignedEnd,
      lines: scan.lines,
      rows: acc.rows,
      validRows: acc.validRows,
      blankLines: acc.blankLines,
      tokens: acc.tokens,
      histogram: acc.histogram.toState(),
      issues: [...scan.tally.groups.values()],
      ...rows,
    };
  } catch (err) {
    if (err instanceof DatasetReadError || err instanceof ValidationInputError) throw err;
    throw new DatasetReadError(`cannot read ${file.name} [${shard.start}, ${shard.end}): ${(err as Error).message}`);
  } finally {
    await engine.close();
  }
}

/** SHA-256 and size of a whole file: the one sequential part (≈0.5 GB/s, far faster than validation). */
export async function fileDigest(file: DatasetFile): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for await (const raw of await file.open()) {
      const chunk = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : (raw as Buffer);
      hash.update(chunk);
      bytes += chunk.length;
    }
  } catch (err) {
    throw new DatasetReadError(`cannot read ${file.name}: ${(err as Error).message}`);
  }
  return { sha256: hash.digest('hex'), bytes };
}

/**
 * Merges shard results into the report a single pass gives. Per file, shards must be complete
 * and contiguous (checked). Duplicates: every valid row's 53-bit hash is replayed in file order
 * through the same bounded table the single pass uses (3 million distinct rows), so the same
 * rows are flagged and `duplicateCheck` is the same.
 */
export function mergeShards(
  prepared: PreparedValidation,
  digests: ReadonlyMap<string, { sha256: string; bytes: number }>,
  results: readonly ShardResult[],
): ValidationReport {
  const acc = new DatasetAccumulator();
  const outcomes: FileOutcome[] = [];
  const replay = checkDuplicates(acc.duplicates);
  for (const file of prepared.eligible) {
    const digest = digests.get(file.name);
    if (!digest) throw new ValidationInputError(`no digest for ${file.name}`);
    const shards = results.filter((r) => r.file === file.name).sort((a, b) => a.index - b.index);
    let expectedStart = 0;
    shards.forEach((shard, i) => {
      if (shard.index !== i) throw new ValidationInputError(`${file.name}: shard ${i} is missing`);
      if (shard.alignedStart !== expectedStart) {
        throw new ValidationInputError(
          `${file.name}: shard ${i} starts at ${shard.alignedStart}, the previous one ended at ${expectedStart}`,
        );
      }
      expectedStart = shard.alignedEnd;
    });
    if (expectedStart !== digest.bytes) {
      throw new ValidationInputError(`${file.name}: shards end at ${expectedStart} of ${digest.bytes} bytes`);
    }
    const tally = new IssueTally();
    const outcome: FileOutcome = {
      name: file.name,
      role: file.role ?? 'train',
      bytes: digest.bytes,
      rows: 0,
      tokens: 0,
      sha256: digest.sha256,
      tally,
    };
    let lineOffset = 0;
    for (const shard of shards) {
      outcome.rows += shard.rows;
      outcome.tokens += shard.tokens;
      acc.rows += shard.rows;
      acc.validRows += shard.validRows;
      acc.blankLines += shard.blankLines;
      acc.tokens += shard.tokens;
      acc.histogram.mergeState(shard.histogram);
      tally.merge(shard.issues.map((g) => ({ ...g, lines: g.lines.map((l) => l + lineOffset) })));
      replay.add(
        Float64Array.from(shard.rowHashes),
        Float64Array.from(shard.rowLines, (l) => l + lineOffset),
        tally,
      );
      lineOffset += shard.lines;
    }
    outcomes.push(outcome);
  }
  return finishReport(prepared, acc, outcomes);
}

export interface ShardedValidationOptions {
  /** Nominal shard size in bytes. */
  shardBytes: number;
  /** Shards validated at once (each with its own engine). */
  concurrency: number;
  /** Called as shards finish, with the bytes of finished shards (`input.onProgress` gets the bytes too). */
  onShard?(done: ShardResult, finishedBytes: number, totalBytes: number): void;
}

/**
 * The in-process sharded path (the local runtime's, and the reference for the durable fan-out):
 * plan, validate shards with bounded concurrency, digest each file alongside, merge.
 */
export async function validateDatasetSharded(
  input: ValidateDatasetInput,
  options: ShardedValidationOptions,
): Promise<ValidationReport> {
  const prepared = prepareValidation(input);
  if (prepared.isText) throw new ValidationInputError('sharded validation is for JSONL (chat, instruction) data');
  const plans = prepared.eligible.flatMap((f) => {
    if (f.size === undefined) throw new ValidationInputError(`${f.name}: sharded validation needs the file size`);
    return planShards(f.name, f.size, options.shardBytes);
  });
  const total = plans.reduce((n, p) => n + (p.end - p.start), 0);
  const byName = new Map(prepared.eligible.map((f) => [f.name, f]));
  const results: ShardResult[] = [];
  let finished = 0;
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < plans.length; i = next++) {
      const plan = plans[i] as ShardPlan;
      const result = await validateShard(prepared, byName.get(plan.file) as DatasetFile, plan);
      results.push(result);
      finished += plan.end - plan.start;
      options.onShard?.(result, finished, total);
      input.onProgress?.(finished);
    }
  };
  const digests = new Map<string, { sha256: string; bytes: number }>();
  await Promise.all([
    ...Array.from({ length: Math.max(1, Math.min(options.concurrency, plans.length)) }, worker),
    ...prepared.eligible.map(async (f) => digests.set(f.name, await fileDigest(f))),
  ]);
  return mergeShards(prepared, digests, results);
}
