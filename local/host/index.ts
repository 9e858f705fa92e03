export type {
  BindingInfo,
  HostExtension,
  HttpRouteHandler,
  InvokeRequest,
  InvokeResult,
  LocalFunctionHost,
  RegisteredFunction,
} from './contract';
export { installFunctionsCore } from './core';
export { type HostErrorCode, LocalHostError } from './errors';
export {
  type BlobTriggerInfo,
  type FunctionHostOptions,
  HOST_TRIGGER_TYPES,
  type HostLogEntry,
  type HostLogger,
  type HttpRouteInfo,
  type LoadedFunctionApp,
  loadFunctionApp,
  type RunningFunctionHost,
  startFunctionHost,
  type TimerInfo,
} from './host';
export type { AuthLevel, HostKeys } from './http';
export { type HostClock, systemClock } from './timerTrigger';
