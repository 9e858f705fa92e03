import { z } from 'zod';
import { teamAccessSchema } from '../auth/principal';
import { type TrainingProviderId, trainingProviderSchema } from '../catalog';
import { EVENT_TYPES, PROGRESS_EVENT_TYPES } from '../events/types';
import type { IntakeProblem } from './errors';
import { type Manifest, registerToSchema, trainingDurationSchema } from './manifest';
import type { TeamConfigStore } from './ports';

export const teamIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'team ids are lower-case letters, digits and dashes (max 63)');

const channelSchema = z
  .object({
    name: z.string().min(1),
    kind: z.enum(['teams', 'slack']),
    /** Teams Workflows webhook URL or Slack incoming-webhook URL. A secret: never logged or echoed. */
    url: z.string().url(),
    /** Event types the channel wants; default: the terminal run events and rejections. */
    events: z
      .array(
        z.enum(EVENT_TYPES).refine((t) => !PROGRESS_EVENT_TYPES.includes(t), {
          message: 'progress events are not posted to channels (webhooks can subscribe to them)',
        }),
      )
      .optional(),
  })
  .strict();

/**
 * A team's configuration (config container, `teams/{team}.json`). The manifest may narrow these
 * settings (pick one allowed model, a subset of channels), never widen them.
 */
export const teamConfigSchema = z
  .object({
    team: teamIdSchema,
    /** Model ids the team may fine-tune; "*" allows every supported model. */
    allowedModels: z.array(z.string().min(1)).min(1),
    /** The training provider the team's runs go to (default `databricks`, as before the second provider). */
    provider: trainingProviderSchema.default('databricks'),
    /** Providers a manifest may choose with `"provider"`; default: only `provider`. */
    allowedProviders: z.array(trainingProviderSchema).optional(),
    /** `catalog.schema` prefixes (or full `catalog.schema.model` names) the team may register into (Databricks runs). */
    allowedRegisterTo: z.array(registerToSchema).default([]),
    /**
     * Azure OpenAI runs: deploy the fine-tuned model (deployment `{team}-{dataset}`) with this SKU and
     * capacity after the run completes. Absent: the model id is recorded, nothing is deployed.
     */
    deployment: z
      .object({
        sku: z.string().min(1).default('Standard'),
        capacity: z.number().int().positive().default(1),
      })
      .strict()
      .optional(),
    defaults: z
      .object({
        registerTo: registerToSchema.optional(),
        trainingDuration: trainingDurationSchema.optional(),
        contextLength: z.number().int().positive().optional(),
        /** Data-prep cluster for Delta table input when run.json names none. */
        dataPrepClusterId: z.string().min(1).max(100).optional(),
      })
      .strict()
      .default({}),
    /** Largest data file the team may drop (bytes). */
    maxDataFileBytes: z
      .number()
      .int()
      .positive()
      .default(10 * 1024 ** 3),
    channels: z.array(channelSchema).default([]),
    /**
     * Who may do what on this team's runs, reports, models and webhooks: app-role values or group
     * object ids (token `roles` / `groups` claims) per role. Absent: app roles {team}.reader,
     * {team}.submitter, {team}.admin. See docs/api.md (Identity).
     */
    access: teamAccessSchema.optional(),
    /**
     * Unity Catalog volumes and Delta tables the team may train from: `catalog`, `catalog.schema` or
     * `catalog.schema.volume_or_table`. Default: none outside its own (the `allowedRegisterTo` schemas).
     */
    readableData: z.array(z.string().regex(/^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*){0,2}$/)).optional(),
  })
  .strict();

/** What a team may read in Unity Catalog: its grants, or by default its own `catalog.schema` prefixes. */
export function readableDataFor(team: TeamConfig): string[] {
  return team.readableData ?? team.allowedRegisterTo.map((r) => r.split('.').slice(0, 2).join('.'));
}

export type TeamConfig = z.infer<typeof teamConfigSchema>;
export type TeamChannel = z.infer<typeof channelSchema>;

export interface EffectiveRunSettings {
  provider: TrainingProviderId;
  model: string;
  /** Unity Catalog target (Databricks); '' for Azure OpenAI, which records the fine-tuned model id instead. */
  registerTo: string;
  trainingDuration?: string;
  contextLength?: number;
  channels: TeamChannel[];
}

function registerToAllowed(registerTo: string, allowed: readonly string[]): boolean {
  const lower = registerTo.toLowerCase();
  return allowed.some((a) => {
    const prefix = a.toLowerCase();
    return lower === prefix || lower.startsWith(`${prefix}.`);
  });
}

