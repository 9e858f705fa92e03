import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { describe, expect, inject, it } from 'vitest';

describe('Azurite from the global setup', () => {
  const { connectionString } = inject('azurite');

  it('serves blobs with the current @azure/storage-blob API version', async () => {
    const container = BlobServiceClient.fromConnectionString(connectionString).getContainerClient('smoke');
    await container.createIfNotExists();
    await container.getBlockBlobClient('a.txt').upload('hello', 5);
    const body = await container.getBlobClient('a.txt').downloadToBuffer();
    expect(body.toString()).toBe('hello');
  });

  it('serves tables', async () => {
    const table = TableClient.fromConnectionString(connectionString, 'smoke', { allowInsecureConnection: true });
    await table.createTable();
    await table.upsertEntity({ partitionKey: 'p', rowKey: 'r', value: 42 });
    expect((await table.getEntity<{ value: number }>('p', 'r')).value).toBe(42);
  });
});
