import { z } from 'zod';
import { azureOpenAIModelEntries } from './azureOpenAI';

/**
 * The model catalog's seed table: the one source of truth for which foundation models tunedrop
 * can fine-tune, their context lengths, tokenizers and retirements. Everything else (validator,
 * intake, HTTP API, docs) reads it from here. `Catalog.withProviderModels` refreshes context
 * lengths from what the training provider reports, keeping this table as the default.
 */

export const TASKS = ['chat', 'instruction', 'continued_pretraining'] as const;
export type Task = (typeof TASKS)[number];
export const taskSchema = z.enum(TASKS);

export const TASK_INFO: Record<Task, { label: string; providerTaskType: string; recommended: boolean }> = {
  chat: { label: 'Chat completion', providerTaskType: 'CHAT_COMPLETION', recommended: true },
  instruction: { label: 'Instruction fine-tuning', providerTaskType: 'INSTRUCTION_FINETUNE', recommended: false },
  continued_pretraining: { label: 'Continued pretraining', providerTaskType: 'CONTINUED_PRETRAIN', recommended: false },
};

/** The training services a model can belong to. */
export const TRAINING_PROVIDERS = ['databricks', 'azure-openai'] as const;
export type TrainingProviderId = (typeof TRAINING_PROVIDERS)[number];
export const trainingProviderSchema = z.enum(TRAINING_PROVIDERS);

/** Which tokenizer counts a model's tokens exactly. */
export type TokenizerId = 'llama3' | 'mistral' | 'cl100k' | 'llama2' | 'o200k';

export type LicenceFamily =
  | 'Llama 3.2'
  | 'Llama 3.1'
  | 'Llama 3'
  | 'Llama 2'
  | 'CodeLlama'
  | 'DBRX'
  | 'Apache 2.0'
  | 'Azure OpenAI';

/**
 * The licence each model family is under, named as the service's page names it ("Supported
 * models"/"Model licenses", see docs/validation.md), and the page's sentence for it, verbatim.
 */
export const LICENCE_NAMES: Record<LicenceFamily, string> = {
  'Llama 3.2': 'LLAMA 3.2 Community License',
  'Llama 3.1': 'LLAMA 3.1 Community License',
  'Llama 3': 'LLAMA 3 Community License',
  'Llama 2': 'LLAMA 2 Community License',
  CodeLlama: 'LLAMA 2 Community License',
  DBRX: 'Databricks Open Model License',
  'Apache 2.0': 'Apache 2.0',
  'Azure OpenAI': 'Microsoft Product Terms (Azure OpenAI in Foundry Models)',
};

const CUSTOMERS_RESPONSIBLE = 'Customers are responsible for ensuring compliance with applicable model licenses.';

export const LICENCE_NOTES: Record<LicenceFamily, string> = {
  'Llama 3.2':
    'Llama 3.2 is licensed under the LLAMA 3.2 Community License, Copyright © Meta Platforms, Inc. All Rights Reserved. Customers are responsible for ensuring their compliance with the terms of this license and the Llama 3.2 Acceptable Use Policy.',
  'Llama 3.1': `Llama 3.1 is licensed under the LLAMA 3.1 Community License, Copyright © Meta Platforms, Inc. All Rights Reserved. ${CUSTOMERS_RESPONSIBLE}`,
  'Llama 3': `Llama 3 is licensed under the LLAMA 3 Community License, Copyright © Meta Platforms, Inc. All Rights Reserved. ${CUSTOMERS_RESPONSIBLE}`,
  'Llama 2': `Llama 2 is licensed under the LLAMA 2 Community License, Copyright © Meta Platforms, Inc. All Rights Reserved. ${CUSTOMERS_RESPONSIBLE}`,
  CodeLlama: `CodeLlama models are licensed under the LLAMA 2 Community License, Copyright © Meta Platforms, Inc. All Rights Reserved. ${CUSTOMERS_RESPONSIBLE}`,
  DBRX: 'DBRX is provided under and subject to the Databricks Open Model License, Copyright © Databricks, Inc. All rights reserved. Customers are responsible for ensuring compliance with applicable model licenses, including the Databricks Acceptable Use policy.',
  'Apache 2.0': 'Mistral and Mixtral models are licensed under the Apache 2.0 license.',
  'Azure OpenAI':
    'Fine-tuned Azure OpenAI models stay in your Azure OpenAI resource and are used under the Microsoft Product Terms for Azure OpenAI in Foundry Models.',
};

export interface ModelEntry {
  /** The model id as its provider expects it (Hugging Face style on Databricks, `gpt-4o-2024-08-06` on Azure OpenAI). */
  id: string;
  /** The training service that fine-tunes this model. */
  provider: TrainingProviderId;
  family:
    | 'dbrx'
    | 'llama3.2'
    | 'llama3.1'
    | 'llama3'
    | 'llama2'
    | 'codellama'
    | 'mistral'
    | 'mixtral'
    | 'gpt-4o'
    | 'gpt-4o-mini'
    | 'gpt-4.1'
    | 'gpt-4.1-mini'
    | 'gpt-4.1-nano';
  licence: LicenceFamily;
  tokenizer: TokenizerId;
  /** Longest training example in tokens (Azure OpenAI: the "training example context length"). */
  maxContextLength: number;
  /** Instruct/chat variants carry a chat template of their own; base models get the provider's default. */
  instruct: boolean;
  /** Mistral and Mixtral chat templates have no system role: the service rejects it. */
  supportsSystemRole: boolean;
  status: 'supported' | 'retired';
  retiredOn?: string;
  replacement?: string;
}

