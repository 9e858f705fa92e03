import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { describe, expect, inject, it } from 'vitest';
import { uploadDrop } from '../../cli/uploadDrop';

const examples = join(__dirname, '..', '..', 'examples');

describe('uploading a drop', () => {
  const container = BlobServiceClient.fromConnectionString(inject('azurite').connectionString).getContainerClient(
    'submit-test',
  );

  it('uploads every data file before the manifest, under team/dataset/', async () => {
    const order: string[] = [];
    const drop = await uploadDrop(container, join(examples, 'ops-runbooks'), 'support', 'runbooks', (b) =>
      order.push(b),
    );
    expect(order.at(-1)).toBe('support/runbooks/run.json');
    expect(order.slice(0, -1).sort()).toEqual([
      'support/runbooks/texts/runbook-1.txt',
      'support/runbooks/texts/runbook-2.txt',
      'support/runbooks/texts/runbook-3.txt',
    ]);
    expect(drop.manifestBlob).toBe('support/runbooks/run.json');
    const listed = [];
    for await (const b of container.listBlobsFlat({ prefix: 'support/runbooks/' })) listed.push(b.name);
    expect(listed).toHaveLength(4);
  });

  it('refuses a folder without a manifest and bad team or dataset names', async () => {
    await expect(uploadDrop(container, mkdtempSync(join(tmpdir(), 'td-')), 'support', 'x')).rejects.toThrow(
      /run\.json/,
    );
    await expect(uploadDrop(container, join(examples, 'support-bot'), 'Support Team', 'x')).rejects.toThrow();
    await expect(uploadDrop(container, join(examples, 'support-bot'), 'support', '../x')).rejects.toThrow(
      /dataset name/,
    );
  });
});
