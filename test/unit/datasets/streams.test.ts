import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { progressBar } from '../../../cli/commands/validate';
import { DatasetReadError, validateDataset } from '../../../shared/datasets';
import { DuplicateTable } from '../../../shared/datasets/stats';
import { chatRow, jsonl, LLAMA } from './helpers';

describe('inputs', () => {
  it('a stream that fails mid-way is a DatasetReadError naming the file', async () => {
    const failing = {
      name: 'broken.jsonl',
      open: () =>
        new Readable({
          read() {
            this.push(Buffer.from(jsonl([chatRow(1)])));
            this.destroy(new Error('connection reset'));
          },
        }),
    };
    await expect(validateDataset({ model: LLAMA, task: 'chat', files: [failing] })).rejects.toThrow(
      new DatasetReadError('cannot read broken.jsonl: connection reset'),
    );
  });

  it('string chunks are read as UTF-8', async () => {
    const text = jsonl([
      chatRow(1),
      {
        messages: [
          { role: 'user', content: '日本語' },
          { role: 'assistant', content: '😀' },
        ],
      },
    ]);
    const report = await validateDataset({
      model: LLAMA,
      task: 'chat',
      contextLength: 16,
      files: [{ name: 's.jsonl', open: () => Readable.from([text.slice(0, 50), text.slice(50)]) }],
    });
    expect(report).toMatchObject({ ok: true, rows: 2, bytes: Buffer.byteLength(text) });
  });

  it('bad arguments throw ValidationInputError', async () => {
    await expect(validateDataset({ model: LLAMA, task: 'chat', contextLength: -1, files: [] })).rejects.toThrow(
      /contextLength/,
    );
    await expect(validateDataset({ model: LLAMA, task: 'pretraining' as 'chat', files: [] })).rejects.toThrow(/task/);
  });
});

describe('duplicate table', () => {
  it('remembers up to its limit, then reports itself partial', () => {
    const table = new DuplicateTable(1000);
    for (let i = 1; i <= 1000; i++) expect(table.seen(i * 7919)).toBe(false);
    for (let i = 1; i <= 1000; i++) expect(table.seen(i * 7919)).toBe(true);
    expect(table.full).toBe(false);
    expect(table.seen(123_456_789)).toBe(false);
    expect(table.seen(123_456_789)).toBe(false);
    expect(table.full).toBe(true);
  });
});

describe('progress bar', () => {
  it('draws on a TTY for large inputs only', () => {
    const written: string[] = [];
    type Stderr = NodeJS.WritableStream & { isTTY: boolean };
    const tty = { write: (s: string) => written.push(s) > 0, isTTY: true } as unknown as Stderr;
    expect(progressBar({ ...tty, isTTY: false } as typeof tty, 1e9)).toBeUndefined();
    expect(progressBar(tty, 1000)).toBeUndefined();
    const onProgress = progressBar(tty, 64 * 1024 * 1024)!;
    onProgress(64 * 1024 * 1024);
    expect(written.at(-1)).toMatch(/\[#{30}\] 100%/);
  });
});

describe('async open', () => {
  it('accepts a promise of a stream (a blob download)', async () => {
    const text = jsonl([chatRow(1), chatRow(2)]);
    const report = await validateDataset({
      model: LLAMA,
      task: 'chat',
      contextLength: 16,
      files: [{ name: 'blob.jsonl', open: async () => Readable.from([Buffer.from(text)]) }],
    });
    expect(report).toMatchObject({ ok: true, rows: 2 });
  });
});
