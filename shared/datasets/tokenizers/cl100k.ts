import { ByteLevelBpe, specialTokenPattern, TIKTOKEN_STYLE_PATTERN_UNICODE_SPACE } from './bpe';
import type { RankTable } from './ranks';
import { loadTiktokenRanks } from './tiktokenRanks';
import type { TokenCounter } from './types';

/** DBRX's tokenizer: cl100k_base plus its ChatML and padding tokens. */
export const DBRX_SPECIAL_TOKENS: Readonly<Record<string, number>> = {
  '<|endoftext|>': 100257,
  '<|fim_prefix|>': 100258,
  '<|fim_middle|>': 100259,
  '<|fim_suffix|>': 100260,
  '<|endofprompt|>': 100276,
  '<|pad|>': 100277,
  '<|im_start|>': 100278,
  '<|im_end|>': 100279,
};

/** The ranks from the `tiktoken` package's cl100k_base.json. */
export function loadCl100kRanks(): RankTable {
  return loadTiktokenRanks('cl100k_base');
}

export function createCl100kCounter(ranks: RankTable = loadCl100kRanks()): TokenCounter {
  // tiktoken's regex is Rust's: `\s` is Unicode White_Space.
  const bpe = new ByteLevelBpe(
    ranks,
    TIKTOKEN_STYLE_PATTERN_UNICODE_SPACE,
    specialTokenPattern(Object.keys(DBRX_SPECIAL_TOKENS)),
    65_536,
    'unicode',
  );
  return {
    id: 'cl100k',
    count: (text) => bpe.count(text),
    findSpecialTokens: (text) => bpe.findSpecialTokens(text),
  };
}
