import { parseNcrontab, parseTimeSpan } from './ncrontab';

/** Time for the timer trigger; tests pass a virtual clock. */
export interface HostClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const MAX_TIMEOUT_MS = 2_147_483_647;

export const systemClock: HostClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface TimerWatch {
  functionName: string;
  schedule: string;
  runOnStartup: boolean;
}

/** The timer trigger's input as the host sends it (PascalCase; @azure/functions camel-cases it to `Timer`). */
export interface TimerInfoWire {
  Schedule: { AdjustForDST: boolean };
  ScheduleStatus: { Last: string; Next: string; LastUpdated: string };
  IsPastDue: boolean;
}

export interface TimerSchedulerOptions {
  clock: HostClock;
  watches: readonly TimerWatch[];
  invoke(functionName: string, timer: TimerInfoWire): Promise<unknown>;
  log(level: 'information' | 'error', message: string): void;
}

interface ScheduledTimer {
  watch: TimerWatch;
  next: (after: Date) => Date;
  last: Date | undefined;
  due: Date | undefined;
  handle: unknown;
  running: Promise<unknown> | undefined;
  /** An occurrence was skipped because the previous run was still going. */
  missed: boolean;
}

/**
 * Runs timer functions on their NCRONTAB (or TimeSpan) schedule, one invocation of a function at a
 * time (the host's timer singleton): an occurrence that comes while the previous run is still going is
 * skipped, and the run after it reports IsPastDue.
 */
export class TimerScheduler {
  private readonly timers = new Map<string, ScheduledTimer>();
  private stopped = false;

  constructor(private readonly options: TimerSchedulerOptions) {
    for (const watch of options.watches) {
      const interval = parseTimeSpan(watch.schedule);
      const next =
        interval !== undefined
          ? (after: Date) => new Date(after.getTime() + interval)
          : parseNcrontab(watch.schedule).next;
      this.timers.set(watch.functionName, {
        watch,
        next,
        last: undefined,
        due: undefined,
        handle: undefined,
        running: undefined,
        missed: false,
      });
    }
  }

  /** Next occurrence per function (for `tunedrop dev`'s listing). */
  nextOccurrences(): { functionName: string; schedule: string; next: Date | undefined }[] {
    return [...this.timers.values()].map((t) => ({
      functionName: t.watch.functionName,
      schedule: t.watch.schedule,
      next: t.due,
    }));
  }

  async start(): Promise<void> {
    const startups: Promise<unknown>[] = [];
    for (const timer of this.timers.values()) {
      if (timer.watch.runOnStartup) startups.push(this.run(timer, false));
      this.arm(timer);
    }
    await Promise.allSettled(startups);
  }

  /** Invoke a timer function now (Azure: POST /admin/functions/{name}); its schedule is unchanged. */
  fire(functionName: string): Promise<unknown> {
    const timer = this.timers.get(functionName);
    if (!timer) return Promise.reject(new Error(`"${functionName}" is not a timer function`));
    return this.run(timer, false, true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.values()) {
      if (timer.handle !== undefined) this.options.clock.clearTimeout(timer.handle);
    }
    await Promise.allSettled([...this.timers.values()].map((t) => t.running));
  }

  private arm(timer: ScheduledTimer): void {
    if (this.stopped) return;
    const due = timer.next(new Date(this.options.clock.now()));
    timer.due = due;
    this.armAt(timer, due);
  }

  /** setTimeout takes at most ~24.8 days; a later occurrence is reached in hops. */
  private armAt(timer: ScheduledTimer, due: Date): void {
    if (this.stopped) return;
    const delay = due.getTime() - this.options.clock.now();
    if (delay > MAX_TIMEOUT_MS) {
      timer.handle = this.options.clock.setTimeout(() => this.armAt(timer, due), MAX_TIMEOUT_MS);
      return;
    }
    timer.handle = this.options.clock.setTimeout(
      () => {
        timer.handle = undefined;
        if (timer.running) timer.missed = true;
        else void this.run(timer, this.options.clock.now() - due.getTime() > 1000);
        this.arm(timer);
      },
      Math.max(0, delay),
    );
  }

  private run(timer: ScheduledTimer, isPastDue: boolean, rethrow = false): Promise<unknown> {
    const now = new Date(this.options.clock.now());
    const info: TimerInfoWire = {
      Schedule: { AdjustForDST: true },
      ScheduleStatus: {
        Last: (timer.last ?? new Date(0)).toISOString(),
        Next: timer.next(now).toISOString(),
        LastUpdated: now.toISOString(),
      },
      IsPastDue: isPastDue || timer.missed,
    };
    timer.missed = false;
    timer.last = now;
    const running = this.options.invoke(timer.watch.functionName, info).finally(() => {
      if (timer.running === running) timer.running = undefined;
    });
    timer.running = running;
    if (rethrow) return running;
    return running.catch((err: unknown) => {
      this.options.log(
        'error',
        `${timer.watch.functionName}: timer run failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    });
  }
}
