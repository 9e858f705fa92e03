import { loadSentencePieceModel, MISTRAL_SOURCE, SentencePieceBpe } from './sentencepiece';
import type { TokenCounter } from './types';

/**
 * Mistral/Mixtral (SentencePiece BPE, 32k vocabulary): our SentencePiece engine over the
 * vocabulary and merges `mistral-tokenizer-js` ships; counts equal that package's
 * `encode(text, false, true)` (see sentencepiece.ts and docs/validation.md).
 */

export const MISTRAL_SPECIAL_TOKENS: readonly string[] = ['<s>', '</s>', '<unk>'];
const MISTRAL_SPECIAL_PATTERN = /<\/?s>|<unk>/g;

/** A SentencePiece tokenizer: no pre-tokenizer, so text is counted per segment between special tokens. */
export interface SentencePieceCounter extends TokenCounter {
  /** Tokens of one SentencePiece segment, with the dummy prefix space SentencePiece adds. */
  countSegment(text: string): number;
  /** `[countSegment(head), countSegment(head + tail)]`, scanning `head` once. */
  countHeadAndWhole(head: string, tail: string): [number, number];
}

export async function createMistralCounter(): Promise<SentencePieceCounter> {
  return sentencePieceCounter(
    'mistral',
    new SentencePieceBpe(loadSentencePieceModel(MISTRAL_SOURCE)),
    MISTRAL_SPECIAL_PATTERN,
  );
}

/** The counter of a SentencePiece model whose special-token strings match `special`. */
export function sentencePieceCounter(
  id: SentencePieceCounter['id'],
  bpe: SentencePieceBpe,
  special: RegExp,
): SentencePieceCounter {
  const countSegment = sentencePieceSegments(special, (part) => bpe.count(part));
  return {
    id,
    countSegment,
    count: countSegment,
    countHeadAndWhole: (head, tail) =>
      // A special-token string splits the segment (and one could straddle the joint): count plainly.
      head.indexOf('<') === -1 && tail.indexOf('<') === -1
        ? bpe.countHeadAndWhole(head, tail)
        : [countSegment(head), countSegment(head + tail)],
    findSpecialTokens: (text) => (text.includes('<') ? (text.match(special) ?? []) : []),
  };
}

/**
 * Counts text the way Hugging Face tokenizes it: special-token strings (`<s>`, `</s>`, `<unk>`)
 * split the text and count one each; every other part is its own SentencePiece segment with the
 * dummy prefix space.
 */
export function sentencePieceSegments(special: RegExp, encode: (part: string) => number): (text: string) => number {
  const pattern = new RegExp(special.source, special.flags);
  return (text) => {
    if (text.length === 0) return 0;
    if (text.indexOf('<') === -1) return encode(text);
    let total = 0;
    let last = 0;
    pattern.lastIndex = 0;
    for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
      if (m.index > last) total += encode(text.slice(last, m.index));
      total += 1;
      last = m.index + m[0].length;
    }
    if (last < text.length) total += encode(text.slice(last));
    return total;
  };
}
