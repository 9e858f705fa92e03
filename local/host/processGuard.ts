import { LocalHostError } from './errors';

/**
 * One host per process at a time, as the worker runs one app per process: the functions core that
 * captures registrations is process-wide. Loading an app and starting a host both check this.
 */
let activeHost: object | undefined;
let hostStarting = false;

const alreadyRunning = () =>
  new LocalHostError('host_already_running', 'a local host is already running in this process; stop it first');

/** Loading an app replaces the process's registrations: refused while a host runs (not while one starts: it loads). */
export function assertNoActiveHost(): void {
  if (activeHost) throw alreadyRunning();
}

/** Runs `start` as the process's only host start; rejects if a host runs or is starting. */
export async function startingHost<T>(start: () => Promise<T>): Promise<T> {
  if (activeHost || hostStarting) throw alreadyRunning();
  hostStarting = true;
  try {
    return await start();
  } finally {
    hostStarting = false;
  }
}

export function setActiveHost(host: object): void {
  activeHost = host;
}

export function clearActiveHost(host: object): void {
  if (activeHost === host) activeHost = undefined;
}
