import { Readable } from 'node:stream';
import type { DatasetFile } from '../../../shared/datasets';

/** An in-memory dataset file, streamed in chunks of `chunkSize` bytes (to exercise boundaries). */
export function memoryFile(name: string, data: string | Buffer, chunkSize = 64 * 1024): DatasetFile {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return {
    name,
    size: bytes.length,
    open: () =>
      Readable.from(
        (function* () {
          for (let i = 0; i < bytes.length; i += chunkSize) yield bytes.subarray(i, i + chunkSize);
        })(),
      ),
    openRange: (start) =>
      Readable.from(
        (function* () {
          for (let i = start; i < bytes.length; i += chunkSize) yield bytes.subarray(i, i + chunkSize);
        })(),
      ),
  };
}

export function jsonl(rows: unknown[]): string {
  return `${rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n')}\n`;
}

export const LLAMA = 'meta-llama/Meta-Llama-3.1-8B-Instruct';
export const LLAMA_BASE = 'meta-llama/Meta-Llama-3.1-8B';
export const DBRX = 'databricks/dbrx-instruct';
export const MISTRAL = 'mistralai/Mistral-7B-Instruct-v0.2';

export function chatRow(i: number) {
  return {
    messages: [
      { role: 'user', content: `Question ${i}: what is ${i} squared?` },
      { role: 'assistant', content: `${i} squared is ${i * i}.` },
    ],
  };
}
