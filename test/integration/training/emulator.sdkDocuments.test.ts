import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_TIMINGS, startTrainingEmulator, type TrainingEmulator } from '../../../emulators/databricks';

/**
 * The GraphQL documents the official Python client sends (databricks-genai 1.x, package
 * `databricks.model_training.api`: create.py, list.py, cancel.py, get_events.py), rendered from its
 * f-strings exactly, with the variables it builds. The Python client cannot be installed here, so
 * its requests are replayed and its response handling is checked the way it reads the answer
 * (`'clusterId' in dataPrepConfig`, the fields each query selects).
 */
const SDK_CREATE = `
mutation CreateFinetune($createFinetuneData: CreateFinetuneInput!) {
  createFinetune(createFinetuneData: $createFinetuneData) {
    id
    name
    status
    createdById
    createdByEmail
    createdAt
    updatedAt
    startedAt
    completedAt
    reason
    isDeleted
    details {
        model
        taskType
        trainDataPath
        saveFolder
        evalDataPath
        evalPrompts
        trainingDuration
        learningRate
        contextLength
        dataPrepConfig
        experimentTracker
        customWeightsPath
    }
  }
}`;

const SDK_LIST_WITH_DETAILS = `
query GetFinetunesPaginated($getFinetunesPaginatedData: GetFinetunesPaginatedInput!) {
  getFinetunesPaginated(getFinetunesPaginatedData: $getFinetunesPaginatedData) {
    cursor
    hasNextPage
    finetunes {
        id
        name
        status
        createdById
        createdByEmail
        createdAt
        updatedAt
        startedAt
        completedAt
        reason
        estimatedEndTime
        isDeleted
        details {
            model
            taskType
            trainDataPath
            saveFolder
            evalDataPath
            evalPrompts
            trainingDuration
            learningRate
            contextLength
            experimentTracker
            customWeightsPath
            dataPrepConfig
            formattedFinetuningEvents {
                eventType
                eventTime
                eventMessage
            }
        }
    }
  }
}`;

const SDK_CANCEL = `
mutation StopFinetunes($getFinetunesData: GetFinetunesInput!, $stopFinetunesData: StopFinetunesInput) {
  stopFinetunes(getFinetunesData: $getFinetunesData, stopFinetunesData: $stopFinetunesData) {
    id
    name
    status
    createdById
    createdByEmail
    createdAt
    updatedAt
    startedAt
    completedAt
    reason
    isDeleted
  }
}`;

const SDK_CREATE_VARIABLES = {
  createFinetuneData: {
    config: {
      model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
      taskType: 'CHAT_COMPLETION',
      trainDataPath: 'dbfs:/Volumes/main/tunedrop/staging/train.jsonl',
      saveFolder: 'dbfs:/databricks/mlflow-tracking/{mlflow_experiment_id}/{mlflow_run_id}/artifacts',
      trainingDuration: '1ep',
      learningRate: 5e-7,
      experimentTracker: {
        mlflow: { experimentPath: '/Users/me@example.com/{}', modelRegistryPath: 'main.models' },
      },
      disableCredentialsCheck: false,
    },
  },
};

let emulator: TrainingEmulator;

beforeAll(async () => {
  emulator = await startTrainingEmulator({ timings: FAST_TIMINGS });
});
afterAll(async () => {
  await emulator.stop();
});

// The answers are read untyped, the way the Python client reads dicts.
// biome-ignore lint/suspicious/noExplicitAny: see above
type Json = any;

