import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { classifyAddress } from './addresses';
import { DEFAULT_OUTBOUND_POLICY, type OutboundFailure, type OutboundPolicy, type OutboundPost } from './contracts';

/**
 * The SSRF-safe outbound POST (shared/net/contracts.ts). Addresses are checked inside the
 * socket's own DNS lookup, so the address connected to is the address checked (no DNS-rebinding
 * window between a check and the connect). Error messages name the host only: webhook URLs
 * (Teams, Slack) carry secrets in their path and query.
 */

/** Resolves a host name to all its addresses (node:dns `lookup` with `all: true`); injectable for tests. */
export type ResolveAll = (hostname: string) => Promise<LookupAddress[]>;

const systemResolveAll: ResolveAll = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );

export type UrlCheck =
  | { ok: true; url: URL; hostname: string; literal: boolean }
  | {
      ok: false;
      failure: Extract<OutboundFailure, 'invalid_url' | 'scheme_not_allowed' | 'blocked_address'>;
      message: string;
    };

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.']);

/**
 * The checks that need no DNS: a parseable absolute URL, https (http only to a loopback host when
 * allowed), and an IP literal that is allowed. Used at subscription create time and before every hop.
 */
export function checkOutboundUrl(target: string, policy: Pick<OutboundPolicy, 'allowLoopbackHttp'>): UrlCheck {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return { ok: false, failure: 'invalid_url', message: 'not an absolute URL' };
  }
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const where = `host ${url.host}`;
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { ok: false, failure: 'scheme_not_allowed', message: `${url.protocol} is not allowed (https only)` };
  }
  if (!hostname) return { ok: false, failure: 'invalid_url', message: 'the URL has no host' };
  const literalClass = classifyAddress(hostname);
  if (literalClass === 'blocked' || (literalClass === 'loopback' && !policy.allowLoopbackHttp)) {
    const kind = literalClass === 'loopback' ? 'loopback' : 'private or reserved';
    return { ok: false, failure: 'blocked_address', message: `${where} is a ${kind} address` };
  }
  const isLoopbackHost = literalClass === 'loopback' || LOOPBACK_NAMES.has(hostname.toLowerCase());
  if (url.protocol === 'http:' && !(policy.allowLoopbackHttp && isLoopbackHost)) {
    return {
      ok: false,
      failure: 'scheme_not_allowed',
      message: policy.allowLoopbackHttp
        ? `http is allowed to loopback hosts only (${where}); use https`
        : `http is not allowed (${where}); use https`,
    };
  }
  return { ok: true, url, hostname, literal: literalClass !== undefined };
}

class BlockedAddressError extends Error {
  readonly code = 'TUNEDROP_BLOCKED_ADDRESS';
}

