import type { Readable } from 'node:stream';
import type { AccessToken, TokenCredential } from '@azure/identity';
import {
  isProviderError,
  ProviderError,
  type ProviderErrorCode,
  providerErrorCodeFor,
  secureProviderEndpoint,
} from './provider';
import { RetryBudget, type RetryPolicy } from './retry';

/** The Entra ID application id of the Azure Databricks resource. */
export const AZURE_DATABRICKS_SCOPE = '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default';

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface HttpLogEntry {
  level: 'debug' | 'warn';
  message: string;
  operation: string;
  attempt?: number;
  status?: number;
  delayMs?: number;
  code?: ProviderErrorCode;
}

export interface DatabricksConnection {
  /** `https://adb-1234567890123456.7.azuredatabricks.net` */
  workspaceUrl: string;
  /** A personal access token, or an Entra ID credential (scope {@link AZURE_DATABRICKS_SCOPE}). */
  auth: string | TokenCredential;
  /** Per-request timeout; default 30 s. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  fetch?: FetchLike;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  /** 0 ≤ x < 1, for jitter. */
  random?: () => number;
  log?: (entry: HttpLogEntry) => void;
}

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  json?: unknown;
  /** A streamed body. Single-use, so a request with a stream is never retried here. */
  stream?: Readable;
  headers?: Record<string, string>;
  /** Name used in logs and errors. */
  operation: string;
  /** Retry transport failures and 429/5xx; default true. */
  retry?: boolean;
  /** Per-request timeout override (a big upload needs longer than a status read). */
  timeoutMs?: number;
  /** Read the body as bytes (`body`) instead of text: file contents, which need not be UTF-8. */
  bytes?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
  /** With `bytes: true` on the request. */
  body?: Buffer;
}

/**
 * Databricks REST transport: auth header, per-request timeout, retries with exponential backoff and
 * full jitter, `Retry-After` honoured on 429 and 5xx, no retry on other 4xx. Every failure becomes a
 * {@link ProviderError}; nothing it logs or throws contains the token.
 */
export class DatabricksHttp {
  private readonly baseUrl: string;
  private readonly fetchImpl: FetchLike;
  private readonly now: () => number;
  /** The one retry budget of the Databricks adapter (this transport and the provider's create). */
  readonly retryBudget: RetryBudget;
  private readonly timeoutMs: number;
  private cachedToken?: AccessToken;

  constructor(private readonly connection: DatabricksConnection) {
    // The token travels in a header: plain http only to this machine (the emulator).
    const url = secureProviderEndpoint(connection.workspaceUrl, {
      invalid: 'Databricks workspace URL',
      insecure: 'workspace URL',
    });
    this.baseUrl = `${url.protocol}//${url.host}`;
    this.fetchImpl = connection.fetch ?? ((u, init) => fetch(u, init));
    this.now = connection.now ?? Date.now;
    this.retryBudget = new RetryBudget(connection.retry, {
      sleep: connection.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      random: connection.random ?? Math.random,
    });
    this.timeoutMs = connection.timeoutMs ?? 30_000;
  }

  get workspaceUrl(): string {
    return this.baseUrl;
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    return this.retryBudget.run(
      async () => {
        const response = await this.once(req);
        if (response.status < 400) return response;
        throw errorFromResponse(response, req.operation, this.now());
      },
      {
        retry: !(req.retry === false || req.stream),
        normalize: (e) => this.redacted(e instanceof ProviderError ? e : transportError(e, req.operation)),
        onGiveUp: (error, attempt) => {
          if (!isProviderError(error)) return;
          this.log({
            level: 'warn',
            message: 'request failed',
            operation: req.operation,
            attempt,
            code: error.code,
            status: error.details.status,
          });
        },
        onRetry: (error, attempt, delayMs) =>
          this.log({
            level: 'warn',
            message: 'retrying',
            operation: req.operation,
            attempt,
            code: error.code,
            status: error.details.status,
            delayMs,
          }),
      },
    );
  }

  /** Parse a JSON response body, throwing `invalid_response` when it is not JSON. */
  static json(response: HttpResponse, operation: string): unknown {
    try {
      return response.text ? JSON.parse(response.text) : {};
    } catch {
      throw new ProviderError('invalid_response', `${operation}: the response is not JSON (HTTP ${response.status})`, {
        status: response.status,
        operation,
      });
    }
  }

  /** Delay before retry number `attempt` (1-based): Retry-After when the server gave one, else exponential with jitter. */
  backoffDelay(attempt: number, retryAfterMs: number | undefined): number {
    return this.retryBudget.backoffDelay(attempt, retryAfterMs);
  }

