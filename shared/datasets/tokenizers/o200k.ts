import { ByteLevelBpe, specialTokenPattern } from './bpe';
import type { RankTable } from './ranks';
import { loadTiktokenRanks } from './tiktokenRanks';
import type { TokenCounter } from './types';

/** o200k_base's special tokens (tiktoken's table); the gpt-4o and gpt-4.1 families use this encoding. */
export const O200K_SPECIAL_TOKENS: Readonly<Record<string, number>> = {
  '<|endoftext|>': 199999,
  '<|endofprompt|>': 200018,
};

/**
 * o200k_base's pre-tokenizer regex in JavaScript syntax: tiktoken's `pat_str` with the inline
 * case-insensitive contraction group `(?i:'s|'t|…)` spelled out (JavaScript has no `(?i:)`), and
 * `\s` as Unicode's White_Space, which is what tiktoken's Rust regex means by it (JavaScript's `\s`
 * also takes U+FEFF and leaves out U+0085).
 */
export const O200K_PATTERN =
  /[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\p{White_Space}\p{L}\p{N}]+[\r\n/]*|\p{White_Space}*[\r\n]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

/** Emits each o200k pre-token of `text` as a UTF-16 range (regex scan; one pattern per counter). */
export function o200kSplitter(): (text: string, emit: (start: number, end: number) => void) => void {
  const pattern = new RegExp(O200K_PATTERN.source, O200K_PATTERN.flags);
  return (text, emit) => {
    pattern.lastIndex = 0;
    for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) emit(m.index, m.index + m[0].length);
  };
}

/** The ranks from the `tiktoken` package's o200k_base.json. */
export function loadO200kRanks(): RankTable {
  return loadTiktokenRanks('o200k_base');
}

export function createO200kCounter(ranks: RankTable = loadO200kRanks()): TokenCounter {
  const bpe = new ByteLevelBpe(
    ranks,
    O200K_PATTERN,
    specialTokenPattern(Object.keys(O200K_SPECIAL_TOKENS)),
    undefined,
    o200kSplitter(),
  );
  return {
    id: 'o200k',
    count: (text) => bpe.count(text),
    findSpecialTokens: (text) => bpe.findSpecialTokens(text),
  };
}
