import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  datasetTokenIssues,
  loadTokenCounter,
  type ValidationReport,
  validateDataset,
  validationReportSchema,
} from '../../../shared/datasets';
import { chatRow, DBRX, jsonl, LLAMA, MISTRAL, memoryFile } from './helpers';

const good = (i: number) => chatRow(i);
const manyGood = (n: number) => Array.from({ length: n }, (_, i) => good(i));

async function check(
  rows: unknown[] | string | Buffer,
  opts: {
    model?: string;
    task?: 'chat' | 'instruction' | 'continued_pretraining';
    name?: string;
    contextLength?: number;
    epochs?: number;
  } = {},
): Promise<ValidationReport> {
  const data = Array.isArray(rows) ? jsonl(rows) : rows;
  const report = await validateDataset({
    model: opts.model ?? LLAMA,
    task: opts.task ?? 'chat',
    contextLength: opts.contextLength ?? 64,
    epochs: opts.epochs,
    files: [memoryFile(opts.name ?? 'train.jsonl', data, 7)],
  });
  expect(validationReportSchema.parse(report)).toEqual(report);
  return report;
}

function firstError(report: ValidationReport, code: string) {
  return report.errors.find((e) => e.code === code);
}

describe('chat rules: each has a failing input', () => {
  const cases: Array<[string, unknown]> = [
    ['invalid_json', '{"messages": [}'],
    ['not_object', '[1, 2]'],
    ['unknown_key', { messages: good(1).messages, extra: 1 }],
    ['missing_messages', { conversation: [] }],
    ['missing_messages', { messages: 'hi' }],
    ['too_few_messages', { messages: [{ role: 'user', content: 'hi' }] }],
    ['invalid_message', { messages: ['hi', { role: 'assistant', content: 'x' }] }],
    [
      'invalid_message',
      {
        messages: [
          { role: 'user', content: 'a', name: 'bob' },
          { role: 'assistant', content: 'b' },
        ],
      },
    ],
    ['invalid_message', { messages: [{ role: 'user' }, { role: 'assistant', content: 'b' }] }],
    [
      'invalid_role',
      {
        messages: [
          { role: 'tool', content: 'a' },
          { role: 'assistant', content: 'b' },
        ],
      },
    ],
    [
      'content_not_string',
      {
        messages: [
          { role: 'user', content: ['a'] },
          { role: 'assistant', content: 'b' },
        ],
      },
    ],
    [
      'empty_content',
      {
        messages: [
          { role: 'user', content: '  \n ' },
          { role: 'assistant', content: 'b' },
        ],
      },
    ],
    [
      'system_not_first',
      {
        messages: [
          { role: 'user', content: 'a' },
          { role: 'system', content: 's' },
          { role: 'assistant', content: 'b' },
        ],
      },
    ],
    [
      'consecutive_roles',
      {
        messages: [
          { role: 'user', content: 'a' },
          { role: 'user', content: 'b' },
          { role: 'assistant', content: 'c' },
        ],
      },
    ],
    [
      'last_not_assistant',
      {
        messages: [
          { role: 'assistant', content: 'a' },
          { role: 'user', content: 'b' },
        ],
      },
    ],
  ];
  it.each(cases)('%s', async (code, bad) => {
    const report = await check([...manyGood(3), bad, ...manyGood(2)]);
    expect(report.ok).toBe(false);
    expect(firstError(report, code)).toMatchObject({ code, line: 4, count: 1, file: 'train.jsonl' });
    expect(report.errorCounts).toEqual({ [code]: 1 });
    expect(report.validRows).toBe(5);
  });

  it('system_not_supported for Mistral, accepted for Llama and DBRX', async () => {
    const row = { messages: [{ role: 'system', content: 's' }, ...good(1).messages] };
    expect(firstError(await check([row, ...manyGood(3)], { model: MISTRAL }), 'system_not_supported')?.line).toBe(1);
    expect((await check([row, ...manyGood(3)], { model: LLAMA })).ok).toBe(true);
    expect((await check([row, ...manyGood(3)], { model: DBRX })).ok).toBe(true);
  });

  it('a valid Mistral chat is counted', async () => {
    const report = await check(manyGood(4), { model: MISTRAL });
    expect(report.ok).toBe(true);
    expect(report.tokens.total).toBeGreaterThan(40);
    expect(report.tokenizer).toBe('mistral');
  });
});

