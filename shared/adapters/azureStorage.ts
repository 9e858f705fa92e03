import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { RestError, type TableClient } from '@azure/data-tables';
import type { ContainerClient } from '@azure/storage-blob';
import { type StoredCatalog, storedCatalogSchema } from '../catalog';
import { ensureTable } from '../config/tables';
import { type CatalogStore, parseStoredCatalog, STORED_CATALOG_BLOB } from '../pipeline/catalogRefresh';
import {
  DataChangedError,
  type DropStore,
  type IntakeLog,
  type ReportStore,
  type ShardResultStore,
  type StoredFile,
  type TeamConfigStore,
} from '../pipeline/ports';

function isNotFound(err: unknown): boolean {
  return (err as { statusCode?: number } | undefined)?.statusCode === 404;
}

function isPreconditionFailed(err: unknown): boolean {
  const e = err as { statusCode?: number; code?: string } | undefined;
  return e?.statusCode === 412 || e?.code === 'ConditionNotMet';
}

/** DropStore on the datasets blob container. */
export class BlobDropStore implements DropStore {
  constructor(private readonly container: ContainerClient) {}

  async *list(prefix: string): AsyncIterable<StoredFile> {
    for await (const b of this.container.listBlobsFlat({ prefix })) {
      yield { name: b.name, size: b.properties.contentLength ?? 0, etag: b.properties.etag };
    }
  }

  async open(name: string): Promise<Readable> {
    const body = (await this.container.getBlobClient(name).download()).readableStreamBody;
    if (!body) throw new Error(`blob ${name} has no body`);
    return body instanceof Readable ? body : Readable.from(body);
  }

  async openRange(name: string, start: number, options: { etag?: string } = {}): Promise<Readable> {
    const conditions = options.etag ? { ifMatch: options.etag } : undefined;
    let body: NodeJS.ReadableStream | undefined;
    try {
      // One ranged GET to the end; the SDK resumes a broken stream with further ranged GETs under the
      // same If-Match, so a blob replaced mid-read fails with 412 instead of mixing two versions.
      body = (await this.container.getBlobClient(name).download(start, undefined, { conditions })).readableStreamBody;
    } catch (err) {
      if (!isPreconditionFailed(err)) throw err;
      // A deleted blob fails the precondition too (Azurite answers 412): that is not a new version.
      if (!(await this.container.getBlobClient(name).exists())) throw new Error(`blob ${name} no longer exists`);
      throw new DataChangedError(name);
    }
    if (!body) throw new Error(`blob ${name} has no body`);
    const stream = body instanceof Readable ? body : Readable.from(body);
    if (!options.etag) return stream;
    const checked = new PassThrough({ highWaterMark: 1024 * 1024 });
    stream.on('error', (err) => checked.destroy(isPreconditionFailed(err) ? new DataChangedError(name) : err));
    checked.on('close', () => stream.destroy());
    return stream.pipe(checked);
  }

