import { z } from 'zod';
import { isSupportedRegion, normalizeRegion, privateLinkRegionProblem } from '../catalog';

/**
 * Every setting tunedrop reads, in one place. Only this module reads the environment; the rest of
 * shared/ gets what it needs as arguments. `SETTINGS` is also what the infra contract test checks
 * against infra/ (each setting marked `azure: true` must be set by Bicep).
 */
export interface SettingDefinition {
  description: string;
  /** Set by Bicep in Azure (the infra contract test enforces it). */
  azure: boolean;
  /** Never logged, never echoed in errors (Key Vault reference in Azure). */
  secret?: boolean;
}

export const SETTINGS = {
  AzureWebJobsStorage: {
    description: 'Storage connection string (local). In Azure: identity-based AzureWebJobsStorage__* settings',
    azure: false,
    secret: true,
  },
  AzureWebJobsStorage__accountName: { description: 'Storage account name (identity-based connection)', azure: true },
  AzureWebJobsStorage__credential: { description: '`managedidentity` for identity-based connections', azure: true },
  AzureWebJobsStorage__clientId: { description: 'Client id of the user-assigned managed identity', azure: true },
  ServiceBusConnection: {
    description: 'Service Bus connection string (not used in Azure; identity-based settings instead)',
    azure: false,
    secret: true,
  },
  ServiceBusConnection__fullyQualifiedNamespace: { description: 'Service Bus namespace host name', azure: true },
  ServiceBusConnection__credential: { description: '`managedidentity`', azure: true },
  ServiceBusConnection__clientId: { description: 'Client id of the user-assigned managed identity', azure: true },
  AZURE_CLIENT_ID: { description: 'Client id of the managed identity used for Databricks/Entra tokens', azure: true },
  DATABRICKS_HOST: { description: 'Workspace URL, e.g. https://adb-123.4.azuredatabricks.net', azure: true },
  DATABRICKS_TOKEN: {
    description:
      'Personal access token (Key Vault reference in Azure); when empty, an Entra ID token from the managed identity is used',
    azure: true,
    secret: true,
  },
  DATABRICKS_REGION: { description: 'Azure region of the workspace (must be a supported region)', azure: true },
  AZURE_OPENAI_ENDPOINT: {
    description:
      'Azure OpenAI fine-tuning: the account endpoint, e.g. https://my-openai.openai.azure.com (empty: no team can use the azure-openai provider)',
    azure: true,
  },
  AZURE_OPENAI_API_KEY: {
    description:
      'Azure OpenAI key, for local use against a real account; when empty (always in Azure, where the account has keys disabled), an Entra ID token from the managed identity is used',
    azure: false,
    secret: true,
  },
  AZURE_OPENAI_REGION: {
    description: "Region of the Azure OpenAI account (checked against the model's training regions)",
    azure: true,
  },
  AZURE_OPENAI_TRAINING_TYPE: {
    description: '`standard` (regional, data-resident; default) or `globalstandard` (Global training)',
    azure: true,
  },
  AZURE_OPENAI_ACCOUNT_ID: {
    description:
      'ARM id of the Azure OpenAI account (/subscriptions/…/resourceGroups/…/providers/Microsoft.CognitiveServices/accounts/…); set when teams may deploy fine-tuned models',
    azure: true,
  },
  TUNEDROP_STORAGE_PRIVATE_LINK: {
    description:
      '`true` when the service reaches training data in storage over Private Link: refused at startup (and in intake) unless DATABRICKS_REGION is eastus2, the only region where that works',
    azure: false,
  },
  TUNEDROP_VOLUME_PATH: {
    description:
      'Zero-copy staging: the Unity Catalog volume path the datasets container is mounted as, e.g. /Volumes/ml/tunedrop/datasets',
    azure: true,
  },
  TUNEDROP_STAGING_VOLUME: {
    description:
      'Copy staging: a volume path validated files are uploaded to through the Files API (used when TUNEDROP_VOLUME_PATH is empty)',
    azure: true,
  },
  TUNEDROP_EXPERIMENT_ROOT: { description: 'MLflow experiment folder for runs, e.g. /Shared/tunedrop', azure: true },
  TUNEDROP_POLL_INITIAL_SECONDS: { description: 'First status poll delay (default 30)', azure: true },
  TUNEDROP_POLL_MAX_SECONDS: { description: 'Status poll backoff cap (default 600)', azure: true },
  TUNEDROP_RUN_DEADLINE_HOURS: {
    description: 'Cancel and report run.timed_out after this long (default 168)',
    azure: true,
  },
  TUNEDROP_ACTIVITY_RETRY_FIRST_SECONDS: {
    description: 'First retry delay of a failing run activity, doubling up to 120 s (default 5; tests shorten it)',
    azure: false,
  },
  TUNEDROP_ACTIVITY_RETRY_ATTEMPTS: {
    description: 'Attempts of a failing run activity before the run fails (default 6)',
    azure: false,
  },
  TUNEDROP_SHARDED_VALIDATION_MIN_BYTES: {
    description:
      'Drops whose JSONL data (train + eval, in the datasets container) has at least this many bytes are validated as a durable fan-out of byte-range shards instead of inside the intake function (default 1073741824 = 1 GiB)',
    azure: true,
  },
  TUNEDROP_SHARD_BYTES: {
    description:
      'Sharded validation: nominal bytes per shard, aligned to line starts (default 268435456 = 256 MiB; at least 65536)',
    azure: true,
  },
  TUNEDROP_SHARD_PARALLELISM: {
    description:
      'Sharded validation: shard activities one validation runs at once (default 16; each instance also caps its own activities with host.json maxConcurrentActivityFunctions)',
    azure: true,
  },
  TUNEDROP_MODEL_ALIAS: {
    description: 'Unity Catalog alias set on a registered version (default candidate)',
    azure: true,
  },
  TUNEDROP_TASK_HUB: { description: 'Durable Functions task hub name (default tunedrop)', azure: true },
  TUNEDROP_PUBLIC_BASE_URL: { description: 'Base URL used in links (reports, runs) in notifications', azure: true },
  TUNEDROP_INBOUND_WEBHOOK_SECRET: {
    description:
      'Standard Webhooks `whsec_` secret: when set, POST /api/runs requires valid webhook-id/-timestamp/-signature headers (replays rejected)',
    azure: false,
    secret: true,
  },
  TUNEDROP_AUTH_TENANT_ID: {
    description:
      'Microsoft Entra tenant (directory) id whose access tokens the API accepts; tokens of any other tenant are refused',
    azure: true,
  },
  TUNEDROP_AUTH_AUDIENCE: {
    description:
      'Comma-separated accepted token audiences: the API app registration’s client id and/or App ID URI (api://…)',
    azure: true,
  },
  TUNEDROP_AUTH_EASY_AUTH: {
    description:
      '`true` when App Service Authentication (Easy Auth) runs in front of the app: its x-ms-client-principal header is then trusted',
    azure: true,
  },
  TUNEDROP_AUTH_PLATFORM_ADMIN_ROLE: {
    description: 'App-role value (or group object id) that sees and does everything (default tunedrop.platform-admin)',
    azure: true,
  },
  TUNEDROP_AUTH_ISSUERS: {
    description:
      'Comma-separated accepted token issuers (default: the tenant’s v1 and v2 Entra issuers); the local runtime sets its dev issuer',
    azure: false,
  },
  TUNEDROP_AUTH_JWKS: {
    description:
      'Inline JSON Web Key Set (public keys) to verify tokens with instead of the tenant’s JWKS URL: the local runtime’s dev issuer',
    azure: false,
  },
  TUNEDROP_AUTH_JWKS_URI: {
    description:
      'JWKS URL to fetch signing keys from (default https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys)',
    azure: false,
  },
  TUNEDROP_NOTIFY_RETRY_SECONDS: {
    description:
      'Teams/Slack notifications: comma-separated delays in seconds before each attempt, the first being the first attempt (default 0,30,120,600,1800,3600); after the last, the bus retries and then dead-letters',
    azure: false,
  },
  TUNEDROP_WEBHOOK_RETRY_SECONDS: {
    description:
      'Webhook delivery: comma-separated delays in seconds before each attempt, the first being the inline attempt (default 0,5,300,1800,7200,18000,36000,36000; e.g. 0,1,1 for tests and the local demo)',
    azure: false,
  },
} as const satisfies Record<string, SettingDefinition>;

