import { createHash } from 'node:crypto';
import { CognitiveServicesManagementClient } from '@azure/arm-cognitiveservices';
import type { TokenCredential } from '@azure/identity';
import { z } from 'zod';
import { isLoopbackHost, ProviderError } from '../training/provider';

/**
 * Deploying a fine-tuned Azure OpenAI model through the Azure control plane
 * (`@azure/arm-cognitiveservices`, `Microsoft.CognitiveServices/accounts/deployments`).
 * One deployment per team and dataset: a newer run of the same dataset replaces the model behind
 * the same deployment name, so callers keep one stable name.
 */

export const deploymentConfigSchema = z.object({
  subscriptionId: z.string().min(1),
  resourceGroup: z.string().min(1),
  /** The Azure OpenAI account (resource) name. */
  account: z.string().min(1),
  /** e.g. `Standard`, `GlobalStandard`, `DeveloperTier`. */
  sku: z.string().min(1).default('Standard'),
  /** Capacity units (thousands of tokens per minute for Standard). */
  capacity: z.number().int().positive().default(1),
});
export type DeploymentConfig = z.infer<typeof deploymentConfigSchema>;

export interface DeploymentRequest {
  team: string;
  dataset: string;
  /** The fine-tuned model id, e.g. `gpt-4o-mini-2024-07-18.ft-…`. */
  fineTunedModel: string;
  sku?: string;
  capacity?: number;
}

export interface DeploymentResult {
  name: string;
  model: string;
  sku: string;
  capacity: number;
  provisioningState: string;
  /** The ARM resource id. */
  id?: string;
}

/** Port the registration step uses; the ARM adapter below and test doubles implement it. */
export interface ModelDeployer {
  deploy(request: DeploymentRequest): Promise<DeploymentResult>;
}

/**
 * `{team}-{dataset}` as a deployment name: letters, digits, `-` and `_`, at most 64 characters.
 * A name that had to change (characters replaced or cut) gets a hash of the original, so two
 * datasets never share a deployment by accident.
 */
export function deploymentNameFor(team: string, dataset: string): string {
  const raw = `${team}-${dataset}`;
  const clean = raw.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '');
  if (clean === raw && clean.length <= 64) return clean;
  const hash = createHash('sha256').update(raw).digest('hex').slice(0, 8);
  return `${clean.slice(0, 55).replace(/-+$/, '')}-${hash}`;
}

export interface ArmDeployerOptions extends DeploymentConfig {
  credential: TokenCredential;
  /** ARM endpoint; default `https://management.azure.com`. */
  endpoint?: string;
  /** How long a deployment may take to succeed; default 30 min. */
  timeoutMs?: number;
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const TERMINAL = new Set(['succeeded', 'failed', 'canceled', 'cancelled']);

export class ArmModelDeployer implements ModelDeployer {
  readonly client: CognitiveServicesManagementClient;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(private readonly options: ArmDeployerOptions) {
    const endpoint = options.endpoint ?? 'https://management.azure.com';
    this.client = new CognitiveServicesManagementClient(options.credential, options.subscriptionId, { endpoint });
    const url = new URL(endpoint);
    if (url.protocol === 'http:') {
      // The SDK's bearer policy refuses plain http. Only the local control-plane stand-in on this
      // machine is reached over http; the token then travels in a header policy of our own.
      if (!isLoopbackHost(url.hostname)) {
        throw new ProviderError('bad_request', `the ARM endpoint must be https (got ${url.protocol}//${url.host})`);
      }
      this.client.pipeline.removePolicy({ name: 'bearerTokenAuthenticationPolicy' });
      this.client.pipeline.addPolicy({
        name: 'loopbackBearerPolicy',
        sendRequest: async (request, next) => {
          const token = await options.credential.getToken('https://management.azure.com/.default');
          if (token) request.headers.set('authorization', `Bearer ${token.token}`);
          request.allowInsecureConnection = true;
          return next(request);
        },
      });
    }
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.now = options.now ?? Date.now;
  }

  async deploy(request: DeploymentRequest): Promise<DeploymentResult> {
    const o = this.options;
    const name = deploymentNameFor(request.team, request.dataset);
    const sku = request.sku ?? o.sku;
    const capacity = request.capacity ?? o.capacity;
    try {
      const existing = await this.client.deployments.get(o.resourceGroup, o.account, name).catch((e: unknown) => {
        if ((e as { statusCode?: number }).statusCode === 404) return undefined;
        throw e;
      });
      if (existing?.properties?.model?.name !== request.fineTunedModel) {
        // Only the initial PUT: the state is polled below on our own clock.
        await this.client.deployments.beginCreateOrUpdate(o.resourceGroup, o.account, name, {
          sku: { name: sku, capacity },
          properties: { model: { format: 'OpenAI', name: request.fineTunedModel, version: '1' } },
        });
      }
      const deadline = this.now() + (o.timeoutMs ?? 30 * 60_000);
      for (;;) {
        const current = await this.client.deployments.get(o.resourceGroup, o.account, name);
        const state = current.properties?.provisioningState ?? 'Unknown';
        if (TERMINAL.has(state.toLowerCase())) {
          if (state.toLowerCase() !== 'succeeded') {
            throw new ProviderError('bad_request', `deployment ${name} ended ${state}`, {
              operation: 'deployments.createOrUpdate',
              providerCode: state,
            });
          }
          return { name, model: request.fineTunedModel, sku, capacity, provisioningState: state, id: current.id };
        }
        if (this.now() >= deadline) {
          throw new ProviderError('timeout', `deployment ${name} still ${state} after the timeout`, {
            operation: 'deployments.get',
          });
        }
        await this.sleep(o.pollMs ?? 15_000);
      }
    } catch (e) {
      if (e instanceof ProviderError) throw e;
      const status = (e as { statusCode?: number }).statusCode;
      const code = (e as { code?: string }).code;
      throw new ProviderError(
        status === 429
          ? 'rate_limited'
          : status && status >= 500
            ? 'unavailable'
            : status === 401 || status === 403
              ? 'unauthorized'
              : 'bad_request',
        `deployment ${name}: ${status ? `HTTP ${status} ` : ''}${code ?? ''} ${(e as Error).message ?? ''}`
          .trim()
          .slice(0, 600),
        { status, operation: 'deployments.createOrUpdate', providerCode: code },
      );
    }
  }
}