  async read(name: string): Promise<{ content: Buffer; etag: string } | undefined> {
    try {
      const downloaded = await this.container.getBlobClient(name).download();
      const chunks: Buffer[] = [];
      for await (const chunk of downloaded.readableStreamBody ?? []) chunks.push(Buffer.from(chunk as Buffer));
      return { content: Buffer.concat(chunks), etag: downloaded.etag ?? '' };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async etagOf(name: string): Promise<string | undefined> {
    try {
      return (await this.container.getBlobClient(name).getProperties()).etag ?? '';
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async write(name: string, content: Buffer, contentType: string): Promise<string> {
    const uploaded = await this.container
      .getBlockBlobClient(name)
      .upload(content, content.length, { blobHTTPHeaders: { blobContentType: contentType } });
    return uploaded.etag ?? '';
  }

  url(name: string): string {
    return this.container.getBlobClient(name).url;
  }
}

/** ReportStore on the reports blob container. */
export class BlobReportStore implements ReportStore {
  constructor(private readonly container: ContainerClient) {}

  async write(folder: string, report: unknown, markdown: string): Promise<{ json: string; markdown: string }> {
    await this.container.createIfNotExists();
    const json = this.container.getBlockBlobClient(`${folder}/validation.json`);
    const md = this.container.getBlockBlobClient(`${folder}/validation.md`);
    const body = JSON.stringify(report, null, 2);
    await json.upload(body, Buffer.byteLength(body), { blobHTTPHeaders: { blobContentType: 'application/json' } });
    await md.upload(markdown, Buffer.byteLength(markdown), {
      blobHTTPHeaders: { blobContentType: 'text/markdown; charset=utf-8' },
    });
    return { json: json.url, markdown: md.url };
  }
}

/** ShardResultStore on a folder of a blob container (the reports container's `.validation/`). */
export class BlobShardResultStore implements ShardResultStore {
  constructor(
    private readonly container: ContainerClient,
    private readonly folder: string,
  ) {}

  async write(name: string, body: Buffer): Promise<void> {
    await this.container.createIfNotExists();
    await this.container
      .getBlockBlobClient(`${this.folder}/${name}`)
      .upload(body, body.length, { blobHTTPHeaders: { blobContentType: 'application/json' } });
  }

  async read(name: string): Promise<Buffer | undefined> {
    try {
      return await this.container.getBlobClient(`${this.folder}/${name}`).downloadToBuffer();
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async remove(prefix: string): Promise<void> {
    for await (const b of this.container.listBlobsFlat({ prefix: `${this.folder}/${prefix}` })) {
      await this.container.deleteBlob(b.name, { deleteSnapshots: 'include' }).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    }
  }
}

/** TeamConfigStore on the config blob container (teams/{team}.json). */
export class BlobTeamConfigStore implements TeamConfigStore {
  constructor(private readonly container: ContainerClient) {}

  async read(team: string): Promise<string | undefined> {
    try {
      return (await this.container.getBlobClient(`teams/${team}.json`).downloadToBuffer()).toString('utf8');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** The ids of every configured team (`teams/{team}.json`). */
  async teamIds(): Promise<string[]> {
    const ids: string[] = [];
    for await (const b of this.container.listBlobsFlat({ prefix: 'teams/' })) {
      const m = /^teams\/([^/]+)\.json$/.exec(b.name);
      if (m?.[1]) ids.push(m[1]);
    }
    return ids;
  }
}

/** The catalog's last good copy on a blob in the config container (issue 14). */
export class BlobCatalogStore implements CatalogStore {
  constructor(
    private readonly container: ContainerClient,
    private readonly log?: (message: string) => void,
  ) {}

  async read(): Promise<StoredCatalog | undefined> {
    try {
      const text = (await this.container.getBlobClient(STORED_CATALOG_BLOB).downloadToBuffer()).toString('utf8');
      return parseStoredCatalog(text, this.log);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async write(catalog: StoredCatalog): Promise<void> {
    const body = JSON.stringify(storedCatalogSchema.parse(catalog), null, 2);
    await this.container.createIfNotExists();
    await this.container.getBlockBlobClient(STORED_CATALOG_BLOB).upload(body, Buffer.byteLength(body), {
      blobHTTPHeaders: { blobContentType: 'application/json' },
    });
  }
}

/**
 * IntakeLog on a table: partition = SHA-256 of the manifest URL, row = the ETag without
 * punctuation (Table keys forbid some characters).
 */
export class TableIntakeLog implements IntakeLog {
  constructor(private readonly table: TableClient) {}

  private keys(url: string, etag: string): { partitionKey: string; rowKey: string } {
    return { partitionKey: createHash('sha256').update(url).digest('hex'), rowKey: etag.replace(/[^A-Za-z0-9]/g, '') };
  }

  async lookup(url: string, etag: string): Promise<{ runId?: string } | undefined> {
    const { partitionKey, rowKey } = this.keys(url, etag);
    try {
      const entity = await this.table.getEntity<{ runId?: unknown }>(partitionKey, rowKey);
      return typeof entity.runId === 'string' ? { runId: entity.runId } : {};
    } catch (err) {
      if (err instanceof RestError && err.statusCode === 404) return undefined;
      throw err;
    }
  }

  async remember(url: string, etag: string, runId: string): Promise<void> {
    await ensureTable(this.table);
    await this.table.upsertEntity({ ...this.keys(url, etag), runId }, 'Replace');
  }
}
