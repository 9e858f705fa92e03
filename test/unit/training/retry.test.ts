import { describe, expect, it } from 'vitest';
import { ProviderError } from '../../../shared/training/provider';
import { DEFAULT_RETRY, RetryBudget, type RetryPolicy } from '../../../shared/training/retry';

/** The one retry budget of both provider adapters, on a virtual clock: sleeping records the wait and costs nothing. */
function budget(policy: Partial<RetryPolicy> = {}, random = 0.5) {
  const slept: number[] = [];
  const retry = new RetryBudget(policy, {
    sleep: async (ms) => {
      slept.push(ms);
    },
    random: () => random,
  });
  return { retry, slept };
}

/** An attempt that fails with `errors` in turn, then returns `done`. */
function failing(errors: unknown[], done = 'done') {
  const tries: number[] = [];
  return {
    tries,
    attempt: async (n: number) => {
      tries.push(n);
      const e = errors.shift();
      if (e !== undefined) throw e;
      return done;
    },
  };
}

const unavailable = (retryAfterMs?: number) =>
  new ProviderError('unavailable', 'HTTP 503', {
    status: 503,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });

describe('RetryBudget: failure paths', () => {
  it('budget exhausted: maxAttempts tries, a wait between each, then the last error is thrown and reported once', async () => {
    const { retry, slept } = budget({ maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 10_000 });
    const errors = [unavailable(), unavailable(), new ProviderError('rate_limited', 'third', { status: 429 })];
    const last = errors[2];
    const { attempt, tries } = failing(errors);
    const gaveUp: [unknown, number][] = [];
    const retried: [string, number, number][] = [];
    await expect(
      retry.run(attempt, {
        onGiveUp: (e, n) => gaveUp.push([e, n]),
        onRetry: (e, n, d) => retried.push([e.code, n, d]),
      }),
    ).rejects.toBe(last);
    expect(tries).toEqual([1, 2, 3]);
    expect(slept).toEqual([75, 150]); // exponential from 100 ms: half fixed, half jitter (0.5)
    expect(retried).toEqual([
      ['unavailable', 1, 75],
      ['unavailable', 2, 150],
    ]);
    expect(gaveUp).toEqual([[last, 3]]);
  });

  it('Retry-After is honoured as given, capped at maxDelayMs, never negative', async () => {
    const { retry, slept } = budget({ maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 5_000 });
    const { attempt, tries } = failing([unavailable(2_500), unavailable(60_000), unavailable(-10)]);
    await expect(retry.run(attempt)).resolves.toBe('done');
    expect(tries).toEqual([1, 2, 3, 4]);
    expect(slept).toEqual([2_500, 5_000, 0]);
  });

  it('a non-retryable code ends at the first try: no wait, the error as it was thrown', async () => {
    for (const code of ['bad_request', 'unauthorized', 'not_found', 'already_finished', 'invalid_response'] as const) {
      const { retry, slept } = budget();
      const error = new ProviderError(code, code);
      const { attempt, tries } = failing([error]);
      await expect(retry.run(attempt)).rejects.toBe(error);
      expect(tries).toEqual([1]);
      expect(slept).toEqual([]);
    }
  });

  it('what is not a ProviderError is not retried (a bug is not a transient failure)', async () => {
    const { retry, slept } = budget();
    const bug = new TypeError('x is undefined');
    const { attempt, tries } = failing([bug]);
    await expect(retry.run(attempt)).rejects.toBe(bug);
    expect(tries).toEqual([1]);
    expect(slept).toEqual([]);
  });

  it('normalize decides what is judged and thrown: a raw transport error becomes a retryable ProviderError', async () => {
    const { retry, slept } = budget({ maxAttempts: 2, baseDelayMs: 100 });
    const { attempt, tries } = failing([new Error('ECONNRESET'), new Error('ECONNRESET')]);
    const thrown = await retry
      .run(attempt, { normalize: (e) => new ProviderError('unavailable', `wrapped: ${(e as Error).message}`) })
      .catch((e: unknown) => e);
    expect(thrown).toMatchObject({ code: 'unavailable', message: 'wrapped: ECONNRESET' });
    expect(tries).toEqual([1, 2]);
    expect(slept).toHaveLength(1);
  });

  it('retry: false and a budget of 0 or less both mean one try', async () => {
    for (const [policy, retryFlag] of [
      [{}, false],
      [{ maxAttempts: 0 }, true],
      [{ maxAttempts: -3 }, undefined],
    ] as const) {
      const { retry, slept } = budget(policy);
      const { attempt, tries } = failing([unavailable()]);
      await expect(retry.run(attempt, retryFlag === undefined ? {} : { retry: retryFlag })).rejects.toThrow('HTTP 503');
      expect(tries).toEqual([1]);
      expect(slept).toEqual([]);
    }
  });

  it('retryOrThrow (the create loops): throws when spent, waits otherwise', async () => {
    const { retry, slept } = budget({ maxAttempts: 2, baseDelayMs: 200 });
    await expect(retry.retryOrThrow(unavailable(), 1)).resolves.toBeUndefined();
    expect(slept).toEqual([150]);
    const spent = unavailable();
    await expect(retry.retryOrThrow(spent, 2)).rejects.toBe(spent);
    expect(slept).toEqual([150]);
  });
});

describe('RetryBudget: backoff and defaults', () => {
  it('doubles from baseDelayMs up to maxDelayMs, jitter between half and all of it', () => {
    const low = budget({ baseDelayMs: 500, maxDelayMs: 4_000 }, 0).retry;
    const high = budget({ baseDelayMs: 500, maxDelayMs: 4_000 }, 0.999999).retry;
    expect([1, 2, 3, 4, 5].map((n) => low.backoffDelay(n, undefined))).toEqual([250, 500, 1000, 2000, 2000]);
    expect([1, 2, 3, 4, 5].map((n) => high.backoffDelay(n, undefined))).toEqual([500, 1000, 2000, 4000, 4000]);
  });

  it('defaults: 5 tries from 500 ms, at most 30 s; a partial policy keeps the rest', () => {
    expect(DEFAULT_RETRY).toEqual({ maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 30_000 });
    expect(budget({ maxAttempts: 2 }).retry.policy).toEqual({ maxAttempts: 2, baseDelayMs: 500, maxDelayMs: 30_000 });
    expect(new RetryBudget(undefined, { sleep: async () => {}, random: () => 0 }).policy).toEqual(DEFAULT_RETRY);
  });

  it('succeeds after transient failures with the attempt number passed in', async () => {
    const { retry } = budget();
    const seen: number[] = [];
    const result = await retry.run(async (n) => {
      seen.push(n);
      if (n < 3) throw unavailable();
      return n * 10;
    });
    expect(result).toBe(30);
    expect(seen).toEqual([1, 2, 3]);
  });
});
