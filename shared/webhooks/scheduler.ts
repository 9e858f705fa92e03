import { z } from 'zod';
import type { ScheduleSender, TopicScheduler } from '../events/scheduler';
import { deliveryIdSchema } from './contracts';
import { WebhookError } from './errors';

/**
 * A delivery attempt after the first travels as a scheduled Service Bus message on the events
 * topic; its content type routes it to the `webhook-retries` subscription only (topology.json).
 */
export const WEBHOOK_ATTEMPT_CONTENT_TYPE = 'application/vnd.tunedrop.webhook-attempt+json';

export const deliveryAttemptMessageSchema = z
  .object({
    deliveryId: deliveryIdSchema,
    /** 1-based attempt number within the generation. */
    attempt: z.number().int().min(1),
    /** 0 for the original delivery, +1 per redeliver(): a stale message of an earlier round is ignored. */
    generation: z.number().int().min(0),
  })
  .strict();
export type DeliveryAttemptMessage = z.infer<typeof deliveryAttemptMessageSchema>;

/** Parse a webhook-retries message body (object, JSON text or bytes). */
export function parseAttemptMessage(input: unknown): DeliveryAttemptMessage {
  let value = input;
  if (typeof input === 'string' || Buffer.isBuffer(input)) {
    try {
      value = JSON.parse(input.toString());
    } catch {
      throw new WebhookError('invalid_attempt_message', 'the message body is not JSON');
    }
  }
  const parsed = deliveryAttemptMessageSchema.safeParse(value);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    throw new WebhookError('invalid_attempt_message', `not a delivery attempt (${where})`);
  }
  return parsed.data;
}

/**
 * The message id doubles as the duplicate-detection key: `${deliveryId}:${attempt}` for the first
 * round, `${deliveryId}:r${generation}:${attempt}` after a redeliver (a repeat of the first
 * round's ids inside the topic's duplicate window would be dropped silently).
 */
export function attemptMessageId(m: DeliveryAttemptMessage): string {
  return m.generation === 0 ? `${m.deliveryId}:${m.attempt}` : `${m.deliveryId}:r${m.generation}:${m.attempt}`;
}

export interface AttemptServiceBusMessage {
  messageId: string;
  contentType: typeof WEBHOOK_ATTEMPT_CONTENT_TYPE;
  subject: string;
  body: DeliveryAttemptMessage;
}

export function toAttemptMessage(m: DeliveryAttemptMessage): AttemptServiceBusMessage {
  return {
    messageId: attemptMessageId(m),
    contentType: WEBHOOK_ATTEMPT_CONTENT_TYPE,
    subject: m.deliveryId,
    body: deliveryAttemptMessageSchema.parse(m),
  };
}

/** Schedules the next attempt of a delivery. */
export interface DeliveryScheduler {
  schedule(message: DeliveryAttemptMessage, at: Date): Promise<void>;
}

export type AttemptSender = ScheduleSender;

/** Attempts as scheduled messages on the events topic, through whichever topic scheduler the app runs with. */
export class TopicDeliveryScheduler implements DeliveryScheduler {
  constructor(private readonly topic: TopicScheduler) {}

  schedule(message: DeliveryAttemptMessage, at: Date): Promise<void> {
    return this.topic.schedule(toAttemptMessage(message), at);
  }
}
