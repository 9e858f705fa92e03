import { randomUUID } from 'node:crypto';
import type { Clock } from './clock';
import { DurableEngineError } from './errors';
import type { InstanceTable } from './instances';
import { type Instance, messageRow, newEvent, nextSeq, parseJsonText } from './records';
import { EventType, type HistoryEvent, type RuntimeStatus, type StatusPayload, TERMINAL_STATUSES } from './wire';

export interface StartOptions {
  instanceId?: string;
  input?: unknown;
}

export interface StatusOptions {
  showHistory?: boolean;
  showInput?: boolean;
}

export interface InstanceFilter {
  runtimeStatus?: RuntimeStatus[];
  createdTimeFrom?: Date;
  createdTimeTo?: Date;
}

/** How the client hears about the dispatcher (a client-only engine's dispatcher never runs; waits then poll). */
export interface DispatchSignals {
  /** Something was written: dispatch now rather than at the next poll. */
  wake(): void;
  /** Resolves after the next dispatcher progress, or after maxMs. */
  nextProgress(maxMs: number): Promise<void>;
}

export interface DurableClientApiOptions {
  instances: InstanceTable;
  clock: Clock;
  signals: DispatchSignals;
  /** Trigger type of a registered function, to reject startNew of an unknown orchestrator. */
  functionKind?(name: string): string | undefined;
}

/**
 * The DurableClient operations (startNew, status, events, terminate, purge, waits) on the task hub's
 * table, with the extension's coded errors. Writes only inbox messages and instance rows; the
 * dispatcher does the rest.
 */
export class DurableClientApi {
  constructor(private readonly options: DurableClientApiOptions) {}

  private get instances(): InstanceTable {
    return this.options.instances;
  }

  async startNew(name: string, options: StartOptions = {}): Promise<string> {
    await this.instances.store.init();
    const { functionKind } = this.options;
    const kind = functionKind?.(name);
    if (functionKind && kind !== 'orchestrationTrigger') {
      throw new DurableEngineError(
        'durable_unknown_orchestrator',
        `The function '${name}' doesn't exist or is not an orchestrator function.`,
      );
    }
    const instanceId = options.instanceId ?? randomUUID().replaceAll('-', '');
    validateInstanceId(instanceId);
    const existing = await this.instances.load(instanceId);
    if (existing && !TERMINAL_STATUSES.has(existing.runtimeStatus)) {
      throw new DurableEngineError(
        'durable_instance_exists',
        `An orchestration instance with ID '${instanceId}' already exists and is ${existing.runtimeStatus}.`,
      );
    }
    if (existing) await this.instances.purge(instanceId);
    await this.instances.create(instanceId, name, options.input, randomUUID().slice(0, 8));
    this.options.signals.wake();
    return instanceId;
  }

  async getStatus(instanceId: string, options: StatusOptions = {}): Promise<StatusPayload | undefined> {
    await this.instances.store.init();
    const instance = await this.instances.load(instanceId);
    if (!instance) return undefined;
    const status = toStatus(instance, options.showInput ?? true);
    if (options.showHistory) {
      const history = await this.instances.history(instance);
      status.historyEvents = history.map(describeEvent);
    }
    return status;
  }

  async listInstances(filter: InstanceFilter = {}): Promise<StatusPayload[]> {
    await this.instances.store.init();
    return (await this.instances.list()).filter((i) => matchesFilter(i, filter)).map((i) => toStatus(i, true));
  }

  async raiseEvent(instanceId: string, eventName: string, eventData?: unknown): Promise<void> {
    await this.instances.store.init();
    if (!eventName) throw new DurableEngineError('durable_invalid_request', 'eventName must be a non-empty string.');
    const instance = await this.instances.require(instanceId);
    if (TERMINAL_STATUSES.has(instance.runtimeStatus)) {
      throw new DurableEngineError(
        'durable_instance_not_running',
        `Instance '${instanceId}' is ${instance.runtimeStatus}; it cannot receive events.`,
      );
    }
    const event = newEvent(EventType.EventRaised, this.options.clock.now(), {
      Name: eventName,
      Input: eventData === undefined ? undefined : JSON.stringify(eventData),
    });
    await this.instances.store.upsert(
      messageRow(instanceId, `m-e-${nextSeq()}-${randomUUID().slice(0, 8)}`, 'event', event),
    );
    this.options.signals.wake();
  }

