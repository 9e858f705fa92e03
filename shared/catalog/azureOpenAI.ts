import type { ModelEntry, Task } from './models';

/**
 * Azure OpenAI (Microsoft Foundry) fine-tuning facts, from Microsoft's documentation (sources in
 * docs/training-provider.md, "Azure OpenAI: sources"). The one place these numbers live.
 */

export interface AzureOpenAIModelFacts {
  /** The base model name the fine-tuning API takes: `<model>-<version>`. */
  id: string;
  family: ModelEntry['family'];
  version: string;
  /** "Training example context length": the longest example the service trains on. */
  trainingExampleContext: number;
  /** Max request (inference) input tokens of the base model. */
  maxInputTokens: number;
  /** Regions that run Standard (regional, data-resident) training of this model. */
  standardTrainingRegions: readonly string[];
  /** Whether Global training (cheaper, no data residency) is offered for this model. */
  globalTraining: boolean;
}

export const AZURE_OPENAI_FINE_TUNABLE: readonly AzureOpenAIModelFacts[] = [
  {
    id: 'gpt-4o-mini-2024-07-18',
    family: 'gpt-4o-mini',
    version: '2024-07-18',
    trainingExampleContext: 65_536,
    maxInputTokens: 128_000,
    standardTrainingRegions: ['northcentralus', 'swedencentral'],
    globalTraining: true,
  },
  {
    id: 'gpt-4o-2024-08-06',
    family: 'gpt-4o',
    version: '2024-08-06',
    trainingExampleContext: 65_536,
    maxInputTokens: 128_000,
    standardTrainingRegions: ['eastus2', 'northcentralus', 'swedencentral'],
    globalTraining: true,
  },
  {
    id: 'gpt-4.1-2025-04-14',
    family: 'gpt-4.1',
    version: '2025-04-14',
    trainingExampleContext: 65_536,
    maxInputTokens: 128_000,
    standardTrainingRegions: ['northcentralus', 'swedencentral'],
    globalTraining: true,
  },
  {
    id: 'gpt-4.1-mini-2025-04-14',
    family: 'gpt-4.1-mini',
    version: '2025-04-14',
    trainingExampleContext: 65_536,
    maxInputTokens: 128_000,
    standardTrainingRegions: ['northcentralus', 'swedencentral'],
    globalTraining: true,
  },
  {
    id: 'gpt-4.1-nano-2025-04-14',
    family: 'gpt-4.1-nano',
    version: '2025-04-14',
    trainingExampleContext: 32_768,
    maxInputTokens: 128_000,
    standardTrainingRegions: ['northcentralus', 'swedencentral'],
    globalTraining: true,
  },
];

/** Regions whose Azure OpenAI resources can run Global training (Poland Central: not gpt-4.1-nano). */
export const AZURE_OPENAI_GLOBAL_TRAINING_REGIONS = [
  'australiaeast',
  'brazilsouth',
  'canadacentral',
  'canadaeast',
  'eastus',
  'eastus2',
  'francecentral',
  'germanywestcentral',
  'italynorth',
  'japaneast',
  'koreacentral',
  'northcentralus',
  'norwayeast',
  'polandcentral',
  'southeastasia',
  'southafricanorth',
  'southcentralus',
  'southindia',
  'spaincentral',
  'swedencentral',
  'switzerlandwest',
  'switzerlandnorth',
  'uksouth',
  'westeurope',
  'westus',
  'westus3',
] as const;

export const AZURE_OPENAI_TRAINING_TYPES = ['standard', 'globalstandard'] as const;
export type AzureOpenAITrainingType = (typeof AZURE_OPENAI_TRAINING_TYPES)[number];

export const AZURE_OPENAI_LIMITS = {
  /** "Fine tuning jobs will not proceed without at least 10 training examples." */
  minTrainingExamples: 10,
  /** Training and validation files "must be less than 512 MB". */
  maxFileBytes: 512 * 1024 * 1024,
  /** `weight` on an assistant message: 0 (skip) or 1 (train). */
  weights: [0, 1] as const,
  /** `suffix`: up to 40 characters of a-z, A-Z, 0-9, - and _. */
  suffixPattern: /^[A-Za-z0-9_-]{1,40}$/,
  /** Recommended learning_rate_multiplier range. */
  recommendedLearningRateMultiplier: { min: 0.02, max: 0.2 },
} as const;

/** Tasks each provider offers. Azure OpenAI supervised fine-tuning takes chat data only. */
export const PROVIDER_TASKS: Record<ModelEntry['provider'], readonly Task[]> = {
  databricks: ['chat', 'instruction', 'continued_pretraining'],
  'azure-openai': ['chat'],
};

export const PROVIDER_LABELS: Record<ModelEntry['provider'], string> = {
  databricks: 'Databricks Foundation Model Fine-tuning',
  'azure-openai': 'Azure OpenAI fine-tuning (Microsoft Foundry)',
};

/** Whether a model can be trained from a resource in `region` (normalized), with the given training type. */
export function azureOpenAIRegionAllows(
  facts: AzureOpenAIModelFacts,
  region: string,
  trainingType: AzureOpenAITrainingType,
): boolean {
  if (trainingType === 'standard') return facts.standardTrainingRegions.includes(region);
  if (!facts.globalTraining) return false;
  if (region === 'polandcentral' && facts.family === 'gpt-4.1-nano') return false;
  return (AZURE_OPENAI_GLOBAL_TRAINING_REGIONS as readonly string[]).includes(region);
}

export function azureOpenAIFacts(id: string): AzureOpenAIModelFacts | undefined {
  const wanted = id.trim().toLowerCase();
  return AZURE_OPENAI_FINE_TUNABLE.find((m) => m.id === wanted);
}

/** Catalog entries (tokenizer o200k_base for the gpt-4o and gpt-4.1 families). */
export function azureOpenAIModelEntries(): ModelEntry[] {
  return AZURE_OPENAI_FINE_TUNABLE.map((m) => ({
    id: m.id,
    provider: 'azure-openai',
    family: m.family,
    licence: 'Azure OpenAI',
    tokenizer: 'o200k',
    maxContextLength: m.trainingExampleContext,
    instruct: true,
    supportsSystemRole: true,
    status: 'supported',
  }));
}
