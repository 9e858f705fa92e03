import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { TokenizerId } from '../catalog';
import { type BatchResult, processBatch, type RowRules, type SpecialTokenFinder } from './rows';
import { createExampleCounter, type ExampleCounter, type TemplateSpec } from './templates';
import { loadTokenCounter } from './tokenizers';

/** Everything a batch processor needs; plain data (it is a worker's workerData). */
export interface EngineConfig {
  rules: RowRules;
  tokenizer?: TokenizerId;
  template?: TemplateSpec;
}

export interface BatchEngine {
  process(batch: Uint8Array, firstLine: number): Promise<BatchResult>;
  /** How many batches may be in flight before the reader should wait. */
  readonly parallelism: number;
  close(): Promise<void>;
}

export async function loadCounters(
  config: EngineConfig,
): Promise<{ counter?: ExampleCounter; specials?: SpecialTokenFinder }> {
  if (!config.tokenizer || !config.template) return {};
  const tokens = await loadTokenCounter(config.tokenizer);
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

/** The compiled worker script; absent when running from TypeScript sources (tests, tsx). */
export function workerScript(): string | undefined {
  const script = join(__dirname, 'worker.js');
  return __filename.endsWith('.js') && existsSync(script) ? script : undefined;
}

interface Pending {
  resolve(result: BatchResult): void;
  reject(err: Error): void;
}

/** Runs batches on worker threads, each with its own tokenizer. */
export async function createWorkerEngine(
  config: EngineConfig,
  workers: number,
  script: string,
  execArgv?: string[],
): Promise<BatchEngine> {
  const pool = Array.from({ length: workers }, () => {
    const worker = new Worker(script, { workerData: config, ...(execArgv ? { execArgv } : {}) });
    const pending = new Map<number, Pending>();
    const failAll = (err: Error) => {
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    };
    worker.on('message', (msg: { id: number; result?: BatchResult; error?: string }) => {
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      if (msg.result) p.resolve(msg.result);
      else p.reject(new Error(msg.error ?? 'worker failed'));
    });
    worker.on('error', failAll);
    worker.on('exit', (code) => {
      if (pending.size > 0) failAll(new Error(`validation worker exited with code ${code}`));
    });
    return { worker, pending };
  });
  let nextId = 0;
  return {
    parallelism: workers * 2,
    process(batch, firstLine) {
      const target = pool.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
      const id = nextId++;
      return new Promise<BatchResult>((resolve, reject) => {
        target.pending.set(id, { resolve, reject });
        target.worker.postMessage({ id, batch, firstLine });
      });
    },
    async close() {
      await Promise.all(pool.map((p) => p.worker.terminate()));
    },
  };
}
