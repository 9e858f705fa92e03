import type { InvokeRequest, InvokeResult } from '../host/contract';
import { type Instance, safeJson } from './records';
import {
  type HistoryEvent,
  type OrchestrationTriggerValue,
  type OrchestratorState,
  OUT_OF_PROC_DATA_LABEL,
  orchestratorStateSchema,
  REPLAY_SCHEMA_V3,
} from './wire';

export type ReplayOutcome =
  | { kind: 'state'; state: OrchestratorState }
  | { kind: 'failed'; message: string; details?: string };

export interface ReplaySettings {
  /** .NET TimeSpan strings, passed to the SDK as the extension does. */
  maximumShortTimerDuration: string;
  longRunningTimerIntervalDuration: string;
}

/**
 * Runs the orchestrator function through the host with its history (past events marked played,
 * this episode's new ones not), the way the extension calls out-of-proc workers, and reads back
 * the SDK's OrchestratorState or its failure.
 */
export async function replayOrchestrator(
  invoke: (request: InvokeRequest) => Promise<InvokeResult>,
  instance: Instance,
  past: HistoryEvent[],
  newEvents: HistoryEvent[],
  settings: ReplaySettings,
): Promise<ReplayOutcome> {
  const trigger: OrchestrationTriggerValue = {
    history: [...past.map((e) => ({ ...e, IsPlayed: true })), ...newEvents],
    input: instance.input ?? null,
    instanceId: instance.instanceId,
    isReplaying: past.length > 0,
    parentInstanceId: instance.parent?.instanceId ?? null,
    upperSchemaVersion: REPLAY_SCHEMA_V3,
    upperSchemaVersionNew: REPLAY_SCHEMA_V3,
    longRunningTimerIntervalDuration: settings.longRunningTimerIntervalDuration,
    maximumShortTimerDuration: settings.maximumShortTimerDuration,
    defaultHttpAsyncRequestSleepTimeMillseconds: 30_000,
  };
  let returned: unknown;
  try {
    returned = (await invoke({ functionName: instance.name, triggerValue: trigger })).returnValue;
  } catch (err) {
    // The SDK throws OrchestrationFailureError: "<message>\n\n$OutOfProcData$:<OrchestratorState JSON>",
    // and the real failure text is the state's `error` (the prefix is often just "false").
    const text = err instanceof Error ? err.message : String(err);
    const at = text.indexOf(OUT_OF_PROC_DATA_LABEL);
    const data = at >= 0 ? safeJson(text.slice(at + OUT_OF_PROC_DATA_LABEL.length)) : undefined;
    const error = (data as { error?: unknown } | undefined)?.error;
    const message = typeof error === 'string' ? error : at >= 0 ? text.slice(0, at) : text;
    return { kind: 'failed', message, details: err instanceof Error ? err.stack : undefined };
  }
  const parsed = orchestratorStateSchema.safeParse(typeof returned === 'string' ? safeJson(returned) : returned);
  if (!parsed.success) {
    return {
      kind: 'failed',
      message: `durable_invalid_orchestrator_state: '${instance.name}' did not return an OrchestratorState (${parsed.error.issues[0]?.message ?? 'invalid'}). Is it registered with df.app.orchestration?`,
    };
  }
  return { kind: 'state', state: parsed.data };
}
