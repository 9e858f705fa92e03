import { createHash } from 'node:crypto';
import { z } from 'zod';
import { INSTANCE_ROW, packJson, type Row, unpackJson } from './store';
import { EventType, type HistoryEvent, type LeafAction, type RetryOptions, type RuntimeStatus } from './wire';

/**
 * The engine's records in the instance table and their row codecs: instance rows, inbox messages,
 * timers, outbox payloads. Pure data; every other module of the engine speaks in these types.
 */

export type Retryable = {
  kind: 'activity' | 'subOrchestration';
  name: string;
  input: unknown;
  retry: RetryOptions;
  attempt: number;
  explicitInstanceId?: string;
};

/** What the engine remembers about an id the SDK is waiting on (the SDK's own bookkeeping is rebuilt on replay). */
export type OpenTask =
  | { k: 'activity'; name: string }
  | { k: 'subOrchestration'; name: string; childId: string }
  | { k: 'timer'; action: number }
  | { k: 'longTimer'; finalFireAt: number; action: number }
  | ({ k: 'retryable' } & Retryable)
  | { k: 'retryTimer'; target: Retryable };

export interface EngineState {
  nextId: number;
  actionCount: number;
  actionsHash: string;
  open: Record<string, OpenTask>;
}

export interface ParentLink {
  instanceId: string;
  exec: string;
  taskId: number;
}

export interface Instance {
  instanceId: string;
  name: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  createdTime: number;
  lastUpdatedTime: number;
  exec: string;
  episode: number;
  state: EngineState;
  parent?: ParentLink;
  etag?: string;
}

export type MessageKind = 'start' | 'event' | 'terminate';

export interface Message {
  row: Row;
  kind: MessageKind;
  exec: string;
  episode: number;
  visibleAt: number;
  seq: number;
  event: HistoryEvent;
}

export type OutboxPayload =
  | { kind: 'createChild'; childId: string; childExec: string; name: string; input: unknown; parent: ParentLink }
  | { kind: 'notifyParent'; parent: ParentLink; event: HistoryEvent };

const parentLinkSchema = z.object({ instanceId: z.string(), exec: z.string(), taskId: z.number() });

export const freshState = (): EngineState => ({ nextId: 0, actionCount: 0, actionsHash: hashActions([]), open: {} });

let seqCounter = 0;
/** Arrival order of inbox messages, monotonic within this process and roughly across restarts. */
export function nextSeq(): number {
  seqCounter = (seqCounter + 1) % 1000;
  return Date.now() * 1000 + seqCounter;
}

export function newEvent(type: number, time: number, fields: Partial<HistoryEvent> = {}): HistoryEvent {
  return { EventType: type, EventId: -1, IsPlayed: false, Timestamp: iso(time), ...fields };
}

export function messageRow(
  instanceId: string,
  rowKey: string,
  kind: MessageKind,
  event: HistoryEvent,
  exec = '',
): Row & { partitionKey: string; rowKey: string } {
  return {
    partitionKey: instanceId,
    rowKey,
    kind,
    exec,
    episode: 0,
    visibleAt: 0,
    seq: nextSeq(),
    ...packJson('event', event),
  };
}

/** A TimerFired message, invisible until fireAt, gated on the episode that creates it. */
export function timerRow(instance: Instance, id: number, fireAt: number): Row {
  return {
    ...messageRow(
      instance.instanceId,
      `m-t-${instance.exec}-${pad(id)}`,
      'event',
      newEvent(EventType.TimerFired, fireAt, { TimerId: id, FireAt: iso(fireAt) }),
      instance.exec,
    ),
    episode: instance.episode + 1,
    visibleAt: fireAt,
  };
}

/** The inbox row a sub-orchestration's completion (or failure) is delivered to in its parent. */
export function parentMessageRow(parent: ParentLink, event: HistoryEvent): Row {
  return messageRow(parent.instanceId, `m-c-${parent.exec}-${pad(parent.taskId)}`, 'event', event, parent.exec);
}

export function toMessage(row: Row): Message {
  return {
    row,
    kind: String(row.kind) as MessageKind,
    exec: String(row.exec ?? ''),
    episode: Number(row.episode ?? 0),
    visibleAt: Number(row.visibleAt ?? 0),
    seq: Number(row.seq ?? 0),
    event: unpackJson(row, 'event') as HistoryEvent,
  };
}

/** The task id a completion event answers (TaskScheduledId / TimerId), or undefined for other events. */
export function completionId(event: HistoryEvent): number | undefined {
  switch (event.EventType) {
    case EventType.TaskCompleted:
    case EventType.TaskFailed:
    case EventType.SubOrchestrationInstanceCompleted:
    case EventType.SubOrchestrationInstanceFailed:
      return event.TaskScheduledId;
    case EventType.TimerFired:
      return event.TimerId;
    default:
      return undefined;
  }
}

export function toInstanceRow(instance: Instance): Row {
  return {
    partitionKey: instance.instanceId,
    rowKey: INSTANCE_ROW,
    name: instance.name,
    runtimeStatus: instance.runtimeStatus,
    createdTime: instance.createdTime,
    lastUpdatedTime: instance.lastUpdatedTime,
    exec: instance.exec,
    episode: instance.episode,
    parent: instance.parent ? JSON.stringify(instance.parent) : '',
    ...packJson('input', instance.input),
    ...packJson('output', instance.output),
    ...packJson('customStatus', instance.customStatus),
    ...packJson('state', instance.state),
  };
}

export function fromInstanceRow(row: Row): Instance {
  const parentText = typeof row.parent === 'string' && row.parent ? row.parent : undefined;
  return {
    instanceId: row.partitionKey,
    name: String(row.name),
    runtimeStatus: String(row.runtimeStatus) as RuntimeStatus,
    input: unpackJson(row, 'input'),
    output: unpackJson(row, 'output'),
    customStatus: unpackJson(row, 'customStatus'),
    createdTime: Number(row.createdTime),
    lastUpdatedTime: Number(row.lastUpdatedTime),
    exec: String(row.exec),
    episode: Number(row.episode),
    state: (unpackJson(row, 'state') as EngineState | undefined) ?? freshState(),
    parent: parentText ? parentLinkSchema.parse(JSON.parse(parentText)) : undefined,
    etag: row.etag,
  };
}

export function hashActions(actions: LeafAction[]): string {
  const signature = actions.map((a) => ('functionName' in a ? `${a.actionType}:${a.functionName}` : `${a.actionType}`));
  return createHash('sha256').update(signature.join('|')).digest('hex').slice(0, 16);
}

export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

export function pad(n: number): string {
  return String(n).padStart(6, '0');
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function parseJsonText(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  const parsed = safeJson(text);
  return parsed === undefined ? text : parsed;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** .NET TimeSpan "d.hh:mm:ss[.fff]" or "hh:mm:ss" → ms. */
export function parseTimeSpan(text: string): number {
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?$/.exec(text);
  if (!match) throw new Error(`durable_invalid_timespan: "${text}" is not a d.hh:mm:ss duration`);
  const [, d = '0', h = '0', m = '0', s = '0', f = '0'] = match;
  return ((Number(d) * 24 + Number(h)) * 60 + Number(m)) * 60_000 + Number(s) * 1000 + Number(`0.${f}`) * 1000;
}
