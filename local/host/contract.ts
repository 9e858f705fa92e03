import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The contract between the local Functions host (local/host) and what plugs into it:
 * the durable engine (local/durable) and the Service Bus stand-in (local/servicebus).
 * The host owns function discovery and invocation through the real @azure/functions
 * programming model; extensions own trigger kinds the host does not implement itself.
 */

/** A binding as the worker sees it (RpcBindingInfo, with the binding's extra settings flattened in). */
export interface BindingInfo {
  type: string;
  direction: 'in' | 'out' | 'inout';
  [setting: string]: unknown;
}

export interface RegisteredFunction {
  name: string;
  /** All bindings by name; exactly one has a type ending in "Trigger". */
  bindings: Record<string, BindingInfo>;
  triggerBindingName: string;
  trigger: BindingInfo;
  retryOptions?: unknown;
}

export interface InvokeRequest {
  functionName: string;
  /** The trigger's value as a plain JS value (string, object, Buffer); the host converts it to RpcTypedData. */
  triggerValue: unknown;
  /** Trigger metadata (becomes context.triggerMetadata). */
  triggerMetadata?: Record<string, unknown>;
  /** Service Bus / retry: how many times this input was delivered before. */
  retryCount?: number;
}

export interface InvokeResult {
  /** The handler's return value converted back to a plain JS value. */
  returnValue: unknown;
  /** Output bindings by name, as plain JS values. */
  outputs: Record<string, unknown>;
}

/**
 * Who may call an extra route. `system`: the named system key or the master key. `unguessable`:
 * no key, because the path itself holds a secret only in-process code is given (the local stand-in
 * for an endpoint Azure only exposes inside the worker, like the durable RPC endpoint).
 */
export type ExtraRouteAuth =
  | { level: 'system'; systemKey: string }
  | { level: 'admin' }
  | { level: 'unguessable'; secret: string };

export type HttpRouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface LocalFunctionHost {
  /** e.g. http://localhost:7071 */
  readonly baseUrl: string;
  readonly functions: ReadonlyMap<string, RegisteredFunction>;
  /** Invoke a function through the real programming-model pipeline (hooks, InvocationContext, bindings). Throws what the handler throws. */
  invoke(request: InvokeRequest): Promise<InvokeResult>;
  /**
   * Serve extra routes on the host's HTTP server (outside /api), e.g. /runtime/webhooks/durabletask/.
   * The auth level is required: the host checks it before the handler runs, as Azure does (a
   * system route needs its system key or the master key).
   */
  addRoute(pathPrefix: string, handler: HttpRouteHandler, auth: ExtraRouteAuth): void;
  /** A system key (Azure: Functions → App keys → System keys), e.g. `durabletask_extension`; created on first use. */
  systemKey(name: string): string;
  /** Storage connection string (AzureWebJobsStorage) the host runs against. */
  readonly storageConnectionString: string;
}

export interface HostExtension {
  readonly name: string;
  /** Trigger binding types this extension drives (e.g. 'orchestrationTrigger', 'activityTrigger', 'serviceBusTrigger'). */
  readonly triggerTypes: readonly string[];
  /** Input binding types this extension supplies a value for (e.g. 'durableClient'). */
  readonly inputBindingTypes: readonly string[];
  /** The value of an input binding of one of inputBindingTypes, for one invocation (a Promise is awaited). */
  inputBindingValue?(binding: BindingInfo, fn: RegisteredFunction): unknown;
  /** Output binding types this extension consumes (e.g. 'serviceBus'); optional. */
  readonly outputBindingTypes?: readonly string[];
  /** Receives the value a function set for an output binding of one of outputBindingTypes, after the invocation. */
  handleOutput?(binding: BindingInfo, fn: RegisteredFunction, value: unknown): Promise<void>;
  /** Called once all functions are registered and the HTTP server listens. */
  start(host: LocalFunctionHost): Promise<void>;
  stop(): Promise<void>;
}
