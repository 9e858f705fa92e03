import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { AzureOpenAI } from 'openai';
import { describe, expect, it } from 'vitest';

/** `tunedrop emulate` as a user runs it: the compiled CLI, one JSON line, then any client can use it. */
const BIN = path.resolve(__dirname, '../../../bin/tunedrop.js');

function start(args: string[]) {
  const child = spawn(process.execPath, [BIN, 'emulate', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const firstLine = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`exited ${code}`)));
  });
  return { child, firstLine };
}

describe('tunedrop emulate', () => {
  it('azure-openai: prints {provider,url,token}; the openai SDK works against it; SIGTERM stops it', async () => {
    const { child, firstLine } = start(['azure-openai', '--token', 'local-token-123', '--fast']);
    try {
      const ready = JSON.parse(await firstLine) as { provider: string; url: string; token: string };
      expect(ready).toMatchObject({
        provider: 'azure-openai',
        token: 'local-token-123',
        url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      });
      const client = new AzureOpenAI({
        endpoint: ready.url,
        apiKey: ready.token,
        apiVersion: '2025-04-01-preview',
        maxRetries: 0,
      });
      expect((await client.models.list()).data.length).toBeGreaterThan(0);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await new Promise((r) => child.once('exit', (code) => r(code)))).toBe(0);
  }, 30_000);

  it('databricks: prints the line with the given token; the GraphQL API answers with it', async () => {
    const { child, firstLine } = start(['databricks', '--token', 'dapi-local']);
    try {
      const ready = JSON.parse(await firstLine) as { provider: string; url: string; token: string };
      expect(ready).toMatchObject({ provider: 'databricks', token: 'dapi-local' });
      const res = await fetch(`${ready.url}/api/2.0/genai-mapi/graphql`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ready.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          query: 'query { getFinetuneConstants { models { name maxContextLength } } }',
          variables: {},
        }),
      });
      expect(res.status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
  }, 30_000);

  it('refuses an unknown provider and a bad port with exit code 2', async () => {
    for (const args of [['nope'], ['azure-openai', '--port', 'x']]) {
      const child = spawn(process.execPath, [BIN, 'emulate', ...args], { stdio: 'ignore' });
      expect(await new Promise((r) => child.once('exit', (code) => r(code)))).toBe(2);
    }
  }, 30_000);
});
