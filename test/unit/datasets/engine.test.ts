import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../../shared/catalog';
import { createInlineEngine, createWorkerEngine, type EngineConfig } from '../../../shared/datasets/engine';
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
