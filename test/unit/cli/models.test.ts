import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../../cli/apiClient';
import { run } from '../../../cli/commands/models';

function io(fetchImpl: CliIo['fetch']) {
  const out: string[] = [];
  const err: string[] = [];
  const value: CliIo = {
    stdout: { write: (t: string) => out.push(t) },
    stderr: { write: (t: string) => err.push(t) },
    env: { TUNEDROP_API_URL: 'http://127.0.0.1:9', TUNEDROP_API_KEY: 'k' },
    cwd: '/nonexistent',
    fetch: fetchImpl,
  };
  return { io: value, out: () => out.join(''), err: () => err.join('') };
}

const MISTRAL = 'mistralai/Mistral-7B-Instruct-v0.2';

describe('tunedrop models', () => {
  it('lists the refreshed catalog from the API with its source and age; withdrawn models only with --all', async () => {
    const body = {
      models: [
        {
          id: MISTRAL,
          family: 'mistral',
          licence: 'Apache 2.0',
          tokenizer: 'mistral',
          maxContextLength: 32768,
          instruct: true,
          supportsSystemRole: false,
          status: 'withdrawn',
        },
        {
          id: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
          family: 'llama3.1',
          licence: 'Llama 3.1',
          tokenizer: 'llama3',
          maxContextLength: 131072,
          instruct: true,
          supportsSystemRole: true,
          status: 'supported',
        },
      ],
      tasks: ['chat', 'instruction', 'continued_pretraining'],
      source: {
        kind: 'provider',
        refreshedAt: '2026-11-30T03:00:00.000Z',
        ageSeconds: 7200,
        description: 'provider, refreshed 2026-11-30T03:00:00.000Z (2 h ago)',
      },
    };
    const seen: string[] = [];
    const fetchImpl = (async (url: URL) => {
      seen.push(String(url));
      return new Response(JSON.stringify(body), { status: 200 });
    }) as unknown as CliIo['fetch'];
    const plain = io(fetchImpl);
    expect(await run([], plain.io)).toBe(0);
    expect(seen).toEqual(['http://127.0.0.1:9/api/models']);
    expect(plain.out()).toContain('Catalog: provider, refreshed 2026-11-30T03:00:00.000Z (2 h ago)');
    expect(plain.out()).toContain('LLAMA 3.1 Community License');
    expect(plain.out()).not.toContain(MISTRAL);
    const all = io(fetchImpl);
    await run(['--all'], all.io);
    expect(all.out()).toMatch(/Mistral-7B-Instruct-v0\.2\s+32768\s+withdrawn/);
  });

  it('falls back to the seed table when the API cannot be reached, and says so', async () => {
    const down = io((async () => {
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    }) as unknown as CliIo['fetch']);
    expect(await run([], down.io)).toBe(0);
    expect(down.out()).toMatch(/^Catalog: seed table \(the API did not answer: cannot reach/);
    expect(down.out()).toContain(MISTRAL);
  });
});
