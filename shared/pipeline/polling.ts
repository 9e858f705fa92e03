import { createHash } from 'node:crypto';

export interface PollingOptions {
  initialSeconds: number;
  maxSeconds: number;
  /** Multiplier per unchanged poll (default 2). */
  factor?: number;
  /** ± fraction of the delay (default 0.2). */
  jitter?: number;
}

/** A number in [0, 1) derived from the seed: the same inputs give the same value on every replay. */
export function deterministicUnit(seed: string): number {
  const digest = createHash('sha256').update(seed).digest();
  return digest.readUInt32BE(0) / 0x1_0000_0000;
}

/**
 * Delay before status poll number `attempt` (0-based, counted since the last status change):
 * exponential backoff with deterministic jitter, capped. Pure, so the orchestrator can call it
 * during replay.
 */
export function pollDelaySeconds(attempt: number, seed: string, options: PollingOptions): number {
  const factor = options.factor ?? 2;
  const jitter = options.jitter ?? 0.2;
  const base = Math.min(options.maxSeconds, options.initialSeconds * factor ** Math.min(attempt, 64));
  const spread = (deterministicUnit(`${seed}:${attempt}`) * 2 - 1) * jitter;
  const jittered = base * (1 + spread);
  return Math.max(1, Math.min(options.maxSeconds, Math.round(jittered)));
}

/** How many status calls a run of `durationSeconds` costs with no status change (for docs and benches). */
export function statusCallsFor(durationSeconds: number, seed: string, options: PollingOptions): number {
  let elapsed = 0;
  let calls = 0;
  while (elapsed < durationSeconds) {
    elapsed += pollDelaySeconds(calls, seed, options);
    calls++;
  }
  return calls;
}
