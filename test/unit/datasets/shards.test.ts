import { describe, expect, it } from 'vitest';
import { chatRow, rng } from '../../../scripts/varied-text';
import {
  type DatasetFile,
  mergeShards,
  planShards,
  prepareValidation,
  type ShardResult,
  type ValidationReport,
  validateDataset,
  validateDatasetSharded,
  validateShard,
} from '../../../shared/datasets';
import { shardChunks } from '../../../shared/datasets/shards';
import { jsonl, LLAMA, MISTRAL, memoryFile, chatRow as simpleRow } from './helpers';

/** A report without its timing: the only field a sharded run may not share with the single pass. */
function comparable(report: ValidationReport): Omit<ValidationReport, 'durationMs'> {
  const { durationMs: _ignored, ...rest } = report;
  return rest;
}

/** Varied rows plus every kind of trouble, duplicates far apart, CRLF, blank lines and a BOM. */
function trickyFile(rows: number, seed: number): Buffer {
  const r = rng(seed);
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const k = r();
    if (k < 0.04) lines.push('{"messages": [broken');
    else if (k < 0.06) lines.push('');
    else if (k < 0.08) lines.push(JSON.stringify({ messages: [{ role: 'user', content: 'only one' }] }));
    else if (k < 0.1)
      lines.push(JSON.stringify(simpleRow(7))); // the same row, many times
    else if (k < 0.11) lines.push(`${JSON.stringify(chatRow(r, i, false))}\r`);
    else if (k < 0.12)
      lines.push(
        JSON.stringify({
          messages: [
            { role: 'user', content: 'x <|eot_id|> y' },
            { role: 'assistant', content: 'ok' },
          ],
        }),
      );
    else if (k < 0.13)
      lines.push(`"${'z'.repeat(30_000)}"`); // over maxLineBytes below
    else lines.push(JSON.stringify(chatRow(r, i, false)));
  }
  return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(lines.join('\n'))]); // no final newline
}

describe('shard planning and line alignment', () => {
  it('refuses a shard size below one byte', () => {
    expect(() => planShards('f', 10, 0)).toThrow(/shardBytes/);
    expect(() => planShards('f', 10, 1.5)).toThrow(/shardBytes/);
  });

  it('plans contiguous nominal ranges covering the file (one empty shard for an empty file)', () => {
    expect(planShards('f', 10, 4).map((p) => [p.start, p.end])).toEqual([
      [0, 4],
      [4, 8],
      [8, 10],
    ]);
    expect(planShards('f', 0, 4).map((p) => [p.start, p.end])).toEqual([[0, 0]]);
  });

  it('gives each line to exactly one shard, for every shard size from 1 to 40 bytes', async () => {
    const text = Buffer.from('\ufeffa\nbb\r\n\n\nccc\nd\n' + 'e'.repeat(50) + '\nf');
    const file = memoryFile('t.jsonl', text, 7);
    for (let size = 1; size <= 40; size++) {
      const parts: Buffer[] = [];
      let expectedStart = 0;
      for (const plan of planShards('t.jsonl', text.length, size)) {
        const bounds = { alignedStart: -1, alignedEnd: -1 };
        for await (const chunk of shardChunks(file, plan, bounds)) parts.push(Buffer.from(chunk));
        expect({ size, plan: plan.index, start: bounds.alignedStart }).toEqual({
          size,
          plan: plan.index,
          start: expectedStart,
        });
        expect(bounds.alignedEnd).toBeGreaterThanOrEqual(bounds.alignedStart);
        expectedStart = bounds.alignedEnd;
      }
      expect(expectedStart).toBe(text.length);
      expect(Buffer.concat(parts).toString()).toBe(text.subarray(3).toString()); // the BOM stripped once
    }
  });

  it('needs range reads and the file size', async () => {
    const { openRange: _none, ...withoutRange } = memoryFile('d.jsonl', jsonl([simpleRow(1)]));
    await expect(
      validateDatasetSharded(
        { model: LLAMA, task: 'chat', files: [withoutRange as DatasetFile] },
        { shardBytes: 8, concurrency: 2 },
      ),
    ).rejects.toThrow(/range reads/);
    const { size: _size, ...withoutSize } = memoryFile('d.jsonl', jsonl([simpleRow(1)]));
    await expect(
      validateDatasetSharded({ model: LLAMA, task: 'chat', files: [withoutSize] }, { shardBytes: 8, concurrency: 2 }),
    ).rejects.toThrow(/file size/);
  });
});

