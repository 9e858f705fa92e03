/**
 * The engine's notion of "now": timers fire when clock.now() passes their FireAt, and every
 * OrchestratorStarted event is stamped with it (that is what orchestrators see as currentUtcDateTime).
 */
export interface Clock {
  now(): number;
  /** Called when the clock jumps, so the engine re-checks due timers at once. */
  onChange?(listener: () => void): () => void;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * A clock that only moves when told to. With autoAdvance the engine jumps it to the next due timer
 * whenever it has nothing else to do, so a 2-hour backoff loop runs in milliseconds.
 */
export class VirtualClock implements Clock {
  private current: number;
  private readonly listeners = new Set<() => void>();

  constructor(
    start: Date | number = Date.UTC(2026, 0, 1),
    readonly autoAdvance = false,
  ) {
    this.current = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.current;
  }

  advance(ms: number): void {
    if (ms < 0) throw new RangeError('A clock cannot go backwards');
    this.set(this.current + ms);
  }

  set(time: Date | number): void {
    const next = typeof time === 'number' ? time : time.getTime();
    if (next < this.current) throw new RangeError('A clock cannot go backwards');
    this.current = next;
    for (const listener of this.listeners) listener();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export function isAutoAdvancing(clock: Clock): clock is VirtualClock {
  return clock instanceof VirtualClock && clock.autoAdvance;
}
