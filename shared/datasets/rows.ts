import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { IssueCode } from './codes';
import { openAIChatTexts, parseOpenAIChat } from './openaiChat';
import { type IssueGroup, IssueTally } from './stats';
import type { ChatMessage, ExampleCounter } from './templates';

/** What a batch of JSONL rows needs to know; plain data so it can cross to a worker thread. */
export interface RowRules {
  task: 'chat' | 'instruction';
  supportsSystemRole: boolean;
  /** Effective context length, for truncation warnings. */
  contextLength: number;
  /**
   * Longest accepted line in bytes (without its \n). The reader also enforces it on partial lines
   * to bound memory; checking here too makes the result independent of chunk boundaries.
   */
  maxLineBytes?: number;
  /** 'openai': Azure OpenAI's chat format (tool role, tools, weight); default the Databricks format. */
  chatFormat?: 'openai';
}

export interface BatchResult {
  rows: number;
  validRows: number;
  blankLines: number;
  tokenTotal: number;
  /** Tokens of each valid row, in order. */
  rowTokens: Uint32Array;
  /** 53-bit hash and line number of each valid row, for duplicate detection. */
  rowHashes: Float64Array;
  rowLines: Float64Array;
  issues: IssueGroup[];
}

const ROLES = new Set(['system', 'user', 'assistant']);

