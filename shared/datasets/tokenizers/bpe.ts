import { forEachPiece } from './pretokenize';

/** What the BPE needs of its ranks: a Map or a (shared) RankTable. */
export interface RankLookup {
  get(bytes: string): number | undefined;
  has(bytes: string): boolean;
}

/**
 * A byte-level BPE counter for tiktoken-style vocabularies (Llama 3, cl100k_base): the text is
 * split on special tokens, pre-tokenized with the model's regex, and each piece is looked up in
 * the ranks (a whole-piece hit is one token) or merged by lowest rank. Counts of pieces are
 * cached: natural text repeats its words, so almost every piece is a cache hit and the cost is
 * the regex scan. The merge loop is tiktoken's algorithm (lowest-rank adjacent pair first).
 */
export class ByteLevelBpe {
  private readonly pieceCounts: PieceCountCache;

  constructor(
    /** latin1 string of the token's bytes → rank */
    private readonly ranks: RankLookup,
    private pattern: RegExp,
    private specialPattern: RegExp,
    maxCacheEntries = 65_536,
    /** Pre-tokenizer; default the hand-written Llama 3 / cl100k scanner (o200k passes its own). */
    private readonly split: (text: string, emit: (start: number, end: number) => void) => void = forEachPiece,
  ) {
    this.pieceCounts = new PieceCountCache(maxCacheEntries);
    if (!pattern.global || !specialPattern.global) throw new Error('ByteLevelBpe patterns must be global');
    // Own copies: lastIndex is state, and two counters may share a pattern constant.
    this.pattern = new RegExp(pattern.source, pattern.flags);
    this.specialPattern = new RegExp(specialPattern.source, specialPattern.flags);
  }

  count(text: string): number {
    if (text.indexOf('<|') === -1) return this.countOrdinary(text);
    let total = 0;
    let last = 0;
    this.specialPattern.lastIndex = 0;
    for (let m = this.specialPattern.exec(text); m !== null; m = this.specialPattern.exec(text)) {
      if (m.index > last) total += this.countOrdinary(text.slice(last, m.index));
      total += 1;
      last = m.index + m[0].length;
    }
    if (last < text.length) total += this.countOrdinary(text.slice(last));
    return total;
  }

  findSpecialTokens(text: string): string[] {
    if (text.indexOf('<|') === -1) return [];
    return text.match(this.specialPattern) ?? [];
  }

  countOrdinary(text: string): number {
    const cache = this.pieceCounts;
    let total = 0;
    this.split(text, (start, end) => {
      let n = cache.get(text, start, end);
      if (n < 0) {
        n = this.countPiece(text.slice(start, end));
        cache.set(text, start, end, n);
      }
      total += n;
    });
    return total;
  }

  /** The same count through the regex (the reference's pre-tokenizer); for tests. */
  countOrdinaryWithRegex(text: string): number {
    let total = 0;
    for (const piece of text.match(this.pattern) ?? []) total += this.countPiece(piece);
    return total;
  }

  private countPiece(piece: string): number {
    const bytes = Buffer.from(piece, 'utf8').toString('latin1');
    if (this.ranks.has(bytes)) return 1;
    const parts: string[] = [];
    for (let i = 0; i < bytes.length; i++) parts.push(bytes[i] as string);
    while (parts.length > 1) {
      let best = Number.POSITIVE_INFINITY;
      let at = -1;
      for (let i = 0; i < parts.length - 1; i++) {
        const rank = this.ranks.get((parts[i] as string) + (parts[i + 1] as string));
        if (rank !== undefined && rank < best) {
          best = rank;
          at = i;
        }
      }
      if (at < 0) break;
      parts.splice(at, 2, (parts[at] as string) + (parts[at + 1] as string));
    }
    return parts.length;
  }
}

/** GPT-2's byte ↔ printable-unicode table, used by Hugging Face byte-level vocabularies. */
export function unicodeToByteTable(): Map<string, number> {
  const bytes: number[] = [];
  for (let b = 33; b <= 126; b++) bytes.push(b);
  for (let b = 161; b <= 172; b++) bytes.push(b);
  for (let b = 174; b <= 255; b++) bytes.push(b);
  const chars = bytes.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(256 + n);
      n++;
    }
  }
  return new Map(bytes.map((b, i) => [String.fromCharCode(chars[i] as number), b]));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function specialTokenPattern(tokens: readonly string[]): RegExp {
  return new RegExp(
    [...tokens]
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp)
      .join('|'),
    'g',
  );
}

/**
 * The Llama 3 / cl100k pre-tokenizer regex in JavaScript syntax. The upstream pattern's
 * `(?i:'s|'t|...)` group is spelled out because JavaScript has no inline case-insensitive group.
 */
export const TIKTOKEN_STYLE_PATTERN =
  /'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

/**
 * Token counts of pieces, looked up by a text range without slicing it: open addressing on an
 * FNV-1a hash of the UTF-16 units, verified unit by unit. Cleared when full (bounded memory).
 */
export class PieceCountCache {
  private readonly slots: Int32Array;
  private readonly mask: number;
  private keys: string[] = [];
  private counts: number[] = [];

  constructor(private readonly maxEntries: number) {
    let size = 1;
    while (size < maxEntries * 2) size <<= 1;
    this.slots = new Int32Array(size).fill(-1);
    this.mask = size - 1;
  }

  private hash(text: string, start: number, end: number): number {
    let h = 0x811c9dc5;
    for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    return h >>> 0;
  }

  /** The cached count, or -1. */
  get(text: string, start: number, end: number): number {
    const len = end - start;
    for (let slot = this.hash(text, start, end) & this.mask; ; slot = (slot + 1) & this.mask) {
      const index = this.slots[slot] as number;
      if (index < 0) return -1;
      const key = this.keys[index] as string;
      if (key.length !== len) continue;
      let same = true;
      for (let i = 0; i < len; i++) {
        if (key.charCodeAt(i) !== text.charCodeAt(start + i)) {
          same = false;
          break;
        }
      }
      if (same) return this.counts[index] as number;
    }
  }

  set(text: string, start: number, end: number, count: number): void {
    if (this.keys.length >= this.maxEntries) {
      this.slots.fill(-1);
      this.keys = [];
      this.counts = [];
    }
    let slot = this.hash(text, start, end) & this.mask;
    while ((this.slots[slot] as number) >= 0) slot = (slot + 1) & this.mask;
    this.slots[slot] = this.keys.length;
    // A flat copy: a slice of a long string would keep the whole message alive.
    this.keys.push(text.slice(start, end).split('').join(''));
    this.counts.push(count);
  }
}
