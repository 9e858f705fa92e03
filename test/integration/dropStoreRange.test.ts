import { BlobServiceClient } from '@azure/storage-blob';
import { describe, expect, inject, it } from 'vitest';
import { BlobDropStore, BlobShardResultStore } from '../../shared/adapters/azureStorage';
import { DataChangedError } from '../../shared/pipeline/ports';

async function text(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** The drop store's range reads (sharded validation, issue 16) against Azurite with @azure/storage-blob. */
describe('BlobDropStore.openRange and BlobShardResultStore (Azurite)', () => {
  const service = () => BlobServiceClient.fromConnectionString(inject('azurite').connectionString);

  it('reads from an offset to the end, only while the blob is the listed version', async () => {
    const container = service().getContainerClient(`ranges${Date.now().toString(36)}`);
    await container.createIfNotExists();
    const drops = new BlobDropStore(container);
    await drops.write('t/d/train.jsonl', Buffer.from('line one\nline two\nline three\n'), 'application/x-ndjson');
    const listed = [];
    for await (const f of drops.list('t/d/')) listed.push(f);
    expect(listed).toEqual([{ name: 't/d/train.jsonl', size: 29, etag: expect.any(String) }]);
    const etag = listed[0]?.etag;
    expect(await text(await drops.openRange('t/d/train.jsonl', 9, { etag }))).toBe('line two\nline three\n');
    expect(await text(await drops.openRange('t/d/train.jsonl', 0))).toBe('line one\nline two\nline three\n');

    // Replaced: the old version's ETag no longer matches.
    await drops.write('t/d/train.jsonl', Buffer.from('other bytes\n'), 'application/x-ndjson');
    await expect(drops.openRange('t/d/train.jsonl', 0, { etag })).rejects.toBeInstanceOf(DataChangedError);
    // Deleted: a failure (retried, then validation_failed), not a new version.
    await container.deleteBlob('t/d/train.jsonl');
    const gone = await drops.openRange('t/d/train.jsonl', 0, { etag }).catch((err: unknown) => err);
    expect(gone).toBeInstanceOf(Error);
    expect(gone).not.toBeInstanceOf(DataChangedError);
    expect(String(gone)).toMatch(/no longer exists/);
  });

  it('keeps shard results under its folder and removes them by prefix', async () => {
    const container = service().getContainerClient(`shardres${Date.now().toString(36)}`);
    const store = new BlobShardResultStore(container, '.validation');
    await store.write('v1/a-0.json', Buffer.from('{"a":1}'));
    await store.write('v1/a-1.json', Buffer.from('{"a":2}'));
    await store.write('v2/a-0.json', Buffer.from('{"b":1}'));
    expect((await store.read('v1/a-1.json'))?.toString()).toBe('{"a":2}');
    expect(await store.read('v1/missing.json')).toBeUndefined();
    await store.remove('v1/');
    expect(await store.read('v1/a-0.json')).toBeUndefined();
    expect((await store.read('v2/a-0.json'))?.toString()).toBe('{"b":1}');
  });
});
