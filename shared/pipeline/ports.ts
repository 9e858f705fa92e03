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
}

/** The datasets container: where teams drop data files and run.json. */
export interface DropStore {
  /** Files whose names start with prefix, in name order. */
  list(prefix: string): AsyncIterable<StoredFile>;
  /** A file's bytes as a stream. */
  open(name: string): Promise<Readable>;
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
