import type { Readable } from 'node:stream';
import type { RunRecord } from '../registry/runIndex';

/**
 * The ports the pipeline's use cases (intake, the run activities, the API) are written against.
 * Adapters implement them: Azure Storage in shared/adapters/azureStorage.ts. No SDK type appears
 * here, so a use case can be read (and tested) without knowing where the bytes live.
 */

/** A file in the datasets container, by its full name ({team}/{dataset}/...). */
export interface StoredFile {
  name: string;
  size: number;
  /** The file's version (blob ETag), when the store has one: range reads can insist on it. */
  etag?: string;
}

/**
 * The file is no longer the version a reader asked for (a blob ETag precondition failed): it was
 * replaced while it was being read, e.g. a drop re-uploaded during sharded validation.
 */
export class DataChangedError extends Error {
  readonly code = 'data_changed';
  override name = 'DataChangedError';
  constructor(readonly file: string) {
    super(`${file} changed while it was being read (uploaded again?)`);
  }
}

/** The datasets container: where teams drop data files and run.json. */
export interface DropStore {
  /** Files whose names start with prefix, in name order. */
  list(prefix: string): AsyncIterable<StoredFile>;
  /** A file's bytes as a stream. */
  open(name: string): Promise<Readable>;
  /**
   * The file's bytes from `start` to the end (a ranged read; the reader may stop early). With
   * `etag`, only while the file is still that version: otherwise DataChangedError, also when the
   * file is replaced mid-stream.
   */
  openRange(name: string, start: number, options?: { etag?: string }): Promise<Readable>;
  /** The file's content and version; undefined when it does not exist. */
  read(name: string): Promise<{ content: Buffer; etag: string } | undefined>;
  /** The file's version without its content; undefined when it does not exist. */
  etagOf(name: string): Promise<string | undefined>;
  /** Write (replace) a file; returns its new version. */
  write(name: string, content: Buffer, contentType: string): Promise<string>;
  /** The file's address (the manifest URL that run ids and events carry). */
  url(name: string): string;
}

/** The reports container: validation.json and validation.md per run. */
export interface ReportStore {
  write(folder: string, report: unknown, markdown: string): Promise<{ json: string; markdown: string }>;
}

/** Remembers which version of a manifest (URL + ETag) was handled, and the run it became. */
export interface IntakeLog {
  lookup(url: string, etag: string): Promise<{ runId?: string } | undefined>;
  remember(url: string, etag: string, runId: string): Promise<void>;
}

/** The run index as the use cases write it (Azure Tables: shared/registry/runIndex.ts). */
export interface RunStore {
  get(runId: string): Promise<RunRecord | undefined>;
  /** Create or merge fields into a run. */
  upsert(record: Partial<RunRecord> & { runId: string }): Promise<void>;
}

/** Team configurations (config container, teams/{team}.json) as text; undefined when the team has none. */
export interface TeamConfigStore {
  read(team: string): Promise<string | undefined>;
}

/**
 * Intermediate results of a sharded validation that are too big for a durable activity's output
 * (docs/validation.md, "Sharded intake"): written by a shard activity, read by the merge, removed
 * after it. Names are relative to the store's folder.
 */
export interface ShardResultStore {
  write(name: string, body: Buffer): Promise<void>;
  /** undefined when it does not exist. */
  read(name: string): Promise<Buffer | undefined>;
  /** Removes every result under the prefix (best effort: a leftover is garbage, not a fault). */
  remove(prefix: string): Promise<void>;
}
