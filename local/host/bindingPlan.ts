import path from 'node:path';
import { z } from 'zod';
import { type BlobPathPattern, parseBlobPathPattern } from './blobPath';
import type { BindingInfo, HostExtension, RegisteredFunction } from './contract';
import { type CapturedFunction, installFunctionsCore } from './core';
import { describe, LocalHostError } from './errors';
import type { HostLogger } from './hostTypes';
import type { AuthLevel } from './http';
import { loadEntryPoints, resolveEntryPoints } from './loader';
import { assertNoActiveHost } from './processGuard';
import { parseRouteTemplate, type RouteTemplate } from './routes';

/**
 * Binding planning: load an app's registrations and decide, before anything listens, who drives
 * every trigger and binding (the host itself or an extension).
 */

/** Trigger types the host drives itself; everything else must come from an extension. */
export const HOST_TRIGGER_TYPES = ['httpTrigger', 'timerTrigger', 'blobTrigger'] as const;
const HOST_INPUT_TYPES = ['blob'] as const;
const HOST_OUTPUT_TYPES = ['http', 'blob'] as const;

const httpTriggerSchema = z.object({
  type: z.literal('httpTrigger'),
  authLevel: z.enum(['anonymous', 'function', 'admin']).default('anonymous'),
  methods: z.array(z.string().min(1)).optional(),
  route: z.string().optional(),
});
const timerTriggerSchema = z.object({
  type: z.literal('timerTrigger'),
  schedule: z.string().min(1),
  runOnStartup: z.boolean().optional(),
});
const blobTriggerSchema = z.object({
  type: z.literal('blobTrigger'),
  path: z.string().min(3),
  source: z.enum(['LogsAndContainerScan', 'EventGrid']).optional(),
});
export const blobBindingSchema = z.object({ type: z.literal('blob'), path: z.string().min(3) });

export interface HttpRoute {
  functionName: string;
  methods: Set<string> | undefined;
  template: RouteTemplate;
  authLevel: AuthLevel;
}

export interface LoadedFunctionApp {
  readonly appRoot: string;
  readonly files: readonly string[];
  readonly functions: ReadonlyMap<string, RegisteredFunction>;
  /** Which load of this process's registrations this is (a later load replaces them). */
  readonly generation: number;
}

/**
 * Load an app's entry points and capture its registrations, without storage or a server: the
 * runtime does this while Azurite boots. Pass the result as `app` to startFunctionHost.
 */
export function loadFunctionApp(appRoot: string, logger?: HostLogger): LoadedFunctionApp {
  assertNoActiveHost();
  const root = path.resolve(appRoot);
  const core = installFunctionsCore();
  const { files } = resolveEntryPoints(root);
  core.reset();
  const log = logger ?? (() => {});
  core.systemLog = (level, category, message) => log({ level, category, message });
  core.acceptingRegistrations = true;
  try {
    loadEntryPoints(root, files);
  } finally {
    core.acceptingRegistrations = false;
  }
  if (core.functions.size === 0) {
    throw new LocalHostError(
      'no_functions',
      `the app under ${root} registered no functions. If @azure/functions was used before the local host ` +
        'started (it then switches to "test mode" for the whole process), start the host first or call ' +
        'installFunctionsCore() before loading app code',
    );
  }
  if (!core.programmingModel) {
    throw new LocalHostError('no_programming_model', 'functions were registered but no programming model was set');
  }
  const functions = new Map<string, RegisteredFunction>();
  for (const captured of core.functions.values()) functions.set(captured.metadata.name, toRegistered(captured));
  return { appRoot: root, files, functions, generation: core.generation };
}

export interface BindingPlan {
  http: HttpRoute[];
  timers: { functionName: string; schedule: string; runOnStartup: boolean }[];
  blobs: { functionName: string; pattern: BlobPathPattern; source: string }[];
  triggerOwners: Map<string, HostExtension>;
  inputOwners: Map<string, HostExtension>;
  outputOwners: Map<string, HostExtension>;
}