export type SettingName = keyof typeof SETTINGS;

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v?.trim() ? v.trim() : undefined));
/** Comma-separated whole seconds, e.g. 0,5,300 (retry schedules). */
const delaySeconds = optionalString.transform((v, ctx) => {
  if (v === undefined) return undefined;
  const delays = v.split(',').map((d) => d.trim());
  if (delays.length > 50 || delays.some((d) => !/^\d{1,6}$/.test(d))) {
    ctx.addIssue({ code: 'custom', message: 'must be 1 to 50 comma-separated whole seconds, e.g. 0,5,300' });
    return z.NEVER;
  }
  return delays.map(Number);
});
const commaList = optionalString.transform((v) =>
  v === undefined
    ? undefined
    : v
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
);
/** Public keys only: a private parameter (`d`) in a setting would be a leaked signing key. */
const jwksSchema = z.object({
  keys: z
    .array(
      z
        .object({ kty: z.string(), kid: z.string().optional() })
        .passthrough()
        .refine((k) => !('d' in k)),
    )
    .min(1),
});
function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
const positiveNumber = (fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) {
        ctx.addIssue({ code: 'custom', message: `must be a positive number, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });
/** Smallest shard: below this the per-shard overhead (an activity, a tokenizer load) dominates. */
export const MIN_SHARD_BYTES = 64 * 1024;
const wholeNumber = (fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      const n = Number(v.trim());
      if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}, got "${v}"`,
        });
        return z.NEVER;
      }
      return n;
    });
