export type DurableErrorCode =
  | 'durable_instance_not_found'
  | 'durable_instance_exists'
  | 'durable_instance_not_running'
  | 'durable_instance_running'
  | 'durable_unknown_orchestrator'
  | 'durable_invalid_request'
  | 'durable_timeout'
  | 'durable_not_supported'
  | 'durable_engine_stopped';

/** A coded error from the durable engine's client API; the HTTP API maps codes to status codes. */
export class DurableEngineError extends Error {
  constructor(
    readonly code: DurableErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'DurableEngineError';
  }
}
