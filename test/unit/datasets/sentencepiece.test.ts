import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import llamaTokenizer from 'llama-tokenizer-js';
import mistralTokenizer from 'mistral-tokenizer-js';
import { describe, expect, it } from 'vitest';
import { chatRow, content, hardText, rng } from '../../../scripts/varied-text';
import { defaultCatalog } from '../../../shared/catalog';
import { createExampleCounter, loadTokenCounter, templateFor } from '../../../shared/datasets';
import type { ChatMessage } from '../../../shared/datasets/templates';
import type { SentencePieceCounter } from '../../../shared/datasets/tokenizers/mistral';
import {
  buildSentencePieceModel,
  LLAMA2_SOURCE,
  loadSentencePieceModel,
  MISTRAL_SOURCE,
  SentencePieceBpe,
} from '../../../shared/datasets/tokenizers/sentencepiece';
import { MISTRAL } from './helpers';

/** Little-endian uint16 pairs, as the packages ship their merges. */
function mergeBytes(pairs: Array<[number, number]>): Uint8Array {
  const out = Buffer.alloc(pairs.length * 4);
  pairs.forEach(([a, b], i) => {
    out.writeUInt16LE(a, i * 4);
    out.writeUInt16LE(b, i * 4 + 2);
  });
  return out;
}

const BYTES = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);

describe('SentencePiece model loading refuses data the word split would get wrong', () => {
  it('rejects a token with "▁" after another character (words would not be independent)', () => {
    const vocab = ['<unk>', '<s>', '</s>', ...BYTES, '▁', 'a', 'a▁'];
    expect(() => buildSentencePieceModel(vocab, mergeBytes([[260, 259]]))).toThrow(/"a▁"/);
  });

  it('rejects a merge of byte tokens (byte fallback must end a word)', () => {
    const vocab = ['<unk>', '<s>', '</s>', ...BYTES, '▁', '<0x0A><0x0A>'];
    expect(() => buildSentencePieceModel(vocab, mergeBytes([[13, 13]]))).toThrow(/byte token/);
  });

  it('rejects a merge whose result is not a token, and a merge of an unknown id', () => {
    const vocab = ['<unk>', '<s>', '</s>', ...BYTES, '▁', 'a', 'b'];
    expect(() => buildSentencePieceModel(vocab, mergeBytes([[260, 261]]))).toThrow(/not a token/);
    expect(() => buildSentencePieceModel(vocab, mergeBytes([[260, 999]]))).toThrow(/unknown token/);
  });

  it('rejects a vocabulary without "▁"', () => {
    expect(() => buildSentencePieceModel(['<unk>', 'a'], mergeBytes([]))).toThrow(/"▁"/);
  });
});

describe('SentencePiece merge order on a small vocabulary', () => {
  // ids: 259 ▁, 260 a, 261 b, 262 ab, 263 ba, 264 ▁a, 265 aa
  const vocab = ['<unk>', '<s>', '</s>', ...BYTES, '▁', 'a', 'b', 'ab', 'ba', '▁a', 'aa'];
  const model = buildSentencePieceModel(
    vocab,
    mergeBytes([
      [260, 261], // ab (rank 0)
      [261, 260], // ba (rank 1)
      [260, 260], // aa (rank 2)
      [259, 260], // ▁a (rank 3)
    ]),
  );
  const bpe = new SentencePieceBpe(model);
  const ids = (text: string) => Array.from(text, (c) => vocab.indexOf(c === ' ' ? '▁' : c));

  it('merges the lowest rank first and equal ranks left to right, by rescan and by heap alike', () => {
    // "bab": ab (rank 0) beats ba (rank 1) → b + ab.
    expect(bpe.mergeWord(ids('bab'), false)).toEqual([261, 262]);
    expect(bpe.mergeWord(ids('bab'), true)).toEqual([261, 262]);
    // "aaa": two equal "aa" candidates: the left one wins → aa + a.
    expect(bpe.mergeWord(ids('aaa'), false)).toEqual([265, 260]);
    expect(bpe.mergeWord(ids('aaa'), true)).toEqual([265, 260]);
    // "▁aab": ab (rank 0) before aa (rank 2), then ▁a (rank 3) → ▁a + ab.
    expect(bpe.mergeWord(ids(' aab'), true)).toEqual([264, 262]);
    expect(bpe.mergeWord(ids(' aab'), false)).toEqual([264, 262]);
  });

  it('falls back to UTF-8 bytes for characters outside the vocabulary, lone surrogates as U+FFFD', () => {
    expect(bpe.count('é')).toBe(1 + 2); // ▁ + two bytes
    expect(bpe.count('😀')).toBe(1 + 4);
    expect(bpe.count('\ud800')).toBe(1 + 3);
    expect(bpe.count('a\nb')).toBe(1 + 1 + 1); // ▁a, <0x0A>, b
    expect(bpe.count('')).toBe(0);
  });
});

const mistral = new SentencePieceBpe(loadSentencePieceModel(MISTRAL_SOURCE));
const llama2 = new SentencePieceBpe(loadSentencePieceModel(LLAMA2_SOURCE));
const references = [
  ['mistral-tokenizer-js', mistral, mistralTokenizer],
  ['llama-tokenizer-js', llama2, llamaTokenizer],
] as const;

