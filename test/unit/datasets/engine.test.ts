import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../../shared/catalog';
import {
  acquireWorkerEngine,
  closeWarmEngines,
  createInlineEngine,
  createWorkerEngine,
  type EngineConfig,
  leastBusy,
  loadCounters,
  POOLED_BUFFER_MAX,
  POOLED_BUFFER_MIN,
  TransferBuffers,
  workerScript,
  workerScriptFor,
} from '../../../shared/datasets/engine';
import { templateFor } from '../../../shared/datasets/templates';
import { chatRow, jsonl, LLAMA } from './helpers';

const model = defaultCatalog.find(LLAMA)!;
const config: EngineConfig = {
  rules: { task: 'chat', supportsSystemRole: true, contextLength: 30 },
  tokenizer: 'llama3',
  template: templateFor(model),
};

describe('worker threads', () => {
  it('give the same batch results as the inline engine', async () => {
    const rows = [...Array.from({ length: 200 }, (_, i) => chatRow(i)), '{"x":1}', chatRow(3)];
    const batch = new Uint8Array(Buffer.from(jsonl(rows)));
    const inline = await createInlineEngine(config);
    // Workers run the TypeScript worker through tsx here; production runs the compiled worker.js.
    const pooled = await createWorkerEngine(config, 2, join(__dirname, 'support/ts-worker.cjs'));
    try {
      const [a, b, c] = await Promise.all([
        inline.process(batch, 10),
        pooled.process(batch.slice(), 10),
        pooled.process(batch.slice(), 10),
      ]);
      expect(b).toEqual(a);
      expect(c).toEqual(a);
      expect(a.validRows).toBe(201);
      expect(a.issues.map((i) => i.code).sort()).toEqual([
        'exceeds_context_length',
        'missing_messages',
        'no_trainable_tokens',
      ]);
    } finally {
      await pooled.close();
      await inline.close();
    }
  });

  it('validate a 40 MB row: the young-generation cap leaves room for rows of any size', {
    timeout: 60_000,
  }, async () => {
    const big = JSON.stringify({
      messages: [
        { role: 'user', content: 'summarize' },
        { role: 'assistant', content: 'lorem ipsum dolor '.repeat((40 * 1024 * 1024) / 18) },
      ],
    });
    const batch = new Uint8Array(Buffer.from(`${big}\n`));
    const pooled = await createWorkerEngine(
      { ...config, rules: { ...config.rules, contextLength: 100_000_000 } },
      1,
      join(__dirname, 'support/ts-worker.cjs'),
    );
    try {
      const result = await pooled.process(batch, 1);
      expect(result.validRows).toBe(1);
      expect(result.issues).toEqual([]);
    } finally {
      await pooled.close();
    }
  });
});

