import type { ErrorCode } from './codes';
import type { CountedExample } from './templates';
import type { TokenCounter } from './tokenizers/types';

/**
 * The chat format of Azure OpenAI (and OpenAI) fine-tuning: the Chat Completions `messages`
 * with system/user/assistant/tool (and legacy function) roles, `weight` 0/1 on assistant messages,
 * assistant `tool_calls` / `function_call`, and per-row `tools` / `functions` definitions.
 * Sources: docs/training-provider.md ("Azure OpenAI: sources").
 */

export type OpenAIRole = 'system' | 'user' | 'assistant' | 'tool' | 'function';

export interface OpenAIChatMessage {
  role: OpenAIRole;
  /** Text content ('' for an assistant message that only calls tools). */
  content: string;
  name?: string;
  /** Assistant only: 0 = not trained on, 1 (default) = trained on. */
  weight: 0 | 1;
  /** Assistant only: the calls as `name` + `arguments` text pairs. */
  calls: { name: string; arguments: string }[];
}

export interface OpenAIChatExample {
  messages: OpenAIChatMessage[];
  /** `tools` / `functions` definitions as JSON text (what the service renders into the prompt). */
  definitions?: string;
}

export interface OpenAIRowProblem {
  problem: { code: ErrorCode; message: string };
}

const ROW_KEYS = new Set(['messages', 'tools', 'functions', 'parallel_tool_calls']);
const ROLES = new Set<OpenAIRole>(['system', 'user', 'assistant', 'tool', 'function']);
const MESSAGE_KEYS: Record<OpenAIRole, ReadonlySet<string>> = {
  system: new Set(['role', 'content', 'name']),
  user: new Set(['role', 'content', 'name']),
  assistant: new Set(['role', 'content', 'name', 'weight', 'tool_calls', 'function_call', 'refusal']),
  tool: new Set(['role', 'content', 'tool_call_id']),
  function: new Set(['role', 'content', 'name']),
};

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function fail(code: ErrorCode, message: string): OpenAIRowProblem {
  return { problem: { code, message } };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseDefinitions(row: Record<string, unknown>): string | undefined | OpenAIRowProblem {
  const parts: unknown[] = [];
  if (row.tools !== undefined) {
    if (!Array.isArray(row.tools)) return fail('invalid_tools', `"tools" is ${describe(row.tools)}, not an array`);
    for (const [i, t] of row.tools.entries()) {
      if (!isObject(t) || t.type !== 'function' || !isObject(t.function) || typeof t.function.name !== 'string') {
        return fail('invalid_tools', `tools[${i}] must be {"type": "function", "function": {"name": …}}`);
      }
      if (t.function.parameters !== undefined && !isObject(t.function.parameters)) {
        return fail('invalid_tools', `tools[${i}].function.parameters must be a JSON Schema object`);
      }
    }
    parts.push(...row.tools);
  }
  if (row.functions !== undefined) {
    if (!Array.isArray(row.functions))
      return fail('invalid_tools', `"functions" is ${describe(row.functions)}, not an array`);
    for (const [i, f] of row.functions.entries()) {
      if (!isObject(f) || typeof f.name !== 'string') {
        return fail('invalid_tools', `functions[${i}] must be an object with a "name"`);
      }
    }
    parts.push(...row.functions);
  }
  if (row.parallel_tool_calls !== undefined && typeof row.parallel_tool_calls !== 'boolean') {
    return fail('invalid_tools', '"parallel_tool_calls" must be true or false');
  }
  return parts.length > 0 ? JSON.stringify(parts) : undefined;
}

function parseCall(value: unknown, where: string): { name: string; arguments: string } | OpenAIRowProblem {
  if (!isObject(value) || typeof value.name !== 'string' || typeof value.arguments !== 'string') {
    return fail('invalid_tool_call', `${where} needs a string "name" and a string "arguments"`);
  }
  return { name: value.name, arguments: value.arguments };
}

/** Parse and check one row; the checks are those the service documents (see the module comment). */
export function parseOpenAIChat(row: Record<string, unknown>): OpenAIChatExample | OpenAIRowProblem {
  for (const key of Object.keys(row)) {
    if (!ROW_KEYS.has(key)) {
      return fail('unknown_key', `unexpected key "${key}" (a chat row has "messages" and optionally "tools")`);
    }
  }
  const messages = row.messages;
  if (!Array.isArray(messages)) {
    return fail(
      'missing_messages',
      messages === undefined ? 'no "messages" key' : `"messages" is ${describe(messages)}, not an array`,
    );
  }
  if (messages.length < 2) return fail('too_few_messages', `${messages.length} message(s); a chat needs at least 2`);
  const definitions = parseDefinitions(row);
  if (typeof definitions === 'object') return definitions;
  const out: OpenAIChatMessage[] = [];
  const callIds = new Set<string>();
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    const where = `messages[${i}]`;
    if (!isObject(m)) return fail('invalid_message', `${where} is ${describe(m)}, not an object`);
    const role = m.role;
    if (typeof role !== 'string' || !ROLES.has(role as OpenAIRole)) {
      return fail('invalid_role', `${where}.role is ${JSON.stringify(role)}; use system, user, assistant or tool`);
    }
    const r = role as OpenAIRole;
    const extra = Object.keys(m).find((k) => !MESSAGE_KEYS[r].has(k));
    if (extra === 'weight') return fail('invalid_weight', `${where}: "weight" is allowed on assistant messages only`);
    if (extra) return fail('invalid_message', `${where} has an unexpected key "${extra}" for role "${r}"`);
    const calls: OpenAIChatMessage['calls'] = [];
    if (r === 'assistant') {
      if (m.tool_calls !== undefined) {
        if (!Array.isArray(m.tool_calls) || m.tool_calls.length === 0) {
          return fail('invalid_tool_call', `${where}.tool_calls must be a non-empty array`);
        }
        for (const [j, call] of m.tool_calls.entries()) {
          const at = `${where}.tool_calls[${j}]`;
          if (!isObject(call) || typeof call.id !== 'string' || call.type !== 'function') {
            return fail('invalid_tool_call', `${at} needs a string "id" and "type": "function"`);
          }
          const parsed = parseCall(call.function, `${at}.function`);
          if ('problem' in parsed) return parsed;
          callIds.add(call.id);
          calls.push(parsed);
        }
      }
      if (m.function_call !== undefined) {
        const parsed = parseCall(m.function_call, `${where}.function_call`);
        if ('problem' in parsed) return parsed;
        calls.push(parsed);
      }
    }
    if (r === 'tool') {
      if (typeof m.tool_call_id !== 'string') {
        return fail('invalid_tool_call', `${where} (role "tool") needs a string "tool_call_id"`);
      }
      if (!callIds.has(m.tool_call_id)) {
        return fail('invalid_tool_call', `${where}.tool_call_id "${m.tool_call_id}" answers no earlier tool call`);
      }
    }
    const content = m.content;
    let text = '';
    if (content === undefined || content === null) {
      if (calls.length === 0) {
        return fail('invalid_message', `${where} needs "content"${r === 'assistant' ? ' or "tool_calls"' : ''}`);
      }
    } else if (typeof content !== 'string') {
      return fail(
        'content_not_string',
        `${where}.content is ${describe(content)}; tunedrop trains on text content only (no image parts)`,
      );
    } else {
      if (content.trim().length === 0 && calls.length === 0) {
        return fail('empty_content', `${where}.content is empty`);
      }
      text = content;
    }
    let weight: 0 | 1 = 1;
    if (m.weight !== undefined) {
      if (m.weight !== 0 && m.weight !== 1) {
        return fail('invalid_weight', `${where}.weight is ${JSON.stringify(m.weight)}; use 0 or 1`);
      }
      weight = m.weight;
    }
    if (m.name !== undefined && typeof m.name !== 'string') {
      return fail('invalid_message', `${where}.name must be a string`);
    }
    out.push({ role: r, content: text, ...(typeof m.name === 'string' ? { name: m.name } : {}), weight, calls });
  }
  const last = out[out.length - 1];
  if (last?.role !== 'assistant') return fail('last_not_assistant', `the last message is from "${last?.role}"`);
  return definitions === undefined ? { messages: out } : { messages: out, definitions };
}

