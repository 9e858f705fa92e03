import { posix } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { z } from 'zod';
import { type DatabricksConnection, DatabricksHttp } from './http';
import { ProviderError } from './provider';

/**
 * Getting validated data where the training service can read it: a Unity Catalog Volume.
 *
 * Zero copy: when the datasets container is registered in Unity Catalog as an external volume,
 * a blob path maps to a `/Volumes/...` path by configuration and nothing moves.
 * Otherwise the files are streamed into a managed volume through the Files API
 * (`PUT /api/2.0/fs/files/Volumes/...?overwrite=true`, body streamed, never buffered whole).
 */

const volumeRoot = z
  .string()
  .regex(
    /^\/Volumes\/[^/\s]+\/[^/\s]+\/[^/\s]+(\/[^/\s]+)*\/?$/,
    'expected /Volumes/<catalog>/<schema>/<volume>[/...]',
  );

export const volumeMappingSchema = z.object({
  /** Storage container name, e.g. `datasets`. */
  container: z.string().min(1),
  /** The volume (or a folder in it) the container root is mounted as, e.g. `/Volumes/ml/tunedrop/datasets`. */
  volumePath: volumeRoot,
  /** Only blobs under this prefix are mapped; the prefix is stripped. Default: the whole container. */
  prefix: z.string().optional(),
});
export type VolumeMapping = z.infer<typeof volumeMappingSchema>;

export const stagingConfigSchema = z.object({
  mappings: z.array(volumeMappingSchema).default([]),
  /** Where unmapped data is uploaded, e.g. `/Volumes/ml/tunedrop/staging`. */
  uploadVolumePath: volumeRoot.optional(),
});
export type StagingConfig = z.infer<typeof stagingConfigSchema>;

/** Reject `..`, empty and absolute segments: a blob name must not climb out of its volume. */
function safeRelative(path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts.some((p) => p === '..')) {
    throw new ProviderError('bad_request', `unsafe path "${path}"`);
  }
  return parts.join('/');
}

/** `/Volumes/a/b/c/x` → `dbfs:/Volumes/a/b/c/x` (the form the training service takes). */
export function toDbfsPath(volumePath: string): string {
  return volumePath.startsWith('dbfs:') ? volumePath : `dbfs:${volumePath}`;
}

/**
 * The `dbfs:/Volumes/...` path of a blob, when its container is mapped; undefined otherwise.
 * `{ container: 'datasets', volumePath: '/Volumes/ml/tunedrop/datasets' }` maps
 * `datasets` / `team/ds/train.jsonl` to `dbfs:/Volumes/ml/tunedrop/datasets/team/ds/train.jsonl`.
 */
export function mapBlobToVolume(
  mappings: readonly VolumeMapping[],
  container: string,
  blobPath: string,
): string | undefined {
  const rel = safeRelative(blobPath);
  for (const m of mappings) {
    if (m.container !== container) continue;
    const prefix = m.prefix ? `${safeRelative(m.prefix)}/` : '';
    if (!rel.startsWith(prefix)) continue;
    return toDbfsPath(posix.join(m.volumePath, rel.slice(prefix.length)));
  }
  return undefined;
}

/** Read side of the datasets container (functions/ adapts @azure/storage-blob to it). */
export interface BlobSource {
  open(blobPath: string): Readable | Promise<Readable>;
  /** Blob names (full paths) under a folder prefix ending in `/`. */
  list(prefix: string): Promise<string[]>;
}

export interface UploadResult {
  path: string;
  bytes: number;
}

/** Files API uploads into a Unity Catalog volume. */
export class FilesApiClient {
  private readonly http: DatabricksHttp;

  constructor(connection: DatabricksConnection | DatabricksHttp) {
    this.http = connection instanceof DatabricksHttp ? connection : new DatabricksHttp(connection);
  }

  /**
   * Stream one file. `open` is called once per attempt, so a retried upload re-reads the source
   * instead of holding the bytes. Timeout per attempt defaults to 1 hour (the service takes up to 5 GiB).
   */
  async upload(
    volumePath: string,
    open: () => Readable | Promise<Readable>,
    options: { overwrite?: boolean; timeoutMs?: number } = {},
  ): Promise<UploadResult> {
    const path = checkVolumePath(volumePath);
    let bytes = 0;
    const source = await open();
    const counted = source.pipe(
      new Transform({
        transform(chunk: Buffer, _enc, done) {
          bytes += chunk.length;
          done(null, chunk);
        },
      }),
    );
    source.once('error', (e) => counted.destroy(e));
    try {
      await this.http.request({
        method: 'PUT',
        path: `/api/2.0/fs/files${encodePath(path)}`,
        query: { overwrite: options.overwrite ?? true },
        stream: counted,
        operation: 'files.upload',
        timeoutMs: options.timeoutMs ?? 3_600_000,
      });
    } finally {
      source.destroy();
    }
    return { path, bytes };
  }

