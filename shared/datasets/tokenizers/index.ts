import type { TokenizerId } from '../../catalog';
import { createCl100kCounter, loadCl100kRanks } from './cl100k';
import { createLlama2Counter } from './llama2';
import { createLlama3Counter, loadLlama3Ranks } from './llama3';
import { createMistralCounter } from './mistral';
import { createO200kCounter, loadO200kRanks } from './o200k';
import { RankTable, type RankTableData } from './ranks';
import type { TokenCounter } from './types';

export { DBRX_SPECIAL_TOKENS } from './cl100k';
export { LLAMA3_SPECIAL_TOKENS } from './llama3';
export { O200K_SPECIAL_TOKENS } from './o200k';
export type { RankTableData } from './ranks';
export type { TokenCounter } from './types';

/** Tokenizers we count exactly ('llama2' serves retired models only). */
export const COUNTED_TOKENIZERS: readonly TokenizerId[] = ['llama3', 'mistral', 'cl100k', 'llama2', 'o200k'];

const tables = new Map<TokenizerId, RankTable>();

/** The shared rank table of a byte-level tokenizer (llama3, cl100k), loaded once per process. */
export function loadRankTable(id: TokenizerId): RankTable | undefined {
  if (id !== 'llama3' && id !== 'cl100k' && id !== 'o200k') return undefined;
  let table = tables.get(id);
  if (!table) {
    table = id === 'llama3' ? loadLlama3Ranks() : id === 'o200k' ? loadO200kRanks() : loadCl100kRanks();
    tables.set(id, table);
  }
  return table;
}

const loaded = new Map<TokenizerId, Promise<TokenCounter>>();

/**
 * The model family's token counter, loaded once per process. A worker
 * thread passes the rank table it was given (`shared`) instead of loading its own.
 */
export function loadTokenCounter(id: TokenizerId, shared?: RankTableData): Promise<TokenCounter> | undefined {
  if (!COUNTED_TOKENIZERS.includes(id)) return undefined;
  let counter = loaded.get(id);
  if (!counter) {
    if (id === 'mistral') counter = createMistralCounter();
    else if (id === 'llama2') counter = createLlama2Counter();
    else {
      const table = shared ? RankTable.fromShared(shared) : (loadRankTable(id) as RankTable);
      counter = Promise.resolve(
        id === 'llama3'
          ? createLlama3Counter(table)
          : id === 'o200k'
            ? createO200kCounter(table)
            : createCl100kCounter(table),
      );
    }
    loaded.set(id, counter);
  }
  return counter;
}