const golden = readFileSync(join(__dirname, '../../golden/chat-golden.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => (JSON.parse(line) as { messages: ChatMessage[] }).messages);

describe('SentencePiece counts equal the JS packages', () => {
  it('on every text of the golden corpus', () => {
    const texts = [...new Set(golden.flatMap((m) => m.map((x) => x.content)))];
    for (const [name, ours, reference] of references) {
      for (const text of texts) {
        expect({ name, text, n: ours.count(text) }).toEqual({
          name,
          text,
          n: reference.encode(text, false, true).length,
        });
      }
    }
  });

  // The packages count ≈1 MB/s: the million-row comparison is `npm run bench:validate -- --exact 1000000`.
  it('on 3,000 random texts from the bench generator (prose, code, CJK, emoji, control characters, long runs)', {
    timeout: 60_000,
  }, () => {
    const r = rng(16);
    const texts = Array.from({ length: 3000 }, (_, i) => (i % 12 === 0 ? content(r) : hardText(r)));
    expect(texts.some((t) => / {20}/.test(t))).toBe(true);
    expect(texts.some((t) => /\d{20}/.test(t))).toBe(true);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the sample must contain control characters
    expect(texts.some((t) => /[\u0000-\u0008]/.test(t))).toBe(true);
    for (const [name, ours, reference] of references) {
      const mismatches = texts
        .map((text, i) => ({ i, ours: ours.count(text), reference: reference.encode(text, false, true).length }))
        .filter((m) => m.ours !== m.reference);
      expect({ name, mismatches }).toEqual({ name, mismatches: [] });
    }
  });

  it('on long words: heap and rescan give the same tokens (random words up to 300 symbols)', () => {
    const r = rng(3);
    const letters = Array.from('aeinorstlhu▁▁');
    for (let k = 0; k < 300; k++) {
      const word = Array.from({ length: 2 + Math.floor(r() * 300) }, () => letters[Math.floor(r() * letters.length)]);
      const symbols = word.map((c) => mistral.model.bmp[(c as string).charCodeAt(0)] as number);
      expect(mistral.mergeWord(symbols, true)).toEqual(mistral.mergeWord(symbols, false));
    }
  });

  it('Mistral-7B-Instruct: templated chat rows from the generator equal the package on the rendered template', async () => {
    const counter = createExampleCounter(
      templateFor(defaultCatalog.find(MISTRAL)!)!,
      (await loadTokenCounter('mistral'))!,
    );
    const r = rng(99);
    for (let row = 0; row < 60; row++) {
      const messages = chatRow(r, row).messages.filter((m) => m.role !== 'system');
      let expected = 1; // <s>
      let pending = '';
      for (const m of messages) {
        if (m.role === 'user') pending += `[INST] ${m.content} [/INST]`;
        else {
          // `</s>` and `<s>` inside the text split it, as Hugging Face parses special tokens.
          for (const part of `${pending}${m.content}`.split(/(<\/?s>)/)) {
            if (part === '<s>' || part === '</s>') expected += 1;
            else if (part) expected += mistralTokenizer.encode(part, false, true).length;
          }
          expected += 1; // </s>
          pending = '';
        }
      }
      expect({ row, n: counter.chat(messages).tokens }).toEqual({ row, n: expected });
    }
  });
});

describe('counting a prompt and prompt + answer in one scan (countHeadAndWhole)', () => {
  const joints = [
    ['[INST] hi [/INST]', 'Sure'],
    ['[INST] hi [/INST]', ' spaced answer'],
    ['ends with spaces   ', '   starts with spaces'],
    ['word', 'continues'],
    ['emoji at the joint \u{1F600}', '\u{1F600} again'],
    ['high surrogate alone \ud83d', '\ude00 pairs across'],
    ['lone low follows', '\ude00 x'],
    ['byte fallback \u0001', '\u0002 more'],
    ['special <', 's> straddles the joint'],
    ['contains </s> special', ' answer'],
    ['', 'empty head'],
    ['empty tail', ''],
    ['CJK 汉', '字 joined'],
  ] as const;

  it('equals counting the head, then the whole, at every kind of joint', async () => {
    for (const id of ['mistral', 'llama2'] as const) {
      const counter = (await loadTokenCounter(id)) as SentencePieceCounter;
      for (const [head, tail] of joints) {
        expect({ id, head, tail, n: counter.countHeadAndWhole(head, tail) }).toEqual({
          id,
          head,
          tail,
          n: [counter.countSegment(head), counter.countSegment(head + tail)],
        });
      }
    }
  });

  it('equals mistral-tokenizer-js on 1,000 random prompt/answer pairs from the bench generator', async () => {
    const counter = (await loadTokenCounter('mistral')) as SentencePieceCounter;
    const r = rng(41);
    for (let k = 0; k < 1000; k++) {
      const head = `[INST] ${hardText(r).slice(0, 200)} [/INST]`;
      const tail = hardText(r).slice(0, 200);
      const expected = [head, head + tail].map((t) => mistralTokenizer.encode(t, false, true).length);
      if (/<\/?s>|<unk>/.test(head + tail)) continue;
      expect({ k, n: counter.countHeadAndWhole(head, tail) }).toEqual({ k, n: expected });
    }
  });
});
