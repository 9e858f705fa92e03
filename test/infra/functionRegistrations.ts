import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { installFunctionsCore } from '../../local/host/core';

/**
 * What the function files register with the Functions host, read through the real
 * @azure/functions programming model (the local host's `@azure/functions-core`), then checked
 * against what infra/ provisions and wires.
 */
export interface BindingView {
  name: string;
  type: string;
  direction: string;
  [setting: string]: unknown;
}

export interface FunctionView {
  name: string;
  trigger: BindingView;
  bindings: BindingView[];
}

export function functionSourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...functionSourceFiles(full));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(full);
  }
  return files.sort();
}

/** Import every function file in `dir` and return what they registered (previous registrations are dropped). */
export async function loadFunctionRegistrations(dir: string): Promise<FunctionView[]> {
  const core = installFunctionsCore();
  core.reset();
  core.acceptingRegistrations = true;
  try {
    for (const file of functionSourceFiles(dir)) await import(pathToFileURL(file).href);
  } finally {
    core.acceptingRegistrations = false;
  }
  return [...core.functions.values()].map(({ metadata }) => {
    const bindings = Object.entries(metadata.bindings).map(
      ([name, info]) => ({ ...info, name, type: info.type ?? '', direction: info.direction ?? '' }) as BindingView,
    );
    const trigger = bindings.find((b) => b.type.endsWith('Trigger'));
    if (!trigger) throw new Error(`function ${metadata.name} has no trigger binding`);
    return { name: metadata.name, trigger, bindings };
  });
}

/** What infra/ provisions, as the function registrations must see it. */
export interface InfraFacts {
  intakeFunctionName: string;
  orchestrationName: string;
  activityNames: readonly string[];
  datasetsContainer: string;
  manifestName: string;
  containers: readonly string[];
  tables: readonly string[];
  topicName: string;
  subscriptionNames: readonly string[];
  /** Connection names whose identity-based `<name>__*` settings Bicep sets. */
  connections: readonly string[];
}

const containerOf = (blobPath: unknown) => (typeof blobPath === 'string' ? blobPath.split('/')[0] : undefined);

export type ProblemArea = 'intake' | 'durable' | 'http' | 'bindings' | 'consumers';

export interface ContractProblem {
  area: ProblemArea;
  message: string;
}

/** Every way the registrations disagree with infra/, as readable sentences (empty when they agree). */
export function functionContractProblems(functions: readonly FunctionView[], facts: InfraFacts): string[] {
  return classifiedContractProblems(functions, facts).map((p) => p.message);
}

/** The same problems, each with the part of the contract it breaks. */
export function classifiedContractProblems(functions: readonly FunctionView[], facts: InfraFacts): ContractProblem[] {
  const problems: ContractProblem[] = [];
  const report = (area: ProblemArea, message: string) => problems.push({ area, message });
  const byName = new Map(functions.map((f) => [f.name, f]));

  const intake = byName.get(facts.intakeFunctionName);
  if (!intake) {
    report(
      'intake',
      `no function named "${facts.intakeFunctionName}" (the Event Grid webhook targets Host.Functions.${facts.intakeFunctionName})`,
    );
  } else {
    const t = intake.trigger;
    if (t.type !== 'blobTrigger') report('intake', `${intake.name}: trigger is ${t.type}, not blobTrigger`);
    if (t.source !== 'EventGrid')
      report('intake', `${intake.name}: blob trigger source is ${String(t.source)}, not EventGrid`);
    if (containerOf(t.path) !== facts.datasetsContainer) {
      report('intake', `${intake.name}: path ${String(t.path)} is not in the ${facts.datasetsContainer} container`);
    }
    if (typeof t.path !== 'string' || !t.path.endsWith(`/${facts.manifestName}`)) {
      report('intake', `${intake.name}: path ${String(t.path)} does not end with /${facts.manifestName}`);
    }
  }

  if (!functions.some((f) => f.name === facts.orchestrationName && f.trigger.type === 'orchestrationTrigger')) {
    report('durable', `no orchestration named "${facts.orchestrationName}"`);
  }
  for (const activity of facts.activityNames) {
    if (!functions.some((f) => f.name === activity && f.trigger.type === 'activityTrigger')) {
      report('durable', `no activity named "${activity}" (called by ${facts.orchestrationName})`);
    }
  }
  if (!functions.some((f) => f.trigger.type === 'httpTrigger')) report('http', 'no HTTP function (the API under /api)');

  const consumers = new Map<string, string[]>();
  for (const f of functions) {
    for (const b of f.bindings) {
      const where = `${f.name}.${b.name} (${b.type})`;
      if (typeof b.connection === 'string' && !facts.connections.includes(b.connection)) {
        report(
          'bindings',
          `${where}: connection "${b.connection}" is not one Bicep configures (${facts.connections.join(', ')})`,
        );
      }
      if (b.type === 'blobTrigger' || b.type === 'blob') {
        const container = containerOf(b.path);
        if (!container || !facts.containers.includes(container)) {
          report('bindings', `${where}: container "${container}" is not created by Bicep`);
        }
      }
      if (b.type === 'table' && !facts.tables.includes(String(b.tableName))) {
        report('bindings', `${where}: table "${String(b.tableName)}" is not created by Bicep`);
      }
      if (b.type === 'serviceBusTrigger' || b.type === 'serviceBus') {
        if (b.queueName !== undefined)
          report('bindings', `${where}: queues are not provisioned, only topic ${facts.topicName}`);
        if (b.topicName !== facts.topicName)
          report('bindings', `${where}: topic "${String(b.topicName)}" is not ${facts.topicName}`);
      }
      if (b.type === 'serviceBusTrigger') {
        const subscription = String(b.subscriptionName);
        if (!facts.subscriptionNames.includes(subscription)) {
          report('bindings', `${where}: subscription "${subscription}" is not in the topology`);
        }
        consumers.set(subscription, [...(consumers.get(subscription) ?? []), f.name]);
      }
    }
  }
  for (const subscription of facts.subscriptionNames) {
    const handlers = consumers.get(subscription) ?? [];
    if (handlers.length !== 1) {
      report(
        'consumers',
        `subscription "${subscription}" has ${handlers.length} consumer functions (${handlers.join(', ') || 'none'}), expected 1`,
      );
    }
  }
  return problems;
}
