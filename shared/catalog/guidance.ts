/**
 * The provider's published guidance, as numbers the validator and reports use. Source: Azure
 * Databricks "Foundation Model Fine-tuning" (learn.microsoft.com/azure/databricks/large-language-models/
 * foundation-model-training), sections "Recommended data size", "Limitations"; see docs/validation.md.
 */
export const GUIDANCE = {
  recommendedEpochs: { min: 1, max: 4 },
  /** Continued pretraining should have at least this many tokens (warning below it). */
  continuedPretrainingMinTokens: 1_500_000,
  /** Datasets of this many tokens or more are not supported (error). */
  maxDatasetTokens: 10_000_000_000,
  /** Continued-pretraining files are best between these sizes. The page's MB and GB are decimal. */
  continuedPretrainingFileBytes: { min: 60_000_000, max: 256_000_000 },
  /** Files over this size (1 GB, decimal) process slowly. */
  slowFileBytes: 1_000_000_000,
  defaultEpochs: 1,
} as const;

/** The page's advice for after the first evaluation (report, run.completed / model.registered notices). */
export const AFTER_EVALUATION_ADVICE =
  'After evaluating your fine-tuned model, if you want the model outputs to be more similar to your training data, ' +
  'you can continue training using one to two more epochs. If the model performance significantly decreases on ' +
  'tasks not represented in your fine-tuning data, or if the model seems to output exact copies of your ' +
  'fine-tuning data, Databricks recommends reducing the number of training epochs.';

/** Decimal megabytes as the page writes them ("60–256 MB"): 61,000,000 bytes is 61 MB. */
export function formatDecimalMB(bytes: number): string {
  return `${Math.round(bytes / 1_000_000)} MB`;
}

/** A `trainingDuration` as the service takes it: `3ep`, `10000tok`, `500ba`. */
export type TrainingDurationUnit = 'ep' | 'tok' | 'ba';

export function parseTrainingDuration(value: string): { amount: number; unit: TrainingDurationUnit } | undefined {
  const m = /^([1-9]\d*)(ep|tok|ba)$/.exec(value.trim());
  return m ? { amount: Number(m[1]), unit: m[2] as TrainingDurationUnit } : undefined;
}

/**
 * Epochs a training duration means for a dataset of `trainTokens` training tokens: `Nep` is N;
 * `Ntok` is N / trainTokens (the service trains on N tokens, cycling through the data); `Nba`
 * cannot be converted (the batch size is the service's), so it is undefined.
 */
export function epochsForDuration(duration: string, trainTokens: number): number | undefined {
  const parsed = parseTrainingDuration(duration);
  if (!parsed) return undefined;
  if (parsed.unit === 'ep') return parsed.amount;
  if (parsed.unit === 'tok') return trainTokens > 0 ? parsed.amount / trainTokens : undefined;
  return undefined;
}
