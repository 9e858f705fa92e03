import { Readable } from 'node:stream';
import { z } from 'zod';
import { type DatabricksConnection, DatabricksHttp } from './http';
import { ProviderError } from './provider';

/**
 * Data already in Databricks (issue 14): Unity Catalog volume files read through the Files API
 * (directory listing, HEAD, ranged GETs: never a full download to disk), Delta tables described by
 * the Unity Catalog Tables API, and the data-prep cluster from the Clusters API. The port the
 * intake uses; `DatabricksDataSources` is the adapter, the emulator serves the same wire format.
 */
export interface DataSources {
  /** A file, or the files under a directory (recursively); undefined when nothing is there. */
  listVolumeFiles(path: string): Promise<{ path: string; bytes: number }[] | undefined>;
  /** A file's bytes as a stream of ranged reads. */
  openVolumeFile(path: string, bytes: number): Readable;
  /** Undefined when the table does not exist (or is not visible). */
  getTable(fullName: string): Promise<{ fullName: string; columns: { name: string; typeText?: string }[] } | undefined>;
  /** Undefined when the cluster does not exist. */
  getCluster(clusterId: string): Promise<{ clusterId: string; sparkVersion: string; state?: string } | undefined>;
}

const directorySchema = z.object({
  contents: z
    .array(
      z.object({
        path: z.string(),
        is_directory: z.boolean().optional(),
        file_size: z.number().int().nonnegative().optional(),
      }),
    )
    .optional(),
  next_page_token: z.string().optional(),
});

const tableSchema = z.object({
  full_name: z.string().optional(),
  name: z.string(),
  columns: z.array(z.object({ name: z.string(), type_text: z.string().optional() })).optional(),
});

const clusterSchema = z.object({
  cluster_id: z.string(),
  spark_version: z.string(),
  state: z.string().optional(),
});

/** Bytes per ranged GET: big enough to amortise a round trip, small enough to keep memory flat. */
export const VOLUME_RANGE_BYTES = 8 * 1024 * 1024;

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

function parse<S extends z.ZodType>(schema: S, text: string, operation: string): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ProviderError('invalid_response', `${operation}: the answer is not JSON`, { operation });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new ProviderError('invalid_response', `${operation}: unexpected answer`, { operation });
  return parsed.data;
}

export class DatabricksDataSources implements DataSources {
  private readonly http: DatabricksHttp;

  constructor(
    connection: DatabricksConnection | DatabricksHttp,
    private readonly rangeBytes = VOLUME_RANGE_BYTES,
  ) {
    this.http = connection instanceof DatabricksHttp ? connection : new DatabricksHttp(connection);
  }

  async listVolumeFiles(path: string): Promise<{ path: string; bytes: number }[] | undefined> {
    try {
      const head = await this.http.request({
        method: 'HEAD',
        path: `/api/2.0/fs/files${encodePath(path)}`,
        operation: 'files.head',
      });
      return [{ path, bytes: Number(head.headers.get('content-length') ?? 0) }];
    } catch (e) {
      if (!(e instanceof ProviderError && e.code === 'not_found')) throw e;
    }
    const files: { path: string; bytes: number }[] = [];
    const walk = async (dir: string): Promise<boolean> => {
      let pageToken: string | undefined;
      do {
        let text: string;
        try {
          text = (
            await this.http.request({
              method: 'GET',
              path: `/api/2.0/fs/directories${encodePath(dir)}`,
              query: { page_token: pageToken },
              operation: 'files.listDirectory',
            })
          ).text;
        } catch (e) {
          if (e instanceof ProviderError && e.code === 'not_found') return false;
          throw e;
        }
        const page = parse(directorySchema, text, 'files.listDirectory');
        for (const entry of page.contents ?? []) {
          if (entry.is_directory) await walk(entry.path);
          else files.push({ path: entry.path, bytes: entry.file_size ?? 0 });
        }
        pageToken = page.next_page_token || undefined;
      } while (pageToken);
      return true;
    };
    if (!(await walk(path))) return undefined;
    return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  openVolumeFile(path: string, bytes: number): Readable {
    const http = this.http;
    const step = this.rangeBytes;
    return Readable.from(
      (async function* () {
        for (let start = 0; start < bytes; start += step) {
          const end = Math.min(bytes, start + step) - 1;
          const res = await http.request({
            method: 'GET',
            path: `/api/2.0/fs/files${encodePath(path)}`,
            headers: { Range: `bytes=${start}-${end}` },
            operation: 'files.download',
            bytes: true,
          });
          const chunk = res.body ?? Buffer.alloc(0);
          if (res.status !== 206 && !(start === 0 && chunk.length === bytes)) {
            throw new ProviderError('invalid_response', `files.download: ${path} was not served by range`, {
              operation: 'files.download',
            });
          }
          if (chunk.length !== end - start + 1) {
            throw new ProviderError('invalid_response', `files.download: ${path} changed while it was read`, {
              operation: 'files.download',
            });
          }
          yield chunk;
        }
      })(),
    );
  }

  async getTable(fullName: string) {
    try {
      const res = await this.http.request({
        method: 'GET',
        path: `/api/2.1/unity-catalog/tables/${encodeURIComponent(fullName)}`,
        operation: 'uc.getTable',
      });
      const table = parse(tableSchema, res.text, 'uc.getTable');
      return {
        fullName: table.full_name ?? fullName,
        columns: (table.columns ?? []).map((c) => ({ name: c.name, typeText: c.type_text })),
      };
    } catch (e) {
      if (e instanceof ProviderError && e.code === 'not_found') return undefined;
      throw e;
    }
  }

  async getCluster(clusterId: string) {
    try {
      const res = await this.http.request({
        method: 'GET',
        path: '/api/2.1/clusters/get',
        query: { cluster_id: clusterId },
        operation: 'clusters.get',
      });
      const cluster = parse(clusterSchema, res.text, 'clusters.get');
      return { clusterId: cluster.cluster_id, sparkVersion: cluster.spark_version, state: cluster.state };
    } catch (e) {
      // The Clusters API answers an unknown id with 400 INVALID_PARAMETER_VALUE ("does not exist").
      if (e instanceof ProviderError && (e.code === 'not_found' || /does not exist/i.test(e.message))) return undefined;
      throw e;
    }
  }
}
