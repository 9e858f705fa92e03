import type { ModelEntry } from '../catalog';
import { countOpenAIChat, type OpenAIChatExample } from './openaiChat';
import type { SentencePieceCounter } from './tokenizers/mistral';
import type { TokenCounter } from './tokenizers/types';

export type Role = 'system' | 'user' | 'assistant';
export interface ChatMessage {
  role: Role;
  content: string;
}

/** Tokens of one training example, and where the trainable (assistant/response) part starts. */
export interface CountedExample {
  tokens: number;
  /** Tokens the model learns from: assistant content + its end-of-turn token, or the response. */
  trainable: number;
  /** Tokens before the first trainable token: truncation at or below this leaves nothing to learn. */
  firstTrainableAt: number;
}

export type TemplateKind = 'llama3' | 'chatml' | 'mistral' | 'llama2' | 'openai';

export interface TemplateSpec {
  kind: TemplateKind;
  /** Llama 3.1/3.2 Instruct templates always open with this system preamble. */
  systemPreamble?: string;
}

/** The Llama 3.1/3.2 Instruct chat template's fixed system header (its default date). */
export const LLAMA31_SYSTEM_PREAMBLE = 'Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n';

export function templateFor(model: ModelEntry): TemplateSpec | undefined {
  switch (model.tokenizer) {
    case 'llama3':
      return model.instruct && (model.family === 'llama3.1' || model.family === 'llama3.2')
        ? { kind: 'llama3', systemPreamble: LLAMA31_SYSTEM_PREAMBLE }
        : { kind: 'llama3' };
    case 'cl100k':
      return { kind: 'chatml' };
    case 'mistral':
      return { kind: 'mistral' };
    case 'llama2':
      return { kind: 'llama2' };
    case 'o200k':
      return { kind: 'openai' };
  }
}

/**
 * Counts chat and instruction examples the way the model sees them. Special tokens split the
 * text, so a templated conversation's count is the sum of its segments between special tokens
 * — exact, without building the whole templated string.
 */
export interface ExampleCounter {
  chat(messages: readonly ChatMessage[]): CountedExample;
  instruction(prompt: string, response: string): CountedExample;
  text(text: string): number;
  /** Azure OpenAI chat rows (tools, weights); only the 'openai' template has it. */
  openaiChat?(example: OpenAIChatExample): CountedExample;
}

export function createExampleCounter(spec: TemplateSpec, counter: TokenCounter): ExampleCounter {
  switch (spec.kind) {
    case 'llama3':
      return llama3Counter(spec, counter);
    case 'chatml':
      return chatmlCounter(counter);
    case 'mistral':
      return mistralCounter(counter as SentencePieceCounter);
    case 'llama2':
      return llama2Counter(counter as SentencePieceCounter);
    case 'openai':
      return openaiCounter(counter);
  }
}

/** Azure OpenAI models (o200k_base): OpenAI's chat counting recipe, see openaiChat.ts. */
function openaiCounter(counter: TokenCounter): ExampleCounter {
  const plain = (role: 'system' | 'user' | 'assistant', content: string) => ({
    role,
    content,
    weight: 1 as const,
    calls: [],
  });
  return {
    chat: (messages) => countOpenAIChat({ messages: messages.map((m) => plain(m.role, m.content)) }, counter),
    instruction: (prompt, response) =>
      countOpenAIChat({ messages: [plain('user', prompt), plain('assistant', response)] }, counter),
    text: (text) => counter.count(text),
    openaiChat: (example) => countOpenAIChat(example, counter),
  };
}

/** `<|begin_of_text|>` then per message `<|start_header_id|>{role}<|end_header_id|>\n\n{content|trim}<|eot_id|>`. */
function llama3Counter(spec: TemplateSpec, counter: TokenCounter): ExampleCounter {
  const roleTokens = {
    system: counter.count('system'),
    user: counter.count('user'),
    assistant: counter.count('assistant'),
  };
  const blankLineTokens = counter.count('\n\n');
  return {
    chat(messages) {
      let tokens = 1;
      let trainable = 0;
      let firstTrainableAt = -1;
      let rest = messages;
      if (spec.systemPreamble !== undefined) {
        const first = messages[0];
        const systemText = first?.role === 'system' ? first.content.trim() : '';
        if (first?.role === 'system') rest = messages.slice(1);
        tokens += 3 + roleTokens.system + counter.count(`\n\n${spec.systemPreamble}${systemText}`);
      }
      for (const m of rest) {
        const header = 2 + roleTokens[m.role];
        const body = counter.count(`\n\n${m.content.trim()}`) + 1;
        if (m.role === 'assistant') {
          if (firstTrainableAt < 0) firstTrainableAt = tokens + header + blankLineTokens;
          trainable += body - blankLineTokens;
        }
        tokens += header + body;
      }
      return { tokens, trainable, firstTrainableAt: firstTrainableAt < 0 ? tokens : firstTrainableAt };
    },
    instruction(prompt, response) {
      const promptTokens = 1 + counter.count(prompt);
      const trainable = counter.count(response) + 1;
      return { tokens: promptTokens + trainable, trainable, firstTrainableAt: promptTokens };
    },
    text: (text) => counter.count(text),
  };
}

