import type { DurableClient } from 'durable-functions';
import { defaultCatalog } from '../catalog';
import { handleDrop } from '../pipeline/intake';
import { createIntakeDeps } from '../pipeline/intakeDeps';
import { CANCEL_EVENT } from '../pipeline/runContracts';
import type { PipelineServices } from '../pipeline/services';
import { verifyWebhook } from '../webhooks/signing';
import type { ApiDeps, RunControl, WebhookServices } from './deps';
import { INBOUND_TOLERANCE_SECONDS, type InboundWebhookCheck, TableReplayLog } from './inboundSignature';

export type ApiDurableClient = Pick<DurableClient, 'getStatus' | 'startNew' | 'raiseEvent'>;

/**
 * 256 MiB: about 6 s of validation at the measured 45 MB/s (Llama 3; Mistral is ~20x slower per
 * byte), well inside the 230 s an Azure HTTP request may take.
 */
export const INLINE_VALIDATION_MAX_BYTES = 256 * 1024 * 1024;

/** Cancel = the orchestration's external event, on instance id = run id. */
export function durableRunControl(client: () => ApiDurableClient): RunControl {
  return {
    async cancel(runId) {
      const status = await client()
        .getStatus(runId)
        .catch(() => undefined);
      if (!status?.runtimeStatus) return 'not_running';
      await client().raiseEvent(runId, CANCEL_EVENT, { requestedBy: 'api' });
      return 'raised';
    },
  };
}

/** The inbound signature check for a `whsec_` secret, with webhook-ids remembered in the intake table. */
export function inboundCheckFor(secret: string, services: Pick<PipelineServices, 'intakeLog'>): InboundWebhookCheck {
  return {
    verify: (headers, body, now) =>
      verifyWebhook(secret, headers, body, { now, toleranceSeconds: INBOUND_TOLERANCE_SECONDS }),
    replay: new TableReplayLog(services.intakeLog),
  };
}

/**
 * The routes' deps from the pipeline's composition root. The durable client is only built when a
 * route needs it (it requires the function's durableClient input binding).
 */
export function createApiDeps(
  services: PipelineServices,
  options: {
    durableClient: () => ApiDurableClient;
    webhooks?: () => WebhookServices | undefined;
    log?: (message: string) => void;
  },
): ApiDeps {
  const secret = services.settings.inboundWebhookSecret;
  return {
    ready: () => services.ready(),
    runIndex: services.runIndex,
    modelIndex: services.modelIndex,
    datasets: services.datasets,
    intakeLog: services.intakeLog,
    handleDrop: (drop) => handleDrop(createIntakeDeps(services, options.durableClient(), options.log), drop),
    runs: durableRunControl(options.durableClient),
    catalog: defaultCatalog,
    get webhooks() {
      return options.webhooks?.();
    },
    inbound: secret ? inboundCheckFor(secret, services) : undefined,
    inlineValidationMaxBytes: INLINE_VALIDATION_MAX_BYTES,
    now: () => new Date(),
  };
}
