import type { TokenCounter } from './types';

/**
 * Mistral/Mixtral (SentencePiece BPE, 32k vocabulary) via `mistral-tokenizer-js`, an ES module:
 * loaded with a dynamic import. SentencePiece has no pre-tokenizer to cache on, so this counter
 * is much slower than the byte-level ones (see docs/validation.md).
 */
interface MistralTokenizerModule {
  default: { encode(prompt: string, addBos?: boolean, addPrecedingSpace?: boolean): number[] };
}

export const MISTRAL_SPECIAL_TOKENS: readonly string[] = ['<s>', '</s>', '<unk>'];
const MISTRAL_SPECIAL_PATTERN = /<\/?s>|<unk>/g;

export interface MistralCounter extends TokenCounter {
  /** Tokens of one SentencePiece segment, with the dummy prefix space SentencePiece adds. */
  countSegment(text: string): number;
}

export async function createMistralCounter(): Promise<MistralCounter> {
  const mod = (await import('mistral-tokenizer-js')) as unknown as MistralTokenizerModule;
  const tokenizer = mod.default;
  const countSegment = (text: string) => (text.length === 0 ? 0 : tokenizer.encode(text, false, true).length);
  return {
    id: 'mistral',
    countSegment,
    count: countSegment,
    findSpecialTokens: (text) => (text.includes('<') ? (text.match(MISTRAL_SPECIAL_PATTERN) ?? []) : []),
  };
}