const volumePath = optionalString.refine((v) => v === undefined || /^\/Volumes\/[^/]+\/[^/]+\/[^/]+(\/.*)?$/.test(v), {
  message: 'must look like /Volumes/<catalog>/<schema>/<volume>[/...]',
});

const ARM_ACCOUNT_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.CognitiveServices\/accounts\/([^/]+)$/i;

const settingsSchema = z
  .object({
    AzureWebJobsStorage: optionalString,
    AzureWebJobsStorage__accountName: optionalString,
    AzureWebJobsStorage__clientId: optionalString,
    ServiceBusConnection: optionalString,
    ServiceBusConnection__fullyQualifiedNamespace: optionalString,
    ServiceBusConnection__clientId: optionalString,
    AZURE_CLIENT_ID: optionalString,
    DATABRICKS_HOST: optionalString.refine((v) => v === undefined || /^https?:\/\/[^\s/]+\/?$/.test(v), {
      message: 'must be a workspace URL like https://adb-123.4.azuredatabricks.net',
    }),
    DATABRICKS_TOKEN: optionalString,
    DATABRICKS_REGION: optionalString.refine((v) => v === undefined || isSupportedRegion(v), {
      message: 'must be one of the supported regions: centralus, eastus, eastus2, northcentralus, westus',
    }),
    AZURE_OPENAI_ENDPOINT: optionalString.refine((v) => v === undefined || /^https?:\/\/[^\s/]+\/?$/.test(v), {
      message: 'must be an account endpoint like https://my-openai.openai.azure.com',
    }),
    AZURE_OPENAI_API_KEY: optionalString,
    AZURE_OPENAI_REGION: optionalString,
    AZURE_OPENAI_TRAINING_TYPE: optionalString.pipe(z.enum(['standard', 'globalstandard']).optional()),
    AZURE_OPENAI_ACCOUNT_ID: optionalString.refine((v) => v === undefined || ARM_ACCOUNT_ID.test(v), {
      message: 'must be /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.CognitiveServices/accounts/<name>',
    }),
    TUNEDROP_STORAGE_PRIVATE_LINK: optionalString.refine((v) => v === undefined || /^(true|false)$/i.test(v), {
      message: 'must be true or false',
    }),
    TUNEDROP_VOLUME_PATH: volumePath,
    TUNEDROP_STAGING_VOLUME: volumePath,
    TUNEDROP_EXPERIMENT_ROOT: optionalString,
    TUNEDROP_POLL_INITIAL_SECONDS: positiveNumber(30),
    TUNEDROP_POLL_MAX_SECONDS: positiveNumber(600),
    TUNEDROP_RUN_DEADLINE_HOURS: positiveNumber(168),
    TUNEDROP_ACTIVITY_RETRY_FIRST_SECONDS: positiveNumber(5),
    TUNEDROP_ACTIVITY_RETRY_ATTEMPTS: positiveNumber(6).refine(Number.isInteger, { message: 'must be an integer' }),
    TUNEDROP_SHARDED_VALIDATION_MIN_BYTES: wholeNumber(1024 ** 3, 1),
    TUNEDROP_SHARD_BYTES: wholeNumber(256 * 1024 ** 2, MIN_SHARD_BYTES),
    TUNEDROP_SHARD_PARALLELISM: wholeNumber(16, 1, 1000),
    TUNEDROP_MODEL_ALIAS: optionalString.transform((v) => v ?? 'candidate'),
    TUNEDROP_TASK_HUB: optionalString.transform((v) => v ?? 'tunedrop'),
    TUNEDROP_PUBLIC_BASE_URL: optionalString,
    TUNEDROP_INBOUND_WEBHOOK_SECRET: optionalString.refine(
      (v) => v === undefined || /^whsec_[A-Za-z0-9+/=]{8,}$/.test(v),
      {
        message: 'must be a Standard Webhooks secret: whsec_ followed by base64',
      },
    ),
    TUNEDROP_WEBHOOK_RETRY_SECONDS: delaySeconds,
    TUNEDROP_NOTIFY_RETRY_SECONDS: delaySeconds,
    TUNEDROP_AUTH_TENANT_ID: optionalString.refine((v) => v === undefined || /^[0-9a-fA-F-]{36}$/.test(v), {
      message: 'must be a tenant id (GUID)',
    }),
    TUNEDROP_AUTH_AUDIENCE: commaList,
    TUNEDROP_AUTH_EASY_AUTH: optionalString.transform((v, ctx) => {
      if (v === undefined || v === 'false') return false;
      if (v === 'true') return true;
      ctx.addIssue({ code: 'custom', message: 'must be true or false' });
      return z.NEVER;
    }),
    TUNEDROP_AUTH_PLATFORM_ADMIN_ROLE: optionalString.transform((v) => v ?? 'tunedrop.platform-admin'),
    TUNEDROP_AUTH_ISSUERS: commaList,
    TUNEDROP_AUTH_JWKS: optionalString.transform((v, ctx) => {
      if (v === undefined) return undefined;
      const parsed = jwksSchema.safeParse(safeJson(v));
      if (!parsed.success) {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON Web Key Set {"keys":[…]} of public keys' });
        return z.NEVER;
      }
      return parsed.data;
    }),
    TUNEDROP_AUTH_JWKS_URI: optionalString.refine((v) => v === undefined || /^https?:\/\/\S+$/.test(v), {
      message: 'must be an http(s) URL',
    }),
  })
  .superRefine((s, ctx) => {
    if (s.TUNEDROP_AUTH_TENANT_ID && !s.TUNEDROP_AUTH_AUDIENCE?.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['TUNEDROP_AUTH_AUDIENCE'],
        message: 'is required with TUNEDROP_AUTH_TENANT_ID (the API app registration’s client id or App ID URI)',
      });
    }
    const privateLink = privateLinkRegionProblem(
      s.TUNEDROP_STORAGE_PRIVATE_LINK?.toLowerCase() === 'true',
      s.DATABRICKS_REGION,
    );
    if (privateLink) ctx.addIssue({ code: 'custom', path: ['TUNEDROP_STORAGE_PRIVATE_LINK'], message: privateLink });
    if (s.TUNEDROP_POLL_MAX_SECONDS < s.TUNEDROP_POLL_INITIAL_SECONDS) {
      ctx.addIssue({
        code: 'custom',
        path: ['TUNEDROP_POLL_MAX_SECONDS'],
        message: 'must be at least TUNEDROP_POLL_INITIAL_SECONDS',
      });
    }
  });