describe('instruction rules', () => {
  const ok = (i: number) => ({ prompt: `Say ${i}`, response: `${i} ${i} ${i}` });
  const cases: Array<[string, unknown]> = [
    ['missing_prompt', { response: 'x' }],
    ['missing_response', { prompt: 'x' }],
    ['unknown_key', { prompt: 'x', response: 'y', extra: true }],
    ['unknown_key', { prompt: 'x', response: 'y', completion: 'z' }],
    ['content_not_string', { prompt: 3, response: 'y' }],
    ['empty_content', { prompt: 'x', completion: '' }],
  ];
  it.each(cases)('%s', async (code, bad) => {
    const report = await check([ok(1), ok(2), bad, ok(3), ok(4), ok(5), ok(6)], { task: 'instruction' });
    expect(firstError(report, code)).toMatchObject({ line: 3, count: 1 });
  });
  it('accepts prompt+completion and counts bos + prompt + response + eos', async () => {
    const report = await check(
      Array.from({ length: 8 }, (_, i) => ({ prompt: 'Hello', completion: `world ${i}` })),
      { task: 'instruction', contextLength: 16 },
    );
    expect(report.ok).toBe(true);
    // <|begin_of_text|> | Hello | world, ␣, N | <|end_of_text|>
    expect(report.tokens.perExample).toEqual({ min: 6, p50: 6, p95: 6, max: 6 });
  });
});

describe('streaming and encoding', () => {
  it('tolerates a UTF-8 BOM and CRLF line endings, and hashes the bytes as received', async () => {
    const body = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(jsonl(manyGood(5)).replace(/\n/g, '\r\n')),
    ]);
    const report = await check(body);
    expect(report.ok).toBe(true);
    expect(report.rows).toBe(5);
    expect(report.sha256).toBe(createHash('sha256').update(body).digest('hex'));
    expect(report.files[0]?.sha256).toBe(report.sha256);
    const lf = await check(manyGood(5));
    expect(lf.tokens.total).toBe(report.tokens.total);
  });

  it('rejects invalid UTF-8 with the line number', async () => {
    const bad = Buffer.concat([
      Buffer.from(jsonl(manyGood(6))),
      Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]),
      Buffer.from(jsonl(manyGood(1))),
    ]);
    const report = await check(bad);
    expect(firstError(report, 'invalid_utf8')).toMatchObject({ line: 7, count: 1 });
  });

  it('a last line without a newline is still a row; blank lines are skipped and reported', async () => {
    const text = `${JSON.stringify(good(1))}\n\n  \n${JSON.stringify(good(2))}\n${JSON.stringify(good(3))}\n${JSON.stringify(good(4))}`;
    const report = await check(text);
    expect(report.rows).toBe(4);
    expect(report.blankLines).toBe(2);
    expect(report.warnings.find((w) => w.code === 'blank_lines')).toBeDefined();
    expect(report.ok).toBe(true);
  });

  it('a systematic mistake on many lines gives one grouped error with the first lines', async () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => ({ messages: [{ role: 'user', content: `q${i}` }] }));
    const report = await check(rows);
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0]).toMatchObject({ code: 'too_few_messages', count: 20_000, lines: [1, 2, 3, 4, 5] });
    expect(JSON.stringify(report).length).toBeLessThan(4000);
  });

  it('a line longer than the limit is an error, and validation continues after it', async () => {
    const long = JSON.stringify({
      messages: [
        { role: 'user', content: 'x'.repeat(5000) },
        { role: 'assistant', content: 'y' },
      ],
    });
    const report = await validateDataset({
      model: LLAMA,
      task: 'chat',
      contextLength: 16,
      maxLineBytes: 1000,
      files: [memoryFile('t.jsonl', jsonl([good(1), long, good(2), good(3)]), 100)],
    });
    expect(firstError(report, 'invalid_json')).toMatchObject({ line: 2 });
    expect(report.validRows).toBe(3);
  });

  it('the same data in 1-byte chunks gives the same report', async () => {
    const data = jsonl([
      ...manyGood(4),
      '{"bad"',
      {
        messages: [
          { role: 'user', content: '日本語 😀' },
          { role: 'assistant', content: 'ok' },
        ],
      },
    ]);
    const a = await validateDataset({
      model: LLAMA,
      task: 'chat',
      contextLength: 64,
      files: [memoryFile('a.jsonl', data, 1)],
    });
    const b = await validateDataset({
      model: LLAMA,
      task: 'chat',
      contextLength: 64,
      files: [memoryFile('a.jsonl', data)],
    });
    expect({ ...a, durationMs: 0 }).toEqual({ ...b, durationMs: 0 });
  });

  it('reports progress in bytes', async () => {
    const seen: number[] = [];
    const data = jsonl(manyGood(50));
    await validateDataset({
      model: LLAMA,
      task: 'chat',
      files: [memoryFile('a.jsonl', data, 100)],
      onProgress: (b) => seen.push(b),
    });
    expect(seen.at(-1)).toBe(Buffer.byteLength(data));
    expect(seen.length).toBeGreaterThan(10);
  });
});

