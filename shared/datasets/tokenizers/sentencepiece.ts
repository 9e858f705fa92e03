import { readFileSync } from 'node:fs';
import { PieceCountCache } from './bpe';

/**
 * SentencePiece BPE (Mistral/Mixtral, Llama 2) counted by our own engine from the vocabulary and
 * merges that `mistral-tokenizer-js` / `llama-tokenizer-js` ship, with the same results as their
 * `encode(text, false, true)`:
 *
 * - the text gets the dummy prefix space, every ' ' becomes '▁' (so a literal '▁' is a space too);
 * - each code point that is a vocabulary token is one symbol; any other code point falls back to
 *   its UTF-8 bytes (`<0x..>` tokens; a lone surrogate encodes as U+FFFD, three bytes);
 * - adjacent symbols merge lowest merge rank first, equal ranks left to right. (The packages order
 *   their queue by `rank + position / text.length`; for two merges that compete for a symbol the
 *   position term differs by less than the gap between two ranks, so that is the same order.)
 *
 * What makes it fast is where merges cannot reach: no merge involves a byte token, and no token has
 * '▁' after another character (checked when the vocabulary loads). So the symbols split into words
 * — a '▁' run plus what follows up to the next '▁' run or byte-fallback character — whose counts
 * are independent and cached, like the byte-level engine's pieces.
 */
export interface SentencePieceModel {
  /** Token id of each single-code-point token, by BMP code unit (-1: not a token). */
  readonly bmp: Int32Array;
  /** Same, for code points above U+FFFF. */
  readonly astral: ReadonlyMap<number, number>;
  readonly spaceId: number;
  /**
   * Per single-code-point token: bit 1 when no merge's left side ends with it, bit 2 when no
   * merge's right side starts with it. Either way no token can span that side of it.
   */
  readonly edges: Uint8Array;
  readonly vocabSize: number;
  readonly mergeCount: number;
  /** Open-addressing table of merges: key = left * vocabSize + right. */
  readonly pairKeys: Int32Array;
  readonly pairRanks: Int32Array;
  readonly pairResults: Int32Array;
}

export interface SentencePieceSource {
  /** The package's module file (ES module source with the base64 data inline). */
  module: string;
  vocabVariable: string;
  mergesVariable: string;
}

export const MISTRAL_SOURCE: SentencePieceSource = {
  module: 'mistral-tokenizer-js/mistral-tokenizer.js',
  vocabVariable: 'vocab_base64',
  mergesVariable: 'merges_binary',
};

export const LLAMA2_SOURCE: SentencePieceSource = {
  module: 'llama-tokenizer-js/llama-tokenizer.js',
  vocabVariable: 'llama_vocab_base64',
  mergesVariable: 'llama_merges_binary',
};

function inlineString(source: string, variable: string, file: string): string {
  const match = new RegExp(`\\bconst ${variable}\\s*=\\s*"([A-Za-z0-9+/=]+)"`).exec(source);
  if (!match?.[1]) throw new Error(`${variable} not found in ${file}`);
  return match[1];
}

/**
 * Reads the vocabulary (base64 of '\n'-separated UTF-8 token strings, id = line number) and the
 * merges (base64 of little-endian uint16 pairs of token ids, in priority order) out of the
 * package's source, without running it (it would build string-keyed maps we do not need).
 */
export function loadSentencePieceModel(source: SentencePieceSource): SentencePieceModel {
  const file = require.resolve(source.module);
  const text = readFileSync(file, 'utf8');
  const vocab = Buffer.from(inlineString(text, source.vocabVariable, file), 'base64')
    .toString('utf8')
    .split('\n');
  const mergeBytes = Buffer.from(inlineString(text, source.mergesVariable, file), 'base64');
  return buildSentencePieceModel(vocab, mergeBytes);
}