export interface Settings {
  storage: { connectionString: string } | { accountName: string; clientId?: string };
  serviceBus: { connectionString: string } | { fullyQualifiedNamespace: string; clientId?: string } | undefined;
  databricks: { host: string; token?: string; region?: string; clientId?: string } | undefined;
  azureOpenAI:
    | {
        endpoint: string;
        apiKey?: string;
        clientId?: string;
        region?: string;
        trainingType?: 'standard' | 'globalstandard';
        /** Where deployments are created (control plane); absent: deployments are not available. */
        account?: { subscriptionId: string; resourceGroup: string; name: string };
      }
    | undefined;
  /** Training data is reached over Private Link (only eastus2 works; checked at startup and in intake). */
  storagePrivateLink: boolean;
  staging: { kind: 'volume-mapping'; volumePath: string } | { kind: 'files-api'; volumePath: string } | undefined;
  experimentRoot: string;
  polling: { initialSeconds: number; maxSeconds: number; retryFirstSeconds: number; retryAttempts: number };
  runDeadlineHours: number;
  /** Sharded validation of big drops (docs/validation.md, "Sharded intake"). */
  sharding: ShardingSettings;
  modelAlias: string;
  taskHub: string;
  publicBaseUrl?: string;
  /** `whsec_…`: POST /api/runs verifies Standard Webhooks signatures with it. */
  inboundWebhookSecret?: string;
  /** Delays before each webhook delivery attempt (seconds); undefined = the built-in schedule. */
  webhookRetrySeconds?: number[];
  notifyRetrySeconds?: number[];
  /** Who the API accepts (docs/api.md, Identity). */
  auth: AuthSettings;
}

