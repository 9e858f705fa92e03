import { describe, expect, it } from 'vitest';
import { TASK_INFO, TASKS } from '../../../shared/catalog';
import { DATABRICKS_STATUS_MAP, normalizeDatabricksStatus } from '../../../shared/training/databricks';
import { CREATE_FINETUNE, GET_FINETUNE_CONSTANTS, rootField, STOP_FINETUNES } from '../../../shared/training/graphql';
import { DatabricksHttp, parseRetryAfter } from '../../../shared/training/http';
import { isTerminalStatus, providerTaskType, runLabelFor } from '../../../shared/training/provider';
import { mapBlobToVolume, toDbfsPath } from '../../../shared/training/staging';

describe('status normalization', () => {
  it('covers every documented Databricks status', () => {
    const documented = [
      'PENDING',
      'SCHEDULED',
      'QUEUED',
      'STARTING',
      'RUNNING',
      'COMPLETED',
      'STOPPING',
      'STOPPED',
      'FAILED_PULL',
      'FAILED',
      'TERMINATING',
      'UNKNOWN',
    ];
    expect(Object.keys(DATABRICKS_STATUS_MAP).sort()).toEqual([...documented].sort());
  });

  it('maps terminal and in-flight statuses', () => {
    expect(normalizeDatabricksStatus('COMPLETED')).toBe('completed');
    expect(normalizeDatabricksStatus('STOPPED')).toBe('cancelled');
    expect(normalizeDatabricksStatus('FAILED_PULL')).toBe('failed');
    expect(normalizeDatabricksStatus('STOPPING')).toBe('running');
    expect(normalizeDatabricksStatus('scheduled')).toBe('queued');
    // A status word the service adds later must not end a run.
    expect(normalizeDatabricksStatus('REBALANCING')).toBe('pending');
    expect(isTerminalStatus(normalizeDatabricksStatus('REBALANCING'))).toBe(false);
  });
});

describe('task types', () => {
  it('every task maps to the provider task type from the catalog', () => {
    expect(TASKS.map(providerTaskType)).toEqual(TASKS.map((t) => TASK_INFO[t].providerTaskType));
    expect(providerTaskType('continued_pretraining')).toBe('CONTINUED_PRETRAIN');
  });
});

