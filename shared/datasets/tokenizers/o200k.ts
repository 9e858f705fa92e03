import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ByteLevelBpe, specialTokenPattern } from './bpe';
import { packedArrays, RankTable } from './ranks';
import type { TokenCounter } from './types';

/** o200k_base's special tokens (tiktoken's table); the gpt-4o and gpt-4.1 families use this encoding. */
export const O200K_SPECIAL_TOKENS: Readonly<Record<string, number>> = {
  '<|endoftext|>': 199999,
  '<|endofprompt|>': 200018,
};

/**
 * o200k_base's pre-tokenizer regex in JavaScript syntax: tiktoken's `pat_str` with the inline
 * case-insensitive contraction group `(?i:'s|'t|…)` spelled out (JavaScript has no `(?i:)`).
 */
export const O200K_PATTERN =
  /[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

/** Emits each o200k pre-token of `text` as a UTF-16 range (regex scan; one pattern per counter). */
export function o200kSplitter(): (text: string, emit: (start: number, end: number) => void) => void {
  const pattern = new RegExp(O200K_PATTERN.source, O200K_PATTERN.flags);
  return (text, emit) => {
    pattern.lastIndex = 0;
    for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) emit(m.index, m.index + m[0].length);
  };
}

const encoderFileSchema = z.object({ bpe_ranks: z.string(), pat_str: z.string() });

/** The ranks from the `tiktoken` package's o200k_base.json ("! 0 <base64> <base64> …", consecutive ranks). */
export function loadO200kRanks(): RankTable {
  const file = encoderFileSchema.parse(
    JSON.parse(readFileSync(require.resolve('tiktoken/encoders/o200k_base.json'), 'utf8')),
  );
  const ranks = file.bpe_ranks;
  if (!ranks.startsWith('! 0 ')) throw new Error('unexpected o200k_base.json rank format');
  let count = 1;
  for (let i = ranks.indexOf(' ', 4); i !== -1; i = ranks.indexOf(' ', i + 1)) count++;
  const { bytes, offsets } = packedArrays(ranks.length, count);
  const out = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  let rank = 0;
  for (let start = 4; start < ranks.length; ) {
    let end = ranks.indexOf(' ', start);
    if (end === -1) end = ranks.length;
    offsets[rank++] = at;
    at += out.write(ranks.slice(start, end), at, 'base64');
    start = end + 1;
  }
  offsets[rank] = at;
  if (rank !== count) throw new Error(`o200k_base.json: ${rank} ranks, expected ${count}`);
  return RankTable.fromPacked(bytes, offsets);
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
