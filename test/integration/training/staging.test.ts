import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTrainingEmulator, type TrainingEmulator } from '../../../emulators/databricks';
import { DatabricksTrainingProvider } from '../../../shared/training/databricks';
import { isProviderError } from '../../../shared/training/provider';
import { type BlobSource, FilesApiClient, stageTrainingData } from '../../../shared/training/staging';

let emulator: TrainingEmulator;
const sleeps: number[] = [];

function files(): FilesApiClient {
  return new FilesApiClient({
    workspaceUrl: emulator.url,
    auth: emulator.token,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
  });
}

const CHUNK = 64 * 1024;

/** A lazily generated file: chunk i exists only once the consumer pulls it. */
function generated(totalChunks: number, onChunk?: (index: number, produced: number) => void): Readable {
  let produced = 0;
  return Readable.from(
    (function* () {
      for (let i = 0; i < totalChunks; i++) {
        const chunk = Buffer.alloc(CHUNK, i % 251);
        produced += chunk.length;
        onChunk?.(i, produced);
        yield chunk;
      }
    })(),
    { objectMode: false },
  );
}

function expectedSha(totalChunks: number): string {
  const h = createHash('sha256');
  for (let i = 0; i < totalChunks; i++) h.update(Buffer.alloc(CHUNK, i % 251));
  return h.digest('hex');
}

beforeAll(async () => {
  emulator = await startTrainingEmulator();
});
afterAll(async () => {
  await emulator.stop();
});
beforeEach(() => {
  sleeps.length = 0;
  emulator.state.clearFaults();
});

describe('Files API streaming upload', () => {
  it('streams a 40 MiB file chunked, never holding it whole', async () => {
    const totalChunks = 640; // 40 MiB
    const path = '/Volumes/ml/tunedrop/staging/team-a/big/train.jsonl';
    let maxLag = 0;
    const source = generated(totalChunks, (_i, produced) => {
      const received = emulator.state.uploadProgress.get(path) ?? 0;
      maxLag = Math.max(maxLag, produced - received);
    });
    const heapBefore = process.memoryUsage().heapUsed;
    const result = await files().upload(path, () => source);
    expect(result).toEqual({ path, bytes: totalChunks * CHUNK });

    const stored = emulator.state.files.get(path);
    expect(stored?.sha256).toBe(expectedSha(totalChunks));
    expect(stored?.chunked).toBe(true); // Transfer-Encoding: chunked, no Content-Length
    expect(stored?.chunks).toBeGreaterThan(10);
    // Whenever the source produced a chunk, the server already had all but a few MiB (socket and
    // stream buffers): the client never ran ahead by the whole file, as a buffered body would.
    expect(maxLag).toBeLessThan(16 * 1024 * 1024);
    // Loose sanity bound; the emulator itself keeps the 12 MiB it received, off-heap in Buffers.
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
  });

  it('retries a failed upload by reopening the source', async () => {
    const path = '/Volumes/ml/tunedrop/staging/team-a/retry/train.jsonl';
    emulator.state.serverError(1, 503, 'files.upload', 2);
    let opened = 0;
    const result = await files().uploadWithRetry(
      path,
      () => {
        opened++;
        return generated(4);
      },
      { sleep: async (ms) => void sleeps.push(ms) },
    );
    expect(opened).toBe(2);
    expect(sleeps).toEqual([2000]);
    expect(result.bytes).toBe(4 * CHUNK);
    expect(emulator.state.files.get(path)?.sha256).toBe(expectedSha(4));
  });

  it('does not retry an upload the service rejects, and refuses paths outside /Volumes', async () => {
    const f = files();
    emulator.state.serverError(1, 400, 'files.upload');
    let opened = 0;
    const err = await f
      .uploadWithRetry('/Volumes/ml/tunedrop/staging/x.jsonl', () => {
        opened++;
        return generated(1);
      })
      .catch((e: unknown) => e);
    expect(isProviderError(err, 'bad_request')).toBe(true);
    expect(opened).toBe(1);
    await expect(f.upload('/tmp/../etc/passwd', () => generated(1))).rejects.toMatchObject({ code: 'bad_request' });
    await expect(f.upload('/Volumes/ml/x/y/../../z', () => generated(1))).rejects.toMatchObject({
      code: 'bad_request',
    });
  });

  it('stat: size of an existing file, undefined for a missing one', async () => {
    const path = '/Volumes/ml/tunedrop/staging/stat/a.txt';
    await files().upload(path, () => Readable.from([Buffer.from('hello volume')]));
    expect(await files().stat(path)).toEqual({ bytes: 12 });
    expect(await files().stat('/Volumes/ml/tunedrop/staging/stat/missing.txt')).toBeUndefined();
  });
});

