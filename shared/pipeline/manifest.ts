import { posix } from 'node:path';
import { z } from 'zod';
import { TASKS, trainingProviderSchema } from '../catalog';
import { classifyDataLocation } from './dataLocation';
import type { IntakeProblem } from './errors';

/** `catalog.schema` or `catalog.schema.model`, Unity Catalog identifiers. */
export const registerToSchema = z
  .string()
  .regex(
    /^[A-Za-z_][\w-]*\.[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)?$/,
    'must be "catalog.schema" or "catalog.schema.model"',
  );

export const trainingDurationSchema = z
  .string()
  .regex(/^[1-9]\d*(ep|tok|ba)$/, 'must be a number followed by ep, tok or ba, like "3ep", "10000tok" or "500ba"');

/** C0 and C1 control characters (NUL, newlines, ESC, DEL, ...): never in a name, path or id. */
const hasControlCharacter = (v: string) => {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
};

/** A manifest string: bounded, no control characters. Checked before any storage call uses it. */
export const manifestText = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((v) => !hasControlCharacter(v), {
      message: 'must not contain control characters (U+0000–U+001F, U+007F–U+009F)',
    });

const relativePath = manifestText(1024);

/** The drop's commit point: datasets/{team}/{dataset}/run.json. Unknown keys are rejected, not ignored. */
export const manifestSchema = z
  .object({
    model: manifestText(200),
    task: z.enum(TASKS),
    train: relativePath,
    eval: relativePath.optional(),
    registerTo: registerToSchema.optional(),
    trainingDuration: trainingDurationSchema.optional(),
    learningRate: z.number().positive().max(1).optional(),
    contextLength: z.number().int().positive().optional(),
    customWeightsPath: manifestText(1024).optional(),
    /** The data-prep cluster (DBR 12.2 LTS ML or later) the service uses to read a Delta table. */
    dataPrepClusterId: manifestText(100).optional(),
    notify: z.array(manifestText(128)).max(50).optional(),
    /** The training provider, when the team allows more than its default (team `allowedProviders`). */
    provider: trainingProviderSchema.optional(),
    /** Azure OpenAI hyperparameters (`trainingDuration` gives `n_epochs`). */
    batchSize: z.number().int().positive().max(256).optional(),
    learningRateMultiplier: z.number().positive().max(10).optional(),
    seed: z.number().int().nonnegative().max(2_147_483_647).optional(),
    /** Azure OpenAI: readable part of the fine-tuned model name (≤ 20 of a-z, A-Z, 0-9, - and _). */
    suffix: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,20}$/, 'up to 20 letters, digits, "-" or "_"')
      .optional(),
  })
  .strict();

export type Manifest = z.infer<typeof manifestSchema>;

/** A manifest is a few hundred bytes; anything this big is not one. */
export const MAX_MANIFEST_BYTES = 64 * 1024;

export type ManifestParse = { ok: true; manifest: Manifest } | { ok: false; problems: IntakeProblem[] };

export function parseManifest(content: Buffer | string): ManifestParse {
  if (content.length > MAX_MANIFEST_BYTES) {
    return {
      ok: false,
      problems: [
        {
          code: 'invalid_manifest',
          message: `run.json is ${content.length} bytes; at most ${MAX_MANIFEST_BYTES} are read`,
        },
      ],
    };
  }
  const text = (typeof content === 'string' ? content : content.toString('utf8')).replace(/^\uFEFF/, '');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return {
      ok: false,
      problems: [{ code: 'invalid_manifest', message: `run.json is not valid JSON: ${(err as Error).message}` }],
    };
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((issue) => ({
        code: 'invalid_manifest',
        field: issue.path.join('.') || undefined,
        message: `run.json${issue.path.length ? ` field "${issue.path.join('.')}"` : ''}: ${issue.message}`,
      })),
    };
  }
  const train = classifyDataLocation(parsed.data.train);
  const evalLocation = parsed.data.eval ? classifyDataLocation(parsed.data.eval) : undefined;
  const problems = [
    ...(train.kind === 'drop' ? pathProblems('train', parsed.data.train) : []),
    ...(parsed.data.eval && evalLocation?.kind === 'drop' ? pathProblems('eval', parsed.data.eval) : []),
  ];
  if (evalLocation && (train.kind === 'table') !== (evalLocation.kind === 'table')) {
    problems.push({
      code: 'invalid_manifest',
      field: 'eval',
      message:
        'run.json: "train" and "eval" must both be Delta tables, or both files (the service reads a table through the data-prep cluster, files directly).',
    });
  }
  return problems.length ? { ok: false, problems } : { ok: true, manifest: parsed.data };
}

/** A data path must stay inside the manifest's folder: relative, no `..`, no backslashes. */
function pathProblems(field: string, path: string): IntakeProblem[] {
  const normalized = posix.normalize(path);
  const escapes =
    path.includes('\\') ||
    path.startsWith('/') ||
    /^[a-z][a-z0-9+.-]*:/i.test(path) ||
    normalized === '..' ||
    normalized.startsWith('../') ||
    path.split('/').includes('..');
  return escapes
    ? [
        {
          code: 'path_escapes_folder',
          field,
          message: `"${field}": "${path}" must be a path relative to the manifest's folder, without ".." or a leading "/"`,
        },
      ]
    : [];
}

/** Resolve a manifest-relative data path to a blob name under the drop's folder. */
export function resolveDataPath(dropFolder: string, relative: string): string {
  return posix.join(dropFolder, posix.normalize(relative)).replace(/\/$/, '');
}
