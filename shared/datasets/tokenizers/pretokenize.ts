/**
 * A hand-written scanner equivalent to the Llama 3 / cl100k pre-tokenizer regex
 *   '(?i:s|t|re|ve|m|ll|d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3} | ␠?[^\s\p{L}\p{N}]+[\r\n]* |
 *   \s*[\r\n]+ | \s+(?!\S) | \s+
 * with JavaScript's \s and Unicode property semantics (the reference tokenizer's). The regex is
 * the speed limit of exact counting (≈45 MB/s per core); the scanner avoids a match object per
 * piece. test/unit/datasets/pretokenize.test.ts checks it against the regex on random text.
 */

const LETTER = 1;
const NUMBER = 2;
const SPACE = 3; // \s but not \r or \n
const NEWLINE = 4; // \r or \n
const OTHER = 5;

/**
 * Which characters are whitespace (`\s`): JavaScript's (WhiteSpace + LineTerminator, with U+FEFF,
 * without U+0085) is what llama3-tokenizer-js uses; Unicode's White_Space property (with U+0085,
 * without U+FEFF) is what tiktoken's Rust regex uses for cl100k_base.
 */
export type WhitespaceRule = 'javascript' | 'unicode';

function classTable(rule: WhitespaceRule): Uint8Array {
  const table = new Uint8Array(0x10000);
  const letter = /\p{L}/u;
  const number = /\p{N}/u;
  const space = rule === 'javascript' ? /\s/u : /\p{White_Space}/u;
  for (let cp = 0; cp < 0x10000; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) {
      table[cp] = OTHER; // lone surrogate: not a letter, number or space
      continue;
    }
    const ch = String.fromCharCode(cp);
    table[cp] =
      cp === 10 || cp === 13
        ? NEWLINE
        : space.test(ch)
          ? SPACE
          : letter.test(ch)
            ? LETTER
            : number.test(ch)
              ? NUMBER
              : OTHER;
  }
  return table;
}

const classTables = new Map<WhitespaceRule, Uint8Array>();
function classesFor(rule: WhitespaceRule): Uint8Array {
  let table = classTables.get(rule);
  if (!table) {
    table = classTable(rule);
    classTables.set(rule, table);
  }
  return table;
}

const astralCache = new Map<number, number>();
function astralClass(cp: number): number {
  let c = astralCache.get(cp);
  if (c === undefined) {
    const ch = String.fromCodePoint(cp);
    c = /\p{L}/u.test(ch) ? LETTER : /\p{N}/u.test(ch) ? NUMBER : OTHER;
    astralCache.set(cp, c);
  }
  return c;
}

/**
 * Calls `emit(start, end)` for each piece of `text` in order. Offsets are UTF-16 indices.
 */
export function forEachPiece(
  text: string,
  emit: (start: number, end: number) => void,
  whitespace: WhitespaceRule = 'javascript',
): void {
  const ends = new Int32Array(text.length);
  const pieces = pieceEnds(text, ends, whitespace);
  let start = 0;
  for (let k = 0; k < pieces; k++) {
    emit(start, ends[k] as number);
    start = ends[k] as number;
  }
}

/**
 * Writes the end offset of each piece of `text` into `ends` (at least `text.length` long) and
 * returns the number of pieces; piece k is `[ends[k - 1] ?? 0, ends[k])`. No callback per piece:
 * the counting loop that reads `ends` stays monomorphic.
 */
export function pieceEnds(text: string, ends: Int32Array, whitespace: WhitespaceRule = 'javascript'): number {
  let pieces = 0;
  const bmpClass = classesFor(whitespace);
  const n = text.length;
  // Class and width (1 or 2 UTF-16 units) of the code point at i.
  let width = 1;
  const classAt = (i: number): number => {
    const cu = text.charCodeAt(i);
    if (cu >= 0xd800 && cu <= 0xdbff && i + 1 < n) {
      const lo = text.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        width = 2;
        return astralClass(((cu - 0xd800) << 10) + (lo - 0xdc00) + 0x10000);
      }
    }
    width = 1;
    return bmpClass[cu] as number;
  };
  let i = 0;
  while (i < n) {
    const c = classAt(i);
    const w = width;
    // 1. contractions
    if (text.charCodeAt(i) === 39 && i + 1 < n) {
      const a = text.charCodeAt(i + 1) | 0x20;
      if (a === 0x73 || a === 0x74 || a === 0x6d || a === 0x64) {
        ends[pieces++] = i + 2;
        i += 2;
        continue;
      }
      if (i + 2 < n) {
        const b = text.charCodeAt(i + 2) | 0x20;
        if ((a === 0x72 && b === 0x65) || (a === 0x76 && b === 0x65) || (a === 0x6c && b === 0x6c)) {
          ends[pieces++] = i + 3;
          i += 3;
          continue;
        }
      }
    }
    // 2. [^\r\n\p{L}\p{N}]?\p{L}+
    if (c === LETTER || ((c === SPACE || c === OTHER) && i + w < n && classAt(i + w) === LETTER)) {
      let j = c === LETTER ? i + w : i + w + width;
      while (j < n && classAt(j) === LETTER) j += width;
      ends[pieces++] = j;
      i = j;
      continue;
    }
    // 3. \p{N}{1,3}
    if (c === NUMBER) {
      let j = i + w;
      for (let k = 1; k < 3 && j < n && classAt(j) === NUMBER; k++) j += width;
      ends[pieces++] = j;
      i = j;
      continue;
    }
    // 4. ␠?[^\s\p{L}\p{N}]+[\r\n]*
    const spaceThenOther = text.charCodeAt(i) === 32 && i + 1 < n && classAt(i + 1) === OTHER;
    if (c === OTHER || spaceThenOther) {
      let j = spaceThenOther ? i + 1 : i;
      while (j < n && classAt(j) === OTHER) j += width;
      while (j < n) {
        const cu = text.charCodeAt(j);
        if (cu !== 10 && cu !== 13) break;
        j++;
      }
      ends[pieces++] = j;
      i = j;
      continue;
    }
    // c is whitespace. The run of whitespace [i, end) and its last \r or \n.
    let end = i;
    let lastNewline = -1;
    while (end < n) {
      const k = classAt(end);
      if (k === NEWLINE) lastNewline = end;
      else if (k !== SPACE) break;
      end += width;
    }
    // 5. \s*[\r\n]+
    if (lastNewline >= 0) {
      ends[pieces++] = lastNewline + 1;
      i = lastNewline + 1;
      continue;
    }
    // 6. \s+(?!\S)  7. \s+   (all whitespace here is BMP: one unit each)
    const stop = end === n || end - 1 === i ? end : end - 1;
    ends[pieces++] = stop;
    i = stop;
  }
  return pieces;
}