  private async once(req: HttpRequest): Promise<HttpResponse> {
    const url = new URL(req.path, this.baseUrl);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = {
      Authorization: `Bearer ${await this.token()}`,
      'User-Agent': 'tunedrop',
      ...req.headers,
    };
    const init: RequestInit & { duplex?: 'half' } = { method: req.method, headers };
    if (req.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(req.json);
    } else if (req.stream) {
      headers['Content-Type'] ??= 'application/octet-stream';
      // A Node Readable is an AsyncIterable<Uint8Array>: fetch streams it chunk by chunk.
      init.body = req.stream as unknown as AsyncIterable<Uint8Array>;
      init.duplex = 'half';
    }
    const controller = new AbortController();
    const timeoutMs = req.timeoutMs ?? this.timeoutMs;
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    init.signal = controller.signal;
    try {
      const response = await this.fetchImpl(url.toString(), init);
      if (req.bytes && response.ok) {
        return {
          status: response.status,
          headers: response.headers,
          text: '',
          body: Buffer.from(await response.arrayBuffer()),
        };
      }
      const text = req.method === 'HEAD' ? '' : await response.text();
      return { status: response.status, headers: response.headers, text };
    } catch (e) {
      if (controller.signal.aborted) {
        throw new ProviderError('timeout', `${req.operation}: no response within ${timeoutMs} ms`, {
          operation: req.operation,
        });
      }
      throw transportError(e, req.operation);
    } finally {
      clearTimeout(timer);
    }
  }

  private async token(): Promise<string> {
    const auth = this.connection.auth;
    if (typeof auth === 'string') return auth;
    const cached = this.cachedToken;
    if (cached && cached.expiresOnTimestamp - this.now() > 5 * 60_000) return cached.token;
    let fresh: AccessToken | null;
    try {
      fresh = await auth.getToken(AZURE_DATABRICKS_SCOPE);
    } catch (e) {
      throw new ProviderError('unauthorized', `could not get an Entra ID token for Azure Databricks: ${errorName(e)}`);
    }
    if (!fresh) throw new ProviderError('unauthorized', 'the credential returned no token for Azure Databricks');
    this.cachedToken = fresh;
    return fresh.token;
  }

  /** Belt and braces: a server that echoes the Authorization header must not leak it into our errors. */
  private redacted(error: ProviderError): ProviderError {
    const secret = typeof this.connection.auth === 'string' ? this.connection.auth : this.cachedToken?.token;
    if (!secret || !error.message.includes(secret)) return error;
    return new ProviderError(error.code, error.message.split(secret).join('***'), error.details);
  }

  private log(entry: HttpLogEntry): void {
    this.connection.log?.(entry);
  }
}

function errorName(e: unknown): string {
  return e instanceof Error ? e.name : 'error';
}

function transportError(e: unknown, operation: string): ProviderError {
  // Only the error class and cause code: messages of some transports echo request details.
  const cause =
    e instanceof Error && e.cause instanceof Error
      ? ` (${(e.cause as NodeJS.ErrnoException).code ?? e.cause.name})`
      : '';
  return new ProviderError('unavailable', `${operation}: connection failed: ${errorName(e)}${cause}`, { operation });
}

/** Retry-After: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function errorFromResponse(response: HttpResponse, operation: string, now: number): ProviderError {
  const { status } = response;
  let providerCode: string | undefined;
  let providerMessage: string | undefined;
  try {
    const body = JSON.parse(response.text) as {
      error_code?: unknown;
      message?: unknown;
      errors?: { message?: unknown; extensions?: { code?: unknown } }[];
    };
    if (typeof body.error_code === 'string') providerCode = body.error_code;
    if (typeof body.message === 'string') providerMessage = body.message.slice(0, 500);
    // A GraphQL server answers a malformed document with HTTP 400 and an `errors` array.
    const first = Array.isArray(body.errors) ? body.errors[0] : undefined;
    if (!providerMessage && typeof first?.message === 'string') providerMessage = first.message.slice(0, 500);
    if (!providerCode && typeof first?.extensions?.code === 'string') providerCode = first.extensions.code;
  } catch {
    // not JSON: the status says enough
  }
  const code = providerErrorCodeFor(status);
  const retryAfterMs =
    status === 429 || status >= 500 ? parseRetryAfter(response.headers.get('retry-after'), now) : undefined;
  const suffix = providerMessage ? `: ${providerMessage}` : '';
  return new ProviderError(code, `${operation}: HTTP ${status}${providerCode ? ` ${providerCode}` : ''}${suffix}`, {
    status,
    operation,
    retryAfterMs,
    providerCode,
  });
}
