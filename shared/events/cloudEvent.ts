import { createHash } from 'node:crypto';
import { z } from 'zod';
import { EVENT_DATA_SCHEMAS, EVENT_DATA_SCHEMAS_LOOSE, type EventData, type EventDataInput } from './schemas';
import { EVENT_TYPES, type EventType } from './types';

export const EVENT_SOURCE = '/tunedrop';
export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json';

/** Stable error codes of this module (documented in docs/events.md). */
export type EventErrorCode = 'invalid_event_data' | 'invalid_event' | 'unknown_event_type';

export interface EventIssue {
  /** Dotted path into the event or its data, e.g. `data.reports.json`. */
  path: string;
  message: string;
}

/** Bad event input. Carries paths and messages only, never the offending values (they may hold secrets). */
export class EventError extends Error {
  constructor(
    readonly code: EventErrorCode,
    message: string,
    readonly issues: EventIssue[] = [],
  ) {
    super(
      issues.length
        ? `${code}: ${message}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`
        : `${code}: ${message}`,
    );
    this.name = 'EventError';
  }
}

/** CloudEvents 1.0 structured JSON envelope, with tunedrop's `team` / `model` extension attributes. */
export const cloudEventSchema = z.looseObject({
  specversion: z.literal('1.0'),
  id: z.string().min(1).max(128),
  source: z.string().min(1),
  type: z.enum(EVENT_TYPES),
  /** The run id. */
  subject: z.string().min(1),
  time: z.iso.datetime({ offset: true }),
  datacontenttype: z.literal('application/json'),
  /** CloudEvents extension attribute: the team the event is about (also a Service Bus application property). */
  team: z.string().min(1),
  /** CloudEvents extension attribute: the base model id, when known (also a Service Bus application property). */
  model: z.string().min(1).optional(),
  data: z.record(z.string(), z.unknown()),
});

export type CloudEventEnvelope = z.infer<typeof cloudEventSchema>;

interface EnvelopeOf<K extends EventType> {
  specversion: '1.0';
  id: string;
  source: string;
  type: K;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  team: string;
  model?: string;
  data: EventData<K>;
}

/** A tunedrop event; a union over the types, so `switch (event.type)` narrows `data`. */
export type TunedropEvent<T extends EventType = EventType> = { [K in T]: EnvelopeOf<K> }[T];

/**
 * The id of a fact: sha256 over type, subject and fact key, 32 hex characters. The same fact
 * (an orchestration replaying, an activity retried, a duplicate blob event) always gets the same
 * id, so Service Bus duplicate detection and every consumer can drop the repeat.
 */
export function eventIdFor(type: EventType, subject: string, factKey: string): string {
  return createHash('sha256').update(`${type}\n${subject}\n${factKey}`).digest('hex').slice(0, 32);
}

/**
 * The fact key when the caller gives none; the rule per type (docs/events.md):
 * - run.status_changed: `{sequence}:{status}` (the nth change the orchestration observed);
 * - model.registered: `{modelFullName}@{version}`;
 * - dataset.validation.progress: `{shardsDone}`;
 * - everything else: empty. At most one such event exists per run, and the subject (the run id)
 *   is already derived from the manifest URL and the dropped bytes.
 */
export function defaultFactKey<T extends EventType>(type: T, data: EventData<T>): string {
  if (type === 'tunedrop.run.status_changed') {
    const d = data as EventData<'tunedrop.run.status_changed'>;
    return `${d.sequence}:${d.status}`;
  }
  if (type === 'tunedrop.model.registered') {
    const d = data as EventData<'tunedrop.model.registered'>;
    return `${d.modelFullName}@${d.version}`;
  }
  if (type === 'tunedrop.dataset.validation.progress') {
    // One event per progress step: the same step replayed or redelivered keeps its id.
    return String((data as EventData<'tunedrop.dataset.validation.progress'>).shardsDone);
  }
  if (type === 'tunedrop.catalog.changed') {
    // The transition, not the moment: a refresh that republishes the same change (crash before the
    // new copy was stored) builds the same id, so the team is told once.
    const d = data as EventData<'tunedrop.catalog.changed'>;
    return JSON.stringify([
      d.provider,
      d.previousRefreshedAt ?? 'seed',
      d.added,
      d.removed,
      d.contextLengthChanged,
      d.allowedModelsRemoved,
    ]);
  }
  return '';
}