/** Apply the team's configuration to a manifest: defaults fill gaps, the manifest only narrows. */
export function applyTeamConfig(
  team: TeamConfig,
  manifest: Manifest,
): { ok: true; settings: EffectiveRunSettings } | { ok: false; problems: IntakeProblem[] } {
  const problems: IntakeProblem[] = [];
  const allowsAll = team.allowedModels.includes('*');
  if (!allowsAll && !team.allowedModels.some((m) => m.toLowerCase() === manifest.model.toLowerCase())) {
    problems.push({
      code: 'model_not_allowed',
      field: 'model',
      message: `Team "${team.team}" may not fine-tune "${manifest.model}". Allowed: ${team.allowedModels.join(', ')}.`,
    });
  }
  const provider = manifest.provider ?? team.provider;
  const allowedProviders = team.allowedProviders ?? [team.provider];
  if (!allowedProviders.includes(provider)) {
    problems.push({
      code: 'provider_not_allowed',
      field: 'provider',
      message: `Team "${team.team}" may not train on "${provider}". Allowed: ${allowedProviders.join(', ')}.`,
    });
  }
  // Azure OpenAI keeps the fine-tuned model in the Azure OpenAI resource: there is no Unity Catalog target.
  const needsRegisterTo = provider === 'databricks';
  const registerTo = needsRegisterTo ? (manifest.registerTo ?? team.defaults.registerTo) : '';
  if (!needsRegisterTo && manifest.registerTo) {
    problems.push({
      code: 'invalid_manifest',
      field: 'registerTo',
      message:
        'run.json "registerTo" is a Unity Catalog target: Azure OpenAI runs record the fine-tuned model id instead.',
    });
  }
  if (needsRegisterTo && !registerTo) {
    problems.push({
      code: 'invalid_manifest',
      field: 'registerTo',
      message: `run.json needs "registerTo" ("catalog.schema[.model]"): team "${team.team}" has no default.`,
    });
  } else if (needsRegisterTo && !registerToAllowed(registerTo ?? '', team.allowedRegisterTo)) {
    problems.push({
      code: 'register_to_not_allowed',
      field: 'registerTo',
      message: `Team "${team.team}" may not register models into "${registerTo}". Allowed: ${team.allowedRegisterTo.join(', ')}.`,
    });
  }
  let channels = team.channels;
  if (manifest.notify) {
    const known = new Set(team.channels.map((c) => c.name));
    const unknown = manifest.notify.filter((n) => !known.has(n));
    if (unknown.length) {
      problems.push({
        code: 'channel_not_allowed',
        field: 'notify',
        message: `Channel(s) ${unknown.map((u) => `"${u}"`).join(', ')} are not configured for team "${team.team}". Configured: ${[...known].join(', ') || 'none'}.`,
      });
    }
    channels = team.channels.filter((c) => manifest.notify?.includes(c.name));
  }
  if (problems.length || (needsRegisterTo && !registerTo)) return { ok: false, problems };
  return {
    ok: true,
    settings: {
      provider,
      model: manifest.model,
      registerTo: registerTo ?? '',
      trainingDuration: manifest.trainingDuration ?? team.defaults.trainingDuration,
      contextLength: manifest.contextLength ?? team.defaults.contextLength,
      channels,
    },
  };
}

/** A team's configuration from the store: parsed and checked, or the problem that refuses its drops. */
export async function loadTeamConfig(
  store: TeamConfigStore,
  team: string,
): Promise<{ ok: true; config: TeamConfig } | { ok: false; missing: boolean; problem: IntakeProblem }> {
  const text = await store.read(team);
  if (text === undefined) {
    return {
      ok: false,
      missing: true,
      problem: {
        code: 'team_not_configured',
        message: `Team "${team}" has no configuration (config/teams/${team}.json).`,
      },
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return {
      ok: false,
      missing: false,
      problem: { code: 'team_not_configured', message: `config/teams/${team}.json is not valid JSON.` },
    };
  }
  const parsed = teamConfigSchema.safeParse(json);
  if (!parsed.success || parsed.data.team !== team) {
    return {
      ok: false,
      missing: false,
      problem: {
        code: 'team_not_configured',
        message: `config/teams/${team}.json is not a valid team configuration${parsed.success ? ` (it names team "${parsed.data.team}")` : `: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`}.`,
      },
    };
  }
  return { ok: true, config: parsed.data };
}
