/**
 * `npm run bench:validate [-- --size-mb 200] [--reference-mb 16] [--also-mb 1024] [--families llama3,mistral,cl100k,o200k]
 *                          [--no-reference] [--hf] [--exact 1000000]`
 *
 * Generates (once, into bench-data/, git-ignored) one chat JSONL of varied text (scripts/varied-text.ts:
 * prose, code, CJK/Korean/Cyrillic/Arabic/Devanagari/Greek, emoji, long runs of spaces and digits,
 * control characters; no system messages, so every family validates every row), then measures,
 * each in its own process so peak RSS is honest, per model family:
 * - tunedrop's validator end to end (validateDataset on the compiled dist/: read, UTF-8, sha256,
 *   JSON, rules, template, exact counts, duplicates) on the whole file;
 * - the family's reference tokenizer counting the same templated rows (tokens only) on the first
 *   `--reference-mb` MB (the JS references run at ≈1 MB/s), and tunedrop on that same prefix, to
 *   show the counts are equal: llama3-tokenizer-js (Llama 3), mistral-tokenizer-js (Mistral),
 *   tiktoken cl100k_base (DBRX), tiktoken o200k_base with OpenAI's chat counting recipe (gpt-4o-mini, Azure OpenAI).
 * `--exact N` instead compares N generated texts one by one, tunedrop's Mistral and Llama 2
 * engine against mistral-tokenizer-js and llama-tokenizer-js, and prints the mismatches.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import {
  LLAMA2_SOURCE,
  loadSentencePieceModel,
  MISTRAL_SOURCE,
  SentencePieceBpe,
} from '../shared/datasets/tokenizers/sentencepiece';
import { content, generateChatFile, hardText, paragraph, rng } from './varied-text';

const root = resolve(__dirname, '..');
const { values } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '200' },
    'reference-mb': { type: 'string', default: '16' },
    /** Also validate a second, larger file (e.g. 1024) to show peak RSS does not grow with size. */
    'also-mb': { type: 'string' },
    families: { type: 'string', default: 'llama3,mistral,cl100k,o200k' },
    'no-reference': { type: 'boolean', default: false },
    hf: { type: 'boolean', default: false },
    exact: { type: 'string' },
    /** Seed of the `--exact` texts (run several seeds in parallel to cover more rows). */
    seed: { type: 'string', default: '2026' },
    /** Shard counts for the sharded path (Llama 3), e.g. "1,2,4"; "" to skip. */
    shards: { type: 'string', default: '1,2,4' },
  },
});

const FAMILIES = {
  llama3: { label: 'Llama 3.1 8B Instruct', model: 'meta-llama/Meta-Llama-3.1-8B-Instruct', reference: 'llama3' },
  mistral: { label: 'Mistral 7B Instruct v0.2', model: 'mistralai/Mistral-7B-Instruct-v0.2', reference: 'mistral' },
  cl100k: { label: 'DBRX Instruct (cl100k)', model: 'databricks/dbrx-instruct', reference: 'tiktoken' },
  o200k: { label: 'gpt-4o-mini (o200k)', model: 'gpt-4o-mini-2024-07-18', reference: 'tiktoken-o200k' },
} as const;
type Family = keyof typeof FAMILIES;

interface Measured {
  seconds: number;
  tokens: number;
  maxRssMb: number;
  /** User + system CPU seconds of the whole process (all threads). */
  cpuSeconds: number;
  rows?: number;
  ok?: boolean;
  /** sha256 of the report without its duration (validate and sharded children). */
  reportSha256?: string;
}

