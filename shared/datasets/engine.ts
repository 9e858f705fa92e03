import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { TokenizerId } from '../catalog';
import { type BatchResult, processBatch, type RowRules, type SpecialTokenFinder } from './rows';
import { createExampleCounter, type ExampleCounter, type TemplateSpec } from './templates';
import { loadRankTable, loadTokenCounter, type RankTableData } from './tokenizers';

/** Everything a batch processor needs; plain data (it is a worker's workerData). */
export interface EngineConfig {
  rules: RowRules;
  tokenizer?: TokenizerId;
  template?: TemplateSpec;
  /** Rank table shared with worker threads (one copy for all). */
  ranks?: RankTableData;
}

export interface BatchEngine {
  /** Validate a batch of whole lines; the engine does not keep `batch` after this call returns. */
  process(batch: Uint8Array, firstLine: number): Promise<BatchResult>;
  /** How many batches may be in flight before the reader should wait. */
  readonly parallelism: number;
  close(): Promise<void>;
}

export async function loadCounters(
  config: EngineConfig,
): Promise<{ counter?: ExampleCounter; specials?: SpecialTokenFinder }> {
  if (!config.tokenizer || !config.template) return {};
  const tokens = await loadTokenCounter(config.tokenizer, config.ranks);
  if (!tokens) return {};
  return { counter: createExampleCounter(config.template, tokens), specials: tokens };
}

/** Runs batches on the calling thread. */
export async function createInlineEngine(config: EngineConfig): Promise<BatchEngine> {
  const { counter, specials } = await loadCounters(config);
  return {
    parallelism: 1,
    process: async (batch, firstLine) => processBatch(batch, firstLine, config.rules, counter, specials),
    close: async () => {},
  };
}

/** The compiled worker script beside `moduleFile`; absent when that is a TypeScript source (tests, tsx). */
export function workerScriptFor(moduleFile: string): string | undefined {
  const script = join(dirname(moduleFile), 'worker.js');
  return moduleFile.endsWith('.js') && existsSync(script) ? script : undefined;
}

/** The compiled worker script; absent when running from TypeScript sources (tests, tsx). */
export function workerScript(): string | undefined {
  return workerScriptFor(__filename);
}

export const POOLED_BUFFER_MIN = 2 * 1024 * 1024;
export const POOLED_BUFFER_MAX = 8 * 1024 * 1024;

/**
 * Reusable ArrayBuffers for batches, transferred to a worker and back: cloning a fresh 1 MB buffer
 * per batch left each thread with external memory its GC collected too lazily (peak RSS grew by
 * ~150 MB over a 1 GB file). New buffers are at least POOLED_BUFFER_MIN; ones over
 * POOLED_BUFFER_MAX (a batch holding a huge line) are not kept; at most `keep` are kept.
 */
export class TransferBuffers {
  private readonly spare: ArrayBuffer[] = [];
  constructor(private readonly keep: number) {}

  get spareCount(): number {
    return this.spare.length;
  }

  take(size: number): ArrayBuffer {
    const i = this.spare.findIndex((b) => b.byteLength >= size);
    if (i >= 0) return this.spare.splice(i, 1)[0] as ArrayBuffer;
    return new ArrayBuffer(Math.max(size, POOLED_BUFFER_MIN));
  }

  release(buffer: ArrayBuffer | undefined): void {
    if (buffer && buffer.byteLength <= POOLED_BUFFER_MAX && this.spare.length < this.keep) this.spare.push(buffer);
  }
}

/** The index of the smallest count (the first of equals): the worker with the fewest batches in flight. */
export function leastBusy(counts: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < counts.length; i++) if ((counts[i] as number) < (counts[best] as number)) best = i;
  return best;
}

/** Main → worker: a batch of whole lines in `buffer[0, length)`. */
export interface WorkerRequest {
  id: number;
  buffer: ArrayBuffer;
  length: number;
  firstLine: number;
}

/** Worker → main: the result, and the request's buffer handed back for reuse. */
export interface WorkerReply {
  id: number;
  buffer?: ArrayBuffer;
  result?: BatchResult;
  error?: string;
}