/** A net/http `lookup` that resolves with `resolveAll` and refuses the connection when any address is not allowed. */
function guardedLookup(resolveAll: ResolveAll, allowLoopback: boolean, requireLoopback: boolean): LookupFunction {
  return (hostname, options, callback) => {
    resolveAll(hostname).then(
      (all) => {
        const family = options.family === 4 || options.family === 6 ? options.family : undefined;
        const candidates = family ? all.filter((a) => a.family === family) : all;
        const refused = candidates.find((a) => {
          const cls = classifyAddress(a.address);
          if (requireLoopback) return cls !== 'loopback';
          return cls === undefined || cls === 'blocked' || (cls === 'loopback' && !allowLoopback);
        });
        if (refused || candidates.length === 0) {
          const err = new BlockedAddressError(
            candidates.length === 0
              ? `host ${hostname} has no usable address`
              : `host ${hostname} resolves to a ${requireLoopback ? 'non-loopback' : 'private, loopback or reserved'} address`,
          );
          callback(err as NodeJS.ErrnoException, '', 0);
          return;
        }
        if (options.all) callback(null, candidates);
        else callback(null, candidates[0]!.address, candidates[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}

type Hop =
  | { kind: 'response'; status: number; location?: string; retryAfter?: string; body: string; truncated: boolean }
  | Failure;
type Failure = { kind: 'failure'; failure: OutboundFailure; message: string };

export interface SafePostOptions {
  /** DNS resolution (tests inject a fake that maps names to private addresses). */
  resolveAll?: ResolveAll;
}

/** Build an OutboundPost. `safePost` is the one with the system resolver. */
export function createSafePost(options: SafePostOptions = {}): OutboundPost {
  const resolveAll = options.resolveAll ?? systemResolveAll;
  // Own agents without keep-alive: never reuse a socket some other code opened.
  const agents = { http: new http.Agent({ keepAlive: false }), https: new https.Agent({ keepAlive: false }) };

  return async (target, body, headers, policyOverrides) => {
    const policy: OutboundPolicy = { ...DEFAULT_OUTBOUND_POLICY, ...policyOverrides };
    const deadline = Date.now() + policy.responseTimeoutMs;
    let current = target;
    let method: 'POST' | 'GET' = 'POST';
    for (let hop = 0; ; hop++) {
      const check = checkOutboundUrl(current, policy);
      if (!check.ok) return { ok: false, failure: check.failure, message: check.message };
      const result = await requestOnce(
        check.url,
        check.hostname,
        method,
        method === 'POST' ? body : undefined,
        headers,
        {
          policy,
          deadline,
          lookup: guardedLookup(resolveAll, policy.allowLoopbackHttp, check.url.protocol === 'http:'),
          agent: check.url.protocol === 'https:' ? agents.https : agents.http,
        },
      );
      if (result.kind === 'failure') return { ok: false, failure: result.failure, message: result.message };
      const redirect = [301, 302, 303, 307, 308].includes(result.status) && result.location !== undefined;
      if (!redirect) {
        const answer = { status: result.status, body: result.body, truncated: result.truncated };
        if (result.status >= 200 && result.status < 300) return { ok: true, ...answer };
        const retryAfterSeconds = parseRetryAfter(result.retryAfter, Date.now());
        return { ok: false, ...answer, ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) };
      }
      if (hop >= policy.maxRedirects) {
        return {
          ok: false,
          failure: 'too_many_redirects',
          message: `more than ${policy.maxRedirects} redirects (last from host ${check.url.host})`,
        };
      }
      try {
        current = new URL(result.location!, check.url).toString();
      } catch {
        return { ok: false, failure: 'invalid_url', message: `host ${check.url.host} redirected to an invalid URL` };
      }
      // 307/308 repeat the POST; 301/302/303 continue as GET without the body (what browsers and fetch do).
      if (result.status !== 307 && result.status !== 308) method = 'GET';
    }
  };
}

interface HopOptions {
  policy: OutboundPolicy;
  deadline: number;
  lookup: LookupFunction;
  agent: http.Agent;
}

function requestOnce(
  url: URL,
  hostname: string,
  method: 'POST' | 'GET',
  body: string | undefined,
  headers: Record<string, string>,
  { policy, deadline, lookup, agent }: HopOptions,
): Promise<Hop> {
  const host = url.host;
  return new Promise<Hop>((resolve) => {
    let settled = false;
    const finish = (hop: Hop) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(responseTimer);
      resolve(hop);
    };
    const fail = (failure: OutboundFailure, message: string) => {
      finish({ kind: 'failure', failure, message });
      req.destroy();
    };

    const requestHeaders: Record<string, string> = { ...headers };
    if (body === undefined) {
      for (const k of Object.keys(requestHeaders)) if (/^content-(type|length)$/i.test(k)) delete requestHeaders[k];
    } else {
      requestHeaders['content-length'] = String(Buffer.byteLength(body));
    }
    const transport = url.protocol === 'https:' ? https : http;
    const req = transport.request({
      method,
      protocol: url.protocol,
      hostname,
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      headers: requestHeaders,
      auth: url.username ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` : undefined,
      lookup,
      agent,
    });

    const connectTimer = setTimeout(
      () => fail('connect_timeout', `no connection to host ${host} within ${policy.connectTimeoutMs} ms`),
      Math.min(policy.connectTimeoutMs, Math.max(0, deadline - Date.now())),
    );
    const responseTimer = setTimeout(
      () => fail('response_timeout', `host ${host} did not answer within ${policy.responseTimeoutMs} ms`),
      Math.max(0, deadline - Date.now()),
    );
    req.on('socket', (socket) => {
      const connected = () => clearTimeout(connectTimer);
      if (!socket.connecting) connected();
      socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof BlockedAddressError) return fail('blocked_address', err.message);
      if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN' || err.code === 'ENODATA') {
        return fail('dns_failure', `host ${host} could not be resolved (${err.code})`);
      }
      // err.message can quote the request; name the code and host only.
      fail('connection_error', `connection to host ${host} failed (${err.code ?? err.name})`);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      let truncated = false;
      const done = () =>
        finish({
          kind: 'response',
          status: res.statusCode ?? 0,
          location: typeof res.headers.location === 'string' ? res.headers.location : undefined,
          retryAfter: typeof res.headers['retry-after'] === 'string' ? res.headers['retry-after'] : undefined,
          body: Buffer.concat(chunks).toString('utf8'),
          truncated,
        });
      res.on('data', (chunk: Buffer) => {
        if (truncated) return;
        const room = policy.maxResponseBytes - kept;
        if (chunk.length > room) {
          chunks.push(chunk.subarray(0, room));
          kept += room;
          truncated = true;
          done();
          res.destroy();
          return;
        }
        chunks.push(chunk);
        kept += chunk.length;
      });
      res.on('end', done);
      res.on('error', () => {
        if (!truncated) fail('connection_error', `host ${host} closed the connection mid-response`);
      });
    });
    req.end(body);
  });
}

/** Retry-After as whole seconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return Number(text);
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}

/** The production OutboundPost: system DNS, every check on. */
export const safePost: OutboundPost = createSafePost();
