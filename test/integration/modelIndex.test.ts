import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { describe, expect, inject, it } from 'vitest';
import { ModelIndex, type RegisteredModel } from '../../shared/registry/modelIndex';

function model(version: string, overrides: Partial<RegisteredModel> = {}): RegisteredModel {
  return {
    modelFullName: 'ml.support.support_bot',
    version,
    alias: 'candidate',
    runId: `run-${version.padStart(32, '0')}`,
    team: 'support',
    dataset: 'support-bot',
    baseModel: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
    datasetUrl: 'http://127.0.0.1/datasets/support/support-bot/run.json',
    datasetSha256: 'a'.repeat(64),
    registeredAt: '2026-11-27T12:00:00.000Z',
    ...overrides,
  };
}

describe('model index on Azure Tables', () => {
  const index = new ModelIndex(
    TableClient.fromConnectionString(inject('azurite').connectionString, `models${randomUUID().slice(0, 8)}`, {
      allowInsecureConnection: true,
    }),
  );

  it('keeps one entry per model version (recording again replaces it) and lists a model in version order', async () => {
    for (const v of ['10', '2', '9']) await index.record(model(v));
    await index.record(model('2', { alias: 'champion' }));
    await index.record(model('1', { modelFullName: 'ml.sql.sql_bot', team: 'sql' }));
    expect(await index.get('ml.support.support_bot', '2')).toMatchObject({ alias: 'champion', version: '2' });
    expect(await index.get('ml.support.support_bot', '3')).toBeUndefined();
    const versions = await index.list({ modelFullName: 'ml.support.support_bot' });
    expect(versions.models.map((m) => m.version)).toEqual(['2', '9', '10']);
    expect((await index.list({ team: 'sql' })).models.map((m) => m.modelFullName)).toEqual(['ml.sql.sql_bot']);
  });

  it('pages with a continuation token', async () => {
    const first = await index.list({ team: 'support', pageSize: 2 });
    expect(first.models).toHaveLength(2);
    expect(first.continuationToken).toBeDefined();
    const second = await index.list({ team: 'support', pageSize: 2, continuationToken: first.continuationToken });
    expect([...first.models, ...second.models].map((m) => m.version).sort()).toEqual(['10', '2', '9']);
  });
});
