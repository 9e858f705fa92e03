import path from 'node:path';
import type { HostLogEntry } from '../../../local/host/host';

export const TEST_APP = path.resolve(__dirname, '../../fixtures/test-app');
export const EXTENSION_APP = path.join(TEST_APP, 'apps/extension');
export const UNHANDLED_APP = path.join(TEST_APP, 'apps/unhandled');

export interface AppEvent {
  kind: string;
  [key: string]: unknown;
}

/** What the test app's functions recorded (they run in this process). */
export function appEvents(kind?: string): AppEvent[] {
  const holder = globalThis as { __testAppEvents?: AppEvent[] };
  holder.__testAppEvents ??= [];
  const all = holder.__testAppEvents;
  return kind ? all.filter((e) => e.kind === kind) : all;
}

export function clearAppEvents(): void {
  appEvents().length = 0;
}

export function collectLogs(): { logs: HostLogEntry[]; logger: (entry: HostLogEntry) => void } {
  const logs: HostLogEntry[] = [];
  return { logs, logger: (entry) => logs.push(entry) };
}

/** A virtual clock for the timer trigger: time moves only when the test says so. */
export class VirtualClock {
  private current: number;
  private pending: { at: number; callback: () => void; id: number }[] = [];
  private nextId = 1;

  constructor(start: Date) {
    this.current = start.getTime();
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    // Node clamps longer delays to 1 ms; a scheduler must never ask for one.
    if (ms > 2_147_483_647) throw new RangeError(`setTimeout delay ${ms} overflows`);
    const id = this.nextId++;
    this.pending.push({ at: this.current + ms, callback, id });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending = this.pending.filter((p) => p.id !== handle);
  }

  /** Move time forward, running every timer that comes due, in order. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      this.pending.sort((a, b) => a.at - b.at);
      const next = this.pending[0];
      if (!next || next.at > target) break;
      this.pending.shift();
      this.current = next.at;
      next.callback();
    }
    this.current = target;
  }
}
