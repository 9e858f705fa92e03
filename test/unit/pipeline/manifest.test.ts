import { describe, expect, it } from 'vitest';
import { parseManifest, resolveDataPath } from '../../../shared/pipeline/manifest';

const valid = {
  model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
  task: 'chat',
  train: 'train.jsonl',
  registerTo: 'ml.nlp',
};

describe('manifest (run.json)', () => {
  it('accepts a minimal valid manifest and a BOM', () => {
    const r = parseManifest(`\uFEFF${JSON.stringify(valid)}`);
    expect(r.ok).toBe(true);
  });

  it('accepts data already in Databricks: a volume path (dbfs: or not) and a Delta table with its cluster', () => {
    expect(parseManifest(JSON.stringify({ ...valid, train: 'dbfs:/Volumes/main/ml/data/train.jsonl' })).ok).toBe(true);
    expect(parseManifest(JSON.stringify({ ...valid, train: '/Volumes/main/ml/data/train.jsonl' })).ok).toBe(true);
    expect(
      parseManifest(
        JSON.stringify({ ...valid, train: 'main.ml.chats', eval: 'main.ml.chats_eval', dataPrepClusterId: 'c-1' }),
      ).ok,
    ).toBe(true);
    // Any other absolute path still escapes the drop folder.
    expect(parseManifest(JSON.stringify({ ...valid, train: '/etc/passwd' }))).toMatchObject({
      ok: false,
      problems: [{ code: 'path_escapes_folder' }],
    });
    expect(parseManifest(JSON.stringify({ ...valid, train: '/Volumes/../etc/passwd' }))).toMatchObject({
      ok: false,
      problems: [{ code: 'path_escapes_folder' }],
    });
    expect(parseManifest(JSON.stringify({ ...valid, train: 'main.ml.chats', eval: 'eval.jsonl' }))).toMatchObject({
      ok: false,
      problems: [{ code: 'invalid_manifest', field: 'eval' }],
    });
  });

  it('rejects malformed JSON with invalid_manifest', () => {
    const r = parseManifest('{"model": ');
    expect(r).toMatchObject({ ok: false, problems: [{ code: 'invalid_manifest' }] });
  });

  it('rejects unknown keys rather than ignoring them', () => {
    const r = parseManifest(JSON.stringify({ ...valid, epochs: 3 }));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems[0]?.code).toBe('invalid_manifest');
    expect(r.problems[0]?.message).toContain('epochs');
  });

  it('rejects a bad task, duration and registerTo, naming each field', () => {
    const r = parseManifest(
      JSON.stringify({ ...valid, task: 'rlhf', trainingDuration: '3 epochs', registerTo: 'nodots' }),
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map((p) => p.field).sort()).toEqual(['registerTo', 'task', 'trainingDuration']);
  });

  it.each(['../other/train.jsonl', 'a/../../x.jsonl', '/etc/passwd', '..\\x.jsonl', 'https://evil/x.jsonl', '..'])(
    'rejects data path %s escaping the folder',
    (train) => {
      const r = parseManifest(JSON.stringify({ ...valid, train }));
      expect(r).toMatchObject({ ok: false, problems: [{ code: 'path_escapes_folder', field: 'train' }] });
    },
  );

  it('checks the eval path too, and allows sub-folders', () => {
    expect(parseManifest(JSON.stringify({ ...valid, train: 'data/train.jsonl', eval: 'data/eval.jsonl' })).ok).toBe(
      true,
    );
    expect(parseManifest(JSON.stringify({ ...valid, eval: '../eval.jsonl' }))).toMatchObject({
      ok: false,
      problems: [{ code: 'path_escapes_folder', field: 'eval' }],
    });
  });

  it('resolves data paths under the drop folder', () => {
    expect(resolveDataPath('nlp/support-bot', './data/train.jsonl')).toBe('nlp/support-bot/data/train.jsonl');
    expect(resolveDataPath('nlp/corpus', 'texts/')).toBe('nlp/corpus/texts');
  });
});
