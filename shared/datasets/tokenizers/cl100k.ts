import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ByteLevelBpe, specialTokenPattern, TIKTOKEN_STYLE_PATTERN } from './bpe';
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
export function loadCl100kRanks(): Map<string, number> {
  const file = encoderFileSchema.parse(
    JSON.parse(readFileSync(require.resolve('tiktoken/encoders/cl100k_base.json'), 'utf8')),
  );
  const parts = file.bpe_ranks.split(/\s+/).filter(Boolean);
  if (parts[0] !== '!') throw new Error('unexpected cl100k_base.json rank format');
  let rank = Number(parts[1]);
  const ranks = new Map<string, number>();
  for (let i = 2; i < parts.length; i++)
    ranks.set(Buffer.from(parts[i] as string, 'base64').toString('latin1'), rank++);
  return ranks;
}

export function createCl100kCounter(): TokenCounter {
  const bpe = new ByteLevelBpe(
    loadCl100kRanks(),
    TIKTOKEN_STYLE_PATTERN,
    specialTokenPattern(Object.keys(DBRX_SPECIAL_TOKENS)),
  );
  return {
    id: 'cl100k',
    count: (text) => bpe.count(text),
    findSpecialTokens: (text) => bpe.findSpecialTokens(text),
  };
}
