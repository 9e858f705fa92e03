import type { TokenizerId } from '../../catalog';
import { createCl100kCounter } from './cl100k';
import { createLlama3Counter } from './llama3';
import { createMistralCounter } from './mistral';
import type { TokenCounter } from './types';

export { DBRX_SPECIAL_TOKENS } from './cl100k';
export { LLAMA3_SPECIAL_TOKENS } from './llama3';
export type { TokenCounter } from './types';

/** Tokenizers we count exactly. 'llama2' (retired models only) is not implemented. */
export const COUNTED_TOKENIZERS: readonly TokenizerId[] = ['llama3', 'mistral', 'cl100k'];

const loaded = new Map<TokenizerId, Promise<TokenCounter>>();

/** The model family's token counter, loaded once per process; undefined for 'llama2'. */
export function loadTokenCounter(id: TokenizerId): Promise<TokenCounter> | undefined {
  if (!COUNTED_TOKENIZERS.includes(id)) return undefined;
  let counter = loaded.get(id);
  if (!counter) {
    counter =
      id === 'llama3'
        ? Promise.resolve().then(createLlama3Counter)
        : id === 'cl100k'
          ? Promise.resolve().then(createCl100kCounter)
          : createMistralCounter();
    loaded.set(id, counter);
  }
  return counter;
}