describe('warm worker pools', () => {
  const script = join(__dirname, 'support/ts-worker.cjs');
  const batch = () => new Uint8Array(Buffer.from(jsonl([chatRow(1), chatRow(2)])));
  afterEach(closeWarmEngines);

  it('the next validation with the same configuration reuses the threads; another configuration gets its own', async () => {
    const first = await acquireWorkerEngine(config, 2, script);
    expect((await first.process(batch(), 1)).validRows).toBe(2);
    await first.close();
    const again = await acquireWorkerEngine(config, 2, script);
    const other = await acquireWorkerEngine({ ...config, rules: { ...config.rules, contextLength: 31 } }, 2, script);
    expect(again.threadIds).toEqual(first.threadIds);
    expect(other.threadIds).not.toEqual(first.threadIds);
    expect((await again.process(batch(), 1)).validRows).toBe(2);
    await Promise.all([again.close(), other.close()]);
  });

  const settled = async <T>(p: Promise<T>, ms = 60) =>
    Promise.race([p.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), ms))]);

  it('validations with the same configuration take turns on one pool: the next starts when the one scanning closes', async () => {
    const a = await acquireWorkerEngine(config, 2, script);
    const pendingB = acquireWorkerEngine(config, 2, script);
    const pendingC = acquireWorkerEngine(config, 2, script);
    expect(a.parallelism).toBe(4);
    expect((await a.process(batch(), 1)).validRows).toBe(2);
    expect(await settled(pendingB)).toBe(false);
    await a.close();
    const b = await pendingB;
    expect(b.threadIds).toEqual(a.threadIds);
    // First come, first served: C still waits while B scans.
    expect(await settled(pendingC)).toBe(false);
    expect((await b.process(batch(), 100)).validRows).toBe(2);
    await b.close();
    const c = await pendingC;
    expect((await c.process(batch(), 1)).validRows).toBe(2);
    await c.close();
  });

  it('a scan that keeps sending batches keeps its turn; one that sent none for stallMs lets the next one in', async () => {
    const a = await acquireWorkerEngine(config, 1, script, { stallMs: 500 });
    const pendingB = acquireWorkerEngine(config, 1, script, { stallMs: 500 });
    const busyUntil = Date.now() + 1200;
    while (Date.now() < busyUntil) {
      expect((await a.process(batch(), 1)).validRows).toBe(2);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await settled(pendingB, 10)).toBe(false);
    // A stops sending batches without closing (a stalled read): B goes ahead alongside it.
    expect(await settled(pendingB, 3000)).toBe(true);
    const b = await pendingB;
    const [ra, rb] = await Promise.all([a.process(batch(), 1), b.process(batch(), 1)]);
    expect(ra.validRows + rb.validRows).toBe(4);
    // The pool stays while anyone uses it; a closes twice, which ends its turn once: C, queued
    // behind two scans, still waits for B.
    const pendingC = acquireWorkerEngine(config, 1, script, { stallMs: 10_000 });
    await new Promise((r) => setTimeout(r, 20));
    await a.close();
    await a.close();
    expect(await settled(pendingC)).toBe(false);
    await expect(a.process(batch(), 1)).rejects.toThrow('this validation engine is closed');
    expect((await b.process(batch(), 1)).validRows).toBe(2);
    await b.close();
    const c = await pendingC;
    expect(c.threadIds).toEqual(a.threadIds);
    await c.close();
  });

  it('a batch in flight longer than stallMs is not a stall', async () => {
    const slow = join(__dirname, 'support/slow-worker.cjs');
    const a = await acquireWorkerEngine(config, 1, slow, { stallMs: 200 });
    const pendingB = acquireWorkerEngine(config, 1, slow, { stallMs: 200 });
    const inFlight = a.process(batch(), 1);
    expect(await settled(pendingB, 600)).toBe(false);
    await inFlight;
    // Nothing in flight now: after stallMs B goes ahead.
    expect(await settled(pendingB, 3000)).toBe(true);
    await Promise.all([a.close(), (await pendingB).close()]);
  });

  it('a pool whose worker died refuses batches at once and is not handed out again', async () => {
    const dying = join(__dirname, 'support/exiting-worker.cjs');
    const first = await acquireWorkerEngine(config, 1, dying);
    await expect(first.process(batch(), 1)).rejects.toThrow(/exited with code 3/);
    await expect(first.process(batch(), 1)).rejects.toThrow(/exited with code 3/);
    await first.close();
    const next = await acquireWorkerEngine(config, 1, dying);
    expect(next.threadIds).not.toEqual(first.threadIds);
    await next.close();
  });

  it('a warm pool does not keep the process alive after the validation', { timeout: 60_000 }, () => {
    const child = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `const { acquireWorkerEngine } = require(${JSON.stringify(join(__dirname, '../../../shared/datasets/engine.ts'))});
         (async () => {
           const e = await acquireWorkerEngine(${JSON.stringify(config)}, 2, ${JSON.stringify(script)});
           const r = await e.process(new Uint8Array(Buffer.from(${JSON.stringify(jsonl([chatRow(1)]))})), 1);
           await e.close();
           console.log('valid', r.validRows);
         })();`,
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('valid 1');
    // Killed by the 30 s timeout it would have status null; a pool that kept the process alive waits 60 s.
    expect(child.status).toBe(0);
  });

  it('an unused pool closes after its idle time; one still in use stays, however often a user closes', async () => {
    const a = await acquireWorkerEngine(config, 1, script, { idleMs: 30 });
    const pendingB = acquireWorkerEngine(config, 1, script, { idleMs: 30 });
    await a.close();
    await a.close();
    const b = await pendingB;
    await new Promise((r) => setTimeout(r, 150));
    expect(b.threadIds).toEqual(a.threadIds);
    expect((await b.process(batch(), 1)).validRows).toBe(2);
    await b.close();
    await new Promise((r) => setTimeout(r, 150));
    const later = await acquireWorkerEngine(config, 1, script, { idleMs: 30 });
    expect(later.threadIds).not.toEqual(b.threadIds);
    await later.close();
  });

  it('keeps at most two unused pools: the least recently used one closes', async () => {
    const withContext = (contextLength: number) => ({ ...config, rules: { ...config.rules, contextLength } });
    const threads: Array<readonly number[]> = [];
    for (const n of [41, 42, 43]) {
      const e = await acquireWorkerEngine(withContext(n), 1, script);
      threads.push(e.threadIds);
      await e.close();
    }
    const third = await acquireWorkerEngine(withContext(43), 1, script);
    const second = await acquireWorkerEngine(withContext(42), 1, script);
    const first = await acquireWorkerEngine(withContext(41), 1, script);
    expect([first.threadIds, second.threadIds, third.threadIds]).toEqual([
      expect.not.arrayContaining([...threads[0]!]),
      threads[1],
      threads[2],
    ]);
    await Promise.all([first.close(), second.close(), third.close()]);
  });

  it("a worker's error reply rejects that batch only, with the worker's message; stray replies are ignored", async () => {
    const e = await acquireWorkerEngine(config, 1, join(__dirname, 'support/error-reply-worker.cjs'));
    await expect(e.process(batch(), 7)).rejects.toThrow('batch at line 7 failed');
    await expect(e.process(batch(), 8)).rejects.toThrow('batch at line 8 failed');
    await e.close();
  });

  it('a pool whose worker dies while another validation waits for it: that one gets a new pool', async () => {
    const dying = join(__dirname, 'support/exiting-worker.cjs');
    const a = await acquireWorkerEngine(config, 1, dying);
    const pendingB = acquireWorkerEngine(config, 1, dying);
    await expect(a.process(batch(), 1)).rejects.toThrow(/exited/);
    await a.close();
    const b = await pendingB;
    expect(b.threadIds).not.toEqual(a.threadIds);
    await expect(b.process(batch(), 1)).rejects.toThrow(/exited/);
    await b.close();
    const next = await acquireWorkerEngine(config, 1, dying);
    expect(next.threadIds).not.toEqual(a.threadIds);
    expect(next.threadIds).not.toEqual(b.threadIds);
    await next.close();
  });

  it('a waiter on a dead pool joins the new pool and waits its turn there', async () => {
    const dying = join(__dirname, 'support/exiting-worker.cjs');
    const a = await acquireWorkerEngine(config, 1, dying);
    const pendingB = acquireWorkerEngine(config, 1, dying);
    const pendingC = acquireWorkerEngine(config, 1, dying);
    await new Promise((r) => setTimeout(r, 20));
    await expect(a.process(batch(), 1)).rejects.toThrow(/exited/);
    await a.close();
    const b = await pendingB;
    expect(b.threadIds).not.toEqual(a.threadIds);
    // C saw the dead pool too: it must not drop B's new pool, only wait for B's turn on it.
    expect(await settled(pendingC)).toBe(false);
    await b.close();
    const c = await pendingC;
    expect(c.threadIds).toEqual(b.threadIds);
    await c.close();
  });

  it('a pool whose threads cannot start fails its validation and is not kept; closing all pools meanwhile is safe', async () => {
    const failing = acquireWorkerEngine(config, 1, 'not-a-path.js');
    const closing = closeWarmEngines();
    await expect(failing).rejects.toThrow(/worker/i);
    await expect(closing).resolves.toBeUndefined();
    await expect(acquireWorkerEngine(config, 1, 'not-a-path.js')).rejects.toThrow(/worker/i);
    const ok = await acquireWorkerEngine(config, 1, script);
    expect((await ok.process(batch(), 1)).validRows).toBe(2);
    await ok.close();
  });

  it('closeWarmEngines closes the unused pools: the next validation starts new threads', async () => {
    const first = await acquireWorkerEngine(config, 1, script);
    await first.close();
    await closeWarmEngines();
    const next = await acquireWorkerEngine(config, 1, script);
    expect(next.threadIds).not.toEqual(first.threadIds);
    await next.close();
  });

  it('evicting unused pools never touches one in use', async () => {
    const withContext = (contextLength: number) => ({ ...config, rules: { ...config.rules, contextLength } });
    const inUse = await acquireWorkerEngine(withContext(50), 1, script);
    for (const n of [51, 52, 53]) await (await acquireWorkerEngine(withContext(n), 1, script)).close();
    expect((await inUse.process(batch(), 1)).validRows).toBe(2);
    await inUse.close();
  });
});

