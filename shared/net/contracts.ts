/**
 * Outbound HTTP to addresses users configure (webhook endpoints, Teams/Slack webhooks). The
 * implementation (shared/net/outbound.ts) refuses targets that are not https (http only to
 * loopback when `allowLoopbackHttp`), resolve to private/loopback/link-local addresses (checked
 * at connect time, so DNS rebinding does not get around it), or redirect to such places; it
 * caps connect/response time and the response body it reads.
 */
export interface OutboundPolicy {
  /** Local mode: http:// to 127.0.0.1/::1/localhost is allowed (and only that). */
  allowLoopbackHttp: boolean;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  /** Bytes of response body kept; the rest is discarded. */
  maxResponseBytes: number;
  maxRedirects: number;
}

export const DEFAULT_OUTBOUND_POLICY: OutboundPolicy = {
  allowLoopbackHttp: false,
  connectTimeoutMs: 5_000,
  responseTimeoutMs: 15_000,
  maxResponseBytes: 64 * 1024,
  maxRedirects: 3,
};

export type OutboundFailure =
  | 'invalid_url'
  | 'scheme_not_allowed'
  | 'blocked_address'
  | 'dns_failure'
  | 'connect_timeout'
  | 'response_timeout'
  | 'connection_error'
  | 'too_many_redirects';

export type OutboundResult =
  | { ok: true; status: number; body: string; truncated: boolean }
  /**
   * Reached the server, which answered non-2xx (after following allowed redirects).
   * `retryAfterSeconds`: its Retry-After header (seconds or HTTP date), when it sent a valid one.
   */
  | { ok: false; status: number; body: string; truncated: boolean; retryAfterSeconds?: number }
  /** Never got an HTTP answer: `failure` says why (messages never include the URL's secret parts). */
  | { ok: false; failure: OutboundFailure; message: string };

export type OutboundPost = (
  url: string,
  body: string,
  headers: Record<string, string>,
  policy?: Partial<OutboundPolicy>,
) => Promise<OutboundResult>;
