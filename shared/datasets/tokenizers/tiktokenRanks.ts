import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { packedArrays, RankTable } from './ranks';

const encoderFileSchema = z.object({ bpe_ranks: z.string(), pat_str: z.string() });

/**
 * The ranks of one of the `tiktoken` package's encoder files (`tiktoken/encoders/<name>.json`), whose
 * `bpe_ranks` is "! 0 <base64 token> <base64 token> …" with consecutive ranks from 0.
 */
export function loadTiktokenRanks(encoding: 'cl100k_base' | 'o200k_base'): RankTable {
  const file = encoderFileSchema.parse(
    JSON.parse(readFileSync(require.resolve(`tiktoken/encoders/${encoding}.json`), 'utf8')),
  );
  const ranks = file.bpe_ranks;
  if (!ranks.startsWith('! 0 ')) throw new Error(`unexpected ${encoding}.json rank format`);
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
  if (rank !== count) throw new Error(`${encoding}.json: ${rank} ranks, expected ${count}`);
  return RankTable.fromPacked(bytes, offsets);
}
