import { describe, expect, it } from 'vitest';
import { TIKTOKEN_STYLE_PATTERN, TIKTOKEN_STYLE_PATTERN_UNICODE_SPACE } from '../../../shared/datasets/tokenizers/bpe';
import { forEachPiece, type WhitespaceRule } from '../../../shared/datasets/tokenizers/pretokenize';

function scannerPieces(text: string, rule: WhitespaceRule = 'javascript'): string[] {
  const out: string[] = [];
  forEachPiece(text, (start, end) => out.push(text.slice(start, end)), rule);
  return out;
}

function regexPieces(text: string, rule: WhitespaceRule = 'javascript'): string[] {
  const pattern = rule === 'javascript' ? TIKTOKEN_STYLE_PATTERN : TIKTOKEN_STYLE_PATTERN_UNICODE_SPACE;
  return text.match(new RegExp(pattern.source, pattern.flags)) ?? [];
}

// Characters chosen to hit every branch: contractions, prefixes, digit runs, punctuation with
// newlines, every kind of whitespace (incl. NBSP, U+3000, U+FEFF, NEL which JS \s excludes),
// combining marks, CJK, astral letters and numbers, emoji with ZWJ, lone surrogates.
const ALPHABET = [
  'a',
  'Z',
  'é',
  'ß',
  '日',
  '本',
  'ж',
  'ع',
  'क',
  '\u0301',
  '\u093f',
  '1',
  '٣',
  '½',
  'Ⅻ',
  "'",
  's',
  'S',
  't',
  'r',
  'e',
  'E',
  'v',
  'm',
  'l',
  'L',
  'd',
  ' ',
  ' ',
  ' ',
  '\t',
  '\n',
  '\r',
  '\u00a0',
  '\u3000',
  '\ufeff',
  '\u0085',
  '\u2028',
  '\u000b',
  '.',
  ',',
  '!',
  '?',
  '-',
  '_',
  '(',
  ')',
  '<',
  '|',
  '>',
  '$',
  '€',
  '™',
  '😀',
  '👍🏽',
  '\u200d',
  '𝐀',
  '𝟘',
  '𠀋',
  '\ud800',
  '\udc00',
];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

describe('hand-written pre-tokenizer', () => {
  it('splits exactly like the reference regex on 20,000 random strings', () => {
    const random = rng(7);
    for (let n = 0; n < 20_000; n++) {
      const length = 1 + Math.floor(random() * 24);
      let text = '';
      for (let i = 0; i < length; i++) text += ALPHABET[Math.floor(random() * ALPHABET.length)];
      expect({ text, pieces: scannerPieces(text) }).toEqual({ text, pieces: regexPieces(text) });
    }
  });

  it('with Unicode White_Space (cl100k, as tiktoken): U+0085 is whitespace, U+FEFF is not', () => {
    expect(scannerPieces('a \ufeffb', 'unicode')).toEqual(['a', ' \ufeff', 'b']);
    expect(scannerPieces('a \ufeffb')).toEqual(['a', ' ', '\ufeffb']);
    expect(scannerPieces('x \u0085\u0085y', 'unicode')).toEqual(['x', ' \u0085', '\u0085y']);
    const random = rng(11);
    for (let n = 0; n < 10_000; n++) {
      const length = 1 + Math.floor(random() * 24);
      let text = '';
      for (let i = 0; i < length; i++) text += ALPHABET[Math.floor(random() * ALPHABET.length)];
      expect({ text, pieces: scannerPieces(text, 'unicode') }).toEqual({ text, pieces: regexPieces(text, 'unicode') });
    }
  });

  it('splits exactly like the regex on realistic text', () => {
    const text =
      "Hello world! I'm here, they'LL see.\r\n\n  def f(x):\n\treturn x**2  \n\n\nSELECT 12345;  日本語のテキスト。  😀👍🏽 done   ";
    expect(scannerPieces(text)).toEqual(regexPieces(text));
  });
});
