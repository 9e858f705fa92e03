import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks (https://www.standardwebhooks.com) symmetric signatures: `whsec_` + base64
 * secret, `v1,` + base64 HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`.
 */

export const WEBHOOK_SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 32;
export const DEFAULT_TOLERANCE_SECONDS = 300;

export type WebhookHeaderName = 'webhook-id' | 'webhook-timestamp' | 'webhook-signature';

export type WebhookVerifyFailureCode =
  | 'missing_headers'
  | 'invalid_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'invalid_signature'
  | 'invalid_secret';

export type WebhookVerifyResult =
  | { ok: true; id: string; timestamp: number }
  | { ok: false; code: WebhookVerifyFailureCode; message: string };

export class WebhookSecretError extends Error {
  readonly code = 'invalid_secret';
  constructor() {
    // Never the secret itself.
    super('invalid_secret: not a Standard Webhooks secret (whsec_ followed by base64 of at least one byte)');
    this.name = 'WebhookSecretError';
  }
}

/** A fresh `whsec_…` secret: 32 random bytes, base64. */
export function generateWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;

/** The HMAC key: the base64 after `whsec_` (the prefix is optional, as in the reference libraries). */
export function webhookSecretKey(secret: string): Buffer {
  const encoded = secret.startsWith(WEBHOOK_SECRET_PREFIX) ? secret.slice(WEBHOOK_SECRET_PREFIX.length) : secret;
  if (encoded.length === 0 || !BASE64.test(encoded)) throw new WebhookSecretError();
  const key = Buffer.from(encoded, 'base64');
  if (key.length === 0) throw new WebhookSecretError();
  return key;
}

function hmac(key: Buffer, msgId: string, timestampSeconds: number, body: string): Buffer {
  return createHmac('sha256', key).update(`${msgId}.${timestampSeconds}.${body}`, 'utf8').digest();
}

/** `v1,<base64 signature>` for one message. */
export function signWebhook(secret: string, msgId: string, timestampSeconds: number, body: string): string {
  if (!Number.isSafeInteger(timestampSeconds)) throw new RangeError('timestampSeconds must be an integer');
  return `v1,${hmac(webhookSecretKey(secret), msgId, timestampSeconds, body).toString('base64')}`;
}

/** The three headers a delivery carries. */
export function webhookHeaders(
  secret: string,
  msgId: string,
  timestampSeconds: number,
  body: string,
): Record<WebhookHeaderName, string> {
  return {
    'webhook-id': msgId,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': signWebhook(secret, msgId, timestampSeconds, body),
  };
}

function header(headers: Record<string, string | string[] | undefined>, name: WebhookHeaderName): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue;
    const v = Array.isArray(value) ? value[0] : value;
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
}

/**
 * Verify a received webhook: the headers (names case-insensitive), the timestamp within
 * ±toleranceSeconds of now (replays rejected), and any one of the space-separated `v1,`
 * signatures matching (several are sent during a secret rotation), compared in constant time.
 */
export function verifyWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  options: { now?: Date; toleranceSeconds?: number } = {},
): WebhookVerifyResult {
  let key: Buffer;
  try {
    key = webhookSecretKey(secret);
  } catch {
    return { ok: false, code: 'invalid_secret', message: 'the configured secret is not a whsec_ base64 secret' };
  }
  const id = header(headers, 'webhook-id');
  const timestampText = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (id === undefined || timestampText === undefined || signatures === undefined) {
    const missing = (['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const).filter(
      (n) => header(headers, n) === undefined,
    );
    return { ok: false, code: 'missing_headers', message: `missing header(s): ${missing.join(', ')}` };
  }
  if (!/^\d{1,15}$/.test(timestampText.trim())) {
    return { ok: false, code: 'invalid_timestamp', message: 'webhook-timestamp is not an integer of Unix seconds' };
  }
  const timestamp = Number(timestampText.trim());
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const nowSeconds = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (timestamp < nowSeconds - tolerance) {
    return { ok: false, code: 'timestamp_too_old', message: `webhook-timestamp is more than ${tolerance}s old` };
  }
  if (timestamp > nowSeconds + tolerance) {
    return {
      ok: false,
      code: 'timestamp_too_new',
      message: `webhook-timestamp is more than ${tolerance}s in the future`,
    };
  }
  const expected = hmac(key, id, timestamp, body);
  let matched = false;
  for (const entry of signatures.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    const encoded = entry.slice(comma + 1);
    const given = Buffer.from(encoded, 'base64');
    // Buffer's base64 decoder skips junk; only a canonical encoding counts as that signature.
    if (given.toString('base64') !== encoded) continue;
    // Checking every entry (no early exit) keeps the time independent of which one matched.
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  if (!matched) return { ok: false, code: 'invalid_signature', message: 'no v1 signature matches the body' };
  return { ok: true, id, timestamp };
}
