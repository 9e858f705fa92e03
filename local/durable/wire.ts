import { z } from 'zod';

/**
 * Wire shapes between the Durable Functions host extension and the out-of-proc Node worker
 * (durable-functions v3). Numbers and field names match the real extension so the SDK's own
 * replay code (Orchestrator / TaskOrchestrationExecutor) runs unchanged.
 */

/** HistoryEventType (durable-functions lib/src/history/HistoryEventType). */
export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionFailed: 2,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventSent: 14,
  EventRaised: 15,
  ContinueAsNew: 16,
} as const;

/** ActionType (durable-functions lib/src/actions/ActionType). */
export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  WhenAny: 11,
  WhenAll: 12,
  LockEntities: 13,
  ReleaseEntities: 14,
} as const;

/** ReplaySchema: V3 (=2) enables the SDK's long-timer splitting; V4 only adds entity locks, which we do not support. */
export const REPLAY_SCHEMA_V3 = 2;

/**
 * One history event as the extension serialises it. The SDK reads EventType, EventId, IsPlayed,
 * Timestamp and the per-type fields (Name, Input, Result, TaskScheduledId, TimerId, FireAt, Reason, Details, FailureDetails).
 */
export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  Name?: string;
  Input?: string;
  Result?: string;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  Reason?: string;
  Details?: string;
  FailureDetails?: FailureDetails;
  InstanceId?: string;
  OrchestrationStatus?: string;
}

export interface FailureDetails {
  ErrorType: string;
  ErrorMessage: string;
  StackTrace?: string;
  IsNonRetriable?: boolean;
  Properties?: Record<string, unknown>;
}

/** The orchestrationTrigger value the extension hands the worker (DurableOrchestrationBindingInfo). */
export interface OrchestrationTriggerValue {
  history: HistoryEvent[];
  input: unknown;
  instanceId: string;
  isReplaying: boolean;
  parentInstanceId: string | null;
  upperSchemaVersion: number;
  upperSchemaVersionNew: number;
  longRunningTimerIntervalDuration: string;
  maximumShortTimerDuration: string;
  defaultHttpAsyncRequestSleepTimeMillseconds: number;
}

export const retryOptionsSchema = z.object({
  firstRetryIntervalInMilliseconds: z.number().positive(),
  maxNumberOfAttempts: z.number().int(),
  backoffCoefficient: z.number().positive().optional(),
  maxRetryIntervalInMilliseconds: z.number().positive().optional(),
  retryTimeoutInMilliseconds: z.number().positive().optional(),
});
export type RetryOptions = z.infer<typeof retryOptionsSchema>;

const dateLike = z.union([z.string(), z.date()]).transform((v) => new Date(v).toISOString());

const callActivity = z.object({
  actionType: z.literal(ActionType.CallActivity),
  functionName: z.string().min(1),
  input: z.unknown().optional(),
});
const callActivityWithRetry = z.object({
  actionType: z.literal(ActionType.CallActivityWithRetry),
  functionName: z.string().min(1),
  retryOptions: retryOptionsSchema,
  input: z.unknown().optional(),
});
const callSubOrchestrator = z.object({
  actionType: z.literal(ActionType.CallSubOrchestrator),
  functionName: z.string().min(1),
  instanceId: z.string().nullish(),
  input: z.unknown().optional(),
});
const callSubOrchestratorWithRetry = z.object({
  actionType: z.literal(ActionType.CallSubOrchestratorWithRetry),
  functionName: z.string().min(1),
  retryOptions: retryOptionsSchema,
  instanceId: z.string().nullish(),
  input: z.unknown().optional(),
});
const continueAsNew = z.object({ actionType: z.literal(ActionType.ContinueAsNew), input: z.unknown().optional() });
const createTimer = z.object({
  actionType: z.literal(ActionType.CreateTimer),
  fireAt: dateLike,
  isCanceled: z.boolean().optional(),
});
const waitForExternalEvent = z.object({
  actionType: z.literal(ActionType.WaitForExternalEvent),
  externalEventName: z.string(),
});
const unsupported = z.object({
  actionType: z.union([
    z.literal(ActionType.CallEntity),
    z.literal(ActionType.CallHttp),
    z.literal(ActionType.SignalEntity),
    z.literal(ActionType.LockEntities),
    z.literal(ActionType.ReleaseEntities),
  ]),
});

