import { type TableClient, TableClient as Tables } from '@azure/data-tables';
import { type BlobItem, BlobServiceClient } from '@azure/storage-blob';
import { ensureTable } from '../../shared/config/tables';
import type { BlobPathPattern } from './blobPath';
import { describe, statusOf } from './errors';

/** The table where fired (function, blob, ETag) receipts live, so a restart does not fire again. */
export const BLOB_RECEIPTS_TABLE = 'tunedropBlobReceipts';
/** Attempts per ETag before the blob is given up on (the Functions host's maxDequeueCount default). */
export const BLOB_MAX_ATTEMPTS = 5;

export interface BlobWatch {
  functionName: string;
  pattern: BlobPathPattern;
  /** `LogsAndContainerScan` (default) or `EventGrid`; both are driven by a container scan locally. */
  source: string;
}

export interface BlobTriggerFiring {
  functionName: string;
  /** `container/blob` */
  blobPath: string;
  etag: string;
  outcome: 'succeeded' | 'failed' | 'poisoned';
  error?: string;
}

export interface BlobTriggerInput {
  functionName: string;
  content: Buffer;
  triggerMetadata: Record<string, unknown>;
}

interface Receipt {
  etag: string;
  status: 'done' | 'failed' | 'poisoned';
  attempts: number;
}

export interface BlobTriggerWatcherOptions {
  connectionString: string;
  /** Separates receipts of different apps sharing one storage account (Azure's host id). */
  hostId: string;
  watches: readonly BlobWatch[];
  invoke(input: BlobTriggerInput): Promise<unknown>;
  log(level: 'information' | 'warning' | 'error', message: string): void;
  maxAttempts?: number;
}

/**
 * The blob trigger by container scan: every scan lists the watched containers (by the pattern's
 * literal prefix) and invokes each matching function once per blob ETag. Receipts are written to an
 * Azurite table after the invocation; a failing invocation is retried on later scans up to
 * maxAttempts, then marked poisoned and logged.
 */
