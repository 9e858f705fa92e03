import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  classifiedContractProblems,
  functionContractProblems,
  type InfraFacts,
  loadFunctionRegistrations,
} from './functionRegistrations';
import { infraFacts } from './infraFacts';

// The check that functions.test.ts runs on functions/, proven here on two fixture apps.
const fixtures = path.join(__dirname, 'fixtures');
let facts: InfraFacts;

beforeAll(async () => {
  facts = await infraFacts();
});

describe('function ⇄ infra contract check', () => {
  it('accepts an app that honours the contract, read through the real @azure/functions registrations', async () => {
    const functions = await loadFunctionRegistrations(path.join(fixtures, 'functions-good'));
    expect(functions.map((f) => f.name).sort()).toEqual([
      'cancelTrainingRun',
      'deliverWebhooks',
      'getTrainingRunStatus',
      'health',
      'intake',
      'notifyTeams',
      'recordRunEvent',
      'registerModel',
      'retryWebhookDelivery',
      'stageTrainingData',
      'submitTrainingRun',
      'trainingRun',
    ]);
    const intake = functions.find((f) => f.name === 'intake');
    expect(intake?.trigger).toMatchObject({
      type: 'blobTrigger',
      source: 'EventGrid',
      connection: 'AzureWebJobsStorage',
    });
    expect(functionContractProblems(functions, facts)).toEqual([]);
  });

  it('reports every way an app breaks it', async () => {
    const functions = await loadFunctionRegistrations(path.join(fixtures, 'functions-bad'));
    const problems = functionContractProblems(functions, facts);
    const expected = [
      /no function named "intake"/,
      /no orchestration named "trainingRun"/,
      /no activity named "stageTrainingData"/,
      /no activity named "submitTrainingRun"/,
      /no activity named "getTrainingRunStatus"/,
      /no activity named "cancelTrainingRun"/,
      /no activity named "recordRunEvent"/,
      /no HTTP function/,
      /ingest\.\w+ \(blobTrigger\): connection "MyStorage"/,
      /ingest\.\w+ \(blobTrigger\): container "uploads" is not created/,
      /registerModel\.\w+ \(table\): table "runs" is not created/,
      /registerModel\.\w+ \(serviceBusTrigger\): topic "events"/,
      /registerModel\.\w+ \(serviceBusTrigger\): subscription "register" is not in the topology/,
      /subscription "register-model" has 0 consumer functions/,
      /subscription "notify-teams" has 2 consumer functions \(notifyTeams, notifyTeamsAgain\)/,
      /subscription "webhooks" has 0 consumer functions/,
      /subscription "webhook-retries" has 0 consumer functions/,
    ];
    for (const pattern of expected)
      expect(
        problems.some((p) => pattern.test(p)),
        pattern.source,
      ).toBe(true);
    expect(problems).toHaveLength(expected.length);
    const areas = new Set(classifiedContractProblems(functions, facts).map((p) => p.area));
    expect([...areas].sort()).toEqual(['bindings', 'consumers', 'durable', 'http', 'intake']);
  });
});