describe('sharded validation merges into exactly the single-pass report', () => {
  const data = trickyFile(600, 5);
  const input = (model: string, chunk = 4096) => ({
    model,
    task: 'chat' as const,
    files: [memoryFile('train.jsonl', data, chunk)],
    maxLineBytes: 20_000,
    workers: 0,
  });

  it('for Llama 3 and Mistral, with shard sizes from 1 KB to larger than the file', async () => {
    for (const model of [LLAMA, MISTRAL]) {
      const single = await validateDataset(input(model));
      expect(single.errorCounts.invalid_json).toBeGreaterThan(0);
      expect(single.warningCounts.duplicate_examples).toBeGreaterThan(5);
      expect(single.blankLines).toBeGreaterThan(0);
      for (const shardBytes of [1000, 7_777, 65_536, data.length * 2]) {
        const progress: number[] = [];
        const sharded = await validateDatasetSharded(input(model, 1500), {
          shardBytes,
          concurrency: 3,
          onShard: (_r, done) => progress.push(done),
        });
        expect({ model, shardBytes, report: comparable(sharded) }).toEqual({
          model,
          shardBytes,
          report: comparable(single),
        });
        expect(progress.at(-1)).toBe(data.length);
      }
    }
  }, 60_000);

  it('flags duplicates across shards at the same lines as the single pass (hashes replayed in file order)', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => simpleRow(i % 25));
    const file = () => memoryFile('d.jsonl', jsonl(rows), 100);
    const prepared = prepareValidation({ model: LLAMA, task: 'chat', files: [file()], workers: 0 });
    const results: ShardResult[] = [];
    for (const plan of planShards('d.jsonl', jsonl(rows).length, 300)) {
      results.push(await validateShard(prepared, file(), plan));
    }
    const merged = mergeShards(prepared, new Map([['d.jsonl', { sha256: 'x', bytes: jsonl(rows).length }]]), results);
    const single = await validateDataset({ model: LLAMA, task: 'chat', files: [file()], workers: 0 });
    expect(merged.warnings.find((w) => w.code === 'duplicate_examples')).toEqual(
      single.warnings.find((w) => w.code === 'duplicate_examples'),
    );
    expect(merged.warningCounts.duplicate_examples).toBe(15);
  });

  it('shard results survive JSON (an activity output) and the merge checks they are complete and contiguous', async () => {
    const text = jsonl(Array.from({ length: 50 }, (_, i) => simpleRow(i)));
    const file = () => memoryFile('c.jsonl', text, 64);
    const prepared = () => prepareValidation({ model: LLAMA, task: 'chat', files: [file()], workers: 0 });
    const plans = planShards('c.jsonl', text.length, 500);
    const results: ShardResult[] = [];
    for (const plan of plans) {
      results.push(JSON.parse(JSON.stringify(await validateShard(prepared(), file(), plan))) as ShardResult);
    }
    const digests = new Map([['c.jsonl', { sha256: 'abc', bytes: text.length }]]);
    const single = await validateDataset({ model: LLAMA, task: 'chat', files: [file()], workers: 0 });
    expect(comparable(mergeShards(prepared(), digests, results))).toEqual({
      ...comparable(single),
      sha256: 'abc',
      files: single.files.map((f) => ({ ...f, sha256: 'abc' })),
    });
    expect(() => mergeShards(prepared(), digests, results.slice(1))).toThrow(/shard 0 is missing/);
    expect(() => mergeShards(prepared(), digests, results.slice(0, -1))).toThrow(/shards end at/);
    const gap = results.map((r, i) => (i === 1 ? { ...r, alignedStart: r.alignedStart + 1 } : r));
    expect(() => mergeShards(prepared(), digests, gap)).toThrow(/starts at/);
    expect(() => mergeShards(prepared(), new Map(), results)).toThrow(/no digest/);
  });
});