describe('runLabelFor', () => {
  it('is stable, safe and distinct for keys that slug alike', () => {
    const a = runLabelFor('run-0123456789abcdef0123456789abcdef');
    expect(runLabelFor('run-0123456789abcdef0123456789abcdef')).toBe(a);
    expect(a).toMatch(/^td-[a-z0-9-]+$/);
    expect(a.length).toBeLessThanOrEqual(48);
    expect(runLabelFor('Team A/ds')).not.toBe(runLabelFor('team-a-ds'));
    expect(runLabelFor('///')).toMatch(/^td-[0-9a-f]{10}$/);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-03-01T00:00:00Z');
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter('0.5', now)).toBe(500);
    expect(parseRetryAfter('Sun, 01 Mar 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Sat, 28 Feb 2026 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('backoff', () => {
  const http = (random: number) =>
    new DatabricksHttp({
      workspaceUrl: 'https://adb-1.azuredatabricks.net',
      auth: 't',
      random: () => random,
      retry: { baseDelayMs: 500, maxDelayMs: 4000 },
    });
  it('doubles, jitters between half and the full ceiling, caps, and prefers Retry-After', () => {
    expect([1, 2, 3, 4, 5].map((n) => http(0).backoffDelay(n, undefined))).toEqual([250, 500, 1000, 2000, 2000]);
    expect([1, 2, 3, 4, 5].map((n) => http(0.999999).backoffDelay(n, undefined))).toEqual([
      500, 1000, 2000, 4000, 4000,
    ]);
    expect(http(0.5).backoffDelay(1, 3000)).toBe(3000);
    expect(http(0.5).backoffDelay(1, 60_000)).toBe(4000);
  });
});

describe('GraphQL documents', () => {
  it('dispatch on the root field like a server would', () => {
    expect(rootField(CREATE_FINETUNE)).toEqual({ kind: 'mutation', field: 'createFinetune' });
    expect(rootField(STOP_FINETUNES)).toEqual({ kind: 'mutation', field: 'stopFinetunes' });
    expect(rootField(GET_FINETUNE_CONSTANTS)).toEqual({ kind: 'query', field: 'getFinetuneConstants' });
    expect(rootField('# c\n{ getFinetuneConstants { models { name } } }')).toEqual({
      kind: 'query',
      field: 'getFinetuneConstants',
    });
    expect(rootField('not graphql')).toBeUndefined();
  });
});

describe('volume mapping', () => {
  const mappings = [
    { container: 'datasets', volumePath: '/Volumes/ml/tunedrop/datasets' },
    { container: 'shared', prefix: 'exports', volumePath: '/Volumes/ml/tunedrop/exports/' },
  ];
  it('maps blob paths to dbfs:/Volumes paths by configuration', () => {
    expect(mapBlobToVolume(mappings, 'datasets', 'team/ds/train.jsonl')).toBe(
      'dbfs:/Volumes/ml/tunedrop/datasets/team/ds/train.jsonl',
    );
    expect(mapBlobToVolume(mappings, 'shared', 'exports/a/b.jsonl')).toBe(
      'dbfs:/Volumes/ml/tunedrop/exports/a/b.jsonl',
    );
    expect(mapBlobToVolume(mappings, 'shared', 'private/a.jsonl')).toBeUndefined();
    expect(mapBlobToVolume(mappings, 'other', 'team/ds/train.jsonl')).toBeUndefined();
    expect(toDbfsPath('/Volumes/a/b/c/d')).toBe('dbfs:/Volumes/a/b/c/d');
    expect(toDbfsPath('dbfs:/Volumes/a/b/c/d')).toBe('dbfs:/Volumes/a/b/c/d');
  });
  it('refuses paths that climb out of the volume', () => {
    expect(() => mapBlobToVolume(mappings, 'datasets', 'team/../../secrets.jsonl')).toThrow(/unsafe path/);
  });
});

async function failure(p: Promise<unknown>): Promise<Error & { code?: string; retryable?: boolean }> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a failure');
}

describe('transport safety (injected fetch)', () => {
  const secret = 'dapi-super-secret-token-42';

  it('redacts a token the server echoes back into an error message', async () => {
    const seen: string[] = [];
    const http = new DatabricksHttp({
      workspaceUrl: 'https://adb-1.azuredatabricks.net',
      auth: secret,
      fetch: async (url, init) => {
        seen.push(`${url} ${JSON.stringify(init.headers)}`);
        return new Response(
          JSON.stringify({ error_code: 'INVALID_PARAMETER_VALUE', message: `bad header Bearer ${secret}` }),
          { status: 400 },
        );
      },
    });
    const err = await failure(http.request({ method: 'GET', path: '/api/x', operation: 'probe' }));
    expect(seen[0]).toContain(`Bearer ${secret}`); // it was sent...
    expect(err.message).toContain('INVALID_PARAMETER_VALUE');
    expect(err.message).not.toContain(secret); // ...and is not repeated back to us
    expect(err.message).toContain('***');
  });

  it('refuses plain http to anything but this machine, and malformed URLs', () => {
    expect(() => new DatabricksHttp({ workspaceUrl: 'http://adb-1.azuredatabricks.net', auth: secret })).toThrow(
      /must be https/,
    );
    expect(() => new DatabricksHttp({ workspaceUrl: 'not a url', auth: secret })).toThrow(
      /invalid Databricks workspace URL/,
    );
    expect(new DatabricksHttp({ workspaceUrl: 'http://127.0.0.1:7777/some/path', auth: secret }).workspaceUrl).toBe(
      'http://127.0.0.1:7777',
    );
  });

  it('maps a connection failure to a retryable unavailable error without the URL query or token', async () => {
    const sleeps: number[] = [];
    let calls = 0;
    const http = new DatabricksHttp({
      workspaceUrl: 'https://adb-1.azuredatabricks.net',
      auth: secret,
      retry: { maxAttempts: 2 },
      random: () => 0,
      sleep: async (ms) => void sleeps.push(ms),
      fetch: async () => {
        calls++;
        throw new TypeError('fetch failed', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) });
      },
    });
    const err = await failure(http.request({ method: 'GET', path: '/api/x', operation: 'probe' }));
    expect(err).toMatchObject({ code: 'unavailable', retryable: true });
    expect(err.message).toContain('ECONNRESET');
    expect(calls).toBe(2);
    expect(sleeps).toEqual([250]);
  });
});
