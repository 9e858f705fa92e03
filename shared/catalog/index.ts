import { PROVIDER_TASKS } from './azureOpenAI';
import { LICENCE_NOTES, MODEL_SEED, type ModelEntry, TASKS, type Task, type TrainingProviderId } from './models';

export * from './azureOpenAI';
export * from './guidance';
export * from './models';
export * from './refresh';
export * from './regions';

export type ModelLookup =
  | { ok: true; model: ModelEntry }
  | { ok: false; code: 'model_not_supported' | 'model_retired'; message: string; model?: ModelEntry };

/** A model as the training provider reports it (getFinetuneConstants). */
export interface ProviderModelInfo {
  name: string;
  maxContextLength: number;
}

/** Where a catalog's model list comes from: the seed table, or the provider at a refresh. */
export type CatalogSource = { kind: 'seed' } | { kind: 'provider'; refreshedAt: string };

export class Catalog {
  private readonly byId: Map<string, ModelEntry>;
  private readonly withdrawn: ReadonlySet<string>;

  constructor(
    readonly models: readonly ModelEntry[] = MODEL_SEED,
    readonly source: CatalogSource = { kind: 'seed' },
    /** Seed models the provider no longer offers (ids, lower case): refused as model_not_supported. */
    withdrawn: Iterable<string> = [],
  ) {
    this.byId = new Map(models.map((m) => [m.id.toLowerCase(), m]));
    this.withdrawn = new Set([...withdrawn].map((id) => id.toLowerCase()));
  }

  /** "seed table" or "provider, refreshed 2026-11-30T03:00:00.000Z (5 h ago)". */
  describeSource(now: Date = new Date()): string {
    if (this.source.kind === 'seed') return 'seed table (no provider refresh yet)';
    return `provider, refreshed ${this.source.refreshedAt} (${formatAge(now.getTime() - Date.parse(this.source.refreshedAt))} ago)`;
  }

  isWithdrawn(id: string): boolean {
    return this.withdrawn.has(id.trim().toLowerCase());
  }

  /**
   * A catalog whose context lengths follow what the provider reports. Models the provider
   * reports but the seed does not know stay unknown: tokenizer and licence facts cannot be
   * guessed, so they are not offered until the seed table learns them.
   */
  withProviderModels(
    reported: readonly ProviderModelInfo[],
    refreshedAt?: string,
    provider: TrainingProviderId = 'databricks',
  ): Catalog {
    const lengths = new Map(reported.map((r) => [r.name.toLowerCase(), r.maxContextLength]));
    const models = this.models.map((m) => {
      const length = lengths.get(m.id.toLowerCase());
      return length && m.status === 'supported' ? { ...m, maxContextLength: length } : m;
    });
    if (refreshedAt === undefined) return new Catalog(models, this.source);
    // A refresh is the provider's whole list: a supported seed model of that provider it no longer
    // reports is withdrawn. (The refresh reads Databricks' list; Azure OpenAI models are not in it.)
    const withdrawn = models
      .filter((m) => m.provider === provider && m.status === 'supported' && !lengths.has(m.id.toLowerCase()))
      .map((m) => m.id);
    return new Catalog(models, { kind: 'provider', refreshedAt }, withdrawn);
  }

  /** The models one training provider fine-tunes. */
  forProvider(provider: TrainingProviderId): Catalog {
    return new Catalog(this.models.filter((m) => m.provider === provider));
  }

  /** Whether the provider offers the task (Azure OpenAI: chat only). */
  offersTask(provider: TrainingProviderId, task: Task): boolean {
    return PROVIDER_TASKS[provider].includes(task);
  }

  supported(): ModelEntry[] {
    return this.models.filter((m) => m.status === 'supported' && !this.withdrawn.has(m.id.toLowerCase()));
  }

  find(id: string): ModelEntry | undefined {
    return this.byId.get(id.trim().toLowerCase());
  }

  /** Resolve a model id for training: known, and not retired. */
  lookup(id: string): ModelLookup {
    const model = this.find(id);
    if (!model) {
      return {
        ok: false,
        code: 'model_not_supported',
        message: `Model "${id}" is not supported for fine-tuning. Supported models: ${this.supported()
          .map((m) => m.id)
          .join(', ')}.`,
      };
    }
    if (this.withdrawn.has(model.id.toLowerCase()) && this.source.kind === 'provider') {
      return {
        ok: false,
        code: 'model_not_supported',
        model,
        message: `Model "${model.id}" is no longer offered by the training service (catalog refreshed from the provider on ${this.source.refreshedAt.slice(0, 10)}). Supported models: ${this.supported()
          .map((m) => m.id)
          .join(', ')}.`,
      };
    }
    if (model.status === 'retired') {
      return {
        ok: false,
        code: 'model_retired',
        model,
        message: `Model "${model.id}" was retired for fine-tuning on ${model.retiredOn}; use ${model.replacement} instead.`,
      };
    }
    return { ok: true, model };
  }

  licenceNote(model: ModelEntry): string {
    return LICENCE_NOTES[model.licence];
  }
}

export const defaultCatalog = new Catalog();

function formatAge(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60_000));
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} d`;
}

export function isTask(value: string): value is Task {
  return (TASKS as readonly string[]).includes(value);
}
