import { readFileSync } from 'node:fs';
import { ByteLevelBpe, specialTokenPattern, TIKTOKEN_STYLE_PATTERN, unicodeToByteTable } from './bpe';
import { packedArrays, RankTable } from './ranks';
import type { TokenCounter } from './types';

/**
 * Llama 3.x tokenizer (128,000 BPE ranks + 256 special tokens), built from the vocabulary that
 * `llama3-tokenizer-js` ships (Meta's tokenizer data, Llama 3 Community License). We read the
 * vocabulary out of the bundle instead of constructing that library's tokenizer: it also builds a
 * 280k-entry merges map we do not need (the ranks are the merge order).
 */
export const LLAMA3_SPECIAL_TOKENS: readonly string[] = [
  '<|begin_of_text|>',
  '<|end_of_text|>',
  '<|reserved_special_token_0|>',
  '<|reserved_special_token_1|>',
  '<|finetune_right_pad_id|>',
  '<|reserved_special_token_2|>',
  '<|start_header_id|>',
  '<|end_header_id|>',
  '<|eom_id|>',
  '<|eot_id|>',
  '<|python_tag|>',
  ...Array.from({ length: 245 }, (_, i) => `<|reserved_special_token_${i + 3}|>`),
];

export const LLAMA3_BUNDLE = 'llama3-tokenizer-js/bundle/commonjs-llama3-tokenizer-with-baked-data.cjs';

export function loadLlama3Ranks(): RankTable {
  const source = readFileSync(require.resolve(LLAMA3_BUNDLE), 'utf8');
  const match = /llama_vocab_base64\s*=\s*"([A-Za-z0-9+/=]+)"/.exec(source);
  if (!match?.[1]) throw new Error(`llama3 vocabulary not found in ${LLAMA3_BUNDLE}`);
  // Tokens separated by \n, each char standing for one byte (GPT-2's byte-to-unicode table).
  const vocab = Buffer.from(match[1], 'base64').toString('utf8');
  const toByte = new Int16Array(0x200).fill(-1);
  for (const [ch, b] of unicodeToByteTable()) toByte[ch.charCodeAt(0)] = b;
  const { bytes, offsets } = packedArrays(vocab.length, 128_000);
  let rank = 0;
  let at = 0;
  offsets[0] = 0;
  for (let i = 0; i < vocab.length; i++) {
    const code = vocab.charCodeAt(i);
    if (code === 10) {
      offsets[++rank] = at;
      continue;
    }
    const b = code < 0x200 ? (toByte[code] as number) : -1;
    if (b < 0) throw new Error(`llama3 vocabulary entry ${rank} is not byte-level`);
    bytes[at++] = b;
  }
  offsets[++rank] = at;
  if (rank !== 128_000) throw new Error(`llama3 vocabulary has ${rank} entries, expected 128000`);
  return RankTable.fromPacked(bytes, offsets);
}

export function createLlama3Counter(ranks: RankTable = loadLlama3Ranks()): TokenCounter {
  const bpe = new ByteLevelBpe(ranks, TIKTOKEN_STYLE_PATTERN, specialTokenPattern(LLAMA3_SPECIAL_TOKENS));
  return {
    id: 'llama3',
    count: (text) => bpe.count(text),
    findSpecialTokens: (text) => bpe.findSpecialTokens(text),
  };
}