  async terminate(instanceId: string, reason = ''): Promise<void> {
    await this.instances.store.init();
    const instance = await this.instances.require(instanceId);
    if (TERMINAL_STATUSES.has(instance.runtimeStatus)) {
      throw new DurableEngineError(
        'durable_instance_not_running',
        `Instance '${instanceId}' is already ${instance.runtimeStatus}.`,
      );
    }
    const event = newEvent(EventType.ExecutionTerminated, this.options.clock.now(), { Input: JSON.stringify(reason) });
    await this.instances.store.upsert(messageRow(instanceId, `m-x-${nextSeq()}`, 'terminate', event));
    this.options.signals.wake();
  }

  /** Deletes a finished instance and all its history. Returns how many instances were deleted (0 or 1). */
  async purge(instanceId: string): Promise<number> {
    await this.instances.store.init();
    const instance = await this.instances.load(instanceId);
    if (!instance) return 0;
    if (!TERMINAL_STATUSES.has(instance.runtimeStatus)) {
      throw new DurableEngineError(
        'durable_instance_running',
        `Only orchestrations in a terminal state can be purged; '${instanceId}' is ${instance.runtimeStatus}.`,
      );
    }
    await this.instances.purge(instanceId);
    return 1;
  }

  /** Purges the finished instances that match the filter (running ones are left alone, as in DTFx). */
  async purgeBy(filter: InstanceFilter): Promise<number> {
    const matches = (await this.listInstances(filter)).filter((s) => TERMINAL_STATUSES.has(s.runtimeStatus));
    for (const status of matches) await this.instances.purge(status.instanceId);
    return matches.length;
  }

  /** Resolves when the instance is Completed, Failed or Terminated. Polls storage (and wakes on local progress). */
  async waitForCompletion(instanceId: string, timeoutMs = 30_000): Promise<StatusPayload> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.getStatus(instanceId);
      if (status && TERMINAL_STATUSES.has(status.runtimeStatus)) return status;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new DurableEngineError(
          'durable_timeout',
          `Instance '${instanceId}' is still ${status?.runtimeStatus ?? 'missing'} after ${timeoutMs} ms.`,
        );
      }
      await this.options.signals.nextProgress(Math.min(remaining, 100));
    }
  }

  /** Resolves once the instance reaches a status for which `predicate` holds. */
  async waitFor(
    instanceId: string,
    predicate: (status: StatusPayload) => boolean,
    timeoutMs = 30_000,
  ): Promise<StatusPayload> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.getStatus(instanceId, { showHistory: true });
      if (status && predicate(status)) return status;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new DurableEngineError('durable_timeout', `Instance '${instanceId}' did not reach the awaited state.`);
      }
      await this.options.signals.nextProgress(Math.min(remaining, 100));
    }
  }
}

function toStatus(instance: Instance, showInput: boolean): StatusPayload {
  return {
    name: instance.name,
    instanceId: instance.instanceId,
    runtimeStatus: instance.runtimeStatus,
    input: showInput ? (instance.input ?? null) : null,
    customStatus: instance.customStatus ?? null,
    output: instance.output ?? null,
    // The extension formats these with .NET's "s" format plus Z: no fractional seconds.
    createdTime: isoSeconds(instance.createdTime),
    lastUpdatedTime: isoSeconds(instance.lastUpdatedTime),
  };
}

function matchesFilter(instance: Instance, filter: InstanceFilter): boolean {
  if (filter.runtimeStatus?.length && !filter.runtimeStatus.includes(instance.runtimeStatus)) return false;
  if (filter.createdTimeFrom && instance.createdTime < filter.createdTimeFrom.getTime()) return false;
  if (filter.createdTimeTo && instance.createdTime > filter.createdTimeTo.getTime()) return false;
  return true;
}

const EVENT_NAMES = Object.fromEntries(Object.entries(EventType).map(([k, v]) => [v, k]));

function describeEvent(event: HistoryEvent): Record<string, unknown> {
  const out: Record<string, unknown> = { ...event, EventType: EVENT_NAMES[event.EventType] ?? event.EventType };
  delete out.IsPlayed;
  for (const field of ['Input', 'Result'] as const) {
    if (typeof event[field] === 'string') out[field] = parseJsonText(event[field]);
  }
  return out;
}

function validateInstanceId(id: string): void {
  const hasControl = [...id].some((ch) => {
    const code = ch.charCodeAt(0);
    return code < 0x20 || (code >= 0x7f && code <= 0x9f);
  });
  if (!id || id.length > 256 || hasControl || /[/\\#?]/.test(id)) {
    throw new DurableEngineError(
      'durable_invalid_request',
      'Instance IDs must be 1-256 characters without /, \\, #, ? or control characters.',
    );
  }
}

function isoSeconds(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}