/** DBRX (ChatML): per message `<|im_start|>{role}\n{content}<|im_end|>\n`. */
function chatmlCounter(counter: TokenCounter): ExampleCounter {
  const newline = counter.count('\n');
  const header = {
    system: counter.count('system\n'),
    user: counter.count('user\n'),
    assistant: counter.count('assistant\n'),
  };
  return {
    chat(messages) {
      let tokens = 0;
      let trainable = 0;
      let firstTrainableAt = -1;
      for (const m of messages) {
        const segment = counter.count(`${m.role}\n${m.content}`);
        if (m.role === 'assistant') {
          if (firstTrainableAt < 0) firstTrainableAt = tokens + 1 + header.assistant;
          trainable += segment - header.assistant + 1;
        }
        tokens += 1 + segment + 1 + newline;
      }
      return { tokens, trainable, firstTrainableAt: firstTrainableAt < 0 ? tokens : firstTrainableAt };
    },
    instruction(prompt, response) {
      const promptTokens = counter.count(prompt);
      const trainable = counter.count(response) + 1;
      return { tokens: promptTokens + trainable, trainable, firstTrainableAt: promptTokens };
    },
    text: (text) => counter.count(text),
  };
}

/**
 * Mistral-7B-Instruct-v0.2: `<s>` then `[INST] {user} [/INST]{assistant}</s>` per turn. `</s>` splits
 * the text, so each turn is one SentencePiece segment (with its dummy prefix space).
 */
function mistralCounter(counter: SentencePieceCounter): ExampleCounter {
  return {
    chat(messages) {
      let tokens = 1;
      let trainable = 0;
      let firstTrainableAt = -1;
      let pending = '';
      for (const m of messages) {
        if (m.role === 'assistant') {
          const [promptPart, segment] = counter.countHeadAndWhole(pending, m.content);
          if (firstTrainableAt < 0) firstTrainableAt = tokens + promptPart;
          trainable += segment - promptPart + 1;
          tokens += segment + 1;
          pending = '';
        } else {
          pending += `[INST] ${m.content} [/INST]`;
        }
      }
      if (pending) tokens += counter.countSegment(pending);
      return { tokens, trainable, firstTrainableAt: firstTrainableAt < 0 ? tokens : firstTrainableAt };
    },
    instruction(prompt, response) {
      const promptTokens = 1 + counter.countSegment(prompt);
      const trainable = counter.countSegment(response) + 1;
      return { tokens: promptTokens + trainable, trainable, firstTrainableAt: promptTokens };
    },
    text: (text) => counter.countSegment(text),
  };
}

/**
 * Llama 2 chat / Code Llama Instruct: per turn `<s>[INST] {user} [/INST] {assistant} </s>`, with
 * the system message wrapped in `<<SYS>>\n…\n<</SYS>>\n\n` before the first user message and
 * contents stripped. `<s>`/`</s>` split the text; each turn is one SentencePiece segment.
 */
function llama2Counter(counter: SentencePieceCounter): ExampleCounter {
  return {
    chat(messages) {
      let system: string | undefined;
      let rest = messages;
      if (messages[0]?.role === 'system') {
        system = messages[0].content;
        rest = messages.slice(1);
      }
      let tokens = 0;
      let trainable = 0;
      let firstTrainableAt = -1;
      let pending = '';
      rest.forEach((m, i) => {
        const content = i === 0 && system !== undefined ? `<<SYS>>\n${system}\n<</SYS>>\n\n${m.content}` : m.content;
        if (m.role === 'user') {
          if (pending) tokens += counter.countSegment(pending);
          tokens += 1;
          pending = `[INST] ${content.trim()} [/INST]`;
        } else {
          const [promptPart, segment] = counter.countHeadAndWhole(pending, ` ${content.trim()} `);
          if (firstTrainableAt < 0) firstTrainableAt = tokens + promptPart;
          trainable += segment - promptPart + 1;
          tokens += segment + 1;
          pending = '';
        }
      });
      if (pending) tokens += counter.countSegment(pending);
      return { tokens, trainable, firstTrainableAt: firstTrainableAt < 0 ? tokens : firstTrainableAt };
    },
    instruction(prompt, response) {
      const promptTokens = 1 + counter.countSegment(prompt);
      const trainable = counter.countSegment(response) + 1;
      return { tokens: promptTokens + trainable, trainable, firstTrainableAt: promptTokens };
    },
    text: (text) => counter.countSegment(text),
  };
}
