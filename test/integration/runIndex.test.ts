import { TableClient } from '@azure/data-tables';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { CorruptRunRecordError, RunIndex } from '../../shared/registry/runIndex';

const now = '2026-11-27T10:00:00.000Z';
const run = (runId: string, team: string, status: 'submitted' | 'running' | 'completed') => ({
  runId,
  team,
  dataset: 'bot',
  model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
  task: 'chat',
  status,
  manifestUrl: `http://127.0.0.1/datasets/${team}/bot/run.json`,
  createdAt: now,
  updatedAt: now,
});

describe('run index on Azurite tables', () => {
  const table = TableClient.fromConnectionString(inject('azurite').connectionString, 'runIndexTest', {
    allowInsecureConnection: true,
  });
  const index = new RunIndex(table);

  beforeAll(async () => {
    await index.ensure();
    await index.ensure();
    for (let i = 0; i < 5; i++) await index.upsert(run(`run-a${i}`, 'alpha', i % 2 ? 'running' : 'completed'));
    await index.upsert(run('run-b0', 'beta', 'running'));
  });

  it('merges updates into a run and reads it back', async () => {
    await index.upsert({ runId: 'run-a0', registeredModel: 'ml.alpha.bot', registeredVersion: '3' });
    const r = await index.get('run-a0');
    expect(r).toMatchObject({
      team: 'alpha',
      status: 'completed',
      registeredModel: 'ml.alpha.bot',
      registeredVersion: '3',
    });
    expect(await index.get('run-missing')).toBeUndefined();
  });

  it('lists by team and status, paged', async () => {
    const first = await index.list({ team: 'alpha', pageSize: 2 });
    expect(first.runs).toHaveLength(2);
    expect(first.continuationToken).toBeDefined();
    const all = [...first.runs];
    let token = first.continuationToken;
    while (token) {
      const page = await index.list({ team: 'alpha', pageSize: 2, continuationToken: token });
      all.push(...page.runs);
      token = page.continuationToken;
    }
    expect(all.map((r) => r.runId).sort()).toEqual(['run-a0', 'run-a1', 'run-a2', 'run-a3', 'run-a4']);
    const running = await index.list({ status: 'running' });
    expect(running.runs.map((r) => r.runId).sort()).toEqual(['run-a1', 'run-a3', 'run-b0']);
  });

  it('refuses to return a corrupt record instead of dropping it silently', async () => {
    await table.upsertEntity({ partitionKey: 'run-bad', rowKey: 'run', team: 'alpha', status: 'exploded' });
    await expect(index.get('run-bad')).rejects.toBeInstanceOf(CorruptRunRecordError);
  });
});
