import { describe, expect, it } from 'vitest';
import { type ValidationReport, validateDataset, validationReportSchema } from '../../../shared/datasets';
import { jsonl, LLAMA, memoryFile } from './helpers';

const GPT = 'gpt-4.1-mini-2025-04-14';
const row = (i: number, extra: Record<string, unknown> = {}) => ({
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: `Question ${i}?` },
    { role: 'assistant', content: `Answer ${i}.` },
  ],
  ...extra,
});
const rows = (n: number) => Array.from({ length: n }, (_, i) => row(i));

async function check(
  data: unknown[],
  opts: {
    model?: string;
    task?: 'chat' | 'instruction';
    provider?: 'azure-openai' | 'databricks';
    region?: string;
    trainingType?: 'standard' | 'globalstandard';
    epochs?: number;
  } = {},
): Promise<ValidationReport> {
  const report = await validateDataset({
    model: opts.model ?? GPT,
    task: opts.task ?? 'chat',
    epochs: opts.epochs,
    provider: opts.provider,
    region: opts.region,
    trainingType: opts.trainingType,
    files: [memoryFile('train.jsonl', jsonl(data), 11)],
  });
  expect(validationReportSchema.parse(report)).toEqual(report);
  return report;
}
const codes = (r: ValidationReport) => r.errors.map((e) => e.code);

/** Twelve good rows with one bad row at line 3. */
function withBad(bad: unknown): unknown[] {
  const data: unknown[] = rows(12);
  data.splice(2, 0, bad);
  return data;
}

describe('Azure OpenAI chat format: each rule has a failing input', () => {
  it('a valid dataset passes, counted with o200k; billable = epochs × tokens', async () => {
    const r = await check(rows(12), { epochs: 3 });
    expect(r.errors).toEqual([]);
    expect(r.tokenizer).toBe('o200k');
    expect(r.tokens.total).toBeGreaterThan(12 * 20);
    expect(r.estimatedBillableTokens).toBe(r.tokens.total * 3);
    // Databricks' "one full context length" rule and 1–4 epochs guidance do not apply here.
    expect(codes(r)).not.toContain('insufficient_tokens');
  });

  it('tool role, tool_calls and tools definitions are accepted and counted', async () => {
    const tools = [
      { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } },
    ];
    const toolRow = {
      messages: [
        { role: 'user', content: 'Weather in Oslo?' },
        {
          role: 'assistant',
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: '-3 C' },
        { role: 'assistant', content: 'Minus three.' },
      ],
      tools,
    };
    const plain = await check(rows(12));
    const r = await check([...rows(12), toolRow]);
    expect(r.errors).toEqual([]);
    expect(r.tokens.total - plain.tokens.total).toBeGreaterThan(JSON.stringify(tools).length / 8);
  });

  it.each([
    [
      'invalid_weight',
      {
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: 'a', weight: 0.5 },
        ],
      },
    ],
    [
      'invalid_weight',
      {
        messages: [
          { role: 'user', content: 'q', weight: 1 },
          { role: 'assistant', content: 'a' },
        ],
      },
    ],
    [
      'invalid_role',
      {
        messages: [
          { role: 'robot', content: 'q' },
          { role: 'assistant', content: 'a' },
        ],
      },
    ],
    [
      'invalid_tool_call',
      {
        messages: [
          { role: 'user', content: 'q' },
          { role: 'tool', tool_call_id: 'x', content: '1' },
          { role: 'assistant', content: 'a' },
        ],
      },
    ],
    [
      'invalid_tool_call',
      {
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f' } }] },
        ],
      },
    ],
    ['invalid_tools', { ...row(0), tools: [{ type: 'function', function: {} }] }],
    ['invalid_tools', { ...row(0), tools: 'get_weather' }],
    ['unknown_key', { ...row(0), prompt: 'x' }],
    ['invalid_message', { messages: [{ role: 'user', content: 'q' }, { role: 'assistant' }] }],
    [
      'content_not_string',
      {
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'q' }] },
          { role: 'assistant', content: 'a' },
        ],
      },
    ],
    [
      'last_not_assistant',
      {
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: 'a' },
          { role: 'user', content: 'q' },
        ],
      },
    ],
  ])('%s', async (code, bad) => {
    const r = await check(withBad(bad));
    const error = r.errors.find((e) => e.code === code);
    expect(error, JSON.stringify(r.errors)).toMatchObject({ line: 3, count: 1 });
  });

  it('too_few_examples below 10 training examples', async () => {
    expect(codes(await check(rows(9)))).toEqual(['too_few_examples']);
    expect(codes(await check(rows(10)))).toEqual([]);
  });

  it('task_not_offered: Azure OpenAI offers chat only', async () => {
    const r = await validateDataset({
      model: GPT,
      task: 'instruction',
      files: [
        memoryFile('train.jsonl', jsonl(Array.from({ length: 12 }, (_, i) => ({ prompt: `p${i}`, response: 'r' })))),
      ],
    });
    expect(codes(r)).toContain('task_not_offered');
  });

  it('model_not_supported when the model belongs to another provider', async () => {
    const r = await check(rows(12), { model: LLAMA, provider: 'azure-openai' });
    expect(r.errors.find((e) => e.code === 'model_not_supported')?.message).toMatch(
      /Databricks.*not by Azure OpenAI.*gpt-4o/,
    );
    const r2 = await check(rows(12), { provider: 'databricks' });
    expect(codes(r2)).toContain('model_not_supported');
  });

  it('region_not_supported: standard training regions per model; Global training elsewhere', async () => {
    expect(codes(await check(rows(12), { region: 'swedencentral' }))).toEqual([]);
    expect(codes(await check(rows(12), { region: 'East US 2' }))).toContain('region_not_supported');
    expect(codes(await check(rows(12), { model: 'gpt-4o-2024-08-06', region: 'East US 2' }))).toEqual([]);
    expect(codes(await check(rows(12), { region: 'eastus2', trainingType: 'globalstandard' }))).toEqual([]);
    expect(codes(await check(rows(12), { region: 'westcentralus', trainingType: 'globalstandard' }))).toContain(
      'region_not_supported',
    );
    expect(
      codes(
        await check(rows(12), {
          model: 'gpt-4.1-nano-2025-04-14',
          region: 'polandcentral',
          trainingType: 'globalstandard',
        }),
      ),
    ).toContain('region_not_supported');
  });

  it('the Databricks format stays strict for Databricks models (no tool role there)', async () => {
    const r = await validateDataset({
      model: LLAMA,
      task: 'chat',
      contextLength: 64,
      files: [
        memoryFile(
          'train.jsonl',
          jsonl([
            {
              messages: [
                { role: 'user', content: 'q' },
                { role: 'assistant', content: 'a', weight: 1 },
              ],
            },
          ]),
        ),
      ],
    });
    expect(codes(r)).toContain('invalid_message');
  });
});