export interface CreateEventInput<T extends EventType> {
  /** The run id. */
  subject: string;
  team: string;
  model?: string;
  data: EventDataInput<T>;
  /** Overrides defaultFactKey; use when one run can produce the same type more than once. */
  factKey?: string;
  /** When the fact happened. Required (not "now") so a replayed orchestration builds the identical event. */
  time: Date | string;
  source?: string;
}

function toIssues(error: z.ZodError, prefix: string): EventIssue[] {
  return error.issues.map((i) => ({
    path: [prefix, ...i.path.map(String)].filter(Boolean).join('.'),
    message: i.message,
  }));
}

/** Build a validated event. Throws EventError('invalid_event_data') when `data` does not fit the type's schema. */
export function createEvent<T extends EventType>(type: T, input: CreateEventInput<T>): TunedropEvent<T> {
  const schema = EVENT_DATA_SCHEMAS[type];
  if (!schema) throw new EventError('unknown_event_type', `unknown event type "${String(type)}"`);
  const parsed = schema.safeParse(input.data);
  if (!parsed.success) {
    throw new EventError('invalid_event_data', `data does not fit ${type}`, toIssues(parsed.error, 'data'));
  }
  // Plain JSON (optional fields given as undefined vanish), so the event equals what consumers receive.
  const data = JSON.parse(JSON.stringify(parsed.data)) as EventData<T>;
  const time = typeof input.time === 'string' ? new Date(input.time) : input.time;
  if (Number.isNaN(time.getTime()))
    throw new EventError('invalid_event', 'time is not a valid date', [{ path: 'time', message: 'invalid date' }]);
  const event = {
    specversion: '1.0' as const,
    id: eventIdFor(type, input.subject, input.factKey ?? defaultFactKey(type, data)),
    source: input.source ?? EVENT_SOURCE,
    type,
    subject: input.subject,
    time: time.toISOString(),
    datacontenttype: 'application/json' as const,
    team: input.team,
    ...(input.model !== undefined ? { model: input.model } : {}),
    data,
  };
  const envelope = cloudEventSchema.safeParse(event);
  if (!envelope.success) throw new EventError('invalid_event', 'envelope is not valid', toIssues(envelope.error, ''));
  return event as TunedropEvent<T>;
}

/**
 * Parse an event a consumer received (Service Bus message body, webhook payload). The envelope is
 * checked strictly, `data` loosely: fields a newer producer added are kept, not rejected.
 */
export function parseEvent(input: unknown): TunedropEvent {
  const value = typeof input === 'string' || Buffer.isBuffer(input) ? safeJson(input.toString()) : input;
  const envelope = cloudEventSchema.safeParse(value);
  if (!envelope.success) {
    const badType = envelope.error.issues.some((i) => i.path.length === 1 && i.path[0] === 'type');
    throw new EventError(
      badType ? 'unknown_event_type' : 'invalid_event',
      'not a tunedrop CloudEvent',
      toIssues(envelope.error, ''),
    );
  }
  const data = EVENT_DATA_SCHEMAS_LOOSE[envelope.data.type].safeParse(envelope.data.data);
  if (!data.success) {
    throw new EventError('invalid_event_data', `data does not fit ${envelope.data.type}`, toIssues(data.error, 'data'));
  }
  return { ...envelope.data, data: data.data } as TunedropEvent;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new EventError('invalid_event', 'body is not JSON');
  }
}

/** Narrow an event to one type. */
export function isEventOfType<T extends EventType>(
  event: TunedropEvent,
  type: T,
): event is Extract<TunedropEvent, { type: T }> {
  return event.type === type;
}
