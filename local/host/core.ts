import Module from 'node:module';
import type {
  FunctionCallback,
  FunctionMetadata,
  HookCallback,
  HookData,
  HookName,
  ProgrammingModel,
  RpcLogCategory,
  RpcLogLevel,
} from './coreTypes';

/**
 * The local host's stand-in for the worker's built-in `@azure/functions-core` module
 * (azure-functions-nodejs-worker src/coreApi). `@azure/functions` requires it lazily on the first
 * `app.*` or `app.hook.*` call and registers every function and hook through it, so installing it
 * before the app's files load captures the very same registrations Azure sees.
 */

export const CORE_MODULE_ID = '@azure/functions-core';
/** Reported to the app as the worker and host versions. */
export const LOCAL_WORKER_VERSION = '3.10.1-tunedrop-local';
export const LOCAL_HOST_VERSION = '4.1000.0-tunedrop-local';

export class Disposable {
  static from(...likes: { dispose: () => unknown }[]): Disposable {
    return new Disposable(() => {
      for (const like of likes) like.dispose();
    });
  }
  #callOnDispose: (() => unknown) | undefined;
  constructor(callOnDispose: () => unknown) {
    this.#callOnDispose = callOnDispose;
  }
  dispose(): unknown {
    const call = this.#callOnDispose;
    this.#callOnDispose = undefined;
    return call?.();
  }
}

export interface CapturedFunction {
  metadata: FunctionMetadata;
  callback: FunctionCallback;
}

export type SystemLogSink = (level: RpcLogLevel, category: RpcLogCategory, message: string) => void;

const HOOK_NAMES: readonly HookName[] = ['preInvocation', 'postInvocation', 'appStart', 'appTerminate', 'log'];

/** Registrations of the one app loaded in this process (the worker, too, runs one app per process). */
export class FunctionsCore {
  readonly functions = new Map<string, CapturedFunction>();
  readonly hooks: Record<HookName, HookCallback[]> = {
    preInvocation: [],
    postInvocation: [],
    appStart: [],
    appTerminate: [],
    log: [],
  };
  appHookData: HookData = {};
  /** Shared by appStart and appTerminate hooks only (the worker's appLevelOnlyHookData). */
  appLevelOnlyHookData: HookData = {};
  programmingModel: ProgrammingModel | undefined;
  /** The worker only accepts function registrations while the app is starting. */
  acceptingRegistrations = false;
  /** Bumped by every reset(): tells a loaded app's registrations from a later load's. */
  generation = 0;
  systemLog: SystemLogSink = () => {};

  /** The object `require('@azure/functions-core')` returns. */
  readonly api = {
    version: LOCAL_WORKER_VERSION,
    hostVersion: LOCAL_HOST_VERSION,
    Disposable,
    registerFunction: (metadata: FunctionMetadata, callback: FunctionCallback): Disposable =>
      this.registerFunction(metadata, callback),
    registerHook: (hookName: string, callback: HookCallback): Disposable => this.registerHook(hookName, callback),
    setProgrammingModel: (model: ProgrammingModel): void => {
      this.programmingModel = model;
    },
    getProgrammingModel: (): ProgrammingModel | undefined => this.programmingModel,
    log: (level: RpcLogLevel, category: RpcLogCategory, message: string): void =>
      this.systemLog(level, category, message),
  };

  /** Forget the previous app's functions and hooks (the programming model object stays: @azure/functions sets it once per process). */
  reset(): void {
    this.generation++;
    this.functions.clear();
    for (const name of HOOK_NAMES) this.hooks[name] = [];
    this.appHookData = {};
    this.appLevelOnlyHookData = {};
  }

  private registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
    if (!this.acceptingRegistrations) {
      throw new Error('A function can only be registered during app startup.');
    }
    const name = metadata.name;
    if (this.functions.has(name)) {
      throw new Error(`A function with name "${name}" has already been registered.`);
    }
    this.functions.set(name, { metadata: { ...metadata, functionId: metadata.functionId ?? name }, callback });
    return new Disposable(() => {
      if (this.acceptingRegistrations) this.functions.delete(name);
    });
  }

  private registerHook(hookName: string, callback: HookCallback): Disposable {
    if (!(HOOK_NAMES as readonly string[]).includes(hookName)) {
      throw new RangeError(`Unrecognized hook "${hookName}"`);
    }
    const list = this.hooks[hookName as HookName];
    list.push(callback);
    return new Disposable(() => {
      const index = list.indexOf(callback);
      if (index >= 0) list.splice(index, 1);
    });
  }
}

const GLOBAL_KEY = Symbol.for('tunedrop.local.functionsCore');
type ResolveFilename = (request: string, ...rest: unknown[]) => string;
interface ModuleInternals {
  _resolveFilename: ResolveFilename;
  _cache: Record<string, unknown>;
}

/**
 * Make `require('@azure/functions-core')` return this process's FunctionsCore, as the worker does.
 * Idempotent; must run before anything calls `app.*` from @azure/functions (which caches the lookup).
 */
export function installFunctionsCore(): FunctionsCore {
  const holder = globalThis as { [GLOBAL_KEY]?: FunctionsCore };
  const existing = holder[GLOBAL_KEY];
  if (existing) return existing;
  const core = new FunctionsCore();
  const internals = Module as unknown as ModuleInternals;
  const original = internals._resolveFilename;
  internals._resolveFilename = function resolveFunctionsCore(this: unknown, request: string, ...rest: unknown[]) {
    if (request === CORE_MODULE_ID) return CORE_MODULE_ID;
    return original.call(this, request, ...rest);
  };
  const coreModule = new Module(CORE_MODULE_ID);
  coreModule.exports = core.api;
  coreModule.loaded = true;
  internals._cache[CORE_MODULE_ID] = coreModule;
  holder[GLOBAL_KEY] = core;
  return core;
}
