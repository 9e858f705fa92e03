import type { OutboundFailure } from '../net/contracts';

/** Stable error codes of shared/webhooks (docs/webhooks.md). Messages never carry a secret or a target URL's path. */
export type WebhookErrorCode =
  /** The subscription's target URL breaks the outbound rules (see `reason`). */
  | 'invalid_target_url'
  /** create() input that does not match createWebhookSubscriptionSchema. */
  | 'invalid_subscription'
  | 'subscription_not_found'
  | 'delivery_not_found'
  /** redeliver() on a delivery that is not `failed`. */
  | 'delivery_not_failed'
  /** A webhook-retries message that is not a delivery attempt. */
  | 'invalid_attempt_message'
  /** A stored entity that does not match its schema. */
  | 'corrupt_record';

export class WebhookError extends Error {
  constructor(
    readonly code: WebhookErrorCode,
    message: string,
    /** For invalid_target_url: which outbound rule refused it. */
    readonly reason?: OutboundFailure,
  ) {
    super(`${code}: ${message}`);
    this.name = 'WebhookError';
  }
}
