import { describe, expect, it } from 'vitest';
import { dropDigest, runIdFor } from '../../../shared/pipeline/ids';
import { pollDelaySeconds, statusCallsFor } from '../../../shared/pipeline/polling';

const opts = { initialSeconds: 30, maxSeconds: 600 };

describe('status polling schedule', () => {
  it('backs off exponentially from ~30 s to the 600 s cap, with bounded jitter', () => {
    const delays = Array.from({ length: 10 }, (_, i) => pollDelaySeconds(i, 'run-a', opts));
    expect(delays[0]).toBeGreaterThanOrEqual(24);
    expect(delays[0]).toBeLessThanOrEqual(36);
    expect(delays[3]).toBeGreaterThanOrEqual(192);
    expect(delays[3]).toBeLessThanOrEqual(288);
    for (const d of delays.slice(6)) {
      expect(d).toBeGreaterThanOrEqual(480);
      expect(d).toBeLessThanOrEqual(600);
    }
  });

  it('is deterministic per seed (replay-safe) and differs between runs (no thundering herd)', () => {
    expect(pollDelaySeconds(2, 'run-a', opts)).toBe(pollDelaySeconds(2, 'run-a', opts));
    const a = Array.from({ length: 8 }, (_, i) => pollDelaySeconds(i, 'run-a', opts));
    const b = Array.from({ length: 8 }, (_, i) => pollDelaySeconds(i, 'run-b', opts));
    expect(a).not.toEqual(b);
  });

  it('costs a bounded number of status calls per day', () => {
    const calls = statusCallsFor(24 * 3600, 'run-a', opts);
    expect(calls).toBeGreaterThan((24 * 3600) / 600);
    expect(calls).toBeLessThan((24 * 3600) / 480 + 10);
  });
});

describe('run ids', () => {
  const url = 'https://acct.blob.core.windows.net/datasets/nlp/bot/run.json';
  it('are the same for the same drop, whatever the ETag', () => {
    const digest = dropDigest(Buffer.from('{}'), { 'train.jsonl': 'aa' });
    expect(runIdFor(url, digest)).toBe(runIdFor(url, digest));
    expect(runIdFor(url, digest)).toMatch(/^run-[0-9a-f]{32}$/);
  });
  it('do not depend on the storage port (the local Azurite gets a new one each start)', () => {
    const digest = dropDigest(Buffer.from('{}'), { 'train.jsonl': 'aa' });
    const local = (port: number) => `http://127.0.0.1:${port}/devstoreaccount1/datasets/nlp/bot/run.json`;
    expect(runIdFor(local(41001), digest)).toBe(runIdFor(local(37341), digest));
    expect(runIdFor(local(41001), digest)).not.toBe(runIdFor(local(41001).replace('127.0.0.1', '10.0.0.1'), digest));
  });
  it('differ when the data or the location differ', () => {
    const d1 = dropDigest(Buffer.from('{}'), { 'train.jsonl': 'aa' });
    const d2 = dropDigest(Buffer.from('{}'), { 'train.jsonl': 'ab' });
    expect(runIdFor(url, d1)).not.toBe(runIdFor(url, d2));
    expect(runIdFor(url, d1)).not.toBe(runIdFor(url.replace('bot', 'bot2'), d1));
  });
});
