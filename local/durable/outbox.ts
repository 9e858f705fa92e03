import type { Clock } from './clock';
import type { InstanceTable } from './instances';
import { newEvent, type OutboxPayload, parentMessageRow } from './records';
import { type Row, unpackJson } from './store';
import { EventType, TERMINAL_STATUSES } from './wire';

export interface OutboxOptions {
  instances: InstanceTable;
  clock: Clock;
  /** Trigger type of a registered function (to fail a parent whose child orchestrator does not exist). */
  functionKind?(name: string): string | undefined;
  /** Called after a delivery, so the dispatcher picks the new message up at once. */
  onDelivered(): void;
}

/**
 * Delivers outbox rows (messages one instance sends another: create a sub-orchestration, report to
 * the parent) after the sender's episode committed. Keys are deterministic, so delivering a row again
 * (after a crash, or by another engine on start) is harmless.
 */
export class Outbox {
  constructor(private readonly options: OutboxOptions) {}

  async deliver(row: Row): Promise<void> {
    const { instances, clock, functionKind } = this.options;
    const payload = unpackJson(row, 'payload') as OutboxPayload;
    if (payload.kind === 'createChild') {
      const failParent = (reason: string) =>
        instances.store.upsert(
          parentMessageRow(
            payload.parent,
            newEvent(EventType.SubOrchestrationInstanceFailed, clock.now(), {
              TaskScheduledId: payload.parent.taskId,
              Reason: reason,
              Details: '',
            }),
          ),
        );
      const existing = await instances.load(payload.childId);
      const kind = functionKind?.(payload.name);
      if (functionKind && kind !== 'orchestrationTrigger') {
        await failParent(`The function '${payload.name}' doesn't exist or is not an orchestrator function.`);
      } else if (!existing || (existing.exec !== payload.childExec && TERMINAL_STATUSES.has(existing.runtimeStatus))) {
        if (existing) await instances.purge(payload.childId);
        await instances.create(payload.childId, payload.name, payload.input, payload.childExec, payload.parent);
      } else if (existing.exec !== payload.childExec) {
        // The id is taken by a running instance: the parent's task fails.
        await failParent(
          `An orchestration instance with ID '${payload.childId}' already exists and is ${existing.runtimeStatus}.`,
        );
      }
    } else {
      await instances.store.upsert(parentMessageRow(payload.parent, payload.event));
    }
    await instances.store.delete(row.partitionKey, row.rowKey);
    this.options.onDelivered();
  }
}
