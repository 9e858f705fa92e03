import { pieceEnds, type WhitespaceRule } from './pretokenize';

/** Emits each pre-token of `text` as a UTF-16 range, in order. */
export type PreTokenizer = (text: string, emit: (start: number, end: number) => void) => void;

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
  private ends = new Int32Array(1024);
  /** Tokens of each single-UTF-16-unit piece (0: not computed yet). */
  private readonly singleUnitCounts = new Uint8Array(0x10000);
  private readonly digitsAreTokens: boolean;
  private readonly whitespace: WhitespaceRule;
  private readonly split: PreTokenizer | undefined;

  constructor(
    /** latin1 string of the token's bytes → rank */
    private readonly ranks: RankLookup,
    private pattern: RegExp,
    private specialPattern: RegExp,
    maxCacheEntries = 65_536,
    /**
     * Pre-tokenizer: a WhitespaceRule selects the hand-written Llama 3 / cl100k scanner with that
     * `\s` (must match `pattern`); a function is a model's own splitter (o200k passes its regex scan).
     */
    preTokenizer: WhitespaceRule | PreTokenizer = 'javascript',
  ) {
    this.pieceCounts = new PieceCountCache(maxCacheEntries);
    this.whitespace = typeof preTokenizer === 'function' ? 'javascript' : preTokenizer;
    this.split = typeof preTokenizer === 'function' ? preTokenizer : undefined;
    if (!pattern.global || !specialPattern.global) throw new Error('ByteLevelBpe patterns must be global');
    // Own copies: lastIndex is state, and two counters may share a pattern constant.
    this.pattern = new RegExp(pattern.source, pattern.flags);
    this.specialPattern = new RegExp(specialPattern.source, specialPattern.flags);
    let digits = true;
    for (let i = 0; i < 1000 && digits; i++) {
      digits = ranks.has(String(i)) && (i >= 100 || ranks.has(String(i).padStart(3, '0')));
      if (i < 10) digits &&= ranks.has(String(i).padStart(2, '0'));
    }
    this.digitsAreTokens = digits;
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
    const split = this.split;
    if (split !== undefined) {
      let total = 0;
      split(text, (start, end) => {
        let n = cache.get(text, start, end);
        if (n < 0) {
          n = this.countPiece(text.slice(start, end));
          cache.set(text, start, end, n);
        }
        total += n;
      });
      return total;
    }
    if (this.ends.length < text.length) this.ends = new Int32Array(Math.max(text.length, this.ends.length * 2));
    const ends = this.ends;
    const pieces = pieceEnds(text, ends, this.whitespace);
    const single = this.singleUnitCounts;
    let total = 0;
    let start = 0;
    for (let k = 0; k < pieces; k++) {
      const end = ends[k] as number;
      const length = end - start;
      const first = text.charCodeAt(start);
      let n: number;
      if (length === 1) {
        // One UTF-16 unit: a per-character table instead of hashing.
        n = single[first] as number;
        if (n === 0) {
          n = this.countPiece(text[start] as string);
          single[first] = n;
        }
      } else if (length <= 3 && this.digitsAreTokens && isAsciiDigits(text, start, end)) {
        n = 1; // every 1–3 digit ASCII number is a token (checked at construction)
      } else {
        n = cache.get(text, start, end);
        if (n < 0) {
          n = this.countPiece(text.slice(start, end));
          cache.set(text, start, end, n);
        }
      }
      total += n;
      start = end;
    }
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

function isAsciiDigits(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
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
 * The same pattern with Unicode's White_Space for `\s` (tiktoken's Rust regex): U+0085 is
 * whitespace, U+FEFF is not.
 */
export const TIKTOKEN_STYLE_PATTERN_UNICODE_SPACE = new RegExp(
  TIKTOKEN_STYLE_PATTERN.source.replaceAll('\\s', '\\p{White_Space}').replaceAll('\\S', '\\P{White_Space}'),
  'gu',
);

/**
 * Token counts of pieces, looked up by a text range without slicing it: open addressing on an
 * FNV-1a hash of the UTF-16 units; keys are copied into one flat arena of UTF-16 units (no string
 * per entry). Cleared when the entries or the arena are full, so memory is bounded; pieces longer
 * than `maxKeyUnits` are not cached (rare, and they would fill the arena).
 */
export class PieceCountCache {
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly hashes: Int32Array;
  private readonly starts: Int32Array;
  private readonly lengths: Int32Array;
  private readonly counts: Int32Array;
  private readonly arena: Uint16Array;
  private entries = 0;
  private used = 0;

  constructor(
    private readonly maxEntries: number,
    readonly maxKeyUnits = 128,
    arenaUnits = maxEntries * 16,
  ) {
    let size = 1;
    while (size < maxEntries * 2) size <<= 1;
    this.slots = new Int32Array(size).fill(-1);
    this.mask = size - 1;
    this.hashes = new Int32Array(maxEntries);
    this.starts = new Int32Array(maxEntries);
    this.lengths = new Int32Array(maxEntries);
    this.counts = new Int32Array(maxEntries);
    this.arena = new Uint16Array(Math.max(arenaUnits, maxKeyUnits));
  }

  private hash(text: string, start: number, end: number): number {
    let h = 0x811c9dc5;
    for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    return h | 0;
  }

  /** The cached count, or -1. */
  get(text: string, start: number, end: number): number {
    const len = end - start;
    if (len > this.maxKeyUnits) return -1;
    const h = this.hash(text, start, end);
    const arena = this.arena;
    for (let slot = h & this.mask; ; slot = (slot + 1) & this.mask) {
      const index = this.slots[slot] as number;
      if (index < 0) return -1;
      if (this.hashes[index] !== h || this.lengths[index] !== len) continue;
      const at = this.starts[index] as number;
      let same = true;
      for (let i = 0; i < len; i++) {
        if (arena[at + i] !== text.charCodeAt(start + i)) {
          same = false;
          break;
        }
      }
      if (same) return this.counts[index] as number;
    }
  }

  set(text: string, start: number, end: number, count: number): void {
    const len = end - start;
    if (len > this.maxKeyUnits) return;
    if (this.entries >= this.maxEntries || this.used + len > this.arena.length) {
      this.slots.fill(-1);
      this.entries = 0;
      this.used = 0;
    }
    const h = this.hash(text, start, end);
    let slot = h & this.mask;
    while ((this.slots[slot] as number) >= 0) slot = (slot + 1) & this.mask;
    const index = this.entries++;
    this.slots[slot] = index;
    this.hashes[index] = h;
    this.starts[index] = this.used;
    this.lengths[index] = len;
    this.counts[index] = count;
    const arena = this.arena;
    for (let i = 0; i < len; i++) arena[this.used + i] = text.charCodeAt(start + i);
    this.used += len;
  }
}