export type Action =
  | z.infer<typeof callActivity>
  | z.infer<typeof callActivityWithRetry>
  | z.infer<typeof callSubOrchestrator>
  | z.infer<typeof callSubOrchestratorWithRetry>
  | z.infer<typeof continueAsNew>
  | z.infer<typeof createTimer>
  | z.infer<typeof waitForExternalEvent>
  | z.infer<typeof unsupported>
  | { actionType: typeof ActionType.WhenAll | typeof ActionType.WhenAny; compoundActions: Action[] };

export const actionSchema: z.ZodType<Action> = z.lazy(() =>
  z.union([
    callActivity,
    callActivityWithRetry,
    callSubOrchestrator,
    callSubOrchestratorWithRetry,
    continueAsNew,
    createTimer,
    waitForExternalEvent,
    unsupported,
    z.object({
      actionType: z.union([z.literal(ActionType.WhenAll), z.literal(ActionType.WhenAny)]),
      compoundActions: z.array(actionSchema),
    }),
  ]),
);

/** What the orchestrator function returns (OrchestratorState). */
export const orchestratorStateSchema = z.object({
  isDone: z.boolean(),
  actions: z.array(z.array(actionSchema)),
  output: z.unknown().optional(),
  error: z.string().optional(),
  customStatus: z.unknown().optional(),
  schemaVersion: z.number().optional(),
});
export type OrchestratorState = z.infer<typeof orchestratorStateSchema>;

/** Marker the SDK puts between the error message and the serialised OrchestratorState on failure. */
export const OUT_OF_PROC_DATA_LABEL = '\n\n$OutOfProcData$:';

/** A non-compound action, in the depth-first order the SDK assigns sequence numbers. */
export type LeafAction = Exclude<Action, { compoundActions: Action[] }>;

export function flattenActions(state: OrchestratorState): LeafAction[] {
  const out: LeafAction[] = [];
  const visit = (action: Action) => {
    if ('compoundActions' in action) for (const child of action.compoundActions) visit(child);
    else out.push(action);
  };
  for (const group of state.actions) for (const action of group) visit(action);
  return out;
}

export type RuntimeStatus = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Terminated' | 'ContinuedAsNew';
export const RUNTIME_STATUSES: readonly RuntimeStatus[] = [
  'Pending',
  'Running',
  'Completed',
  'Failed',
  'Terminated',
  'ContinuedAsNew',
];
export const TERMINAL_STATUSES: ReadonlySet<RuntimeStatus> = new Set(['Completed', 'Failed', 'Terminated']);

/** The durableClient input binding value (OrchestrationClientInputData plus the newer fields). */
export interface DurableClientInputData {
  taskHubName: string;
  creationUrls: { createNewInstancePostUri: string; waitOnNewInstancePostUri: string };
  managementUrls: {
    id: string;
    statusQueryGetUri: string;
    sendEventPostUri: string;
    terminatePostUri: string;
    rewindPostUri: string;
    purgeHistoryDeleteUri: string;
    restartPostUri: string;
    suspendPostUri: string;
    resumePostUri: string;
  };
  baseUrl: string;
  requiredQueryStringParameters: string;
  rpcBaseUrl?: string;
  httpBaseUrl: string;
}

/** Body of GET /instances/{id} (the extension's StatusResponsePayload). */
export interface StatusPayload {
  name: string;
  instanceId: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  historyEvents?: unknown[];
}
