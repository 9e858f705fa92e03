import type { TokenizerId } from '../../catalog';

/** Counts tokens exactly as a model's tokenizer would produce them. */
export interface TokenCounter {
  readonly id: TokenizerId;
  /**
   * Tokens in `text`. Special-token strings inside the text (e.g. `<|eot_id|>`) count as one
   * special token each, as Hugging Face tokenizers parse them by default.
   */
  count(text: string): number;
  /** The special-token strings found in `text` (empty when none). */
  findSpecialTokens(text: string): string[];
}
