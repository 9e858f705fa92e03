import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../cli/commands/validate';
import { COMMANDS } from '../../../cli/main';
import { validationReportSchema } from '../../../shared/datasets';
import { chatRow, jsonl, LLAMA } from './helpers';

function io(tty = false) {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = Object.assign(new PassThrough(), { isTTY: false });
  const stderr = Object.assign(new PassThrough(), { isTTY: tty });
  stdout.on('data', (d: Buffer) => out.push(d.toString()));
  stderr.on('data', (d: Buffer) => err.push(d.toString()));
  return { stdout, stderr, out: () => out.join(''), err: () => err.join('') };
}

describe('tunedrop validate', () => {
  let dir: string;
  let good: string;
  let bad: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tunedrop-validate-'));
    good = join(dir, 'good.jsonl');
    bad = join(dir, 'bad.jsonl');
    writeFileSync(good, jsonl(Array.from({ length: 20 }, (_, i) => chatRow(i))));
    writeFileSync(bad, jsonl([chatRow(1), '{"messages": []}', chatRow(2)]));
    mkdirSync(join(dir, 'cpt'));
    writeFileSync(join(dir, 'cpt', 'a.txt'), 'Some text for pretraining.\n');
    writeFileSync(join(dir, 'cpt', 'notes.md'), 'ignored');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is registered in the command table', () => {
    expect(COMMANDS.validate).toBeDefined();
  });

  it('exit 0 and a schema-valid JSON report for valid data', async () => {
    const t = io();
    const code = await run([good, '--model', LLAMA, '--context-length', '128', '--json'], t);
    expect(code).toBe(0);
    const report = validationReportSchema.parse(JSON.parse(t.out()));
    expect(report).toMatchObject({ ok: true, rows: 20, model: LLAMA, task: 'chat', contextLength: 128 });
    expect(report.tokens.total).toBeGreaterThan(128);
  });

  it('exit 1 with grouped errors for invalid data; Markdown without --json', async () => {
    const t = io();
    expect(await run([bad, '--model', LLAMA, '--context-length', '16', '--json'], t)).toBe(1);
    expect(JSON.parse(t.out()).errorCounts).toEqual({ too_few_messages: 1 });
    const md = io();
    expect(await run([bad, '--model', LLAMA, '--context-length', '16'], md)).toBe(1);
    expect(md.out()).toContain('`too_few_messages`');
    expect(md.out()).toContain('LLAMA 3.1 Community License');
  });

  it('exit 1 for a retired model, naming the replacement', async () => {
    const t = io();
    expect(await run([good, '--model', 'meta-llama/Meta-Llama-3-8B-Instruct', '--json'], t)).toBe(1);
    expect(JSON.parse(t.out()).errors[0].message).toContain('Meta-Llama-3.1-8B-Instruct');
  });

  it('continued pretraining takes a folder of .txt files', async () => {
    const t = io();
    expect(await run([join(dir, 'cpt'), '--model', LLAMA, '--task', 'continued_pretraining', '--json'], t)).toBe(0);
    const report = JSON.parse(t.out());
    expect(report.files.map((f: { name: string }) => f.name)).toEqual(['a.txt']);
    expect(report.warningCounts.below_recommended_tokens).toBe(1);
  });

  it.each([
    [['--model', LLAMA], 'exactly one file'],
    [['PATH'], '--model is required'],
    [['PATH', '--model', 'acme/unknown'], 'unknown model "acme/unknown"'],
    [['PATH', '--model', LLAMA, '--task', 'rlhf'], 'unknown task "rlhf"'],
    [['PATH', '--model', LLAMA, '--context-length', '0'], '--context-length must be a positive integer'],
    [['PATH', '--model', LLAMA, '--epochs', 'many'], '--epochs must be a positive number'],
    [['PATH', '--model', LLAMA, '--bogus'], "Unknown option '--bogus'"],
  ])('exit 2 for usage errors: %j', async (args, message) => {
    const t = io();
    expect(
      await run(
        args.map((a) => (a === 'PATH' ? good : a)),
        t,
      ),
    ).toBe(2);
    expect(t.err()).toContain(message);
  });

  it('exit 2 when the path cannot be read', async () => {
    const t = io();
    expect(await run([join(dir, 'missing.jsonl'), '--model', LLAMA], t)).toBe(2);
    expect(t.err()).toMatch(/cannot read .*missing\.jsonl/);
  });

  it('--help prints usage and exits 0', async () => {
    const t = io();
    expect(await run(['--help'], t)).toBe(0);
    expect(t.out()).toContain('--context-length');
  });
});