interface Pending {
  resolve(result: BatchResult): void;
  reject(err: Error): void;
}

/**
 * A worker's young generation grows with its allocation rate, to 3 × 16 MB by default; with two
 * workers that was most of the peak RSS growth over a 1 GB file (Mistral: 189 MB at 200 MB, 242 MB
 * at 1 GB). Capped, peak RSS stays flat (169 / 187 MB) at no measurable CPU cost. Rows of any size
 * still fit: large strings live in the old generation, which is not capped.
 */
const WORKER_YOUNG_GENERATION_MB = 8;

/** A pool of worker threads; `broken` once a worker has failed or exited (it then refuses batches). */
export interface WorkerEngine extends BatchEngine {
  readonly broken: boolean;
  readonly threadIds: readonly number[];
  /** Whether idle workers keep the process alive (they do while a validation uses them). */
  ref(): void;
  unref(): void;
}

/** Runs batches on worker threads, each with its own tokenizer. */
export async function createWorkerEngine(
  config: EngineConfig,
  workers: number,
  script: string,
  execArgv?: string[],
): Promise<WorkerEngine> {
  const ranks = config.tokenizer ? loadRankTable(config.tokenizer)?.data : undefined;
  const workerData: EngineConfig = { ...config, ...(ranks ? { ranks } : {}) };
  const pool = Array.from({ length: workers }, () => {
    const worker = new Worker(script, {
      workerData,
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
      ...(execArgv ? { execArgv } : {}),
    });
    const pending = new Map<number, Pending>();
    const failAll = (err: Error) => {
      broken ??= err;
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    };
    worker.on('message', (msg: WorkerReply) => {
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      buffers.release(msg.buffer);
      if (msg.result) p.resolve(msg.result);
      else p.reject(new Error(msg.error ?? 'worker failed'));
    });
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`validation worker exited with code ${code}`)));
    return { worker, pending };
  });
  let broken: Error | undefined;
  let nextId = 0;
  const buffers = new TransferBuffers(workers * 2 + 1);
  return {
    parallelism: workers * 2,
    get broken() {
      return broken !== undefined;
    },
    threadIds: pool.map((p) => p.worker.threadId),
    ref: () => {
      for (const p of pool) p.worker.ref();
    },
    unref: () => {
      for (const p of pool) p.worker.unref();
    },
    process(batch, firstLine) {
      if (broken) return Promise.reject(broken);
      const target = pool[leastBusy(pool.map((p) => p.pending.size))] as (typeof pool)[number];
      const id = nextId++;
      const buffer = buffers.take(batch.byteLength);
      new Uint8Array(buffer).set(batch);
      return new Promise<BatchResult>((resolve, reject) => {
        target.pending.set(id, { resolve, reject });
        const request: WorkerRequest = { id, buffer, length: batch.byteLength, firstLine };
        target.worker.postMessage(request, [buffer]);
      });
    },
    async close() {
      await Promise.all(pool.map((p) => p.worker.terminate()));
    },
  };
}

/** How long an unused pool stays warm, and how many unused pools are kept. */
const WARM_POOL_IDLE_MS = 60_000;
const MAX_IDLE_POOLS = 2;
/** A validation waiting for its turn goes ahead anyway once the one scanning has had no batch in flight for this long. */
const STALLED_TURN_MS = 30_000;

interface WarmPool {
  engine: Promise<WorkerEngine>;
  /** Leases not yet closed: scanning or waiting for their turn. */
  users: number;
  /** Leases scanning now (one, or more only past a stalled one). */
  scanning: number;
  waiting: Array<() => void>;
  /** Batches in flight, and when the last one was sent or came back: a turn holder with neither is stalled. */
  inFlight: number;
  lastBatchAt: number;
  idle?: NodeJS.Timeout;
}
const warmPools = new Map<string, WarmPool>();

/**
 * Waits for the pool's turn. One scan keeps a pool's threads busy (it keeps `parallelism` batches
 * in flight), so scans with the same configuration take turns instead of interleaving: interleaved,
 * four shards on one pool took the same wall time and 15–25% more CPU, most of it ≈25 extra major
 * GCs of the main isolate per 200 MB (docs/validation.md, "The local runtime"). A scan whose turn
 * is held by one that has had no batch in flight for `stallMs` (a stalled read) goes ahead, so a
 * stalled scan delays the others by at most that long.
 */