function runChild(script: string, args: string[]): Measured {
  const res = spawnSync(process.execPath, ['-e', script, ...args], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (res.status !== 0) throw new Error(`benchmark child failed: ${res.stderr}`);
  return JSON.parse(res.stdout.trim().split('\n').pop() as string) as Measured;
}

const REPORT = `
const seconds = Number(process.hrtime.bigint() - t) / 1e9;
const cpu = process.cpuUsage();
console.log(JSON.stringify({ seconds, tokens, rows, ok, reportSha256: typeof reportSha256 === 'string' ? reportSha256 : undefined, maxRssMb: process.resourceUsage().maxRSS / 1024, cpuSeconds: (cpu.user + cpu.system) / 1e6 }));
`;

const OURS = `
const { validateDataset, localDatasetFiles } = require('./dist/shared/datasets');
(async () => {
  const [path, model] = process.argv.slice(1);
  const t = process.hrtime.bigint();
  const files = await localDatasetFiles(path, 'chat');
  const report = await validateDataset({ model, task: 'chat', files });
  const tokens = report.tokens.total, rows = report.rows, ok = report.ok;
  const { durationMs, ...comparable } = report;
  const reportSha256 = require('node:crypto').createHash('sha256').update(JSON.stringify(comparable)).digest('hex');
  ${REPORT}
})();
`;

/**
 * The sharded path in one process, as the local runtime runs it: N shards of size/N started at once,
 * taking turns on the process's one warm pool of worker threads (as many as the single pass uses),
 * then merged.
 */
const SHARDED = `
const { validateDatasetSharded, localDatasetFiles } = require('./dist/shared/datasets');
(async () => {
  const [path, model, shards] = process.argv.slice(1);
  const t = process.hrtime.bigint();
  const files = await localDatasetFiles(path, 'chat');
  const shardBytes = Math.ceil(files[0].size / Number(shards));
  const workers = Math.min(2, require('node:os').availableParallelism());
  const report = await validateDatasetSharded({ model, task: 'chat', files, workers }, { shardBytes, concurrency: Number(shards) });
  const tokens = report.tokens.total, rows = report.rows, ok = report.ok;
  const { durationMs, ...comparable } = report;
  const reportSha256 = require('node:crypto').createHash('sha256').update(JSON.stringify(comparable)).digest('hex');
  ${REPORT}
})();
`;

/** Each reference counts the family's template rendered as text, special tokens parsed. */
const REFERENCE = `
const readline = require('node:readline');
const fs = require('node:fs');
const PRE = 'Cutting Knowledge Date: December 2023\\nToday Date: 26 Jul 2024\\n\\n';
function llama3(messages) {
  let s = '<|begin_of_text|>';
  let rest = messages;
  const sys = messages[0].role === 'system' ? messages[0].content.trim() : '';
  if (messages[0].role === 'system') rest = messages.slice(1);
  s += '<|start_header_id|>system<|end_header_id|>\\n\\n' + PRE + sys + '<|eot_id|>';
  for (const m of rest) s += '<|start_header_id|>' + m.role + '<|end_header_id|>\\n\\n' + m.content.trim() + '<|eot_id|>';
  return s;
}
function chatml(messages) {
  return messages.map((m) => '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n').join('');
}
function mistral(messages) {
  let s = '<s>';
  for (const m of messages) s += m.role === 'user' ? '[INST] ' + m.content + ' [/INST]' : m.content + '</s>';
  return s;
}
(async () => {
  const [path, mode] = process.argv.slice(1);
  let count;
  if (mode === 'llama3') {
    const { llama3Tokenizer } = require('llama3-tokenizer-js/bundle/commonjs-llama3-tokenizer-with-baked-data.cjs');
    count = (messages) => llama3Tokenizer.encode(llama3(messages), { bos: false, eos: false }).length;
  } else if (mode === 'mistral') {
    const tokenizer = (await import('mistral-tokenizer-js')).default;
    // Hugging Face parses <s> and </s> as special tokens; every other part is one SentencePiece segment.
    count = (messages) => {
      let n = 0;
      for (const part of mistral(messages).split(/(<\\/?s>|<unk>)/)) {
        if (part === '<s>' || part === '</s>' || part === '<unk>') n += 1;
        else if (part) n += tokenizer.encode(part, false, true).length;
      }
      return n;
    };
  } else if (mode === 'tiktoken') {
    const { get_encoding } = require('tiktoken');
    const enc = get_encoding('cl100k_base', { '<|pad|>': 100277, '<|im_start|>': 100278, '<|im_end|>': 100279 });
    count = (messages) => enc.encode(chatml(messages), 'all').length;
  } else if (mode === 'tiktoken-o200k') {
    // OpenAI's counting recipe for chat fine-tuning data: 3 per message, role, content; 3 priming the reply.
    const enc = require('tiktoken').get_encoding('o200k_base');
    count = (messages) => messages.reduce((n, m) => n + 3 + enc.encode(m.role).length + enc.encode(m.content).length, 3);
  } else if (mode === 'hf') {
    const { Tokenizer } = require('@anush008/tokenizers');
    const { llama3TokenizerJson } = require('./dist/shared/datasets/tokenizers/hfJson.js');
    const file = require('node:path').join(require('node:os').tmpdir(), 'tunedrop-llama3-tokenizer.json');
    fs.writeFileSync(file, llama3TokenizerJson());
    const hf = Tokenizer.fromFile(file);
    count = async (messages) => (await hf.encode(llama3(messages), null, { addSpecialTokens: false })).getLength();
  }
  const t = process.hrtime.bigint();
  let tokens = 0, rows = 0;
  const ok = true;
  for await (const line of readline.createInterface({ input: fs.createReadStream(path), crlfDelay: Infinity })) {
    if (!line.trim()) continue;
    tokens += await count(JSON.parse(line).messages);
    rows++;
  }
  ${REPORT}
})();
`;

async function ensureFile(dir: string, mb: number): Promise<string> {
  const file = join(dir, `chat-varied-${mb}mb.jsonl`);
  const target = mb * 1024 * 1024;
  if (!existsSync(file) || statSync(file).size < target) {
    process.stdout.write(`generating ${file} (${mb} MB)…\n`);
    await generateChatFile(file, target);
  }
  return file;
}

/** The first whole lines of `source` up to `mb` MB, as its own file. */
async function ensurePrefix(source: string, mb: number): Promise<string> {
  const file = source.replace(/\.jsonl$/, `.first-${mb}mb.jsonl`);
  if (existsSync(file)) return file;
  const out = createWriteStream(file);
  let written = 0;
  for await (const line of createInterface({ input: createReadStream(source), crlfDelay: Number.POSITIVE_INFINITY })) {
    if (written >= mb * 1024 * 1024) break;
    out.write(`${line}\n`);
    written += Buffer.byteLength(line) + 1;
  }
  await new Promise<void>((ok, fail) => out.end((err?: Error | null) => (err ? fail(err) : ok())));
  return file;
}

function table(rows: Array<[string, Measured, number]>): void {
  process.stdout.write(
    `${'implementation'.padEnd(58)} ${'MB/s'.padStart(6)} ${'MB/cpu-s'.padStart(9)} ${'Mtok/s'.padStart(7)} ${'tokens'.padStart(12)} ${'peak RSS'.padStart(9)}\n`,
  );
  for (const [name, m, size] of rows) {
    process.stdout.write(
      `${name.padEnd(58)} ${(size / m.seconds).toFixed(1).padStart(6)} ${(size / m.cpuSeconds).toFixed(1).padStart(9)} ${(m.tokens / m.seconds / 1e6).toFixed(2).padStart(7)} ${String(m.tokens).padStart(12)} ${`${m.maxRssMb.toFixed(0)} MB`.padStart(9)}\n`,
    );
  }
}

/** `--exact N`: N generated texts, our SentencePiece counts against the JS packages, one by one. */
async function exact(n: number): Promise<void> {
  const mistral = (await import('mistral-tokenizer-js')).default;
  const llama2 = (await import('llama-tokenizer-js')).default;
  const ours = {
    mistral: new SentencePieceBpe(loadSentencePieceModel(MISTRAL_SOURCE)),
    llama2: new SentencePieceBpe(loadSentencePieceModel(LLAMA2_SOURCE)),
  };
  const r = rng(Number(values.seed));
  const mismatches = { mistral: 0, llama2: 0 };
  let bytes = 0;
  let tokens = 0;
  const started = Date.now();
  for (let i = 0; i < n; i++) {
    const k = i % 10;
    const text = k < 5 ? hardText(r) : k < 8 ? paragraph(r, 5 + Math.floor(r() * 60)) : content(r);
    bytes += Buffer.byteLength(text);
    const expected = mistral.encode(text, false, true).length;
    tokens += expected;
    if (ours.mistral.count(text) !== expected) {
      if (mismatches.mistral++ < 5) process.stdout.write(`mistral mismatch: ${JSON.stringify(text)}\n`);
    }
    if (i % 4 === 0 && ours.llama2.count(text) !== llama2.encode(text, false, true).length) {
      if (mismatches.llama2++ < 5) process.stdout.write(`llama2 mismatch: ${JSON.stringify(text)}\n`);
    }
    if ((i + 1) % 100_000 === 0) {
      process.stdout.write(
        `${i + 1} rows, ${(bytes / 1e6).toFixed(0)} MB, ${tokens} tokens, mismatches ${JSON.stringify(mismatches)}, ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
      );
    }
  }
  process.stdout.write(
    `exact (seed ${values.seed}): ${n} rows (${(bytes / 1e6).toFixed(1)} MB, ${tokens} Mistral tokens) against mistral-tokenizer-js, every 4th against llama-tokenizer-js: mismatches ${JSON.stringify(mismatches)}\n`,
  );
  if (mismatches.mistral + mismatches.llama2 > 0) process.exitCode = 1;
}

async function main(): Promise<void> {
  if (values.exact) return exact(Number(values.exact));
  const dir = join(root, 'bench-data');
  mkdirSync(dir, { recursive: true });
  const file = await ensureFile(dir, Number(values['size-mb']));
  const mb = statSync(file).size / 1e6;
  const referenceMb = Number(values['reference-mb']);
  const prefix = await ensurePrefix(file, referenceMb);
  const prefixMb = statSync(prefix).size / 1e6;
  const families = (values.families as string).split(',') as Family[];
  const rows: Array<[string, Measured, number]> = [];
  const equal: string[] = [];
  for (const family of families) {
    const spec = FAMILIES[family];
    if (!spec) throw new Error(`unknown family ${family}; use ${Object.keys(FAMILIES).join(', ')}`);
    process.stdout.write(`${spec.label}: tunedrop validate…\n`);
    const ours = runChild(OURS, [file, spec.model]);
    if (!ours.ok) process.stdout.write(`  (the report is not ok: check the generator for ${spec.model})\n`);
    rows.push([`${spec.label}: tunedrop validate (end to end)`, ours, mb]);
    if (!values['no-reference']) {
      process.stdout.write(`${spec.label}: reference on the first ${referenceMb} MB…\n`);
      const reference = runChild(REFERENCE, [prefix, spec.reference]);
      const oursOnPrefix = runChild(OURS, [prefix, spec.model]);
      rows.push([`${spec.label}: ${referenceName(spec.reference)} (tokens only)`, reference, prefixMb]);
      equal.push(
        `${spec.label}: ${oursOnPrefix.tokens === reference.tokens ? 'counts equal' : 'COUNTS DIFFER'} (tunedrop ${oursOnPrefix.tokens}, ${referenceName(spec.reference)} ${reference.tokens} on ${reference.rows} rows)`,
      );
      if (family === 'llama3' && values.hf) {
        const hf = runChild(REFERENCE, [prefix, 'hf']);
        rows.push([`${spec.label}: HF tokenizers, Rust binding (tokens only)`, hf, prefixMb]);
        equal.push(`${spec.label}: ${hf.tokens === oursOnPrefix.tokens ? 'counts equal' : 'COUNTS DIFFER'} vs HF`);
      }
    }
  }
  const shardCounts = (values.shards as string).split(',').filter(Boolean).map(Number);
  if (shardCounts.length > 0) {
    const spec = FAMILIES.llama3;
    const single = rows.find(([name]) => name.startsWith(`${spec.label}: tunedrop validate`))?.[1];
    for (const n of shardCounts) {
      process.stdout.write(`${spec.label}: sharded, ${n} shard(s) on one worker pool…\n`);
      const sharded = runChild(SHARDED, [file, spec.model, String(n)]);
      rows.push([`${spec.label}: sharded, ${n} shard(s), one pool`, sharded, mb]);
      if (single) {
        equal.push(
          `${spec.label}, ${n} shard(s): ${sharded.reportSha256 === single.reportSha256 ? 'merged report equals the single pass' : 'REPORT DIFFERS from the single pass'}; per CPU-second ${((100 * single.cpuSeconds) / sharded.cpuSeconds).toFixed(0)}% of the single pass`,
        );
      }
    }
  }
  if (values['also-mb']) {
    const big = await ensureFile(dir, Number(values['also-mb']));
    for (const family of families) {
      const spec = FAMILIES[family];
      process.stdout.write(`${spec.label}: tunedrop validate, ${values['also-mb']} MB file…\n`);
      const whole = runChild(OURS, [big, spec.model]);
      rows.push([`${spec.label}: tunedrop, ${values['also-mb']} MB file`, whole, statSync(big).size / 1e6]);
      if (family === 'llama3' && shardCounts.length > 0) {
        const n = Math.max(...shardCounts);
        process.stdout.write(`${spec.label}: sharded, ${n} shard(s), ${values['also-mb']} MB file…\n`);
        const sharded = runChild(SHARDED, [big, spec.model, String(n)]);
        rows.push([
          `${spec.label}: sharded, ${n} shard(s), ${values['also-mb']} MB file`,
          sharded,
          statSync(big).size / 1e6,
        ]);
        equal.push(
          `${spec.label}, ${n} shard(s), ${values['also-mb']} MB file: ${sharded.reportSha256 === whole.reportSha256 ? 'merged report equals the single pass' : 'REPORT DIFFERS from the single pass'}; per CPU-second ${((100 * whole.cpuSeconds) / sharded.cpuSeconds).toFixed(0)}% of the single pass`,
        );
      }
    }
  }
  process.stdout.write(
    `\nfile: ${file}  ${mb.toFixed(1)} MB (references: first ${prefixMb.toFixed(1)} MB), cores: ${availableParallelism()}, load average ${loadavg()[0]?.toFixed(2)}\n\n`,
  );
  table(rows);
  process.stdout.write(`\n${equal.join('\n')}\n`);
}

function referenceName(reference: string): string {
  return reference === 'llama3'
    ? 'llama3-tokenizer-js'
    : reference === 'mistral'
      ? 'mistral-tokenizer-js'
      : reference === 'tiktoken-o200k'
        ? 'tiktoken o200k_base (WASM)'
        : 'tiktoken cl100k_base (WASM)';
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exitCode = 1;
});
