/** The plain-data form of a RankTable: SharedArrayBuffers, so worker threads share one copy. */
export interface RankTableData {
  bytes: SharedArrayBuffer;
  offsets: SharedArrayBuffer;
  slots: SharedArrayBuffer;
}

/**
 * BPE ranks keyed by token bytes (as a latin1 string), in three flat shared arrays instead of a
 * 128k-entry Map per thread: token bytes back to back, their offsets, and an open-addressing
 * hash index (FNV-1a) of rank numbers. Lookups only happen on piece-cache misses, so the
 * small extra cost of hashing here is invisible; the memory saving (~30 MB per worker) is not.
 */
export class RankTable {
  private readonly bytes: Uint8Array;
  private readonly offsets: Int32Array;
  private readonly slots: Int32Array;
  private readonly mask: number;

  private constructor(readonly data: RankTableData) {
    this.bytes = new Uint8Array(data.bytes);
    this.offsets = new Int32Array(data.offsets);
    this.slots = new Int32Array(data.slots);
    this.mask = this.slots.length - 1;
  }

  static fromShared(data: RankTableData): RankTable {
    return new RankTable(data);
  }

  /**
   * From packed token bytes: token `rank` is `bytes[offsets[rank] .. offsets[rank + 1])`. Both
   * arrays must be backed by SharedArrayBuffers (see `packedArrays`).
   */
  static fromPacked(bytes: Uint8Array, offsets: Int32Array): RankTable {
    const count = offsets.length - 1;
    let size = 1;
    while (size < count * 2) size <<= 1;
    const slots = new Int32Array(new SharedArrayBuffer(size * 4)).fill(-1);
    const table = new RankTable({
      bytes: bytes.buffer as SharedArrayBuffer,
      offsets: offsets.buffer as SharedArrayBuffer,
      slots: slots.buffer as SharedArrayBuffer,
    });
    const mask = size - 1;
    for (let rank = 0; rank < count; rank++) {
      let h = 0x811c9dc5;
      for (let i = offsets[rank] as number; i < (offsets[rank + 1] as number); i++) {
        h = Math.imul(h ^ (bytes[i] as number), 0x01000193);
      }
      let slot = (h >>> 0) & mask;
      while ((slots[slot] as number) >= 0) slot = (slot + 1) & mask;
      slots[slot] = rank;
    }
    return table;
  }

  get size(): number {
    return this.offsets.length - 1;
  }

  /** The rank of the token whose bytes are the latin1 string `key`. */
  get(key: string): number | undefined {
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    for (let slot = (h >>> 0) & this.mask; ; slot = (slot + 1) & this.mask) {
      const rank = this.slots[slot] as number;
      if (rank < 0) return undefined;
      const start = this.offsets[rank] as number;
      if ((this.offsets[rank + 1] as number) - start !== key.length) continue;
      let same = true;
      for (let i = 0; i < key.length; i++) {
        if (this.bytes[start + i] !== key.charCodeAt(i)) {
          same = false;
          break;
        }
      }
      if (same) return rank;
    }
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** The bytes of each rank, in rank order. */
  *tokens(): Generator<[Uint8Array, number]> {
    for (let rank = 0; rank < this.size; rank++) {
      yield [this.bytes.subarray(this.offsets[rank] as number, this.offsets[rank + 1] as number), rank];
    }
  }
}

/** Shared arrays for packing `count` tokens of at most `maxBytes` bytes in total. */
export function packedArrays(maxBytes: number, count: number): { bytes: Uint8Array; offsets: Int32Array } {
  return {
    bytes: new Uint8Array(new SharedArrayBuffer(maxBytes)),
    offsets: new Int32Array(new SharedArrayBuffer((count + 1) * 4)),
  };
}
