/**
 * The GraphQL documents the Databricks SDK (`databricks_genai`, databricks.model_training) sends to
 * `POST /api/2.0/genai-mapi/graphql`, with the same operation names, variable names and input
 * types, so the service (and our emulator) sees exactly what the official client sends.
 */

export const GRAPHQL_PATH = '/api/2.0/genai-mapi/graphql';

const RUN_FIELDS = `
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
    isDeleted`;

const DETAILS_FIELDS = `
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
    }`;

export const CREATE_FINETUNE = `
mutation CreateFinetune($createFinetuneData: CreateFinetuneInput!) {
  createFinetune(createFinetuneData: $createFinetuneData) {${RUN_FIELDS}${DETAILS_FIELDS}
  }
}`;

export const GET_FINETUNES_PAGINATED = `
query GetFinetunesPaginated($getFinetunesPaginatedData: GetFinetunesPaginatedInput!) {
  getFinetunesPaginated(getFinetunesPaginatedData: $getFinetunesPaginatedData) {
    cursor
    hasNextPage
    finetunes {${RUN_FIELDS}
        estimatedEndTime${DETAILS_FIELDS}
    }
  }
}`;

export const STOP_FINETUNES = `
mutation StopFinetunes($getFinetunesData: GetFinetunesInput!, $stopFinetunesData: StopFinetunesInput) {
  stopFinetunes(getFinetunesData: $getFinetunesData, stopFinetunesData: $stopFinetunesData) {${RUN_FIELDS}
  }
}`;

export const GET_FINETUNE_EVENTS = `
query GetFinetuneEvents($getFinetuneEventsData: GetFinetuneEventsInput!) {
  getFinetuneEvents(getFinetuneEventsData: $getFinetuneEventsData) {
    eventType
    eventTime
    eventMessage
  }
}`;

export const GET_FINETUNE_CONSTANTS = `
query Models {
  getFinetuneConstants {
    models {
      name
      displayName
      maxContextLength
    }
  }
}`;

/**
 * Which root field a document selects, the way a GraphQL server dispatches: the first field of the
 * (single) operation's selection set. Returns undefined for text that is not a query or mutation.
 */
export function rootField(query: string): { kind: 'query' | 'mutation'; field: string } | undefined {
  const withoutComments = query.replace(/#[^\n]*/g, '');
  const m = /^\s*(?:(query|mutation)\b[^{]*)?\{\s*([A-Za-z_][A-Za-z0-9_]*)/.exec(withoutComments);
  if (!m?.[2]) return undefined;
  return { kind: m[1] === 'mutation' ? 'mutation' : 'query', field: m[2] };
}
