import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { BlobServiceClient } from '@azure/storage-blob';
import { type BindingPlan, blobBindingSchema } from './bindingPlan';
import { resolveBindingExpressions } from './blobPath';
import type { BindingInfo, InvokeRequest, InvokeResult, RegisteredFunction } from './contract';
import type { FunctionsCore } from './core';
import type { RpcHttpData, RpcInvocationResponse, RpcParameterBinding, RpcTypedData } from './coreTypes';
import { describe, LocalHostError, statusOf } from './errors';
import type { HostLogger } from './hostTypes';
import { type FunctionLogEntry, invokeThroughWorker } from './invoke';
import { fromTypedData, toBytes, toTypedData } from './typedData';

/**
 * Function invocation: gather a function's input bindings, run it through the worker pipeline
 * (invoke.ts), write its output bindings, and log the "Executed …" line Azure writes.
 */
export interface FunctionInvoker {
  /** Invoke with a trigger value already in wire form; resolves with the raw worker response. */
  invokeCaptured(
    functionName: string,
    triggerData: RpcTypedData | null | undefined,
    triggerMetadata: Record<string, unknown>,
    extra?: { retryCount?: number; bindingData?: Record<string, unknown> },
  ): Promise<{ response: RpcInvocationResponse; fn: RegisteredFunction }>;
  /** LocalFunctionHost.invoke: plain JS values in and out. */
  invoke(request: InvokeRequest): Promise<InvokeResult>;
}

export interface FunctionInvokerDeps {
  core: FunctionsCore;
  functions: ReadonlyMap<string, RegisteredFunction>;
  plan: Pick<BindingPlan, 'inputOwners' | 'outputOwners'>;
  blobClient: BlobServiceClient;
  log: HostLogger;
}

export function createFunctionInvoker({
  core,
  functions,
  plan,
  blobClient,
  log,
}: FunctionInvokerDeps): FunctionInvoker {
  async function invokeCaptured(
    functionName: string,
    triggerData: RpcTypedData | null | undefined,
    triggerMetadata: Record<string, unknown>,
    extra: { retryCount?: number; bindingData?: Record<string, unknown> } = {},
  ): Promise<{ response: RpcInvocationResponse; fn: RegisteredFunction }> {
    const captured = core.functions.get(functionName);
    const fn = functions.get(functionName);
    if (!captured || !fn) throw new LocalHostError('function_not_found', `no function named "${functionName}"`);
    const invocationId = randomUUID();
    const started = performance.now();
    const executed = (outcome: string) =>
      `Executed 'Functions.${functionName}' (${outcome}, Id=${invocationId}, Duration=${Math.round(performance.now() - started)}ms)`;
    try {
      const bindingData = { ...stringValues(triggerMetadata), ...extra.bindingData };
      const inputData: RpcParameterBinding[] = [{ name: fn.triggerBindingName, data: triggerData ?? null }];
      for (const [name, binding] of Object.entries(fn.bindings)) {
        if (name === fn.triggerBindingName || binding.direction !== 'in') continue;
        inputData.push({ name, data: await inputBindingData(fn, binding, bindingData) });
      }
      const response = await invokeThroughWorker(
        core,
        captured,
        {
          invocationId,
          inputData,
          triggerMetadata: toTypedMetadata(triggerMetadata),
          ...(extra.retryCount !== undefined
            ? { retryContext: { retryCount: extra.retryCount, maxRetryCount: -1 } }
            : {}),
        },
        (entry: FunctionLogEntry) => log(entry),
      );
      await writeOutputs(fn, response, bindingData);
      log({ level: 'information', category: 'host', functionName, invocationId, message: executed('Succeeded') });
      return { response, fn };
    } catch (err) {
      log({
        level: 'error',
        category: 'host',
        functionName,
        invocationId,
        message: `${executed('Failed')}: ${describe(err)}`,
      });
      throw err;
    }
  }

  async function inputBindingData(
    fn: RegisteredFunction,
    binding: BindingInfo,
    bindingData: Record<string, unknown>,
  ): Promise<RpcTypedData | null | undefined> {
    const extension = plan.inputOwners.get(binding.type);
    if (extension) return toTypedData(await extension.inputBindingValue?.(binding, fn));
    if (binding.type === 'blob') {
      const { path: template } = blobBindingSchema.parse(binding);
      const blobPath = resolveBindingExpressions(template, bindingData);
      const [container, ...rest] = blobPath.split('/');
      try {
        return {
          bytes: await blobClient
            .getContainerClient(container ?? '')
            .getBlobClient(rest.join('/'))
            .downloadToBuffer(),
        };
      } catch (err) {
        if (statusOf(err) === 404) return null; // a missing blob binds as null, as in Azure
        throw err;
      }
    }
    return undefined;
  }

  async function writeOutputs(
    fn: RegisteredFunction,
    response: RpcInvocationResponse,
    bindingData: Record<string, unknown>,
  ): Promise<void> {
    const values: [string, RpcTypedData | null | undefined][] = (response.outputData ?? []).map((o) => [
      o.name ?? '',
      o.data,
    ]);
    if (fn.bindings.$return && fn.bindings.$return.type !== 'http') values.push(['$return', response.returnValue]);
    for (const [name, data] of values) {
      const binding = fn.bindings[name];
      if (!binding || binding.type === 'http' || data === null || data === undefined) continue;
      const value = fromTypedData(data);
      const extension = plan.outputOwners.get(binding.type);
      if (extension?.handleOutput) {
        await extension.handleOutput(binding, fn, value);
      } else if (binding.type === 'blob') {
        const { path: template } = blobBindingSchema.parse(binding);
        const blobPath = resolveBindingExpressions(template, bindingData);
        const [container, ...rest] = blobPath.split('/');
        const bytes = toBytes(value);
        const containerClient = blobClient.getContainerClient(container ?? '');
        // Like the Functions blob output binding: the container is created on first write.
        await containerClient.createIfNotExists();
        await containerClient.getBlockBlobClient(rest.join('/')).upload(bytes, bytes.length);
      }
    }
  }

  async function invoke(request: InvokeRequest): Promise<InvokeResult> {
    const { response } = await invokeCaptured(
      request.functionName,
      toTypedData(request.triggerValue),
      request.triggerMetadata ?? {},
      request.retryCount !== undefined ? { retryCount: request.retryCount } : {},
    );
    return toInvokeResult(response);
  }

  return { invokeCaptured, invoke };
}

export function toInvokeResult(response: RpcInvocationResponse): InvokeResult {
  const outputs: Record<string, unknown> = {};
  for (const o of response.outputData ?? []) {
    if (o.name) outputs[o.name] = fromTypedData(o.data);
  }
  return { returnValue: fromTypedData(response.returnValue), outputs };
}

/** The HTTP response a function produced: its `$return` http binding or its http output binding. */
export function httpResponseOf(fn: RegisteredFunction, response: RpcInvocationResponse): RpcHttpData | undefined {
  if (fn.bindings.$return?.type === 'http') return response.returnValue?.http ?? undefined;
  const name = Object.entries(fn.bindings).find(([, b]) => b.direction === 'out' && b.type === 'http')?.[0];
  return response.outputData?.find((o) => o.name === name)?.data?.http ?? undefined;
}

function toTypedMetadata(metadata: Record<string, unknown>): Record<string, RpcTypedData> {
  const out: Record<string, RpcTypedData> = {};
  for (const [key, value] of Object.entries(metadata)) {
    const typed = toTypedData(value);
    if (typed) out[key] = typed;
  }
  return out;
}

function stringValues(metadata: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[key] = String(value);
  }
  return out;
}
