import type { IssueCode } from './codes';

/** How many line numbers each code keeps for the report. */
export const FIRST_LINES = 5;

export interface IssueGroup {
  code: IssueCode;
  count: number;
  /** The first few line numbers (1-based), ascending. */
  lines: number[];
  /** The message of the first occurrence. */
  message: string;
  file?: string;
}

/** Groups issues by code: a count, the first few lines and one message — bounded memory. */
export class IssueTally {
  readonly groups = new Map<IssueCode, IssueGroup>();

  add(code: IssueCode, line: number | undefined, message: string, file?: string): void {
    const group = this.groups.get(code);
    if (!group) {
      this.groups.set(code, { code, count: 1, lines: line === undefined ? [] : [line], message, file });
      return;
    }
    group.count++;
    if (line !== undefined && group.lines.length < FIRST_LINES) group.lines.push(line);
  }

  /** Merge a later batch (its lines come after ours when batches are merged in file order). */
  merge(groups: Iterable<IssueGroup>, file?: string): void {
    for (const g of groups) {
      const mine = this.groups.get(g.code);
      if (!mine) {
        this.groups.set(g.code, { ...g, lines: g.lines.slice(0, FIRST_LINES), file: g.file ?? file });
        continue;
      }
      mine.count += g.count;
      for (const line of g.lines) if (mine.lines.length < FIRST_LINES) mine.lines.push(line);
    }
  }

  has(code: IssueCode): boolean {
    return this.groups.has(code);
  }
}

export interface HistogramState {
  buckets: Array<[number, number, number]>;
  total: number;
  min: number;
  max: number;
}

/**
 * Per-example token quantiles in bounded memory: log-spaced buckets 1% wide, each remembering the
 * smallest value it saw. Values below 100 are exact; above, a quantile is within 1% of the truth.
 */
export class TokenHistogram {
  private static readonly base = Math.log(1.01);
  private readonly counts = new Map<number, { n: number; min: number }>();
  total = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;

  add(value: number): void {
    const bucket = value <= 0 ? -1 : Math.floor(Math.log(value) / TokenHistogram.base);
    const b = this.counts.get(bucket);
    if (b) {
      b.n++;
      if (value < b.min) b.min = value;
    } else this.counts.set(bucket, { n: 1, min: value });
    this.total++;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  addAll(values: ArrayLike<number>): void {
    for (let i = 0; i < values.length; i++) this.add(values[i] as number);
  }

  /** Plain data (for a shard's result): [bucket, count, smallest value] per bucket. */
  toState(): HistogramState {
    return {
      buckets: [...this.counts].map(([bucket, b]) => [bucket, b.n, b.min] as [number, number, number]),
      total: this.total,
      // Infinity does not survive JSON.
      min: this.total > 0 ? this.min : 0,
      max: this.max,
    };
  }

  /** Adds another histogram's values: the same as having added them here. */
  mergeState(state: HistogramState): void {
    if (state.total === 0) return;
    for (const [bucket, n, min] of state.buckets) {
      const b = this.counts.get(bucket);
      if (b) {
        b.n += n;
        if (min < b.min) b.min = min;
      } else this.counts.set(bucket, { n, min });
    }
    this.total += state.total;
    if (state.min < this.min) this.min = state.min;
    if (state.max > this.max) this.max = state.max;
  }

  quantile(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (const key of [...this.counts.keys()].sort((a, b) => a - b)) {
      const b = this.counts.get(key)!;
      seen += b.n;
      if (seen >= rank) return b.min;
    }
    return this.max;
  }
}

/**
 * Remembers 53-bit row hashes in an open-addressing table that grows up to `maxEntries`; past
 * that, new rows are no longer remembered (the report says duplicate detection was partial).
 */
export class DuplicateTable {
  private table = new Float64Array(1 << 16);
  private size = 0;
  full = false;

  constructor(private readonly maxEntries = 3_000_000) {}

  /** True when the hash was seen before; otherwise remembers it. */
  seen(hash: number): boolean {
    const h = hash === 0 ? 1 : hash;
    if (this.find(h)) return true;
    if (this.size >= this.maxEntries) {
      this.full = true;
      return false;
    }
    if ((this.size + 1) * 4 > this.table.length * 3) this.grow();
    this.insert(h);
    return false;
  }

  private slot(h: number, length: number): number {
    return (h % length) | 0;
  }

  private find(h: number): boolean {
    const t = this.table;
    for (let i = this.slot(h, t.length); ; i = (i + 1) & (t.length - 1)) {
      const v = t[i];
      if (v === 0) return false;
      if (v === h) return true;
    }
  }

  private insert(h: number): void {
    const t = this.table;
    let i = this.slot(h, t.length);
    while (t[i] !== 0) i = (i + 1) & (t.length - 1);
    t[i] = h;
    this.size++;
  }

  private grow(): void {
    const old = this.table;
    this.table = new Float64Array(old.length * 2);
    this.size = 0;
    for (const v of old) if (v !== 0) this.insert(v);
  }
}
