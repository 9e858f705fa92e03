import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { DatasetFile } from './validate';

export type { DatasetFile } from './validate';

/**
 * Local files for validateDataset: a file is itself; a folder gives its .txt files (continued
 * pretraining), sorted by name, or — for other tasks — all its regular files, so a wrong
 * extension is reported rather than ignored. Throws (ENOENT etc.) when the path is unreadable.
 */
export async function localDatasetFiles(path: string, task: string): Promise<DatasetFile[]> {
  const info = await stat(path);
  const fromPath = (p: string, size: number, name: string): DatasetFile => ({
    name,
    size,
    open: () => createReadStream(p, { highWaterMark: 1024 * 1024 }),
    openRange: (start) => createReadStream(p, { start, highWaterMark: 1024 * 1024 }),
  });
  if (!info.isDirectory()) return [fromPath(path, info.size, basename(path))];
  const entries = await readdir(path, { withFileTypes: true });
  const files: DatasetFile[] = [];
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (!e.isFile() || e.name.startsWith('.')) continue;
    if (task === 'continued_pretraining' && !e.name.toLowerCase().endsWith('.txt')) continue;
    const p = join(path, e.name);
    files.push(fromPath(p, (await stat(p)).size, e.name));
  }
  return files;
}
