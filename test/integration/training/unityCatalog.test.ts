import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTrainingEmulator, type TrainingEmulator } from '../../../emulators/databricks';
import { LINEAGE_TAG_KEYS, UnityCatalogClient } from '../../../shared/training/unityCatalog';

let emulator: TrainingEmulator;
let now = Date.parse('2026-03-02T10:00:00Z');
const sleeps: number[] = [];

function client(): UnityCatalogClient {
  return new UnityCatalogClient({
    workspaceUrl: emulator.url,
    auth: emulator.token,
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  });
}

beforeAll(async () => {
  emulator = await startTrainingEmulator({ now: () => now });
});
afterAll(async () => {
  await emulator.stop();
});

describe('Unity Catalog client against the emulator', () => {
  it('waits until a version is READY, polling with doubling backoff', async () => {
    emulator.state.addModelVersion('ml.models.support_bot', { runId: 'abc', readyInMs: 20_000 });
    sleeps.length = 0;
    const info = await client().waitUntilReady('ml.models.support_bot', 1);
    expect(info).toMatchObject({
      status: 'READY',
      version: 1,
      run_id: 'abc',
      catalog_name: 'ml',
      schema_name: 'models',
      model_name: 'support_bot',
    });
    expect(sleeps).toEqual([1000, 2000, 4000, 8000, 16000]);
  });

  it('FAILED_REGISTRATION is an error, and waiting is bounded', async () => {
    emulator.state.addModelVersion('ml.models.broken', { readyInMs: 5_000, failRegistration: true });
    await expect(client().waitUntilReady('ml.models.broken', 1)).rejects.toMatchObject({
      code: 'bad_request',
      details: { providerCode: 'FAILED_REGISTRATION' },
    });
    emulator.state.addModelVersion('ml.models.slow', { readyInMs: 3_600_000 });
    sleeps.length = 0;
    await expect(client().waitUntilReady('ml.models.slow', 1, { timeoutMs: 60_000 })).rejects.toMatchObject({
      code: 'timeout',
    });
    expect(sleeps.reduce((a, b) => a + b, 0)).toBe(60_000);
  });

  it('a missing version is not_found; a bad name is refused before any request', async () => {
    await expect(client().getModelVersion('ml.models.support_bot', 99)).rejects.toMatchObject({ code: 'not_found' });
    await expect(client().getModelVersion('ml.models', 1)).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('sets an alias and lineage tags on a version', async () => {
    const v = emulator.state.addModelVersion('ml.models.lineage', { runId: 'r1' });
    const uc = client();
    expect(await uc.setAlias('ml.models.lineage', 'champion', v.version)).toEqual({
      alias: 'champion',
      version: v.version,
    });
    expect(emulator.state.aliases.get('ml.models.lineage')?.get('champion')).toBe(v.version);

    const tags = await uc.setLineage('ml.models.lineage', v.version, {
      datasetUrl: 'https://acct.blob.core.windows.net/datasets/team-a/support/train.jsonl',
      datasetSha256: 'a'.repeat(64),
      validationReportUrl: 'https://acct.blob.core.windows.net/reports/team-a/support/run-1/validation.json',
      runId: 'run-1',
      team: 'team-a',
    });
    expect(Object.fromEntries(v.tags)).toEqual(tags);
    expect(v.tags.get(LINEAGE_TAG_KEYS.datasetSha256)).toBe('a'.repeat(64));
    expect(v.tags.get(LINEAGE_TAG_KEYS.team)).toBe('team-a');
    expect(v.tags.has(LINEAGE_TAG_KEYS.providerRunName)).toBe(false);

    await expect(uc.setAlias('ml.models.lineage', 'champion', 42)).rejects.toMatchObject({ code: 'not_found' });
    await expect(uc.setAlias('ml.models.lineage', 'bad alias!', 1)).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('finds the version a run registered', async () => {
    emulator.state.addModelVersion('ml.models.multi', { runId: 'first' });
    emulator.state.addModelVersion('ml.models.multi', { runId: 'second' });
    expect((await client().findVersionByRunId('ml.models.multi', 'second'))?.version).toBe(2);
    expect(await client().findVersionByRunId('ml.models.multi', 'third')).toBeUndefined();
  });
});
