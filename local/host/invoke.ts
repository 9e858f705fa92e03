import { randomUUID } from 'node:crypto';
import type { CapturedFunction, FunctionsCore } from './core';
import type {
  CoreInvocationContext,
  FunctionCallback,
  HookData,
  InvocationState,
  PostInvocationCoreContext,
  PreInvocationCoreContext,
  RpcInvocationRequest,
  RpcInvocationResponse,
  RpcLogCategory,
  RpcLogLevel,
} from './coreTypes';
import { LocalHostError } from './errors';

export interface FunctionLogEntry {
  level: RpcLogLevel;
  category: RpcLogCategory;
  functionName: string;
  invocationId: string;
  message: string;
}

export type FunctionLogger = (entry: FunctionLogEntry) => void;

/**
 * One invocation exactly as the Node worker runs it (src/eventHandlers/InvocationHandler.ts):
 * programming model → getArguments → preInvocation hooks → invokeFunction → postInvocation hooks
 * → getResponse. Throws what the handler (or a hook) throws.
 */
export async function invokeThroughWorker(
  core: FunctionsCore,
  fn: CapturedFunction,
  request: Omit<RpcInvocationRequest, 'invocationId' | 'functionId'> & { invocationId?: string },
  logger: FunctionLogger,
): Promise<RpcInvocationResponse> {
  const model = core.programmingModel;
  if (!model) {
    throw new LocalHostError(
      'no_programming_model',
      'no programming model was set by the app (is @azure/functions loaded?)',
    );
  }
  const functionName = fn.metadata.name;
  const invocationId = request.invocationId ?? randomUUID();
  const fullRequest: RpcInvocationRequest = {
    ...request,
    invocationId,
    functionId: fn.metadata.functionId ?? functionName,
  };
  let invocationContext: unknown;

  const coreCtx: CoreInvocationContext = {
    invocationId,
    request: fullRequest,
    metadata: {
      name: functionName,
      functionId: fn.metadata.functionId ?? functionName,
      bindings: fn.metadata.bindings,
    },
    state: undefined as InvocationState | undefined,
    log(level, category, message) {
      // Log hooks see (and may rewrite) a user log line before it is written, as in the worker.
      const line = category === 'user' ? runLogHooks(core, level, message, invocationContext) : { level, message };
      logger({ level: line.level, category, functionName, invocationId, message: line.message });
    },
  };

  const invocationModel = await model.getInvocationModel(coreCtx);
  const hookData: HookData = {};
  const args = await invocationModel.getArguments();
  invocationContext = args.context;
  const { context } = args;

  const preContext: PreInvocationCoreContext = {
    hookData,
    appHookData: core.appHookData,
    invocationContext: context,
    inputs: args.inputs,
    functionCallback: fn.callback,
  };
  coreCtx.state = 'preInvocationHooks';
  try {
    for (const hook of [...core.hooks.preInvocation]) await hook(preContext);
  } finally {
    coreCtx.state = undefined;
  }
  const inputs = preContext.inputs;
  const callback: FunctionCallback = preContext.functionCallback;

  const postContext: PostInvocationCoreContext = {
    hookData,
    appHookData: core.appHookData,
    invocationContext: context,
    inputs,
    result: null,
    error: null,
  };
  coreCtx.state = 'invocation';
  try {
    postContext.result = await invocationModel.invokeFunction(context, inputs, callback);
  } catch (err) {
    postContext.error = err;
  } finally {
    coreCtx.state = undefined;
  }

  coreCtx.state = 'postInvocationHooks';
  try {
    for (const hook of [...core.hooks.postInvocation]) await hook(postContext);
  } finally {
    coreCtx.state = undefined;
  }

  if (postContext.error instanceof Error) throw postContext.error;
  if (postContext.error !== null && postContext.error !== undefined) {
    throw new Error(`Function "${functionName}" failed: ${String(postContext.error)}`);
  }
  return invocationModel.getResponse(context, postContext.result);
}

function runLogHooks(
  core: FunctionsCore,
  level: RpcLogLevel,
  message: string,
  invocationContext: unknown,
): { level: RpcLogLevel; message: string } {
  const context = { hookData: {}, level, message, category: 'user', invocationContext };
  for (const hook of core.hooks.log) {
    try {
      void hook(context);
    } catch {
      // A failing log hook must not fail the invocation.
    }
  }
  return { level: context.level, message: context.message };
}