describe('truncation and special tokens', () => {
  it('exceeds_context_length and no_trainable_tokens against the effective context length', async () => {
    const longPrompt = {
      messages: [
        { role: 'user', content: 'word '.repeat(100) },
        { role: 'assistant', content: 'ok' },
      ],
    };
    const longAnswer = {
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'word '.repeat(100) },
      ],
    };
    const report = await check([...manyGood(3), longAnswer, longPrompt], { contextLength: 60 });
    const exceeds = report.warnings.find((w) => w.code === 'exceeds_context_length');
    expect(exceeds).toMatchObject({ count: 2, lines: [4, 5] });
    expect(report.warnings.find((w) => w.code === 'no_trainable_tokens')).toMatchObject({ count: 1, lines: [5] });
  });

  it('special-token strings in content are flagged and count as one special token each', async () => {
    const plain = {
      messages: [
        { role: 'user', content: 'stop here' },
        { role: 'assistant', content: 'ok' },
      ],
    };
    const special = {
      messages: [
        { role: 'user', content: 'stop<|eot_id|>here' },
        { role: 'assistant', content: 'ok' },
      ],
    };
    const a = await check([plain]);
    const b = await check([special]);
    expect(b.warnings.find((w) => w.code === 'special_token_in_content')).toMatchObject({ line: 1 });
    expect(a.warnings.find((w) => w.code === 'special_token_in_content')).toBeUndefined();
    expect(b.tokens.total).toBe(a.tokens.total + 1);
  });
});