  /** Upload with retries, reopening the source on each attempt. */
  async uploadWithRetry(
    volumePath: string,
    open: () => Readable | Promise<Readable>,
    options: {
      overwrite?: boolean;
      timeoutMs?: number;
      maxAttempts?: number;
      sleep?: (ms: number) => Promise<void>;
    } = {},
  ): Promise<UploadResult> {
    const maxAttempts = options.maxAttempts ?? 3;
    const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.upload(volumePath, open, options);
      } catch (e) {
        if (!(e instanceof ProviderError) || !e.retryable || attempt >= maxAttempts) throw e;
        await sleep(this.http.backoffDelay(attempt, e.details.retryAfterMs));
      }
    }
  }

  /** Size of a file in a volume, or undefined when it does not exist. */
  async stat(volumePath: string): Promise<{ bytes: number } | undefined> {
    const path = checkVolumePath(volumePath);
    try {
      const res = await this.http.request({
        method: 'HEAD',
        path: `/api/2.0/fs/files${encodePath(path)}`,
        operation: 'files.head',
      });
      return { bytes: Number(res.headers.get('content-length') ?? 0) };
    } catch (e) {
      if (e instanceof ProviderError && e.code === 'not_found') return undefined;
      throw e;
    }
  }
}

function checkVolumePath(volumePath: string): string {
  const path = volumePath.replace(/^dbfs:/, '');
  if (!path.startsWith('/Volumes/') || path.split('/').some((p) => p === '..')) {
    throw new ProviderError('bad_request', `"${volumePath}" is not a /Volumes/... path`);
  }
  return path;
}

function encodePath(path: string): string {
  return path
    .split('/')
    .map((p) => encodeURIComponent(p))
    .join('/');
}

export interface StageRequest {
  container: string;
  /** The drop's folder in the container, e.g. `team-a/support-bot`. */
  folder: string;
  /** Relative to `folder`: a .jsonl file, or for continued pretraining a folder of .txt files. */
  train: string;
  eval?: string;
  /** A run id or digest: uploads go to `<uploadVolumePath>/<folder>/<uploadId>/...` so runs never overwrite each other's data. */
  uploadId: string;
  kind: 'file' | 'folder';
}

export interface StagedData {
  mode: 'mapped' | 'uploaded';
  trainDataPath: string;
  evalDataPath?: string;
  uploaded: UploadResult[];
}

/**
 * Make a drop's data readable by the training service: map when the container is a volume,
 * upload through the Files API otherwise.
 */
export async function stageTrainingData(
  config: StagingConfig,
  request: StageRequest,
  deps: { blobs: BlobSource; files?: FilesApiClient },
): Promise<StagedData> {
  const folder = safeRelative(request.folder);
  const trainBlob = `${folder}/${safeRelative(request.train)}`;
  const evalBlob = request.eval ? `${folder}/${safeRelative(request.eval)}` : undefined;

  const mappedTrain = mapBlobToVolume(config.mappings, request.container, trainBlob);
  if (mappedTrain) {
    const mappedEval = evalBlob ? mapBlobToVolume(config.mappings, request.container, evalBlob) : undefined;
    if (!evalBlob || mappedEval) {
      return { mode: 'mapped', trainDataPath: mappedTrain, evalDataPath: mappedEval, uploaded: [] };
    }
  }

  if (!config.uploadVolumePath || !deps.files) {
    throw new ProviderError(
      'bad_request',
      `container "${request.container}" is not mapped to a volume and no upload volume is configured`,
    );
  }
  const files = deps.files;
  const target = posix.join(config.uploadVolumePath, folder, safeRelative(request.uploadId));
  const uploaded: UploadResult[] = [];
  const stageOne = async (blobPath: string): Promise<string> => {
    const rel = blobPath.slice(folder.length + 1);
    if (request.kind === 'file') {
      const dest = posix.join(target, rel);
      uploaded.push(await files.uploadWithRetry(dest, () => deps.blobs.open(blobPath)));
      return toDbfsPath(dest);
    }
    const names = (await deps.blobs.list(`${blobPath.replace(/\/+$/, '')}/`)).filter((n) => n.endsWith('.txt'));
    if (names.length === 0) throw new ProviderError('bad_request', `no .txt files under ${blobPath}`);
    for (const name of names) {
      uploaded.push(
        await files.uploadWithRetry(posix.join(target, name.slice(folder.length + 1)), () => deps.blobs.open(name)),
      );
    }
    return toDbfsPath(posix.join(target, rel));
  };
  const trainDataPath = await stageOne(trainBlob);
  const evalDataPath = evalBlob ? await stageOne(evalBlob) : undefined;
  return { mode: 'uploaded', trainDataPath, evalDataPath, uploaded };
}
