import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import { datasetNamePattern, MANIFEST_NAME } from '../shared/pipeline/submit';
import { teamIdSchema } from '../shared/pipeline/teams';

export interface UploadedDrop {
  manifestBlob: string;
  dataBlobs: string[];
  bytes: number;
}

async function listFiles(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/**
 * Upload a local drop folder to `datasets/{team}/{dataset}/`: every data file first, the
 * manifest last — the manifest is the commit point that starts intake.
 */
export async function uploadDrop(
  datasets: ContainerClient,
  folder: string,
  team: string,
  dataset: string,
  onFile?: (blobName: string, bytes: number) => void,
): Promise<UploadedDrop> {
  teamIdSchema.parse(team);
  if (!datasetNamePattern.test(dataset)) {
    throw new Error(`dataset name "${dataset}" must be letters, digits, ".", "_" or "-" (max 128)`);
  }
  const files = await listFiles(folder);
  const manifest = files.find((f) => relative(folder, f) === MANIFEST_NAME);
  if (!manifest) throw new Error(`${folder} has no ${MANIFEST_NAME}: a drop is committed by its manifest`);
  await datasets.createIfNotExists();
  const upload = async (file: string) => {
    const blobName = `${team}/${dataset}/${relative(folder, file).split(sep).join('/')}`;
    const { size } = await stat(file);
    await datasets.getBlockBlobClient(blobName).uploadStream(createReadStream(file), 4 * 1024 * 1024, 4, {
      blobHTTPHeaders: { blobContentType: contentTypeFor(file) },
    });
    onFile?.(blobName, size);
    return { blobName, size };
  };
  const data = [];
  for (const file of files.filter((f) => f !== manifest)) data.push(await upload(file));
  const last = await upload(manifest);
  return {
    manifestBlob: last.blobName,
    dataBlobs: data.map((d) => d.blobName),
    bytes: data.reduce((n, d) => n + d.size, last.size),
  };
}

function contentTypeFor(file: string): string {
  if (file.endsWith('.json')) return 'application/json';
  if (file.endsWith('.jsonl')) return 'application/jsonl';
  if (file.endsWith('.txt')) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}