/** The texts of an example, for special-token checks. */
export function openAIChatTexts(example: OpenAIChatExample): string[] {
  return example.messages.flatMap((m) => [m.content, ...m.calls.map((c) => c.arguments)]);
}

/** Framing tokens per message and per conversation, as OpenAI's published counting recipe for the o200k models. */
export const OPENAI_TOKENS_PER_MESSAGE = 3;
export const OPENAI_TOKENS_PER_NAME = 1;
export const OPENAI_REPLY_PRIMING_TOKENS = 3;

/**
 * Tokens of an example: per message 3 framing tokens + role + content (+ name + 1), + 3 for the
 * conversation; texts counted exactly with the model's tokenizer. Tool calls count their name and
 * arguments, tool definitions their JSON text: the service's internal rendering of those is not
 * published, so those parts are an estimate (docs/validation.md). Trainable = the content of
 * assistant messages with weight 1, plus their end token.
 */
export function countOpenAIChat(example: OpenAIChatExample, counter: TokenCounter): CountedExample {
  let tokens = example.definitions ? counter.count(example.definitions) : 0;
  let trainable = 0;
  let firstTrainableAt = -1;
  for (const m of example.messages) {
    const header = OPENAI_TOKENS_PER_MESSAGE + counter.count(m.role);
    let body = counter.count(m.content);
    for (const call of m.calls)
      body += OPENAI_TOKENS_PER_MESSAGE + counter.count(call.name) + counter.count(call.arguments);
    const name = m.name !== undefined ? counter.count(m.name) + OPENAI_TOKENS_PER_NAME : 0;
    if (m.role === 'assistant' && m.weight === 1) {
      if (firstTrainableAt < 0) firstTrainableAt = tokens + header + name;
      trainable += body + 1;
    }
    tokens += header + name + body;
  }
  tokens += OPENAI_REPLY_PRIMING_TOKENS;
  return { tokens, trainable, firstTrainableAt: firstTrainableAt < 0 ? tokens : firstTrainableAt };
}
