import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RpcHttpCookie, RpcHttpData } from './coreTypes';

/**
 * Function keys, as in Azure: `function`-level routes accept the function's own keys, any host key
 * or the master key; `admin`-level routes (and /admin/*) accept only the master key. A key is sent
 * in the `x-functions-key` header or the `code` query parameter.
 */
export interface HostKeys {
  master?: string;
  /** Host keys (Azure's `default` and others): valid for every function-level route. */
  host?: readonly string[];
  /** Function keys by function name. */
  functions?: Readonly<Record<string, readonly string[]>>;
  /** System keys by name (e.g. durabletask_extension): for the system routes extensions mount. */
  system?: Readonly<Record<string, string>>;
}

export type AuthLevel = 'anonymous' | 'function' | 'admin';

/** Azure rejects request bodies over 100 MB. */
export const MAX_REQUEST_BODY_BYTES = 100 * 1024 * 1024;

export function presentedKey(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers['x-functions-key'];
  const fromHeader = Array.isArray(header) ? header[0] : header;
  return fromHeader || url.searchParams.get('code') || undefined;
}

export function isAuthorized(level: AuthLevel, functionName: string, key: string | undefined, keys: HostKeys): boolean {
  if (level === 'anonymous') return true;
  if (!key) return false;
  const accepted: string[] = [];
  if (keys.master) accepted.push(keys.master);
  if (level === 'function') {
    accepted.push(...(keys.host ?? []), ...(keys.functions?.[functionName] ?? []));
  }
  // Compare every candidate (no early exit) so timing says nothing about which key matched.
  let ok = false;
  for (const candidate of accepted) ok = constantTimeEqual(candidate, key) || ok;
  return ok;
}

/** A system route: its system key or the master key. */
export function isSystemAuthorized(systemKeyName: string, key: string | undefined, keys: HostKeys): boolean {
  if (!key) return false;
  const accepted = [keys.master, keys.system?.[systemKeyName]].filter((k): k is string => Boolean(k));
  let ok = false;
  for (const candidate of accepted) ok = constantTimeEqual(candidate, key) || ok;
  return ok;
}

function constantTimeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

export class BodyTooLargeError extends Error {}

export async function readBody(req: IncomingMessage, limit = MAX_REQUEST_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw new BodyTooLargeError(`request body over ${limit} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/** The request as the Functions host hands it to the worker (RpcHttpData). */
export function toRpcHttpRequest(
  req: IncomingMessage,
  url: URL,
  params: Record<string, string>,
  body: Buffer,
): RpcHttpData {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return {
    method: req.method ?? 'GET',
    url: url.toString(),
    headers,
    nullableHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, { value: v }])),
    params,
    nullableParams: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, { value: v }])),
    body: { bytes: body },
    rawBody: { bytes: body },
  };
}

/** Write what the worker returned (RpcHttpData) to the client; no response at all is 204, as in Azure. */
export function writeRpcHttpResponse(res: ServerResponse, http: RpcHttpData | undefined): void {
  if (!http) {
    res.statusCode = 204;
    res.end();
    return;
  }
  const status = Number(http.statusCode ?? 200);
  res.statusCode = Number.isInteger(status) && status >= 100 && status <= 999 ? status : 200;
  for (const [name, value] of Object.entries(http.headers ?? {})) {
    if (name.toLowerCase() === 'set-cookie') res.appendHeader('set-cookie', value);
    else res.setHeader(name, value);
  }
  for (const cookie of http.cookies ?? []) res.appendHeader('set-cookie', formatCookie(cookie));
  const body =
    http.body?.bytes ??
    (http.body?.string !== undefined && http.body?.string !== null ? Buffer.from(http.body.string) : undefined);
  res.end(body ? Buffer.from(body) : undefined);
}

function formatCookie(cookie: RpcHttpCookie): string {
  const parts = [`${cookie.name ?? ''}=${cookie.value ?? ''}`];
  if (cookie.domain?.value) parts.push(`Domain=${cookie.domain.value}`);
  if (cookie.path?.value) parts.push(`Path=${cookie.path.value}`);
  const expires = cookie.expires?.value;
  if (expires?.seconds !== undefined && expires.seconds !== null) {
    parts.push(`Expires=${new Date(Number(expires.seconds) * 1000).toUTCString()}`);
  }
  if (cookie.maxAge?.value !== undefined && cookie.maxAge.value !== null) parts.push(`Max-Age=${cookie.maxAge.value}`);
  if (cookie.secure?.value) parts.push('Secure');
  if (cookie.httpOnly?.value) parts.push('HttpOnly');
  // 'none' on the wire means "not set"; an explicit SameSite=None is 'explicitNone'.
  const sameSite = { lax: 'Lax', strict: 'Strict', explicitNone: 'None', none: undefined }[cookie.sameSite ?? 'none'];
  if (sameSite) parts.push(`SameSite=${sameSite}`);
  return parts.join('; ');
}