class RowProblem {
  constructor(
    readonly code: IssueCode,
    readonly message: string,
  ) {}
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function parseChat(row: Record<string, unknown>, rules: RowRules): ChatMessage[] | RowProblem {
  const messages = row.messages;
  if (messages !== undefined) {
    for (const key of Object.keys(row)) {
      if (key !== 'messages') {
        return new RowProblem('unknown_key', `unexpected key "${key}" (a chat row has only "messages")`);
      }
    }
  }
  if (!Array.isArray(messages)) {
    return new RowProblem(
      'missing_messages',
      messages === undefined ? 'no "messages" key' : `"messages" is ${describe(messages)}, not an array`,
    );
  }
  if (messages.length < 2)
    return new RowProblem('too_few_messages', `${messages.length} message(s); a chat needs at least 2`);
  const out: ChatMessage[] = [];
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    const where = `messages[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) {
      return new RowProblem('invalid_message', `${where} is ${describe(m)}, not an object`);
    }
    const keys = Object.keys(m);
    const extra = keys.find((k) => k !== 'role' && k !== 'content');
    if (extra !== undefined) return new RowProblem('invalid_message', `${where} has unexpected key "${extra}"`);
    const { role, content } = m as { role?: unknown; content?: unknown };
    if (role === undefined || content === undefined) {
      return new RowProblem('invalid_message', `${where} needs both "role" and "content"`);
    }
    if (typeof role !== 'string' || !ROLES.has(role)) {
      return new RowProblem('invalid_role', `${where}.role is ${JSON.stringify(role)}; use system, user or assistant`);
    }
    if (typeof content !== 'string')
      return new RowProblem('content_not_string', `${where}.content is ${describe(content)}`);
    if (content.trim().length === 0) return new RowProblem('empty_content', `${where}.content is empty`);
    if (role === 'system') {
      if (!rules.supportsSystemRole) return new RowProblem('system_not_supported', 'this model has no system role');
      if (i !== 0) return new RowProblem('system_not_first', `${where} is a system message; only the first may be`);
    }
    const previous = out[i - 1];
    if (previous && previous.role === role) {
      return new RowProblem('consecutive_roles', `messages[${i - 1}] and ${where} are both "${role}"`);
    }
    out.push({ role: role as ChatMessage['role'], content });
  }
  if (out[out.length - 1]?.role !== 'assistant') {
    return new RowProblem('last_not_assistant', `the last message is from "${out[out.length - 1]?.role}"`);
  }
  return out;
}

function parseInstruction(row: Record<string, unknown>): { prompt: string; response: string } | RowProblem {
  for (const key of Object.keys(row)) {
    if (key !== 'prompt' && key !== 'response' && key !== 'completion') {
      return new RowProblem('unknown_key', `unexpected key "${key}" (allowed: prompt, response or completion)`);
    }
  }
  if (!('prompt' in row)) return new RowProblem('missing_prompt', 'no "prompt" key');
  const hasResponse = 'response' in row;
  const hasCompletion = 'completion' in row;
  if (!hasResponse && !hasCompletion) return new RowProblem('missing_response', 'no "response" or "completion" key');
  if (hasResponse && hasCompletion) {
    return new RowProblem('unknown_key', 'both "response" and "completion"; use exactly one');
  }
  const key = hasResponse ? 'response' : 'completion';
  const prompt = row.prompt;
  const response = row[key];
  if (typeof prompt !== 'string') return new RowProblem('content_not_string', `"prompt" is ${describe(prompt)}`);
  if (typeof response !== 'string') return new RowProblem('content_not_string', `"${key}" is ${describe(response)}`);
  if (prompt.trim().length === 0) return new RowProblem('empty_content', '"prompt" is empty');
  if (response.trim().length === 0) return new RowProblem('empty_content', `"${key}" is empty`);
  return { prompt, response };
}

function rowHash(line: Buffer): number {
  const d = createHash('sha1').update(line).digest();
  return d.readUInt32BE(0) * 2 ** 21 + (d.readUInt32BE(4) >>> 11);
}

function isBlank(line: Buffer): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

export interface SpecialTokenFinder {
  findSpecialTokens(text: string): string[];
}

/**
 * Validates and counts one batch of complete JSONL lines (each ending in \n). Pure: the same
 * function runs inline or in a worker thread.
 */
export function processBatch(
  batch: Uint8Array,
  firstLine: number,
  rules: RowRules,
  counter: ExampleCounter | undefined,
  specials: SpecialTokenFinder | undefined,
): BatchResult {
  const buf = Buffer.from(batch.buffer, batch.byteOffset, batch.byteLength);
  const tally = new IssueTally();
  const tokens: number[] = [];
  const hashes: number[] = [];
  const lines: number[] = [];
  let rows = 0;
  let blankLines = 0;
  let tokenTotal = 0;
  let lineNo = firstLine - 1;
  let start = 0;
  while (start < buf.length) {
    let end = buf.indexOf(10, start);
    if (end < 0) end = buf.length;
    lineNo++;
    let stop = end;
    if (stop > start && buf[stop - 1] === 0x0d) stop--;
    const line = buf.subarray(start, stop);
    const lineBytes = end - start;
    start = end + 1;
    if (rules.maxLineBytes !== undefined && lineBytes > rules.maxLineBytes) {
      rows++;
      tally.add('invalid_json', lineNo, `the line is longer than ${rules.maxLineBytes} bytes`);
      continue;
    }
    if (isBlank(line)) {
      blankLines++;
      continue;
    }
    rows++;
    if (!isUtf8(line)) {
      tally.add('invalid_utf8', lineNo, 'the line is not valid UTF-8');
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(line.toString('utf8'));
    } catch (err) {
      tally.add('invalid_json', lineNo, `not valid JSON: ${(err as Error).message}`);
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      tally.add('not_object', lineNo, `the line is ${describe(value)}, not a JSON object`);
      continue;
    }
    const row = value as Record<string, unknown>;
    let texts: string[];
    let counted: ReturnType<ExampleCounter['chat']> | undefined;
    if (rules.task === 'chat' && rules.chatFormat === 'openai') {
      const parsed = parseOpenAIChat(row);
      if ('problem' in parsed) {
        tally.add(parsed.problem.code, lineNo, parsed.problem.message);
        continue;
      }
      texts = openAIChatTexts(parsed);
      counted = counter?.openaiChat?.(parsed);
    } else if (rules.task === 'chat') {
      const parsed = parseChat(row, rules);
      if (parsed instanceof RowProblem) {
        tally.add(parsed.code, lineNo, parsed.message);
        continue;
      }
      texts = parsed.map((m) => m.content);
      counted = counter?.chat(parsed);
    } else {
      const parsed = parseInstruction(row);
      if (parsed instanceof RowProblem) {
        tally.add(parsed.code, lineNo, parsed.message);
        continue;
      }
      texts = [parsed.prompt, parsed.response];
      counted = counter?.instruction(parsed.prompt, parsed.response);
    }
    if (specials) {
      for (const text of texts) {
        const found = specials.findSpecialTokens(text);
        if (found.length > 0) {
          tally.add('special_token_in_content', lineNo, `content contains special token ${found[0]}`);
          break;
        }
      }
    }
    if (counted) {
      tokens.push(counted.tokens);
      tokenTotal += counted.tokens;
      if (counted.tokens > rules.contextLength) {
        tally.add(
          'exceeds_context_length',
          lineNo,
          `${counted.tokens} tokens; truncated to the context length ${rules.contextLength}`,
        );
      }
      if (counted.trainable <= 0 || counted.firstTrainableAt >= rules.contextLength) {
        tally.add(
          'no_trainable_tokens',
          lineNo,
          `the first trainable token is at position ${counted.firstTrainableAt}, past the context length ${rules.contextLength}`,
        );
      }
    }
    hashes.push(rowHash(line));
    lines.push(lineNo);
  }
  return {
    rows,
    validRows: hashes.length,
    blankLines,
    tokenTotal,
    rowTokens: Uint32Array.from(tokens),
    rowHashes: Float64Array.from(hashes),
    rowLines: Float64Array.from(lines),
    issues: [...tally.groups.values()],
  };
}