describe('stageTrainingData', () => {
  const blobData: Record<string, string> = {
    'team-a/support/train.jsonl': '{"messages":[]}\n',
    'team-a/support/eval.jsonl': '{"messages":[]}\n',
    'team-a/corpus/text/a.txt': 'alpha',
    'team-a/corpus/text/b.txt': 'beta',
    'team-a/corpus/text/notes.md': 'ignored',
  };
  const blobs: BlobSource = {
    open: (p) => {
      const data = blobData[p];
      if (data === undefined) throw new Error(`no blob ${p}`);
      return Readable.from([Buffer.from(data)]);
    },
    list: async (prefix) => Object.keys(blobData).filter((k) => k.startsWith(prefix)),
  };

  it('maps a mounted container to volume paths without any request (zero copy)', async () => {
    const before = emulator.state.count('files.upload');
    const staged = await stageTrainingData(
      { mappings: [{ container: 'datasets', volumePath: '/Volumes/ml/tunedrop/datasets' }] },
      {
        container: 'datasets',
        folder: 'team-a/support',
        train: 'train.jsonl',
        eval: 'eval.jsonl',
        uploadId: 'run-1',
        kind: 'file',
      },
      { blobs },
    );
    expect(staged).toEqual({
      mode: 'mapped',
      trainDataPath: 'dbfs:/Volumes/ml/tunedrop/datasets/team-a/support/train.jsonl',
      evalDataPath: 'dbfs:/Volumes/ml/tunedrop/datasets/team-a/support/eval.jsonl',
      uploaded: [],
    });
    expect(emulator.state.count('files.upload')).toBe(before);
  });

  it('uploads jsonl files of an unmapped container through the Files API', async () => {
    const staged = await stageTrainingData(
      { mappings: [], uploadVolumePath: '/Volumes/ml/tunedrop/staging' },
      {
        container: 'datasets',
        folder: 'team-a/support',
        train: 'train.jsonl',
        eval: 'eval.jsonl',
        uploadId: 'run-2',
        kind: 'file',
      },
      { blobs, files: files() },
    );
    expect(staged.mode).toBe('uploaded');
    expect(staged.trainDataPath).toBe('dbfs:/Volumes/ml/tunedrop/staging/team-a/support/run-2/train.jsonl');
    expect(staged.evalDataPath).toBe('dbfs:/Volumes/ml/tunedrop/staging/team-a/support/run-2/eval.jsonl');
    expect(
      emulator.state.files.get('/Volumes/ml/tunedrop/staging/team-a/support/run-2/train.jsonl')?.bytes.toString(),
    ).toBe(blobData['team-a/support/train.jsonl']);
  });

  it('uploads a continued-pretraining folder: only its .txt files, and points training at the folder', async () => {
    const staged = await stageTrainingData(
      { mappings: [], uploadVolumePath: '/Volumes/ml/tunedrop/staging' },
      { container: 'datasets', folder: 'team-a/corpus', train: 'text', uploadId: 'run-3', kind: 'folder' },
      { blobs, files: files() },
    );
    expect(staged.trainDataPath).toBe('dbfs:/Volumes/ml/tunedrop/staging/team-a/corpus/run-3/text');
    expect(staged.uploaded.map((u) => u.path).sort()).toEqual([
      '/Volumes/ml/tunedrop/staging/team-a/corpus/run-3/text/a.txt',
      '/Volumes/ml/tunedrop/staging/team-a/corpus/run-3/text/b.txt',
    ]);
  });

  it('refuses when the container is neither mapped nor an upload target is configured', async () => {
    await expect(
      stageTrainingData(
        { mappings: [{ container: 'other', volumePath: '/Volumes/a/b/c' }] },
        { container: 'datasets', folder: 'team-a/support', train: 'train.jsonl', uploadId: 'r', kind: 'file' },
        { blobs },
      ),
    ).rejects.toMatchObject({ code: 'bad_request' });
  });
});

describe('staged data reaches training', () => {
  it('a run over uploaded data completes; a run over data that was never staged fails with a reason', async () => {
    let now = Date.parse('2026-03-03T08:00:00Z');
    const strict = await startTrainingEmulator({ now: () => now, dataMustExist: true });
    try {
      const connection = { workspaceUrl: strict.url, auth: strict.token, now: () => now, sleep: async () => {} };
      const staged = await stageTrainingData(
        { mappings: [], uploadVolumePath: '/Volumes/ml/tunedrop/staging' },
        { container: 'datasets', folder: 'team-b/ds', train: 'train.jsonl', uploadId: 'run-9', kind: 'file' },
        {
          blobs: { open: () => Readable.from([Buffer.from('{"prompt":"a","response":"b"}\n')]), list: async () => [] },
          files: new FilesApiClient(connection),
        },
      );
      const provider = new DatabricksTrainingProvider({ ...connection, experimentDir: '/Shared/tunedrop' });
      const base = {
        model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
        task: 'instruction' as const,
        registerTo: 'ml.models.team_b',
      };
      const good = await provider.create({ ...base, trainDataPath: staged.trainDataPath }, 'staged-good');
      const bad = await provider.create(
        { ...base, trainDataPath: 'dbfs:/Volumes/ml/tunedrop/staging/team-b/ds/never/train.jsonl' },
        'staged-bad',
      );
      now += 24 * 3_600_000;
      expect(await provider.get(good)).toMatchObject({
        status: 'completed',
        registeredModel: { name: 'ml.models.team_b', version: 1 },
      });
      const failed = await provider.get(bad);
      expect(failed.status).toBe('failed');
      expect(failed.reason).toContain('does not exist');
    } finally {
      await strict.stop();
    }
  });
});
