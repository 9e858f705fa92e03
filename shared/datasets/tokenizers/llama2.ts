import { type SentencePieceCounter, sentencePieceCounter } from './mistral';
import { LLAMA2_SOURCE, loadSentencePieceModel, SentencePieceBpe } from './sentencepiece';

/**
 * Llama 2 / Code Llama (SentencePiece BPE, 32k vocabulary): our SentencePiece engine over the
 * vocabulary and merges `llama-tokenizer-js` ships (Meta's Llama 2 tokenizer data, Llama 2
 * Community License). Only retired models use it: counts let their users compare with a
 * replacement model.
 */

const LLAMA2_SPECIAL_PATTERN = /<\/?s>|<unk>/g;

export async function createLlama2Counter(): Promise<SentencePieceCounter> {
  return sentencePieceCounter(
    'llama2',
    new SentencePieceBpe(loadSentencePieceModel(LLAMA2_SOURCE)),
    LLAMA2_SPECIAL_PATTERN,
  );
}