describe('worker engine', () => {
  const batch = () => new Uint8Array(Buffer.from(jsonl([chatRow(1), chatRow(2)])));

  it('starts each thread with the young-generation cap, the shared rank table and the exec arguments', async () => {
    const engine = await createWorkerEngine(config, 2, join(__dirname, 'support/probe-worker.cjs'), ['--no-warnings']);
    try {
      expect(engine.parallelism).toBe(4);
      const probes = (await Promise.all([engine.process(batch(), 1), engine.process(batch(), 1)])) as unknown as {
        maxYoungGenerationSizeMb: number;
        execArgv: string[];
        hasRanks: boolean;
        bytes: number;
      }[];
      for (const probe of probes) {
        expect(probe.maxYoungGenerationSizeMb).toBe(8);
        expect(probe.execArgv).toEqual(['--no-warnings']);
        expect(probe.hasRanks).toBe(true);
        expect(probe.bytes).toBe(batch().byteLength);
      }
    } finally {
      await engine.close();
    }
    const untokenized = await createWorkerEngine(
      { rules: config.rules },
      1,
      join(__dirname, 'support/probe-worker.cjs'),
    );
    try {
      const probe = (await untokenized.process(batch(), 1)) as unknown as { hasRanks: boolean; execArgv: string[] };
      expect(probe.hasRanks).toBe(false);
      // Without exec arguments a thread inherits the process's.
      expect(probe.execArgv).toEqual(process.execArgv);
    } finally {
      await untokenized.close();
    }
  });

  it("a worker's uncaught error fails the engine with that error", async () => {
    const engine = await createWorkerEngine(config, 1, join(__dirname, 'support/throwing-worker.cjs'));
    await expect(engine.process(batch(), 1)).rejects.toThrow('tokenizer data is corrupt');
    expect(engine.broken).toBe(true);
    await expect(engine.process(batch(), 1)).rejects.toThrow('tokenizer data is corrupt');
    await engine.close();
  });

  it('a reply with neither result nor error rejects as "worker failed"', async () => {
    const engine = await createWorkerEngine(config, 1, join(__dirname, 'support/silent-error-worker.cjs'));
    await expect(engine.process(batch(), 1)).rejects.toThrow('worker failed');
    await engine.close();
  });

  it('after close, batches are refused: its threads are gone', async () => {
    const engine = await createWorkerEngine(config, 1, join(__dirname, 'support/ts-worker.cjs'));
    expect((await engine.process(batch(), 1)).validRows).toBe(2);
    await engine.close();
    await expect(engine.process(batch(), 1)).rejects.toThrow(/exited/);
  });
});

