/**
 * The benchmark's generator of varied chat rows (also used by tests for random samples): English
 * prose, code, CJK/Korean/Cyrillic/Arabic/Devanagari/Greek, emoji, and "hard" text — long runs
 * of spaces and digits, control characters, odd Unicode whitespace, rare CJK — seeded, so a
 * given seed always gives the same rows.
 */
import { createWriteStream } from 'node:fs';

export function rng(seed: number): () => number {
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
  '{"id": 4211, "tags": ["a", "b"], "score": 0.981, "nested": {"ok": true, "items": [1, 2, 3]}}\n',
  '<div class="card">\n  <h2>{{ title }}</h2>\n  <p>{{ body | safe }}</p>\n</div>\n',
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
/** Characters that stress pre-tokenizers and byte fallback. */
const ODD = [
  '\t',
  '\r\n',
  '\u0000',
  '\u0007',
  '\u001b[31m',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u200b',
  '\u2028',
  '\u3000',
  '\ufeff',
  '▁',
  'é',
  'e\u0301',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  '𠀀𠀁𠀂',
  '鱻龘',
  "'s",
  "'LL",
  '...',
  '—',
  '<s>',
  '</s>',
];

export function paragraph(r: () => number, words: number): string {
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

/** Text that is hard for tokenizers: runs of spaces and digits, control and rare characters. */
export function hardText(r: () => number): string {
  const parts: string[] = [];
  const n = 3 + Math.floor(r() * 12);
  for (let i = 0; i < n; i++) {
    const k = r();
    if (k < 0.2) parts.push(' '.repeat(1 + Math.floor(r() * 40)));
    else if (k < 0.4)
      parts.push(
        Array.from({ length: 1 + Math.floor(r() * 60) }, () => String.fromCharCode(48 + Math.floor(r() * 10))).join(''),
      );
    else if (k < 0.6) parts.push(ODD[Math.floor(r() * ODD.length)] as string);
    else if (k < 0.7) parts.push(EMOJI[Math.floor(r() * EMOJI.length)] as string);
    else if (k < 0.8) parts.push(SCRIPTS[Math.floor(r() * SCRIPTS.length)] as string);
    else parts.push(paragraph(r, 1 + Math.floor(r() * 6)));
  }
  return parts.join(r() < 0.5 ? '' : ' ');
}

export function content(r: () => number): string {
  const parts: string[] = [];
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const k = r();
    if (k < 0.55) parts.push(paragraph(r, 40 + Math.floor(r() * 200)));
    else if (k < 0.75) parts.push(`\`\`\`\n${CODE[Math.floor(r() * CODE.length)]}\`\`\``);
    else if (k < 0.92)
      parts.push(
        Array.from({ length: 1 + Math.floor(r() * 4) }, () => SCRIPTS[Math.floor(r() * SCRIPTS.length)]).join(''),
      );
    else parts.push(hardText(r));
  }
  const text = parts.join('\n\n');
  // A message of only whitespace is an error (empty_content): the bench wants valid rows.
  return text.trim().length > 0 ? text : `${text}ok`;
}

export interface ChatRow {
  messages: Array<{ role: 'system' | 'user' | 'assistant'; content: string }>;
}

/** A chat row; with `system`, half the rows open with a system message. */
export function chatRow(r: () => number, row: number, system = true): ChatRow {
  const messages: ChatRow['messages'] = [];
  if (r() < 0.5 && system)
    messages.push({ role: 'system', content: `You are a helpful assistant. ${paragraph(r, 10)}` });
  const turns = 1 + Math.floor(r() * 3);
  for (let t = 0; t < turns; t++) {
    messages.push({ role: 'user', content: content(r) });
    messages.push({ role: 'assistant', content: `${content(r)} (#${row})` });
  }
  return { messages };
}

/**
 * Writes chat rows (seed 42) until the file has at least `bytes` bytes. Without system messages
 * by default: Mistral-7B-Instruct has no system role, and one file serves every family.
 */
export async function generateChatFile(path: string, bytes: number, system = false): Promise<void> {
  const r = rng(42);
  const out = createWriteStream(path);
  let written = 0;
  let row = 0;
  while (written < bytes) {
    const line = `${JSON.stringify(chatRow(r, row, system))}\n`;
    written += Buffer.byteLength(line);
    row++;
    if (!out.write(line)) await new Promise<void>((ok) => out.once('drain', () => ok()));
  }
  await new Promise<void>((ok, fail) => out.end((err?: Error | null) => (err ? fail(err) : ok())));
}
