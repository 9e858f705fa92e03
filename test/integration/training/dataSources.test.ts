import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTrainingEmulator, type TrainingEmulator } from '../../../emulators/databricks';
import { DatabricksDataSources } from '../../../shared/training/dataSources';
import { FilesApiClient } from '../../../shared/training/staging';

/** The data-source adapter against the emulator's Files, Unity Catalog Tables and Clusters APIs. */
let emulator: TrainingEmulator;
const connection = () => ({ workspaceUrl: emulator.url, auth: emulator.token, sleep: async () => {} });

beforeAll(async () => {
  emulator = await startTrainingEmulator();
});
afterAll(async () => {
  await emulator?.stop();
});

describe('DatabricksDataSources', () => {
  it('lists a volume folder recursively and a single file; nothing there is undefined', async () => {
    const files = new FilesApiClient(connection());
    await files.upload('/Volumes/ml/support/data/chats/a.jsonl', () => Readable.from([Buffer.from('{"x":1}\n')]));
    await files.upload('/Volumes/ml/support/data/chats/more/b.jsonl', () => Readable.from([Buffer.from('{}\n')]));
    const sources = new DatabricksDataSources(connection());
    expect(await sources.listVolumeFiles('/Volumes/ml/support/data/chats')).toEqual([
      { path: '/Volumes/ml/support/data/chats/a.jsonl', bytes: 8 },
      { path: '/Volumes/ml/support/data/chats/more/b.jsonl', bytes: 3 },
    ]);
    expect(await sources.listVolumeFiles('/Volumes/ml/support/data/chats/a.jsonl')).toEqual([
      { path: '/Volumes/ml/support/data/chats/a.jsonl', bytes: 8 },
    ]);
    expect(await sources.listVolumeFiles('/Volumes/ml/support/data/nothing.jsonl')).toBeUndefined();
  });

  it('streams a file by ranged reads, byte for byte, never in one request', async () => {
    const bytes = Buffer.alloc(1_000_003);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) % 251;
    await new FilesApiClient(connection()).upload('/Volumes/ml/support/data/big.bin', () => Readable.from([bytes]));
    const sources = new DatabricksDataSources(connection(), 128 * 1024);
    const before = emulator.state.rangeReads.length;
    const hash = createHash('sha256');
    for await (const chunk of sources.openVolumeFile('/Volumes/ml/support/data/big.bin', bytes.length))
      hash.update(chunk);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
    const reads = emulator.state.rangeReads.slice(before);
    expect(reads).toHaveLength(Math.ceil(bytes.length / (128 * 1024)));
    expect(reads.every((r) => r.end - r.start + 1 <= 128 * 1024)).toBe(true);
  });

  it('describes a Delta table and a cluster; unknown ones are undefined', async () => {
    emulator.state.dataSources.addTable({
      fullName: 'ml.support.chats',
      columns: [{ name: 'messages', typeText: 'array<struct<role:string,content:string>>' }],
    });
    emulator.state.dataSources.addCluster({ clusterId: '0101-abc', sparkVersion: '11.3.x-cpu-ml-scala2.12' });
    const sources = new DatabricksDataSources(connection());
    expect(await sources.getTable('ml.support.chats')).toEqual({
      fullName: 'ml.support.chats',
      columns: [{ name: 'messages', typeText: 'array<struct<role:string,content:string>>' }],
    });
    expect(await sources.getTable('ml.support.nope')).toBeUndefined();
    expect(await sources.getCluster('0101-abc')).toMatchObject({ sparkVersion: '11.3.x-cpu-ml-scala2.12' });
    expect(await sources.getCluster('missing')).toBeUndefined();
  });
});