const RETIRED_ON = '2025-01-07';

function supported(
  id: string,
  family: ModelEntry['family'],
  licence: LicenceFamily,
  tokenizer: TokenizerId,
  maxContextLength: number,
): ModelEntry {
  const isMistralFamily = family === 'mistral' || family === 'mixtral';
  return {
    id,
    provider: 'databricks',
    family,
    licence,
    tokenizer,
    maxContextLength,
    instruct: /instruct/i.test(id),
    supportsSystemRole: !isMistralFamily,
    status: 'supported',
  };
}

function retired(
  id: string,
  family: ModelEntry['family'],
  licence: LicenceFamily,
  tokenizer: TokenizerId,
  maxContextLength: number,
  replacement: string,
): ModelEntry {
  return {
    ...supported(id, family, licence, tokenizer, maxContextLength),
    instruct: /instruct|chat/i.test(id),
    status: 'retired',
    retiredOn: RETIRED_ON,
    replacement,
  };
}

const L31_8B = 'meta-llama/Meta-Llama-3.1-8B';
const L31_8B_I = 'meta-llama/Meta-Llama-3.1-8B-Instruct';
const L31_70B = 'meta-llama/Meta-Llama-3.1-70B';
const L31_70B_I = 'meta-llama/Meta-Llama-3.1-70B-Instruct';

export const MODEL_SEED: readonly ModelEntry[] = [
  ...azureOpenAIModelEntries(),
  supported('databricks/dbrx-base', 'dbrx', 'DBRX', 'cl100k', 32768),
  supported('databricks/dbrx-instruct', 'dbrx', 'DBRX', 'cl100k', 32768),
  supported('meta-llama/Llama-3.2-1B', 'llama3.2', 'Llama 3.2', 'llama3', 131072),
  supported('meta-llama/Llama-3.2-1B-Instruct', 'llama3.2', 'Llama 3.2', 'llama3', 131072),
  supported('meta-llama/Llama-3.2-3B', 'llama3.2', 'Llama 3.2', 'llama3', 131072),
  supported('meta-llama/Llama-3.2-3B-Instruct', 'llama3.2', 'Llama 3.2', 'llama3', 131072),
  supported('meta-llama/Meta-Llama-3.1-405B', 'llama3.1', 'Llama 3.1', 'llama3', 131072),
  supported('meta-llama/Meta-Llama-3.1-405B-Instruct', 'llama3.1', 'Llama 3.1', 'llama3', 131072),
  supported(L31_70B, 'llama3.1', 'Llama 3.1', 'llama3', 131072),
  supported(L31_70B_I, 'llama3.1', 'Llama 3.1', 'llama3', 131072),
  supported(L31_8B, 'llama3.1', 'Llama 3.1', 'llama3', 131072),
  supported(L31_8B_I, 'llama3.1', 'Llama 3.1', 'llama3', 131072),
  supported('mistralai/Mistral-7B-v0.1', 'mistral', 'Apache 2.0', 'mistral', 32768),
  supported('mistralai/Mistral-7B-Instruct-v0.2', 'mistral', 'Apache 2.0', 'mistral', 32768),
  supported('mistralai/Mixtral-8x7B-v0.1', 'mixtral', 'Apache 2.0', 'mistral', 32768),

  retired('meta-llama/Meta-Llama-3-70B', 'llama3', 'Llama 3', 'llama3', 8192, L31_70B),
  retired('meta-llama/Meta-Llama-3-70B-Instruct', 'llama3', 'Llama 3', 'llama3', 8192, L31_70B_I),
  retired('meta-llama/Meta-Llama-3-8B', 'llama3', 'Llama 3', 'llama3', 8192, L31_8B),
  retired('meta-llama/Meta-Llama-3-8B-Instruct', 'llama3', 'Llama 3', 'llama3', 8192, L31_8B_I),
  retired('meta-llama/Llama-2-7b-hf', 'llama2', 'Llama 2', 'llama2', 4096, L31_8B),
  retired('meta-llama/Llama-2-13b-hf', 'llama2', 'Llama 2', 'llama2', 4096, L31_8B),
  retired('meta-llama/Llama-2-70b-hf', 'llama2', 'Llama 2', 'llama2', 4096, L31_70B),
  retired('meta-llama/Llama-2-7b-chat-hf', 'llama2', 'Llama 2', 'llama2', 4096, L31_8B_I),
  retired('meta-llama/Llama-2-13b-chat-hf', 'llama2', 'Llama 2', 'llama2', 4096, L31_8B_I),
  retired('meta-llama/Llama-2-70b-chat-hf', 'llama2', 'Llama 2', 'llama2', 4096, L31_70B_I),
  ...(['7b', '13b', '34b'] as const).flatMap((size) => {
    const base = size === '34b' ? L31_70B : L31_8B;
    const instruct = size === '34b' ? L31_70B_I : L31_8B_I;
    return [
      retired(`codellama/CodeLlama-${size}-hf`, 'codellama', 'CodeLlama', 'llama2', 16384, base),
      retired(`codellama/CodeLlama-${size}-Instruct-hf`, 'codellama', 'CodeLlama', 'llama2', 16384, instruct),
      retired(`codellama/CodeLlama-${size}-Python-hf`, 'codellama', 'CodeLlama', 'llama2', 16384, base),
    ];
  }),
];
