/**
 * `npm run bench:validate [-- --size-mb 200] [--also-mb 1024] [--no-reference] [--no-hf] [--tiktoken]`
 *
 * Generates (once, into bench-data/, git-ignored) a chat JSONL of varied text — English prose,
 * code, CJK, Cyrillic, Arabic, Devanagari, emoji — then measures, each in its own process so
 * peak RSS is honest: tunedrop's validator end to end (validateDataset on the compiled dist/),
 * the reference tokenizer (llama3-tokenizer-js) and Hugging Face `tokenizers` (Rust, via
 * @anush008/tokenizers, with a tokenizer.json rebuilt from the same vocabulary) counting the same
 * templated rows. Optionally the tiktoken WASM encoder built from the same ranks.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = resolve(__dirname, '..');
const { values } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '200' },
    /** Also validate a second, larger file (e.g. 1024) to show peak RSS does not grow with size. */
    'also-mb': { type: 'string' },
    'no-reference': { type: 'boolean', default: false },
    tiktoken: { type: 'boolean', default: false },
    'no-hf': { type: 'boolean', default: false },
    model: { type: 'string', default: 'meta-llama/Meta-Llama-3.1-8B-Instruct' },
  },
});
const sizeMb = Number(values['size-mb']);

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS =
  'the of and to in is was for on that with as by at from his her which be this an are or had not but have were their they one all its has been there more when who would will what about into than them can only other new some could time these two may then do first any like now my such our over man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three'.split(
    ' ',
  );
const CODE = [
  'def fibonacci(n: int) -> int:\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: sample JavaScript source, not a template
  'const result = await fetch(`${baseUrl}/api/runs/${id}`, { method: "POST", headers });\nif (!result.ok) throw new Error(result.statusText);\n',
  "SELECT team, COUNT(*) AS runs\nFROM training_runs\nWHERE status = 'SUCCEEDED'\nGROUP BY team\nORDER BY runs DESC;\n",
  'for (int i = 0; i < n; ++i) {\n    sum += a[i] * b[i];\n}\nreturn sum;\n',
  '#!/usr/bin/env bash\nset -euo pipefail\nfor f in data/*.jsonl; do wc -l "$f"; done\n',
];
const SCRIPTS = [
  '機械学習モデルの微調整には、高品質なデータセットが必要です。',
  '我们需要在训练之前验证数据集的格式和令牌数量。',
  '데이터 세트를 검증한 후에 모델을 미세 조정합니다.',
  'Перед обучением модели необходимо проверить формат данных и количество токенов.',
  'يجب التحقق من صحة البيانات قبل بدء التدريب على النموذج.',
  'मॉडल को प्रशिक्षित करने से पहले डेटा की जाँच करना ज़रूरी है।',
  'Ελέγξτε τα δεδομένα πριν από την εκπαίδευση του μοντέλου.',
];
const EMOJI = ['😀', '🚀', '👍🏽', '🎉', '🧠', '👨‍👩‍👧', '✅', '🔥'];

function paragraph(r: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) {
    let w = WORDS[Math.floor(r() * WORDS.length)] as string;
    if (i === 0 || r() < 0.05) w = w[0]?.toUpperCase() + w.slice(1);
    out.push(w);
    if (r() < 0.08) out.push(r() < 0.7 ? ',' : '.');
    if (r() < 0.01) out.push(EMOJI[Math.floor(r() * EMOJI.length)] as string);
    if (r() < 0.01) out.push(String(Math.floor(r() * 100000)));
  }
  return out.join(' ').replace(/ ([,.])/g, '$1');
}

function content(r: () => number): string {
  const parts: string[] = [];
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const k = r();
    if (k < 0.6) parts.push(paragraph(r, 40 + Math.floor(r() * 200)));
    else if (k < 0.8) parts.push('```\n' + CODE[Math.floor(r() * CODE.length)] + '```');
    else
      parts.push(
        Array.from({ length: 1 + Math.floor(r() * 4) }, () => SCRIPTS[Math.floor(r() * SCRIPTS.length)]).join(''),
      );
  }
  return parts.join('\n\n');
}

