import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './bicep';
import {
  type ContractProblem,
  classifiedContractProblems,
  type FunctionView,
  functionSourceFiles,
  loadFunctionRegistrations,
  type ProblemArea,
} from './functionRegistrations';
import { infraFacts } from './infraFacts';

/**
 * functions/ against infra/, through what the files actually register with the Functions host
 * (function names and bindings), not file names. Nothing is skipped: while functions/ does not
 * register what infra/ wires to, these tests fail — that deployment would be broken (the Event
 * Grid hook targets Host.Functions.intake, the topic subscriptions Bicep creates need consumers,
 * the pipeline starts the trainingRun orchestration). The binding checks hold vacuously only for
 * bindings that do not exist yet: nothing there can name a missing container, table or topic.
 */
const FUNCTIONS_DIR = path.join(REPO_ROOT, 'functions');
/** The design's function names and, for the topic consumers, the subscription each one drains. */
const NAMED_FUNCTIONS: Record<string, string | undefined> = {
  intake: undefined,
  trainingRun: undefined,
  registerModel: 'register-model',
  notifyTeams: 'notify-teams',
  deliverWebhooks: 'webhooks',
  retryWebhookDelivery: 'webhook-retries',
};
let functions: FunctionView[];
let problems: ContractProblem[];

beforeAll(async () => {
  functions = await loadFunctionRegistrations(FUNCTIONS_DIR);
  problems = classifiedContractProblems(functions, await infraFacts());
});

const inArea = (area: ProblemArea) => problems.filter((p) => p.area === area).map((p) => p.message);

describe('functions/ ⇄ infra/', () => {
  it('has function files to check', () => {
    expect(functionSourceFiles(FUNCTIONS_DIR).length).toBeGreaterThan(0);
    expect(functions.length).toBeGreaterThan(0);
  });

  it.each(Object.entries(NAMED_FUNCTIONS))('registers %s', (name, subscription) => {
    const registered = functions.find((f) => f.name === name);
    expect(registered, `no function named ${name} in functions/`).toBeDefined();
    if (subscription)
      expect(registered?.trigger).toMatchObject({ type: 'serviceBusTrigger', subscriptionName: subscription });
  });

  it('registers the function the Event Grid subscription targets: intake, EventGrid blob trigger on datasets/**/run.json', () => {
    expect(inArea('intake')).toEqual([]);
  });

  it('registers the trainingRun orchestration and every activity it calls', () => {
    expect(inArea('durable')).toEqual([]);
  });

  it('has exactly one consumer for every topic subscription Bicep creates', () => {
    expect(inArea('consumers')).toEqual([]);
  });

  it('binds only to containers, tables, the topic and connections Bicep provisions', () => {
    expect(inArea('bindings')).toEqual([]);
  });

  it('serves the HTTP API', () => {
    expect(inArea('http')).toEqual([]);
  });
});
