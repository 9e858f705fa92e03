import { PROVIDER_TASKS } from './azureOpenAI';
import { LICENCE_NOTES, MODEL_SEED, type ModelEntry, TASKS, type Task, type TrainingProviderId } from './models';

export * from './azureOpenAI';
export * from './guidance';
export * from './models';
export * from './regions';

export type ModelLookup =
  | { ok: true; model: ModelEntry }
  | { ok: false; code: 'model_not_supported' | 'model_retired'; message: string; model?: ModelEntry };

/** A model as the training provider reports it (getFinetuneConstants). */
export interface ProviderModelInfo {
  name: string;
  maxContextLength: number;
}

export class Catalog {
  private readonly byId: Map<string, ModelEntry>;

  constructor(readonly models: readonly ModelEntry[] = MODEL_SEED) {
    this.byId = new Map(models.map((m) => [m.id.toLowerCase(), m]));
  }

  /**
   * A catalog whose context lengths follow what the provider reports. Models the provider
   * reports but the seed does not know stay unknown: tokenizer and licence facts cannot be
   * guessed, so they are not offered until the seed table learns them.
   */
  withProviderModels(reported: readonly ProviderModelInfo[]): Catalog {
    const lengths = new Map(reported.map((r) => [r.name.toLowerCase(), r.maxContextLength]));
    return new Catalog(
      this.models.map((m) => {
        const length = lengths.get(m.id.toLowerCase());
        return length && m.status === 'supported' ? { ...m, maxContextLength: length } : m;
      }),
    );
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
    return this.models.filter((m) => m.status === 'supported');
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

export function isTask(value: string): value is Task {
  return (TASKS as readonly string[]).includes(value);
}
