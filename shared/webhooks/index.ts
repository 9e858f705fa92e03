import type { TableClient } from '@azure/data-tables';
import type { OutboundPolicy, OutboundPost } from '../net/contracts';
import type { WebhookDeliveryApi, WebhookSubscriptionStore } from './contracts';
import { TableDeliveryStore } from './deliveries';
import { type AttemptOutcome, DEFAULT_RETRY_SCHEDULE_SECONDS, WebhookDeliveryEngine } from './delivery';
import type { DeliveryScheduler } from './scheduler';
import { TableWebhookSubscriptionStore } from './subscriptions';

export * from './contracts';
export * from './deliveries';
export * from './delivery';
export * from './errors';
export * from './scheduler';
export * from './signing';
export * from './subscriptions';

export interface WebhookServiceDeps {
  subscriptionsTable: TableClient;
  deliveriesTable: TableClient;
  scheduler: DeliveryScheduler;
  post: OutboundPost;
  /** Outbound rules; `allowLoopbackHttp` also decides which target URLs create() accepts. */
  policy: Partial<OutboundPolicy>;
  /** Delays before each attempt in seconds (default DEFAULT_RETRY_SCHEDULE_SECONDS). */
  retrySchedule?: readonly number[];
  now?: () => Date;
  /** Default: up to +10 % on delays of a minute or more. */
  jitter?: (delaySeconds: number) => number;
  log?: (line: string) => void;
}

export interface WebhookServices {
  subscriptions: WebhookSubscriptionStore;
  deliveries: WebhookDeliveryApi;
  /** Handler body of the `webhooks` subscription: one CloudEvent message. */
  deliverEvent(message: unknown): Promise<AttemptOutcome[]>;
  /** Handler body of the `webhook-retries` subscription: one attempt message. */
  runAttempt(message: unknown): Promise<AttemptOutcome>;
  /** Both tables exist (idempotent; the stores also make sure on first use). */
  ready(): Promise<void>;
}

/** The one way to build webhook subscriptions and delivery from their collaborators. */
export function createWebhookServices(deps: WebhookServiceDeps): WebhookServices {
  const now = deps.now ?? (() => new Date());
  const subscriptions = new TableWebhookSubscriptionStore(deps.subscriptionsTable, {
    policy: { allowLoopbackHttp: deps.policy.allowLoopbackHttp ?? false },
    now,
  });
  const store = new TableDeliveryStore(deps.deliveriesTable);
  const engine = new WebhookDeliveryEngine({
    subscriptions,
    store,
    scheduler: deps.scheduler,
    post: deps.post,
    policy: deps.policy,
    retrySchedule: deps.retrySchedule ?? DEFAULT_RETRY_SCHEDULE_SECONDS,
    now,
    jitter: deps.jitter,
    log: deps.log,
  });
  let readyOnce: Promise<void> | undefined;
  return {
    subscriptions,
    deliveries: engine,
    deliverEvent: (message) => engine.deliverEvent(message),
    runAttempt: (message) => engine.runAttempt(message),
    ready: () => {
      readyOnce ??= Promise.all([subscriptions.ensure(), store.ensure()]).then(
        () => undefined,
        (err: unknown) => {
          readyOnce = undefined;
          throw err;
        },
      );
      return readyOnce;
    },
  };
}
