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
};
/**
 * Consumers the fan-out issue (6: Teams/Slack notifications, signed webhooks) adds. Until then
 * their subscriptions have no consumer and messages wait there (TTL 14 days, then dead-letter):
 * nothing is lost. When a consumer lands, the test below fails until it moves up into NAMED_FUNCTIONS.
 */
const AWAITING_FANOUT_ISSUE: Record<string, string> = {
  notifyTeams: 'notify-teams',
  deliverWebhooks: 'webhooks',
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

  it('has exactly one consumer for every topic subscription Bicep creates, but those the fan-out issue adds', () => {
    expect(inArea('consumers')).toEqual(
      Object.values(AWAITING_FANOUT_ISSUE).map(
        (subscription) => `subscription "${subscription}" has 0 consumer functions (none), expected 1`,
      ),
    );
    for (const name of Object.keys(AWAITING_FANOUT_ISSUE)) {
      expect(
        functions.find((f) => f.name === name),
        `${name} landed: move it into NAMED_FUNCTIONS`,
      ).toBeUndefined();
    }
  });

  it('binds only to containers, tables, the topic and connections Bicep provisions', () => {
    expect(inArea('bindings')).toEqual([]);
  });

  it('serves the HTTP API', () => {
    expect(inArea('http')).toEqual([]);
  });
});
