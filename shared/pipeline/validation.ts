import type { Readable } from 'node:stream';
import type { AzureOpenAITrainingType, Catalog, TrainingProviderId } from '../catalog';
import { renderValidationMarkdown, validateDataset } from '../datasets';
import type { Manifest } from './manifest';
import type { DropStore } from './ports';

/** A data file of a drop, by its name in the drop folder and in the datasets container. */
export interface DataFile {
  /** Name relative to the drop folder (e.g. train.jsonl, texts/a.txt). */
  name: string;
  blobName: string;
  size: number;
  /** Training data (default), or evaluation data (validated alike, not counted towards the token minimum or the bill). */
  role?: 'train' | 'eval';
  /** A file in a Unity Catalog volume, read through the Files API (then `blobName` is empty). */
  volumePath?: string;
  /** The blob's version when it was listed (sharded validation reads only that version). */
  etag?: string;
}

export interface ErrorSummary {
  code: string;
  count: number;
  /** The first problem's message for this code. */
  message?: string;
}

export interface ValidationOutcome {
  ok: boolean;
  /** The full validation report (shared/datasets' ValidationReport), stored as validation.json. */
  report: Record<string, unknown> & { ok: boolean };
  markdown: string;
  /** sha256 of each data file, computed while streaming (lineage and the run id). */
  fileDigests: Record<string, string>;
  errorSummary: ErrorSummary[];
}

export type DropValidator = (input: {
  manifest: Pick<Manifest, 'model' | 'task'>;
  /** The run's training provider (default: the model's own). */
  provider?: TrainingProviderId;
  contextLength?: number;
  /** The run's duration (manifest, else team default): epochs and the billable estimate follow it. */
  trainingDuration?: string;
  files: DataFile[];
}) => Promise<ValidationOutcome>;

/** Problems grouped by code, each with its count and first message (what a rejection notice shows). */
export function summarizeProblems(problems: readonly { code: string; message: string }[]): ErrorSummary[] {
  const byCode = new Map<string, ErrorSummary>();
  for (const p of problems) {
    const seen = byCode.get(p.code);
    if (seen) seen.count += 1;
    else byCode.set(p.code, { code: p.code, count: 1, message: p.message });
  }
  return [...byCode.values()];
}

/** Validation of a drop's data files, streamed from the drop store, with the model's real rules and tokenizer. */
export function createDropValidator(
  drops: Pick<DropStore, 'open'>,
  region?: string,
  options: {
    /** The catalog as last refreshed from the provider (default: the seed table). */
    catalog?: () => Promise<Catalog>;
    /** Unity Catalog volume files (Files API, ranged reads). */
    openVolumeFile?: (path: string, bytes: number) => Readable;
    /** The Azure OpenAI account's region and training type, for runs on that provider. */
    azureOpenAI?: { region?: string; trainingType?: AzureOpenAITrainingType };
  } = {},
): DropValidator {
  return async (input) => {
    const onAzure = input.provider === 'azure-openai';
    const report = await validateDataset({
      model: input.manifest.model,
      task: input.manifest.task,
      contextLength: input.contextLength,
      provider: input.provider,
      region: onAzure ? options.azureOpenAI?.region : region,
      trainingType: onAzure ? options.azureOpenAI?.trainingType : undefined,
      trainingDuration: input.trainingDuration,
      catalog: options.catalog ? await options.catalog() : undefined,
      files: input.files.map((f) => ({
        name: f.name,
        size: f.size,
        role: f.role,
        open: () => {
          if (!f.volumePath) return drops.open(f.blobName);
          if (!options.openVolumeFile) throw new Error('volume data needs the Databricks workspace (DATABRICKS_HOST)');
          return options.openVolumeFile(f.volumePath, f.size);
        },
      })),
    });
    const fileDigests = Object.fromEntries((report.files ?? []).map((f) => [f.name, f.sha256 ?? '']));
    return {
      ok: report.ok,
      report: report as unknown as ValidationOutcome['report'],
      markdown: renderValidationMarkdown(report),
      fileDigests,
      errorSummary: summarizeProblems(report.errors).map((e) => ({
        ...e,
        count: report.errorCounts[e.code] ?? e.count,
      })),
    };
  };
}