export function buildSentencePieceModel(vocab: readonly string[], mergeBytes: Uint8Array): SentencePieceModel {
  const vocabSize = vocab.length;
  // The packages' Map semantics: a later duplicate string wins.
  const byString = new Map<string, number>();
  vocab.forEach((token, id) => {
    byString.set(token, id);
  });
  const spaceId = byString.get('▁');
  if (spaceId === undefined) throw new Error('SentencePiece vocabulary has no "▁" token');
  for (const token of vocab) {
    if (/[^▁]▁/u.test(token) || token.includes(' ')) {
      throw new Error(
        `SentencePiece token ${JSON.stringify(token)} has "▁" after another character: words would not be independent`,
      );
    }
  }
  const bmp = new Int32Array(0x10000).fill(-1);
  const astral = new Map<number, number>();
  for (const [token, id] of byString) {
    const cp = token.codePointAt(0);
    if (cp === undefined || token.length !== (cp > 0xffff ? 2 : 1)) continue;
    if (cp > 0xffff) astral.set(cp, id);
    else bmp[cp] = id;
  }
  bmp[0x20] = spaceId;
  const edges = new Uint8Array(vocabSize).fill(NO_MERGE_AFTER | NO_MERGE_BEFORE);

  const pairs = Math.floor(mergeBytes.length / 4);
  let size = 1;
  while (size < pairs * 2) size <<= 1;
  const pairKeys = new Int32Array(size).fill(-1);
  const pairRanks = new Int32Array(size);
  const pairResults = new Int32Array(size);
  const model: SentencePieceModel = {
    bmp,
    astral,
    spaceId,
    edges,
    vocabSize,
    mergeCount: pairs,
    pairKeys,
    pairRanks,
    pairResults,
  };
  const isByteToken = (id: number) => /^<0x[0-9A-F]{2}>$/.test(vocab[id] ?? '');
  for (let rank = 0; rank < pairs; rank++) {
    const left = (mergeBytes[rank * 4] as number) | ((mergeBytes[rank * 4 + 1] as number) << 8);
    const right = (mergeBytes[rank * 4 + 2] as number) | ((mergeBytes[rank * 4 + 3] as number) << 8);
    if (left >= vocabSize || right >= vocabSize) throw new Error(`merge ${rank} refers to an unknown token`);
    if (isByteToken(left) || isByteToken(right)) {
      throw new Error(`merge ${rank} involves a byte token: byte fallback would not split words`);
    }
    const leftText = vocab[left] as string;
    const rightText = vocab[right] as string;
    const result = byString.get(leftText + rightText);
    if (result === undefined) throw new Error(`merge ${rank} produces a string that is not a token`);
    const lastHigh = leftText.charCodeAt(leftText.length - 2);
    const lastChar =
      lastHigh >= 0xd800 && lastHigh <= 0xdbff ? byString.get(leftText.slice(-2)) : byString.get(leftText.slice(-1));
    const firstChar = byString.get(String.fromCodePoint(rightText.codePointAt(0) as number));
    if (lastChar !== undefined) edges[lastChar] = (edges[lastChar] as number) & ~NO_MERGE_AFTER;
    if (firstChar !== undefined) edges[firstChar] = (edges[firstChar] as number) & ~NO_MERGE_BEFORE;
    // A later duplicate pair overwrites the earlier one, as the packages' Map.set does.
    const key = left * vocabSize + right;
    let slot = pairSlot(key, size - 1);
    while ((pairKeys[slot] as number) !== -1 && pairKeys[slot] !== key) slot = (slot + 1) & (size - 1);
    pairKeys[slot] = key;
    pairRanks[slot] = rank;
    pairResults[slot] = result;
  }
  return model;
}

const NO_MERGE_AFTER = 1;
const NO_MERGE_BEFORE = 2;

function pairSlot(key: number, mask: number): number {
  return (Math.imul(key, 0x9e3779b1) >>> 15) & mask;
}

/** The slot of the merge of `left` then `right`, or -1. */
function findPair(model: SentencePieceModel, left: number, right: number): number {
  const key = left * model.vocabSize + right;
  const keys = model.pairKeys;
  const mask = keys.length - 1;
  for (let slot = pairSlot(key, mask); ; slot = (slot + 1) & mask) {
    const k = keys[slot] as number;
    if (k === key) return slot;
    if (k === -1) return -1;
  }
}

