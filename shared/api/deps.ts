import type { AuthServices } from '../auth';
import type { Catalog } from '../catalog';
import type { IntakeResult, ManifestDrop } from '../pipeline/intake';
import type { DropStore, IntakeLog } from '../pipeline/ports';
import type { ModelIndex } from '../registry/modelIndex';
import type { RunIndex } from '../registry/runIndex';
import type { WebhookDeliveryApi, WebhookSubscriptionStore } from '../webhooks/contracts';
import type { InboundWebhookCheck } from './inboundSignature';

/** What the durable client does for the API (the orchestration's instance id is the run id). */
export interface RunControl {
  /**
   * Raise the cancel event while the orchestration runs; 'repaired' when it had ended and the run
   * was ended here instead (cancelled at the provider, index and event updated); 'not_running'
   * when there is nothing to cancel.
   */
  cancel(runId: string): Promise<'raised' | 'repaired' | 'not_running'>;
}

export interface WebhookServices {
  subscriptions: WebhookSubscriptionStore;
  deliveries: WebhookDeliveryApi;
  /** Tables exist (idempotent). */
  ready?(): Promise<void>;
}

/** Everything the routes use; functions/http/ builds it per invocation (shared/compositionRoot.ts). */
export interface ApiDeps {
  /** Containers and tables exist (idempotent). */
  ready(): Promise<void>;
  runIndex: RunIndex;
  modelIndex: ModelIndex;
  drops: DropStore;
  /** The intake log handleDrop writes (run id of an already-handled manifest version). */
  intakeLog: IntakeLog;
  /** Health: resolves when the event bus (Service Bus, locally its stand-in) can be reached. */
  busReachable?(): Promise<void>;
  /** shared/pipeline/intake's handleDrop with the blob trigger's deps. */
  handleDrop(drop: ManifestDrop): Promise<IntakeResult>;
  runs: RunControl;
  catalog: Catalog;
  /** The catalog refreshed from the provider (last good copy in storage); `catalog` when absent. */
  currentCatalog?(): Promise<Catalog>;
  /** Undefined until webhook delivery is deployed: those routes answer 503 webhooks_unavailable. */
  webhooks?: WebhookServices;
  /** Set when TUNEDROP_INBOUND_WEBHOOK_SECRET is: POST /api/runs then requires a valid signature. */
  inbound?: InboundWebhookCheck;
  /**
   * Drops with more data than this are not validated inside the request (an HTTP request ends at
   * 230 s on Azure): run.json is committed and the blob trigger's intake does the rest.
   */
  inlineValidationMaxBytes: number;
  /** Who is calling and what they may do (the route layer uses it on every non-public route). */
  auth: AuthServices;
  now(): Date;
}