export class BlobTriggerWatcher {
  private readonly blobs: BlobServiceClient;
  private readonly receiptsTable: TableClient;
  private readonly receipts = new Map<string, Receipt>();
  private readonly maxAttempts: number;
  private scanning: Promise<BlobTriggerFiring[]> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: BlobTriggerWatcherOptions) {
    this.blobs = BlobServiceClient.fromConnectionString(options.connectionString);
    this.receiptsTable = Tables.fromConnectionString(options.connectionString, BLOB_RECEIPTS_TABLE, {
      allowInsecureConnection: true,
    });
    this.maxAttempts = options.maxAttempts ?? BLOB_MAX_ATTEMPTS;
  }

  get watches(): readonly BlobWatch[] {
    return this.options.watches;
  }

  async start(): Promise<void> {
    if (this.options.watches.length === 0) return;
    await ensureTable(this.receiptsTable);
    for (const watch of this.options.watches) {
      const partitionKey = this.partitionKey(watch.functionName);
      const entities = this.receiptsTable.listEntities<{
        blobEtag: string;
        status: Receipt['status'];
        attempts: number;
      }>({
        queryOptions: { filter: `PartitionKey eq '${partitionKey.replace(/'/g, "''")}'` },
      });
      for await (const entity of entities) {
        this.receipts.set(`${partitionKey}|${entity.rowKey}`, {
          etag: entity.blobEtag,
          status: entity.status,
          attempts: entity.attempts,
        });
      }
    }
  }

  /** Poll in the background; each pass is one scan(). */
  startPolling(intervalMs: number): void {
    if (this.options.watches.length === 0 || this.timer) return;
    const tick = () => {
      if (this.stopped) return;
      this.scan()
        .catch((err: unknown) => this.options.log('error', `blob scan failed: ${describe(err)}`))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, intervalMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  /** One pass over all watched containers; resolves with what fired. Concurrent calls share a pass. */
  scan(): Promise<BlobTriggerFiring[]> {
    if (this.scanning) {
      // A scan asked for while one runs must see blobs written before the call: run once more after it.
      const after = this.scanning.then(() => this.scan());
      return after;
    }
    this.scanning = this.scanOnce().finally(() => {
      this.scanning = undefined;
    });
    return this.scanning;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.scanning?.catch(() => undefined);
  }

  private async scanOnce(): Promise<BlobTriggerFiring[]> {
    const fired: BlobTriggerFiring[] = [];
    for (const watch of this.options.watches) {
      if (this.stopped) break;
      const container = this.blobs.getContainerClient(watch.pattern.container);
      const items: BlobItem[] = [];
      try {
        for await (const item of container.listBlobsFlat({ prefix: watch.pattern.prefix, includeMetadata: true })) {
          items.push(item);
        }
      } catch (err) {
        if (statusOf(err) === 404) continue; // the container does not exist yet
        throw err;
      }
      for (const item of items) {
        if (this.stopped) break;
        const params = watch.pattern.match(item.name);
        if (!params) continue;
        const firing = await this.fireIfNew(watch, item, params);
        if (firing) fired.push(firing);
      }
    }
    return fired;
  }

  private async fireIfNew(
    watch: BlobWatch,
    item: BlobItem,
    params: Record<string, string>,
  ): Promise<BlobTriggerFiring | undefined> {
    const etag = item.properties.etag ?? '';
    const blobPath = `${watch.pattern.container}/${item.name}`;
    const partitionKey = this.partitionKey(watch.functionName);
    const rowKey = Buffer.from(blobPath, 'utf8').toString('base64url');
    const key = `${partitionKey}|${rowKey}`;
    const receipt = this.receipts.get(key);
    if (receipt && receipt.etag === etag && receipt.status !== 'failed') return undefined;
    const attempts = receipt && receipt.etag === etag ? receipt.attempts : 0;

    const blob = this.blobs.getContainerClient(watch.pattern.container).getBlobClient(item.name);
    let content: Buffer;
    try {
      content = await blob.downloadToBuffer(0, undefined, { conditions: { ifMatch: etag } });
    } catch (err) {
      // Changed or deleted since the listing: the next scan sees the new version.
      if (statusOf(err) === 412 || statusOf(err) === 404) return undefined;
      throw err;
    }
    let outcome: BlobTriggerFiring['outcome'] = 'succeeded';
    let error: string | undefined;
    try {
      await this.options.invoke({
        functionName: watch.functionName,
        content,
        triggerMetadata: {
          ...params,
          BlobTrigger: blobPath,
          Uri: blob.url,
          Properties: blobProperties(item),
          Metadata: item.metadata ?? {},
        },
      });
    } catch (err) {
      error = describe(err);
      outcome = attempts + 1 >= this.maxAttempts ? 'poisoned' : 'failed';
    }
    const next: Receipt = {
      etag,
      status: outcome === 'succeeded' ? 'done' : outcome,
      attempts: attempts + 1,
    };
    this.receipts.set(key, next);
    await this.receiptsTable.upsertEntity(
      { partitionKey, rowKey, blobEtag: etag, status: next.status, attempts: next.attempts, blobPath },
      'Replace',
    );
    if (outcome === 'failed') {
      this.options.log('warning', `${watch.functionName}: ${blobPath} failed (attempt ${next.attempts}): ${error}`);
    } else if (outcome === 'poisoned') {
      this.options.log(
        'error',
        `${watch.functionName}: ${blobPath} failed ${next.attempts} times; giving up on this version (poisoned): ${error}`,
      );
    }
    return { functionName: watch.functionName, blobPath, etag, outcome, ...(error ? { error } : {}) };
  }

  private partitionKey(functionName: string): string {
    return `${this.options.hostId}.${functionName}`.replace(/[^A-Za-z0-9._-]/g, '_');
  }
}

/** BlobProperties as the .NET host serializes them (PascalCase; @azure/functions camel-cases them). */
function blobProperties(item: BlobItem): Record<string, unknown> {
  const p = item.properties;
  return {
    BlobType: p.blobType === 'BlockBlob' ? 'Block' : p.blobType,
    ContentType: p.contentType,
    ContentEncoding: p.contentEncoding,
    ContentLanguage: p.contentLanguage,
    ContentLength: p.contentLength,
    ContentMD5: p.contentMD5 ? Buffer.from(p.contentMD5).toString('base64') : undefined,
    CacheControl: p.cacheControl,
    ETag: p.etag,
    LastModified: p.lastModified?.toISOString(),
    CreatedOn: p.createdOn?.toISOString(),
    AccessTier: p.accessTier,
  };
}