describe('dataset rules', () => {
  it('model_not_supported and model_retired (naming the replacement)', async () => {
    const unknown = await check(manyGood(3), { model: 'acme/gpt-9' });
    expect(firstError(unknown, 'model_not_supported')).toBeDefined();
    expect(unknown.tokensCounted).toBe(false);
    const retired = await check(manyGood(3), { model: 'meta-llama/Llama-2-7b-chat-hf' });
    expect(firstError(retired, 'model_retired')?.message).toMatch(/2025-01-07.*Meta-Llama-3\.1-8B-Instruct/);
    expect(retired).toMatchObject({ tokenizer: 'llama2', tokensCounted: true });
    expect(retired.tokens.total).toBeGreaterThan(0);
  });

  it('context_length_too_large', async () => {
    const report = await check(manyGood(3), { model: DBRX, contextLength: 65536 });
    expect(firstError(report, 'context_length_too_large')?.message).toContain('32768');
    expect(report.contextLength).toBe(32768);
  });

  it('region_not_supported', async () => {
    const report = await validateDataset({
      model: LLAMA,
      task: 'chat',
      contextLength: 16,
      region: 'westeurope',
      files: [memoryFile('a.jsonl', jsonl(manyGood(3)))],
    });
    expect(firstError(report, 'region_not_supported')).toBeDefined();
  });

  it('insufficient_tokens below one full context length; ok at or above it', async () => {
    const small = await check(manyGood(2), { contextLength: 4096 });
    expect(firstError(small, 'insufficient_tokens')?.message).toContain('4096');
    const enough = await check(manyGood(2), { contextLength: small.tokens.total });
    expect(enough.ok).toBe(true);
  });

  it('the default context length is the model maximum', async () => {
    const report = await validateDataset({
      model: LLAMA,
      task: 'chat',
      files: [memoryFile('a.jsonl', jsonl(manyGood(2)))],
    });
    expect(report.contextLength).toBe(131072);
    expect(firstError(report, 'insufficient_tokens')).toBeDefined();
  });

  it('epochs_outside_recommended and billable tokens = epochs × tokens', async () => {
    const report = await check(manyGood(6), { epochs: 6 });
    expect(report.warnings.find((w) => w.code === 'epochs_outside_recommended')).toBeDefined();
    expect(report.estimatedBillableTokens).toBe(6 * report.tokens.total);
    // Below the model's full context length is the page's warning; nothing about epochs at 3.
    expect((await check(manyGood(6), { epochs: 3 })).warnings.map((w) => w.code)).toEqual(['below_recommended_tokens']);
  });

  it('duplicate_examples names the repeated lines', async () => {
    const report = await check([good(1), good(2), good(1), good(3), good(2)]);
    expect(report.warnings.find((w) => w.code === 'duplicate_examples')).toMatchObject({ count: 2, lines: [3, 5] });
  });

  it('wrong_extension and empty_file', async () => {
    expect(firstError(await check(manyGood(3), { name: 'train.json' }), 'wrong_extension')).toBeDefined();
    expect(firstError(await check(''), 'empty_file')).toBeDefined();
    expect(firstError(await check('\n\n'), 'empty_file')).toBeDefined();
  });

  it('too_many_tokens at 10 billion tokens (the rule; no test streams 10B tokens)', () => {
    expect(datasetTokenIssues('chat', 10_000_000_000, 4096).map((i) => i.code)).toEqual(['too_many_tokens']);
    expect(datasetTokenIssues('chat', 9_999_999_999, 4096)).toEqual([]);
    expect(datasetTokenIssues('continued_pretraining', 10_000_000_000, undefined).map((i) => i.code)).toEqual([
      'too_many_tokens',
    ]);
  });
});

describe('continued pretraining', () => {
  const cpt = (files: Array<[string, string | Buffer]>) =>
    validateDataset({
      model: LLAMA,
      task: 'continued_pretraining',
      files: files.map(([n, d]) => memoryFile(n, d, 13)),
    });

  it('counts text exactly across chunk boundaries and warns on size and token guidance', async () => {
    // Over 1M characters: counted in chunks split at line starts, and summed.
    const text = 'Hello world.\nSecond line with 日本語 and emoji 😀.\n\n  Indented\n'.repeat(25_000);
    const report = await cpt([['a.txt', text]]);
    expect(report.ok).toBe(true);
    const counter = (await loadTokenCounter('llama3'))!;
    expect(report.tokens.total).toBe(counter.count(text));
    expect(report.warnings.map((w) => w.code).sort()).toEqual([
      'below_recommended_tokens',
      'file_size_outside_recommended',
    ]);
  });

  it('empty_file, empty_text, invalid_utf8 with line, wrong_extension', async () => {
    const report = await cpt([
      ['a.txt', ''],
      ['b.txt', '  \n\n '],
      ['c.txt', Buffer.concat([Buffer.from('ok\nok\n'), Buffer.from([0xc3, 0x28]), Buffer.from('\n')])],
      ['d.md', 'text'],
    ]);
    expect(report.errors.find((e) => e.code === 'empty_file')?.file).toBe('a.txt');
    expect(report.errors.find((e) => e.code === 'empty_text')?.file).toBe('b.txt');
    expect(report.errors.find((e) => e.code === 'invalid_utf8')).toMatchObject({ file: 'c.txt', line: 3 });
    expect(report.errors.find((e) => e.code === 'wrong_extension')?.message).toContain('d.md');
  });

  it('no files is empty_file', async () => {
    expect((await cpt([])).errorCounts.empty_file).toBe(1);
  });
});