function takeTurn(pool: WarmPool, stallMs: number): Promise<void> {
  if (pool.scanning === 0) {
    pool.scanning++;
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const admit = () => {
      clearInterval(stallCheck);
      pool.scanning++;
      resolve();
    };
    const stallCheck = setInterval(() => {
      if (pool.inFlight > 0 || Date.now() - pool.lastBatchAt < stallMs) return;
      pool.waiting.splice(pool.waiting.indexOf(admit), 1);
      pool.lastBatchAt = Date.now();
      admit();
    }, stallMs);
    pool.waiting.push(admit);
  });
}

function endTurn(pool: WarmPool): void {
  pool.scanning--;
  if (pool.scanning === 0) pool.waiting.shift()?.();
}

/**
 * A worker engine from the process's warm pools: validations with the same configuration use the
 * same threads, taking turns (see takeTurn), so concurrent shards in one process use `workers`
 * threads in all, and the next validation skips starting threads, loading the tokenizer and
 * warming the JIT (≈0.2–0.3 s of CPU per engine, most of a small shard's cost). Unused pools do not
 * keep the process alive and close after a minute.
 */
export async function acquireWorkerEngine(
  config: EngineConfig,
  workers: number,
  script: string,
  options: { idleMs?: number; stallMs?: number } = {},
): Promise<BatchEngine & { readonly threadIds: readonly number[] }> {
  const key = JSON.stringify([config, workers, script]);
  let pool = warmPools.get(key);
  if (!pool) {
    pool = {
      engine: createWorkerEngine(config, workers, script),
      users: 0,
      scanning: 0,
      waiting: [],
      inFlight: 0,
      lastBatchAt: 0,
    };
    warmPools.set(key, pool);
  }
  const mine = pool;
  mine.users++;
  clearTimeout(mine.idle);
  const discard = () => {
    if (warmPools.get(key) === mine) warmPools.delete(key);
  };
  let engine: WorkerEngine;
  try {
    engine = await mine.engine;
  } catch (err) {
    mine.users--;
    discard();
    throw err;
  }
  await takeTurn(mine, options.stallMs ?? STALLED_TURN_MS);
  if (engine.broken) {
    endTurn(mine);
    mine.users--;
    discard();
    if (mine.users === 0) await engine.close();
    return acquireWorkerEngine(config, workers, script, options);
  }
  mine.lastBatchAt = Date.now();
  engine.ref();
  let closed = false;
  return {
    parallelism: engine.parallelism,
    threadIds: engine.threadIds,
    process: (batch, firstLine) => {
      if (closed) return Promise.reject(new Error('this validation engine is closed'));
      mine.inFlight++;
      mine.lastBatchAt = Date.now();
      return engine.process(batch, firstLine).finally(() => {
        mine.inFlight--;
        mine.lastBatchAt = Date.now();
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      endTurn(mine);
      mine.users--;
      if (mine.users > 0) return;
      if (engine.broken || warmPools.get(key) !== mine) {
        discard();
        await engine.close();
        return;
      }
      engine.unref();
      mine.idle = setTimeout(() => {
        discard();
        void engine.close();
      }, options.idleMs ?? WARM_POOL_IDLE_MS).unref();
      const idle = [...warmPools.entries()].filter(([, p]) => p.users === 0);
      for (const [oldKey, old] of idle.slice(0, Math.max(0, idle.length - MAX_IDLE_POOLS))) {
        warmPools.delete(oldKey);
        clearTimeout(old.idle);
        void old.engine.then((e) => e.close());
      }
    },
  };
}

/** Closes every warm pool (tests, and a host shutting down). */
export async function closeWarmEngines(): Promise<void> {
  const pools = [...warmPools.values()];
  warmPools.clear();
  await Promise.all(
    pools.map(async (p) => {
      clearTimeout(p.idle);
      await (await p.engine.catch(() => undefined))?.close();
    }),
  );
}
