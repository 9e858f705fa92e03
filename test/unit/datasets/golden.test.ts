import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@anush008/tokenizers';
import { get_encoding } from 'tiktoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { content, hardText, rng } from '../../../scripts/varied-text';
import { defaultCatalog } from '../../../shared/catalog';
import { createExampleCounter, loadTokenCounter, type TokenCounter, templateFor } from '../../../shared/datasets';
import type { ChatMessage } from '../../../shared/datasets/templates';
import { DBRX_SPECIAL_TOKENS } from '../../../shared/datasets/tokenizers';
import { llama3TokenizerJson } from '../../../shared/datasets/tokenizers/hfJson';
import { DBRX, LLAMA, LLAMA_BASE, MISTRAL } from './helpers';

const requireCjs = createRequire(__filename);
const reference: { encode(text: string, opts: { bos: boolean; eos: boolean }): number[] } = requireCjs(
  'llama3-tokenizer-js/bundle/commonjs-llama3-tokenizer-with-baked-data.cjs',
).llama3Tokenizer;

const golden = readFileSync(join(__dirname, '../../golden/chat-golden.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => (JSON.parse(line) as { messages: ChatMessage[] }).messages);
const texts = [...new Set(golden.flatMap((m) => m.map((x) => x.content)))];

const PREAMBLE = 'Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n';
function renderLlama(messages: ChatMessage[], preamble: boolean): string {
  let s = '<|begin_of_text|>';
  let rest = messages;
  if (preamble) {
    const system = messages[0]?.role === 'system' ? messages[0].content.trim() : '';
    if (messages[0]?.role === 'system') rest = messages.slice(1);
    s += `<|start_header_id|>system<|end_header_id|>\n\n${PREAMBLE}${system}<|eot_id|>`;
  }
  for (const m of rest) s += `<|start_header_id|>${m.role}<|end_header_id|>\n\n${m.content.trim()}<|eot_id|>`;
  return s;
}
function renderChatml(messages: ChatMessage[]): string {
  return messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('');
}

describe('golden corpus: counts equal the reference tokenizers on every row', () => {
  let llama3: TokenCounter;
  let cl100k: TokenCounter;
  const tiktoken = get_encoding('cl100k_base', { '<|pad|>': 100277, '<|im_start|>': 100278, '<|im_end|>': 100279 });
  beforeAll(async () => {
    llama3 = (await loadTokenCounter('llama3'))!;
    cl100k = (await loadTokenCounter('cl100k'))!;
  });
  afterAll(() => tiktoken.free());

  it('has prose, code, CJK, emoji and special-token strings', () => {
    expect(golden.length).toBeGreaterThanOrEqual(100);
    expect(texts.some((t) => /\p{Script=Han}/u.test(t))).toBe(true);
    expect(texts.some((t) => /\p{Extended_Pictographic}/u.test(t))).toBe(true);
    expect(texts.some((t) => t.includes('<|eot_id|>'))).toBe(true);
    expect(texts.some((t) => t.includes('def '))).toBe(true);
  });

  it('Llama 3: every text equals llama3-tokenizer-js', () => {
    for (const text of texts) {
      expect({ text, n: llama3.count(text) }).toEqual({
        text,
        n: reference.encode(text, { bos: false, eos: false }).length,
      });
    }
  });

  it('Llama 3.1 Instruct and base: every templated row equals the reference on the rendered template', () => {
    for (const [id, preamble] of [
      [LLAMA, true],
      [LLAMA_BASE, false],
    ] as const) {
      const model = defaultCatalog.find(id)!;
      const counter = createExampleCounter(templateFor(model)!, llama3);
      golden.forEach((messages, row) => {
        const expected = reference.encode(renderLlama(messages, preamble), { bos: false, eos: false }).length;
        expect({ id, row, n: counter.chat(messages).tokens }).toEqual({ id, row, n: expected });
      });
    }
  });

  it('Llama 3: every text and templated row equals Hugging Face tokenizers (Rust binding)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunedrop-hf-'));
    try {
      const file = join(dir, 'tokenizer.json');
      writeFileSync(file, llama3TokenizerJson());
      const hf = Tokenizer.fromFile(file);
      const hfCount = async (text: string) => (await hf.encode(text, null, { addSpecialTokens: false })).getLength();
      for (const text of texts) expect({ text, n: llama3.count(text) }).toEqual({ text, n: await hfCount(text) });
      const counter = createExampleCounter(templateFor(defaultCatalog.find(LLAMA)!)!, llama3);
      for (const [row, messages] of golden.entries()) {
        expect({ row, n: counter.chat(messages).tokens }).toEqual({
          row,
          n: await hfCount(renderLlama(messages, true)),
        });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('DBRX: every text and ChatML-templated row equals tiktoken cl100k_base', () => {
    const specials = Object.keys(DBRX_SPECIAL_TOKENS);
    expect(specials).toContain('<|im_start|>');
    for (const text of texts) {
      expect({ text, n: cl100k.count(text) }).toEqual({ text, n: tiktoken.encode(text, 'all').length });
    }
    const counter = createExampleCounter(templateFor(defaultCatalog.find(DBRX)!)!, cl100k);
    golden.forEach((messages, row) => {
      expect({ row, n: counter.chat(messages).tokens }).toEqual({
        row,
        n: tiktoken.encode(renderChatml(messages), 'all').length,
      });
    });
  });

  it('3,000 generated hard texts (runs of spaces/digits, control and odd whitespace characters, CJK, emoji): Llama 3 equals llama3-tokenizer-js, DBRX equals tiktoken', () => {
    const r = rng(15);
    const sample = Array.from({ length: 3000 }, (_, i) => (i % 12 === 0 ? content(r) : hardText(r)));
    expect(sample.some((t) => t.includes('\ufeff'))).toBe(true);
    const llamaMismatches = sample.filter(
      (t) => llama3.count(t) !== reference.encode(t, { bos: false, eos: false }).length,
    );
    expect(llamaMismatches).toEqual([]);
    const dbrxMismatches = sample.filter((t) => cl100k.count(t) !== tiktoken.encode(t, 'all').length);
    expect(dbrxMismatches).toEqual([]);
  });

  it('the trainable part is the assistant turns', () => {
    const counter = createExampleCounter(templateFor(defaultCatalog.find(LLAMA)!)!, llama3);
    const messages = golden[0]!;
    const counted = counter.chat(messages);
    const assistant = messages.find((m) => m.role === 'assistant')!;
    expect(counted.trainable).toBe(reference.encode(assistant.content.trim(), { bos: false, eos: false }).length + 1);
    expect(counted.firstTrainableAt).toBe(counted.tokens - counted.trainable);
  });
});

describe('SentencePiece families (Mistral, Llama 2): counts follow the template split at <s>/</s>', () => {
  // Our SentencePiece engine against the JS packages on the rendered template, split at <s>/</s>.
  async function sentencePieceTotal(id: 'mistral' | 'llama2', rendered: string): Promise<number> {
    const mod = id === 'mistral' ? await import('mistral-tokenizer-js') : await import('llama-tokenizer-js');
    let total = 0;
    for (const part of rendered.split(/(<\/?s>)/)) {
      if (part === '<s>' || part === '</s>') total += 1;
      else if (part) total += mod.default.encode(part, false, true).length;
    }
    return total;
  }
  const turns = golden.filter((m) => m[0]?.role !== 'system').slice(0, 20);

  it('Mistral-7B-Instruct-v0.2: <s>[INST] u [/INST]a</s>…', async () => {
    const counter = createExampleCounter(
      templateFor(defaultCatalog.find(MISTRAL)!)!,
      (await loadTokenCounter('mistral'))!,
    );
    for (const messages of turns) {
      let rendered = '<s>';
      for (const m of messages) rendered += m.role === 'user' ? `[INST] ${m.content} [/INST]` : `${m.content}</s>`;
      expect(counter.chat(messages).tokens).toBe(await sentencePieceTotal('mistral', rendered));
    }
  });

  it('Llama 2 chat (retired): <s>[INST] <<SYS>>…<</SYS>> u [/INST] a </s>…', async () => {
    const counter = createExampleCounter(
      templateFor(defaultCatalog.find('meta-llama/Llama-2-7b-chat-hf')!)!,
      (await loadTokenCounter('llama2'))!,
    );
    const withSystem = golden.filter((m) => m[0]?.role === 'system').slice(0, 10);
    for (const messages of [...turns, ...withSystem]) {
      const system = messages[0]?.role === 'system' ? messages[0].content : undefined;
      const rest = system === undefined ? messages : messages.slice(1);
      let rendered = '';
      rest.forEach((m, i) => {
        const content = i === 0 && system !== undefined ? `<<SYS>>\n${system}\n<</SYS>>\n\n${m.content}` : m.content;
        rendered += m.role === 'user' ? `<s>[INST] ${content.trim()} [/INST]` : ` ${content.trim()} </s>`;
      });
      expect(counter.chat(messages).tokens).toBe(await sentencePieceTotal('llama2', rendered));
    }
  });
});