describe('transfer buffers', () => {
  it('hands out at least POOLED_BUFFER_MIN bytes and takes back what fits the pool', () => {
    const buffers = new TransferBuffers(2);
    expect(buffers.spareCount).toBe(0);
    const small = buffers.take(10);
    expect(small.byteLength).toBe(POOLED_BUFFER_MIN);
    const big = buffers.take(POOLED_BUFFER_MIN + 1);
    expect(big.byteLength).toBe(POOLED_BUFFER_MIN + 1);
    buffers.release(small);
    buffers.release(big);
    expect(buffers.spareCount).toBe(2);
    // The first spare that is big enough comes back, the same buffer.
    expect(buffers.take(POOLED_BUFFER_MIN + 1)).toBe(big);
    expect(buffers.take(POOLED_BUFFER_MIN)).toBe(small);
    expect(buffers.spareCount).toBe(0);
  });

  it('keeps at most `keep` buffers, none over POOLED_BUFFER_MAX, and ignores a missing one', () => {
    const buffers = new TransferBuffers(2);
    buffers.release(undefined);
    buffers.release(new ArrayBuffer(POOLED_BUFFER_MAX + 1));
    expect(buffers.spareCount).toBe(0);
    const atMax = new ArrayBuffer(POOLED_BUFFER_MAX);
    buffers.release(atMax);
    buffers.release(new ArrayBuffer(POOLED_BUFFER_MIN));
    buffers.release(new ArrayBuffer(POOLED_BUFFER_MIN));
    expect(buffers.spareCount).toBe(2);
    expect(buffers.take(POOLED_BUFFER_MAX)).toBe(atMax);
  });

  it('the sizes are 2 MiB and 8 MiB', () => {
    expect(POOLED_BUFFER_MIN).toBe(2 * 1024 * 1024);
    expect(POOLED_BUFFER_MAX).toBe(8 * 1024 * 1024);
  });
});

describe('least busy worker', () => {
  it('is the one with the fewest batches in flight, the first of equals', () => {
    expect(leastBusy([0])).toBe(0);
    expect(leastBusy([2, 1, 3])).toBe(1);
    expect(leastBusy([1, 1])).toBe(0);
    expect(leastBusy([3, 2, 2])).toBe(1);
  });
});

describe('loading counters and the worker script', () => {
  it('loadCounters gives a counter only with both a tokenizer and a template', async () => {
    expect(await loadCounters({ rules: config.rules })).toEqual({});
    expect(await loadCounters({ rules: config.rules, tokenizer: 'llama3' })).toEqual({});
    expect(await loadCounters({ rules: config.rules, template: config.template })).toEqual({});
    const both = await loadCounters(config);
    expect(both.counter).toBeDefined();
    expect(both.specials?.findSpecialTokens('a <|eot_id|> b')).toEqual(['<|eot_id|>']);
  });

  it('workerScriptFor finds the compiled worker.js beside a compiled module, never from sources', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunedrop-worker-'));
    try {
      expect(workerScriptFor(join(dir, 'engine.js'))).toBeUndefined();
      writeFileSync(join(dir, 'worker.js'), '');
      expect(workerScriptFor(join(dir, 'engine.js'))).toBe(join(dir, 'worker.js'));
      expect(workerScriptFor(join(dir, 'engine.ts'))).toBeUndefined();
      expect(workerScript()).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