function utf8Length(cp: number): number {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/** Words up to this many symbols merge by rescanning; longer ones use a heap. */
const SHORT_WORD = 48;

export class SentencePieceBpe {
  private readonly cache: PieceCountCache;
  private ids = new Int32Array(256);

  constructor(
    readonly model: SentencePieceModel,
    maxCacheEntries = 65_536,
  ) {
    this.cache = new PieceCountCache(maxCacheEntries, 256);
  }

  /** Tokens of `encode(text, false, true)`: the segment with its dummy prefix space. */
  count(text: string): number {
    if (text.length === 0) return 0;
    return this.countSymbols(` ${text}`);
  }

  /**
   * `[count(head), count(head + tail)]` in one scan. Word boundaries depend only on the two symbols
   * beside them, so the words of `head` alone are the words of `head + tail` up to the joint, the
   * word open there cut short. (A chat template counts a turn's prompt alone and with its answer.)
   */
  countHeadAndWhole(head: string, tail: string): [number, number] {
    const split = head.length + 1;
    const lastUnit = head.charCodeAt(head.length - 1);
    // A high surrogate at the joint pairs with the tail: head alone would end in a lone surrogate.
    if (head.length === 0 || tail.length === 0 || (lastUnit >= 0xd800 && lastUnit <= 0xdbff)) {
      return [this.count(head), this.count(head + tail)];
    }
    const whole = this.countSymbols(` ${head}${tail}`, split);
    return [this.countedToSplit, whole];
  }

  /** What `countSymbols(s, split)` counted in `s.slice(0, split)` alone. */
  private countedToSplit = 0;

  /** Tokens of `s` as is (no dummy prefix), spaces as '▁'; with `split`, also of `s.slice(0, split)`. */
  countSymbols(s: string, split = -1): number {
    const { bmp, astral, spaceId, edges } = this.model;
    const n = s.length;
    let total = 0;
    let wordStart = -1;
    let wordSymbols = 0;
    // The previous symbol's token id, or -1 after a byte-fallback character.
    let previous = -1;
    let i = 0;
    while (i < n) {
      if (i === split) {
        this.countedToSplit = wordStart >= 0 ? total + this.countWord(s, wordStart, i, wordSymbols) : total;
      }
      const cu = s.charCodeAt(i);
      let id: number;
      let width = 1;
      let cp = cu;
      if (cu >= 0xd800 && cu <= 0xdbff && i + 1 < n) {
        const lo = s.charCodeAt(i + 1);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          cp = ((cu - 0xd800) << 10) + (lo - 0xdc00) + 0x10000;
          width = 2;
          id = astral.get(cp) ?? -1;
        } else id = bmp[cu] as number;
      } else id = bmp[cu] as number;
      if (id < 0) {
        // Byte fallback: never merged, so it ends the word.
        if (wordStart >= 0) total += this.countWord(s, wordStart, i, wordSymbols);
        wordStart = -1;
        wordSymbols = 0;
        total += utf8Length(cp);
      } else if (
        previous < 0 ||
        ((edges[previous] as number) & NO_MERGE_AFTER) !== 0 ||
        ((edges[id] as number) & NO_MERGE_BEFORE) !== 0 ||
        (id === spaceId && previous !== spaceId)
      ) {
        // No token spans the boundary before this symbol: a new word starts.
        if (wordStart >= 0) total += this.countWord(s, wordStart, i, wordSymbols);
        wordStart = i;
        wordSymbols = 1;
      } else wordSymbols++;
      previous = id;
      i += width;
    }
    if (wordStart >= 0) total += this.countWord(s, wordStart, n, wordSymbols);
    return total;
  }

  private countWord(s: string, start: number, end: number, symbols: number): number {
    if (symbols === 1) return 1;
    const cached = this.cache.get(s, start, end);
    if (cached >= 0) return cached;
    const ids = this.symbolIds(s, start, end, symbols);
    const count =
      symbols <= SHORT_WORD ? mergeByRescan(this.model, ids, symbols) : mergeByHeap(this.model, ids, symbols);
    this.cache.set(s, start, end, count);
    return count;
  }

  private symbolIds(s: string, start: number, end: number, symbols: number): Int32Array {
    if (this.ids.length < symbols) this.ids = new Int32Array(Math.max(symbols, this.ids.length * 2));
    const ids = this.ids;
    const { bmp, astral } = this.model;
    let k = 0;
    for (let i = start; i < end; i++) {
      const cu = s.charCodeAt(i);
      if (cu >= 0xd800 && cu <= 0xdbff) {
        // Inside a word every code point is a token, so a high surrogate here has its low half.
        const cp = ((cu - 0xd800) << 10) + (s.charCodeAt(i + 1) - 0xdc00) + 0x10000;
        ids[k++] = astral.get(cp) as number;
        i++;
      } else ids[k++] = bmp[cu] as number;
    }
    return ids;
  }

  /** The token ids of one word (for tests: the merge result, not just its length). */
  mergeWord(symbols: readonly number[], useHeap: boolean): number[] {
    const ids = Int32Array.from(symbols);
    if (!useHeap) return Array.from(ids.subarray(0, mergeByRescan(this.model, ids, ids.length)));
    return mergeByHeapIds(this.model, ids, ids.length);
  }
}