async function generate(path: string, bytes: number): Promise<void> {
  const r = rng(42);
  const out = createWriteStream(path);
  let written = 0;
  let row = 0;
  while (written < bytes) {
    const messages = [];
    if (r() < 0.5) messages.push({ role: 'system', content: 'You are a helpful assistant. ' + paragraph(r, 10) });
    const turns = 1 + Math.floor(r() * 3);
    for (let t = 0; t < turns; t++) {
      messages.push({ role: 'user', content: content(r) });
      messages.push({ role: 'assistant', content: content(r) + ` (#${row})` });
    }
    const line = `${JSON.stringify({ messages })}\n`;
    written += Buffer.byteLength(line);
    row++;
    if (!out.write(line)) await new Promise<void>((ok) => out.once('drain', () => ok()));
  }
  await new Promise<void>((ok, fail) => out.end((err?: Error | null) => (err ? fail(err) : ok())));
}

interface Measured {
  seconds: number;
  tokens: number;
  maxRssMb: number;
  /** User + system CPU seconds of the whole process (all threads). */
  cpuSeconds: number;
  rows?: number;
  ok?: boolean;
}

function runChild(script: string, args: string[]): Measured {
  const res = spawnSync(process.execPath, ['-e', script, ...args], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (res.status !== 0) throw new Error(`benchmark child failed: ${res.stderr}`);
  return JSON.parse(res.stdout.trim().split('\n').pop() as string) as Measured;
}

const OURS = `
const { validateDataset, localDatasetFiles } = require('./dist/shared/datasets');
(async () => {
  const [path, model] = process.argv.slice(1);
  const t = process.hrtime.bigint();
  const files = await localDatasetFiles(path, 'chat');
  const report = await validateDataset({ model, task: 'chat', files });
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  const cpu = process.cpuUsage();
  console.log(JSON.stringify({ seconds, tokens: report.tokens.total, rows: report.rows, ok: report.ok, maxRssMb: process.resourceUsage().maxRSS / 1024, cpuSeconds: (cpu.user + cpu.system) / 1e6 }));
})();
`;

// The reference counts the Llama 3.1 Instruct template as one string per row.
const REFERENCE = `
const { llama3Tokenizer } = require('llama3-tokenizer-js/bundle/commonjs-llama3-tokenizer-with-baked-data.cjs');
const readline = require('node:readline');
const fs = require('node:fs');
const PRE = 'Cutting Knowledge Date: December 2023\\nToday Date: 26 Jul 2024\\n\\n';
function render(messages) {
  let s = '<|begin_of_text|>';
  let rest = messages;
  const sys = messages[0].role === 'system' ? messages[0].content.trim() : '';
  if (messages[0].role === 'system') rest = messages.slice(1);
  s += '<|start_header_id|>system<|end_header_id|>\\n\\n' + PRE + sys + '<|eot_id|>';
  for (const m of rest) s += '<|start_header_id|>' + m.role + '<|end_header_id|>\\n\\n' + m.content.trim() + '<|eot_id|>';
  return s;
}
(async () => {
  const [path, mode] = process.argv.slice(1);
  let encode;
  if (mode === 'hf') {
    const { Tokenizer } = require('@anush008/tokenizers');
    const { llama3TokenizerJson } = require('./dist/shared/datasets/tokenizers/hfJson.js');
    const file = require('node:path').join(require('node:os').tmpdir(), 'tunedrop-llama3-tokenizer.json');
    fs.writeFileSync(file, llama3TokenizerJson());
    const hf = Tokenizer.fromFile(file);
    const t = process.hrtime.bigint();
    let tokens = 0, rows = 0, batch = [];
    const flush = async () => {
      for (const e of await hf.encodeBatch(batch, { addSpecialTokens: false })) tokens += e.getLength();
      batch = [];
    };
    for await (const line of readline.createInterface({ input: fs.createReadStream(path), crlfDelay: Infinity })) {
      if (!line.trim()) continue;
      batch.push(render(JSON.parse(line).messages));
      rows++;
      if (batch.length >= 256) await flush();
    }
    await flush();
    const seconds = Number(process.hrtime.bigint() - t) / 1e9;
    const cpu = process.cpuUsage();
    console.log(JSON.stringify({ seconds, tokens, rows, maxRssMb: process.resourceUsage().maxRSS / 1024, cpuSeconds: (cpu.user + cpu.system) / 1e6 }));
    return;
  }
  if (mode === 'tiktoken') {
    const { Tiktoken } = require('tiktoken');
    const { loadLlama3Ranks, LLAMA3_SPECIAL_TOKENS } = require('./dist/shared/datasets/tokenizers/llama3.js');
    const lines = [];
    for (const [bytes, rank] of loadLlama3Ranks().tokens()) lines.push(Buffer.from(bytes).toString('base64') + ' ' + rank);
    const specials = Object.fromEntries(LLAMA3_SPECIAL_TOKENS.map((s, i) => [s, 128000 + i]));
    const pat = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+";
    const enc = new Tiktoken(lines.join('\\n'), specials, pat);
    encode = (s) => enc.encode(s, 'all').length;
  } else {
    encode = (s) => llama3Tokenizer.encode(s, { bos: false, eos: false }).length;
  }
  const t = process.hrtime.bigint();
  let tokens = 0, rows = 0;
  for await (const line of readline.createInterface({ input: fs.createReadStream(path), crlfDelay: Infinity })) {
    if (!line.trim()) continue;
    tokens += encode(render(JSON.parse(line).messages));
    rows++;
  }
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  const cpu = process.cpuUsage();
  console.log(JSON.stringify({ seconds, tokens, rows, maxRssMb: process.resourceUsage().maxRSS / 1024, cpuSeconds: (cpu.user + cpu.system) / 1e6 }));
})();
`;

async function ensureFile(dir: string, mb: number): Promise<string> {
  const file = join(dir, `chat-${mb}mb.jsonl`);
  const target = mb * 1024 * 1024;
  if (!existsSync(file) || statSync(file).size < target) {
    process.stdout.write(`generating ${file} (${mb} MB)…\n`);
    await generate(file, target);
  }
  return file;
}

async function main(): Promise<void> {
  const dir = join(root, 'bench-data');
  mkdirSync(dir, { recursive: true });
  const file = await ensureFile(dir, sizeMb);
  const mb = statSync(file).size / 1e6;
  const rows: Array<[string, Measured, number]> = [];
  process.stdout.write(`validating with tunedrop (${values.model})…\n`);
  rows.push(['tunedrop validate (end to end)', runChild(OURS, [file, values.model as string]), mb]);
  if (!values['no-reference']) {
    process.stdout.write('counting with the reference llama3-tokenizer-js…\n');
    rows.push(['llama3-tokenizer-js (reference, tokens only)', runChild(REFERENCE, [file, 'reference']), mb]);
  }
  if (!values['no-hf']) {
    process.stdout.write(
      'counting with Hugging Face tokenizers (Rust binding, tokenizer.json rebuilt from the shipped vocabulary)…\n',
    );
    rows.push(['HF tokenizers, Rust binding (tokens only)', runChild(REFERENCE, [file, 'hf']), mb]);
  }
  if (values.tiktoken) {
    process.stdout.write('counting with tiktoken (WASM) built from the same vocabulary…\n');
    rows.push(['tiktoken WASM, Llama 3 ranks (tokens only)', runChild(REFERENCE, [file, 'tiktoken']), mb]);
  }
  if (values['also-mb']) {
    const big = await ensureFile(dir, Number(values['also-mb']));
    process.stdout.write(`validating the ${values['also-mb']} MB file with tunedrop…\n`);
    rows.push([
      `tunedrop validate, ${values['also-mb']} MB file`,
      runChild(OURS, [big, values.model as string]),
      statSync(big).size / 1e6,
    ]);
  }
  const ours = rows[0]?.[1] as Measured;
  process.stdout.write(
    `\nfile: ${file}  ${mb.toFixed(1)} MB, ${ours.rows} rows, cores: ${availableParallelism()}, load average ${loadavg()[0]?.toFixed(2)}\n\n`,
  );
  process.stdout.write(
    `${'implementation'.padEnd(46)} ${'MB/s'.padStart(7)} ${'MB/cpu-s'.padStart(9)} ${'Mtok/s'.padStart(7)} ${'tokens'.padStart(12)} ${'peak RSS'.padStart(9)} ${'time vs ours'.padStart(12)}\n`,
  );
  for (const [name, m, size] of rows) {
    process.stdout.write(
      `${name.padEnd(46)} ${(size / m.seconds).toFixed(1).padStart(7)} ${(size / m.cpuSeconds).toFixed(1).padStart(9)} ${(m.tokens / m.seconds / 1e6).toFixed(2).padStart(7)} ${String(m.tokens).padStart(12)} ${`${m.maxRssMb.toFixed(0)} MB`.padStart(9)} ${`${((m.seconds / ours.seconds) * (mb / size)).toFixed(1)}x`.padStart(12)}\n`,
    );
  }
  for (const [name, m] of rows.slice(1)) {
    if (name.startsWith('tunedrop')) continue;
    process.stdout.write(`${m.tokens === ours.tokens ? 'counts equal' : 'COUNTS DIFFER'}: tunedrop vs ${name}\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exitCode = 1;
});