async function graphql(query: string, variables: Record<string, unknown>) {
  const res = await fetch(`${emulator.url}/api/2.0/genai-mapi/graphql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${emulator.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as { data?: Record<string, Json>; errors?: Json[] } };
}

/** What the SDK's response handling reads: fails the same way the Python client does. */
function readLikeSdk(run: Record<string, Json>) {
  const dataPrepConfig = run.details.dataPrepConfig;
  if (dataPrepConfig === null || typeof dataPrepConfig !== 'object') {
    throw new TypeError("argument of type 'NoneType' is not iterable ('clusterId' in dataPrepConfig)");
  }
  return { clusterId: 'clusterId' in dataPrepConfig ? dataPrepConfig.clusterId : undefined };
}

describe('the emulator answers the official SDK documents as the service does', () => {
  it('create: a run without a data-prep cluster comes back with dataPrepConfig an object the SDK can read', async () => {
    const { status, body } = await graphql(SDK_CREATE, SDK_CREATE_VARIABLES);
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const run = body.data?.createFinetune;
    expect(run.details.dataPrepConfig).toEqual({});
    expect(readLikeSdk(run)).toEqual({ clusterId: undefined });
    expect(run.details.experimentTracker).toMatchObject({ mlflow: { modelRegistryPath: 'main.models' } });
    // Only what the document selected: no estimatedEndTime, no events on create.
    expect(Object.keys(run)).not.toContain('estimatedEndTime');
    expect(Object.keys(run.details)).not.toContain('formattedFinetuningEvents');
  });

  it('create with a data-prep cluster echoes it for the SDK', async () => {
    const vars = structuredClone(SDK_CREATE_VARIABLES);
    (vars.createFinetuneData.config as Record<string, unknown>).dataPrepConfig = {
      clusterId: '0101-abc',
      useSql: true,
    };
    const { body } = await graphql(SDK_CREATE, vars);
    expect(readLikeSdk(body.data?.createFinetune)).toEqual({ clusterId: '0101-abc' });
  });

  it('get/list: every run in the page is readable by the SDK and carries exactly the selected fields', async () => {
    await graphql(SDK_CREATE, SDK_CREATE_VARIABLES);
    const { status, body } = await graphql(SDK_LIST_WITH_DETAILS, {
      getFinetunesPaginatedData: { filters: {}, includeDeleted: false, limit: 100 },
    });
    expect(status).toBe(200);
    const page = body.data?.getFinetunesPaginated;
    expect(page.finetunes.length).toBeGreaterThan(0);
    for (const run of page.finetunes) {
      expect(() => readLikeSdk(run)).not.toThrow();
      expect(Object.keys(run).sort()).toEqual(
        [
          'id',
          'name',
          'status',
          'createdById',
          'createdByEmail',
          'createdAt',
          'updatedAt',
          'startedAt',
          'completedAt',
          'reason',
          'estimatedEndTime',
          'isDeleted',
          'details',
        ].sort(),
      );
      expect(run.details.formattedFinetuningEvents[0]).toEqual({
        eventType: 'CREATED',
        eventTime: expect.any(String),
        eventMessage: expect.any(String),
      });
    }
  });

  it('cancel: returns only the fields the mutation selected (no details), and takes the reason argument', async () => {
    const created = (await graphql(SDK_CREATE, SDK_CREATE_VARIABLES)).body.data?.createFinetune;
    const { status, body } = await graphql(SDK_CANCEL, {
      getFinetunesData: { filters: { name: { in: [created.name] } } },
      stopFinetunesData: { reason: 'Canceled by user.' },
    });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const [stopped] = body.data?.stopFinetunes ?? [];
    expect(stopped.name).toBe(created.name);
    expect(stopped).not.toHaveProperty('details');
    expect(stopped).not.toHaveProperty('estimatedEndTime');
  });

  it('binds arguments by the argument name, whatever the variable is called', async () => {
    const renamed = SDK_CREATE.replaceAll('$createFinetuneData', '$input');
    const { status, body } = await graphql(renamed, { input: SDK_CREATE_VARIABLES.createFinetuneData });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data?.createFinetune.status).toBe('PENDING');

    // Inline arguments (no variables at all) work too.
    const inline = `mutation { stopFinetunes(getFinetunesData: { filters: { name: { in: ["${body.data?.createFinetune.name}"] } } }) { name status } }`;
    const stop = await graphql(inline, {});
    expect(stop.body.errors).toBeUndefined();
    expect(stop.body.data?.stopFinetunes[0]).toEqual({ name: body.data?.createFinetune.name, status: 'STOPPING' });
  });

  it('refuses a field the schema does not have, and a missing required variable, with a 400', async () => {
    const unknown = await graphql('{ getFinetuneConstants { models { name secretField } } }', {});
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors?.[0]).toMatchObject({
      message: expect.stringContaining('secretField'),
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    const missing = await graphql(SDK_CREATE, {});
    expect(missing.status).toBe(400);
    expect(missing.body.errors?.[0].message).toContain('$createFinetuneData');
  });
});
