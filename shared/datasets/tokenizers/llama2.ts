import { type SentencePieceCounter, sentencePieceSegments } from './mistral';

/**
 * Llama 2 / Code Llama (SentencePiece BPE, 32k vocabulary) via `llama-tokenizer-js`, an ES
 * module. Only retired models use it: counts let their users compare with a replacement model.
 */
interface LlamaTokenizerModule {
  default: { encode(prompt: string, addBos?: boolean, addPrecedingSpace?: boolean): number[] };
}

const LLAMA2_SPECIAL_PATTERN = /<\/?s>|<unk>/g;

export async function createLlama2Counter(): Promise<SentencePieceCounter> {
  const mod = (await import('llama-tokenizer-js')) as unknown as LlamaTokenizerModule;
  const tokenizer = mod.default;
  const countSegment = sentencePieceSegments(
    LLAMA2_SPECIAL_PATTERN,
    (part) => tokenizer.encode(part, false, true).length,
  );
  return {
    id: 'llama2',
    countSegment,
    count: countSegment,
    findSpecialTokens: (text) => (text.includes('<') ? (text.match(LLAMA2_SPECIAL_PATTERN) ?? []) : []),
  };
}
