import { isProviderError, type ProviderError } from './provider';

export interface RetryPolicy {
  /** Total tries including the first. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 30_000 };

export interface RetryHooks {
  /** false: one try only (a streamed body, or a create that must look before trying again). Default true. */
  retry?: boolean;
  /** What an attempt threw, as the error that is judged and rethrown (e.g. an SDK error as a ProviderError, secrets redacted). */
  normalize?(thrown: unknown): unknown;
  /** Called before waiting `delayMs` for try `attempt + 1`. */
  onRetry?(error: ProviderError, attempt: number, delayMs: number): void;
  /** Called with the error that is about to be thrown, and the try it ended. */
  onGiveUp?(error: unknown, attempt: number): void;
}

/**
 * The retry budget of a training provider adapter (Databricks, Azure OpenAI): at most
 * `maxAttempts` tries in all; only a retryable ProviderError (429, 5xx, transport failure, timeout)
 * gets another; the wait before it is the server's Retry-After when it gave one (capped at
 * `maxDelayMs`), otherwise exponential from `baseDelayMs`, half fixed and half jitter.
 */
export class RetryBudget {
  readonly policy: RetryPolicy;

  constructor(
    policy: Partial<RetryPolicy> | undefined,
    private readonly timing: { sleep(ms: number): Promise<void>; random(): number },
  ) {
    this.policy = { ...DEFAULT_RETRY, ...policy };
  }

  /** Delay before retry number `attempt` (1-based): Retry-After when the server gave one, else exponential with jitter. */
  backoffDelay(attempt: number, retryAfterMs: number | undefined): number {
    if (retryAfterMs !== undefined) return Math.min(Math.max(0, retryAfterMs), this.policy.maxDelayMs);
    const ceiling = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (attempt - 1));
    // Half fixed, half random: spreads a thundering herd without ever retrying instantly.
    return Math.round(ceiling / 2 + (this.timing.random() * ceiling) / 2);
  }

  /** `attempt(n)` until it returns, throws what is not worth another try, or the budget is spent. */
  async run<T>(attempt: (n: number) => Promise<T>, hooks: RetryHooks = {}): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await attempt(n);
      } catch (thrown) {
        await this.retryOrThrow(hooks.normalize ? hooks.normalize(thrown) : thrown, n, hooks);
      }
    }
  }

  /**
   * After try `attempt` failed with `error`: throws `error` when it is not worth another try or the
   * budget is spent; otherwise waits the backoff, and the caller tries again. For loops that do more
   * than repeat one call (a create looks for what a lost response may have created first).
   */
  async retryOrThrow(error: unknown, attempt: number, hooks: Omit<RetryHooks, 'normalize'> = {}): Promise<void> {
    const maxAttempts = hooks.retry === false ? 1 : Math.max(1, this.policy.maxAttempts);
    if (!isProviderError(error) || !error.retryable || attempt >= maxAttempts) {
      hooks.onGiveUp?.(error, attempt);
      throw error;
    }
    const delayMs = this.backoffDelay(attempt, error.details.retryAfterMs);
    hooks.onRetry?.(error, attempt, delayMs);
    await this.timing.sleep(delayMs);
  }
}
