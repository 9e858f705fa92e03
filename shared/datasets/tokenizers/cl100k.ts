import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ByteLevelBpe, specialTokenPattern, TIKTOKEN_STYLE_PATTERN_UNICODE_SPACE } from './bpe';
import { packedArrays, RankTable } from './ranks';
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

const encoderFileSchema = z.object({ bpe_ranks: z.string(), pat_str: z.string() });

/**
 * The ranks come from the `tiktoken` package's cl100k_base.json, whose `bpe_ranks` is
 * "! <first rank> <base64 token> <base64 token> …" with consecutive ranks.
 */
export function loadCl100kRanks(): RankTable {
  const file = encoderFileSchema.parse(
    JSON.parse(readFileSync(require.resolve('tiktoken/encoders/cl100k_base.json'), 'utf8')),
  );
  const ranks = file.bpe_ranks;
  if (!ranks.startsWith('! 0 ')) throw new Error('unexpected cl100k_base.json rank format');
  let count = 0;
  for (let i = ranks.indexOf(' ', 4); i !== -1; i = ranks.indexOf(' ', i + 1)) count++;
  count++;
  const { bytes, offsets } = packedArrays(ranks.length, count);
  const out = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  let rank = 0;
  let start = 4;
  while (start < ranks.length) {
    let end = ranks.indexOf(' ', start);
    if (end === -1) end = ranks.length;
    offsets[rank++] = at;
    at += out.write(ranks.slice(start, end), at, 'base64');
    start = end + 1;
  }
  offsets[rank] = at;
  if (rank !== count) throw new Error(`cl100k_base.json: ${rank} ranks, expected ${count}`);
  return RankTable.fromPacked(bytes, offsets);
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
