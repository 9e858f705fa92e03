export type HostErrorCode =
  | 'host_already_running'
  | 'invalid_app_package'
  | 'app_load_failed'
  | 'no_programming_model'
  | 'no_functions'
  | 'unhandled_trigger'
  | 'unhandled_binding'
  | 'invalid_binding'
  | 'duplicate_route'
  | 'function_not_found'
  | 'listen_failed';

/** A local-host failure with a stable code; messages never carry keys or connection strings. */
export class LocalHostError extends Error {
  constructor(
    readonly code: HostErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
    this.name = 'LocalHostError';
  }
}

/** The HTTP status a storage (or other Azure SDK) error carries, if any. */
export function statusOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'statusCode' in err && typeof err.statusCode === 'number'
    ? err.statusCode
    : undefined;
}

/** An error's message for a log line. */
export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
