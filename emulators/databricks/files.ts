import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { drain, json } from './http';
import type { EmulatorState } from './state';

/** The Files API for Unity Catalog volumes: upload, download, HEAD and mkdir. */

export async function uploadFile(
  state: EmulatorState,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  overwrite: boolean,
): Promise<void> {
  if (!/^\/Volumes\/[^/]+\/[^/]+\/[^/]+\/.+/.test(path) || path.split('/').includes('..')) {
    await drain(req);
    return json(res, 400, { error_code: 'INVALID_PARAMETER_VALUE', message: `Invalid volume path ${path}.` });
  }
  if (!overwrite && state.files.has(path)) {
    await drain(req);
    return json(res, 409, { error_code: 'ALREADY_EXISTS', message: `The file ${path} already exists.` });
  }
  const chunks: Buffer[] = [];
  const hash = createHash('sha256');
  let received = 0;
  for await (const chunk of req) {
    chunks.push(chunk as Buffer);
    hash.update(chunk as Buffer);
    received += (chunk as Buffer).length;
    state.uploadProgress.set(path, received);
  }
  state.files.set(path, {
    path,
    bytes: Buffer.concat(chunks),
    sha256: hash.digest('hex'),
    chunks: chunks.length,
    chunked: req.headers['content-length'] === undefined,
    modifiedAtMs: state.now(),
  });
  state.changed();
  res.writeHead(204).end();
}

export function sendFile(state: EmulatorState, res: ServerResponse, path: string, headOnly: boolean, range?: string) {
  const file = state.files.get(path);
  if (!file) {
    if (headOnly) return void res.writeHead(404).end();
    return json(res, 404, { error_code: 'NOT_FOUND', message: `The file ${path} does not exist.` });
  }
  // Range reads (RFC 9110 bytes=start-end), as the Files API serves them: 206 with Content-Range.
  const m = range && !headOnly ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
  if (m) {
    const size = file.bytes.length;
    const start = Number(m[1]);
    const end = Math.min(size - 1, m[2] ? Number(m[2]) : size - 1);
    if (start >= size || end < start) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` });
      return void res.end();
    }
    state.rangeReads.push({ path, start, end });
    res.writeHead(206, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(end - start + 1),
      'Content-Range': `bytes ${start}-${end}/${size}`,
    });
    return void res.end(file.bytes.subarray(start, end + 1));
  }
  res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Content-Length': String(file.bytes.length),
    'Last-Modified': new Date(file.modifiedAtMs).toUTCString(),
  });
  res.end(headOnly ? undefined : file.bytes);
}

export async function makeDirectory(req: IncomingMessage, res: ServerResponse): Promise<void> {
  await drain(req);
  json(res, 200, {});
}