/** Decide who drives every trigger and binding; any binding nobody handles fails startup, listing all of them. */
export function planBindings(
  functions: ReadonlyMap<string, RegisteredFunction>,
  extensions: readonly HostExtension[],
  appSettings: Readonly<Record<string, string | undefined>>,
): BindingPlan {
  const problems: {
    code: 'unhandled_trigger' | 'unhandled_binding' | 'invalid_binding' | 'duplicate_route';
    line: string;
  }[] = [];
  const claim = (map: Map<string, HostExtension>, type: string, extension: HostExtension, what: string) => {
    const other = map.get(type);
    if (other) {
      problems.push({
        code: 'invalid_binding',
        line: `${what} type "${type}" is claimed by both ${other.name} and ${extension.name}`,
      });
    }
    map.set(type, extension);
  };
  const triggerOwners = new Map<string, HostExtension>();
  const inputOwners = new Map<string, HostExtension>();
  const outputOwners = new Map<string, HostExtension>();
  for (const extension of extensions) {
    for (const t of extension.triggerTypes) claim(triggerOwners, t, extension, 'trigger');
    for (const t of extension.inputBindingTypes) claim(inputOwners, t, extension, 'input binding');
    for (const t of extension.outputBindingTypes ?? []) claim(outputOwners, t, extension, 'output binding');
  }
  const handledTriggers = [...HOST_TRIGGER_TYPES, ...[...triggerOwners].map(([t, e]) => `${t} (${e.name})`)];

  const plan: BindingPlan = { http: [], timers: [], blobs: [], triggerOwners, inputOwners, outputOwners };
  for (const fn of functions.values()) {
    const type = fn.trigger.type;
    try {
      if (type === 'httpTrigger') {
        const t = httpTriggerSchema.parse(fn.trigger);
        const template = parseRouteTemplate(t.route ?? fn.name);
        const methods = t.methods ? new Set(t.methods.map((m) => m.toUpperCase())) : undefined;
        const clash = plan.http.find(
          (r) =>
            r.template.template.toLowerCase() === template.template.toLowerCase() &&
            (!r.methods || !methods || [...methods].some((m) => r.methods?.has(m))),
        );
        if (clash) {
          problems.push({
            code: 'duplicate_route',
            line: `function "${fn.name}": route "${template.template}" is also served by "${clash.functionName}"`,
          });
        }
        plan.http.push({ functionName: fn.name, methods, template, authLevel: t.authLevel });
      } else if (type === 'timerTrigger') {
        const t = timerTriggerSchema.parse(fn.trigger);
        const schedule = t.schedule.replace(/^%(.+)%$/, (_w, name: string) => {
          const value = appSettings[name];
          if (!value) throw new Error(`timer schedule refers to app setting "${name}", which is not set`);
          return value;
        });
        plan.timers.push({ functionName: fn.name, schedule, runOnStartup: t.runOnStartup ?? false });
      } else if (type === 'blobTrigger') {
        const t = blobTriggerSchema.parse(fn.trigger);
        plan.blobs.push({
          functionName: fn.name,
          pattern: parseBlobPathPattern(t.path),
          source: t.source ?? 'LogsAndContainerScan',
        });
      } else if (!triggerOwners.has(type)) {
        problems.push({
          code: 'unhandled_trigger',
          line: `function "${fn.name}": trigger type "${type}" is not handled by the local host or any extension (handled: ${handledTriggers.join(', ')})`,
        });
      }
    } catch (err) {
      problems.push({ code: 'invalid_binding', line: `function "${fn.name}": ${describe(err)}` });
    }
    for (const [name, binding] of Object.entries(fn.bindings)) {
      if (name === fn.triggerBindingName) continue;
      const known =
        binding.direction === 'in'
          ? (HOST_INPUT_TYPES as readonly string[]).includes(binding.type) || inputOwners.has(binding.type)
          : (binding.type === 'http' && type === 'httpTrigger') ||
            binding.type === 'blob' ||
            outputOwners.has(binding.type);
      if (!known) {
        problems.push({
          code: 'unhandled_binding',
          line: `function "${fn.name}": ${binding.direction === 'in' ? 'input' : 'output'} binding "${name}" of type "${binding.type}" is not supported locally (host: ${[...(binding.direction === 'in' ? HOST_INPUT_TYPES : HOST_OUTPUT_TYPES)].join(', ')}; extensions: ${[...(binding.direction === 'in' ? inputOwners : outputOwners).keys()].join(', ') || 'none'})`,
        });
      } else if (binding.type === 'blob') {
        const parsed = blobBindingSchema.safeParse(binding);
        if (!parsed.success)
          problems.push({
            code: 'invalid_binding',
            line: `function "${fn.name}": blob binding "${name}" needs a "path"`,
          });
      }
    }
  }
  if (problems.length > 0) {
    const first = problems.find((p) => p.code === 'unhandled_trigger') ?? (problems[0] as (typeof problems)[number]);
    throw new LocalHostError(
      first.code,
      `the app cannot start locally:\n  ${problems.map((p) => p.line).join('\n  ')}`,
    );
  }
  return plan;
}

function toRegistered(captured: CapturedFunction): RegisteredFunction {
  const bindings: Record<string, BindingInfo> = {};
  let triggerBindingName = '';
  for (const [name, raw] of Object.entries(captured.metadata.bindings)) {
    const type = String(raw.type ?? '');
    bindings[name] = { ...raw, type, direction: raw.direction ?? 'in' };
    if (/trigger$/i.test(type)) triggerBindingName = name;
  }
  const trigger = bindings[triggerBindingName];
  if (!trigger) {
    throw new LocalHostError('invalid_binding', `function "${captured.metadata.name}" has no trigger binding`);
  }
  return {
    name: captured.metadata.name,
    bindings,
    triggerBindingName,
    trigger,
    ...(captured.metadata.retryOptions !== undefined ? { retryOptions: captured.metadata.retryOptions } : {}),
  };
}