/** Lowest rank first, leftmost on ties; `ids[0, n)` is rewritten in place. Returns the new length. */
export function mergeByRescan(model: SentencePieceModel, ids: Int32Array, n: number): number {
  const ranks = model.pairRanks;
  let len = n;
  while (len > 1) {
    let best = 0x7fffffff;
    let bestSlot = -1;
    let at = -1;
    for (let j = 0; j < len - 1; j++) {
      const slot = findPair(model, ids[j] as number, ids[j + 1] as number);
      if (slot >= 0 && (ranks[slot] as number) < best) {
        best = ranks[slot] as number;
        bestSlot = slot;
        at = j;
      }
    }
    if (at < 0) break;
    ids[at] = model.pairResults[bestSlot] as number;
    ids.copyWithin(at + 1, at + 2, len);
    len--;
  }
  return len;
}

/**
 * The same merge order through a binary heap of (rank, position) over a linked list, for long
 * words (a paragraph of CJK without spaces is one word). Returns the number of tokens.
 */
export function mergeByHeap(model: SentencePieceModel, ids: Int32Array, n: number): number {
  return runHeap(model, ids, n).count;
}

function mergeByHeapIds(model: SentencePieceModel, ids: Int32Array, n: number): number[] {
  const { next, tokens } = runHeap(model, ids, n);
  const out: number[] = [];
  for (let i = 0; i >= 0 && i < n; i = next[i] as number) out.push(tokens[i] as number);
  return out;
}

function runHeap(
  model: SentencePieceModel,
  ids: Int32Array,
  n: number,
): { count: number; next: Int32Array; tokens: Int32Array } {
  const tokens = ids.slice(0, n);
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  const alive = new Uint8Array(n).fill(1);
  for (let i = 0; i < n; i++) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  // Keys rank * 2^32 + position: exact in a double (ranks < 2^20), ordered by rank then position.
  let heap = new Float64Array(Math.max(16, n));
  let size = 0;
  const push = (key: number) => {
    if (size === heap.length) {
      const bigger = new Float64Array(heap.length * 2);
      bigger.set(heap);
      heap = bigger;
    }
    let i = size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] as number) <= key) break;
      heap[i] = heap[parent] as number;
      i = parent;
    }
    heap[i] = key;
  };
  const pop = (): number => {
    const top = heap[0] as number;
    const last = heap[--size] as number;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && (heap[child + 1] as number) < (heap[child] as number)) child++;
      if ((heap[child] as number) >= last) break;
      heap[i] = heap[child] as number;
      i = child;
    }
    heap[i] = last;
    return top;
  };
  const consider = (left: number) => {
    const right = next[left] as number;
    if (right < 0) return;
    const slot = findPair(model, tokens[left] as number, tokens[right] as number);
    if (slot >= 0) push((model.pairRanks[slot] as number) * 4294967296 + left);
  };
  for (let i = 0; i + 1 < n; i++) consider(i);
  let count = n;
  while (size > 0) {
    const key = pop();
    const left = key % 4294967296;
    const rank = (key - left) / 4294967296;
    if (!alive[left]) continue;
    const right = next[left] as number;
    if (right < 0) continue;
    // Stale when either side changed since the entry was queued: a rank names one pair.
    const slot = findPair(model, tokens[left] as number, tokens[right] as number);
    if (slot < 0 || model.pairRanks[slot] !== rank) continue;
    tokens[left] = model.pairResults[slot] as number;
    alive[right] = 0;
    const after = next[right] as number;
    next[left] = after;
    if (after >= 0) prev[after] = left;
    count--;
    if ((prev[left] as number) >= 0) consider(prev[left] as number);
    consider(left);
  }
  return { count, next, tokens };
}
