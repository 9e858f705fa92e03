export { type Clock, systemClock, VirtualClock } from './clock';
export {
  DurableEngine,
  type DurableEngineOptions,
  type InstanceFilter,
  type StartOptions,
  type StatusOptions,
} from './engine';
export { DurableEngineError, type DurableErrorCode } from './errors';
export {
  createDurableExtension,
  DEFAULT_TASK_HUB,
  type DurableExtension,
  type DurableExtensionOptions,
  openDurableClient,
} from './extension';
export { clientInputData, createDurableHttpHandler, DURABLE_WEBHOOK_PATH, managementUrls } from './http-api';
export { DurableStore } from './store';
export type { DurableClientInputData, HistoryEvent, OrchestratorState, RuntimeStatus, StatusPayload } from './wire';