export interface ShardingSettings {
  /** Data bytes (train + eval) from which intake fans out instead of validating inline. */
  thresholdBytes: number;
  shardBytes: number;
  /** Shard activities of one validation running at once. */
  parallelism: number;
}

export interface AuthSettings {
  /** Set when bearer tokens are accepted. */
  tokens?: {
    tenantId: string;
    audiences: string[];
    /** Undefined = the tenant's Entra v1 and v2 issuers. */
    issuers?: string[];
    keys: { jwksUri: string } | { jwks: { keys: Record<string, unknown>[] } };
  };
  easyAuth: boolean;
  platformAdminRole: string;
}

export class SettingsError extends Error {
  readonly code = 'invalid_settings';
  constructor(
    readonly problems: string[],
    /** Settings whose value is still an unresolved platform reference (names only). */
    readonly unresolvedReferences: string[] = [],
  ) {
    super(`Invalid settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * App Service passes a Key Vault (or App Configuration) reference it could not resolve to the app
 * as its literal text, e.g. while the identity's Key Vault role is still propagating. Such a value
 * must never be used: DATABRICKS_TOKEN would be sent to the provider as a token.
 */
const UNRESOLVED_REFERENCE = /^\s*@Microsoft\.(KeyVault|AppConfiguration)\s*\(/i;

/** Names of the settings tunedrop reads whose value still looks like a platform reference. */
export function unresolvedReferences(env: Record<string, string | undefined>): SettingName[] {
  return (Object.keys(SETTINGS) as SettingName[]).filter((name) => UNRESOLVED_REFERENCE.test(env[name] ?? ''));
}

/** Parse settings from an environment. Error messages name the setting, never its value. */
export function loadSettings(env: Record<string, string | undefined> = process.env): Settings {
  const unresolved = unresolvedReferences(env);
  // Parse without them so no other rule quotes the reference text back.
  const parsed = settingsSchema.safeParse({
    ...env,
    ...Object.fromEntries(unresolved.map((name) => [name, undefined])),
  });
  const problems = [
    ...unresolved.map(
      (name) =>
        `${name}: still holds an unresolved Key Vault (or App Configuration) reference: the platform could not read the secret, e.g. while the app identity's Key Vault role propagates; restart the app once it resolves (docs/deploy.md)`,
    ),
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || 'settings'}: ${i.message}`)),
  ];
  if (!env.AzureWebJobsStorage?.trim() && !env.AzureWebJobsStorage__accountName?.trim()) {
    problems.unshift('AzureWebJobsStorage: a storage connection is required (or AzureWebJobsStorage__accountName)');
  }
  if (!parsed.success || problems.length) throw new SettingsError(problems, unresolved);
  const s = parsed.data;
  return {
    storage: s.AzureWebJobsStorage
      ? { connectionString: s.AzureWebJobsStorage }
      : { accountName: s.AzureWebJobsStorage__accountName ?? '', clientId: s.AzureWebJobsStorage__clientId },
    serviceBus: s.ServiceBusConnection
      ? { connectionString: s.ServiceBusConnection }
      : s.ServiceBusConnection__fullyQualifiedNamespace
        ? {
            fullyQualifiedNamespace: s.ServiceBusConnection__fullyQualifiedNamespace,
            clientId: s.ServiceBusConnection__clientId,
          }
        : undefined,
    databricks: s.DATABRICKS_HOST
      ? {
          host: s.DATABRICKS_HOST.replace(/\/$/, ''),
          token: s.DATABRICKS_TOKEN,
          region: s.DATABRICKS_REGION ? normalizeRegion(s.DATABRICKS_REGION) : undefined,
          clientId: s.AZURE_CLIENT_ID,
        }
      : undefined,
    azureOpenAI: s.AZURE_OPENAI_ENDPOINT
      ? {
          endpoint: s.AZURE_OPENAI_ENDPOINT.replace(/\/$/, ''),
          apiKey: s.AZURE_OPENAI_API_KEY,
          clientId: s.AZURE_CLIENT_ID,
          region: s.AZURE_OPENAI_REGION ? normalizeRegion(s.AZURE_OPENAI_REGION) : undefined,
          trainingType: s.AZURE_OPENAI_TRAINING_TYPE,
          account: parseAccountId(s.AZURE_OPENAI_ACCOUNT_ID),
        }
      : undefined,
    storagePrivateLink: s.TUNEDROP_STORAGE_PRIVATE_LINK?.toLowerCase() === 'true',
    staging: s.TUNEDROP_VOLUME_PATH
      ? { kind: 'volume-mapping', volumePath: s.TUNEDROP_VOLUME_PATH }
      : s.TUNEDROP_STAGING_VOLUME
        ? { kind: 'files-api', volumePath: s.TUNEDROP_STAGING_VOLUME }
        : undefined,
    experimentRoot: s.TUNEDROP_EXPERIMENT_ROOT ?? '/Shared/tunedrop',
    polling: {
      initialSeconds: s.TUNEDROP_POLL_INITIAL_SECONDS,
      maxSeconds: s.TUNEDROP_POLL_MAX_SECONDS,
      retryFirstSeconds: s.TUNEDROP_ACTIVITY_RETRY_FIRST_SECONDS,
      retryAttempts: s.TUNEDROP_ACTIVITY_RETRY_ATTEMPTS,
    },
    runDeadlineHours: s.TUNEDROP_RUN_DEADLINE_HOURS,
    sharding: {
      thresholdBytes: s.TUNEDROP_SHARDED_VALIDATION_MIN_BYTES,
      shardBytes: s.TUNEDROP_SHARD_BYTES,
      parallelism: s.TUNEDROP_SHARD_PARALLELISM,
    },
    modelAlias: s.TUNEDROP_MODEL_ALIAS,
    taskHub: s.TUNEDROP_TASK_HUB,
    publicBaseUrl: s.TUNEDROP_PUBLIC_BASE_URL,
    inboundWebhookSecret: s.TUNEDROP_INBOUND_WEBHOOK_SECRET,
    webhookRetrySeconds: s.TUNEDROP_WEBHOOK_RETRY_SECONDS,
    notifyRetrySeconds: s.TUNEDROP_NOTIFY_RETRY_SECONDS,
    auth: {
      tokens: s.TUNEDROP_AUTH_TENANT_ID
        ? {
            tenantId: s.TUNEDROP_AUTH_TENANT_ID,
            audiences: s.TUNEDROP_AUTH_AUDIENCE ?? [],
            issuers: s.TUNEDROP_AUTH_ISSUERS,
            keys: s.TUNEDROP_AUTH_JWKS
              ? { jwks: s.TUNEDROP_AUTH_JWKS as { keys: Record<string, unknown>[] } }
              : {
                  jwksUri:
                    s.TUNEDROP_AUTH_JWKS_URI ??
                    `https://login.microsoftonline.com/${s.TUNEDROP_AUTH_TENANT_ID}/discovery/v2.0/keys`,
                },
          }
        : undefined,
      easyAuth: s.TUNEDROP_AUTH_EASY_AUTH,
      platformAdminRole: s.TUNEDROP_AUTH_PLATFORM_ADMIN_ROLE,
    },
  };
}

function parseAccountId(
  id: string | undefined,
): { subscriptionId: string; resourceGroup: string; name: string } | undefined {
  const m = id ? ARM_ACCOUNT_ID.exec(id) : null;
  return m ? { subscriptionId: m[1] as string, resourceGroup: m[2] as string, name: m[3] as string } : undefined;
}
