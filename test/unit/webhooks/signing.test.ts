import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  generateWebhookSecret,
  signWebhook,
  verifyWebhook,
  WebhookSecretError,
  webhookHeaders,
} from '../../../shared/webhooks/signing';

// The published vector of standard-webhooks/standard-webhooks (libraries/javascript/src/webhook.test.ts,
// "sign function works"); every reference library reproduces it.
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  msgId: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const atVector = { now: new Date(VECTOR.timestamp * 1000) };
const vectorHeaders = () => ({
  'webhook-id': VECTOR.msgId,
  'webhook-timestamp': String(VECTOR.timestamp),
  'webhook-signature': VECTOR.signature,
});

describe('Standard Webhooks signing', () => {
  it('reproduces the published test vector, with or without the whsec_ prefix', () => {
    expect(signWebhook(VECTOR.secret, VECTOR.msgId, VECTOR.timestamp, VECTOR.body)).toBe(VECTOR.signature);
    expect(signWebhook(VECTOR.secret.slice(6), VECTOR.msgId, VECTOR.timestamp, VECTOR.body)).toBe(VECTOR.signature);
    expect(webhookHeaders(VECTOR.secret, VECTOR.msgId, VECTOR.timestamp, VECTOR.body)).toEqual(vectorHeaders());
  });

  it('verifies the published vector', () => {
    expect(verifyWebhook(VECTOR.secret, vectorHeaders(), VECTOR.body, atVector)).toEqual({
      ok: true,
      id: VECTOR.msgId,
      timestamp: VECTOR.timestamp,
    });
  });

  it('reads header names case-insensitively and array values (node IncomingHttpHeaders)', () => {
    const headers = {
      'Webhook-Id': VECTOR.msgId,
      'WEBHOOK-TIMESTAMP': [String(VECTOR.timestamp)],
      'webhook-Signature': VECTOR.signature,
    };
    expect(verifyWebhook(VECTOR.secret, headers, VECTOR.body, atVector).ok).toBe(true);
  });

  it('accepts when any one of several space-separated signatures matches (secret rotation)', () => {
    const other = signWebhook(generateWebhookSecret(), VECTOR.msgId, VECTOR.timestamp, VECTOR.body);
    const headers = {
      ...vectorHeaders(),
      'webhook-signature': `${other} v1a,${'A'.repeat(86)}== v2,abc ${VECTOR.signature}`,
    };
    expect(verifyWebhook(VECTOR.secret, headers, VECTOR.body, atVector).ok).toBe(true);
    expect(
      verifyWebhook(VECTOR.secret, { ...headers, 'webhook-signature': other }, VECTOR.body, atVector),
    ).toMatchObject({ ok: false, code: 'invalid_signature' });
  });

  it('rejects a tampered body, id or timestamp', () => {
    expect(verifyWebhook(VECTOR.secret, vectorHeaders(), '{"test": 2432232315}', atVector)).toMatchObject({
      ok: false,
      code: 'invalid_signature',
    });
    expect(
      verifyWebhook(VECTOR.secret, { ...vectorHeaders(), 'webhook-id': 'msg_other' }, VECTOR.body, atVector),
    ).toMatchObject({ ok: false, code: 'invalid_signature' });
    const oneSecondLater = { ...vectorHeaders(), 'webhook-timestamp': String(VECTOR.timestamp + 1) };
    expect(verifyWebhook(VECTOR.secret, oneSecondLater, VECTOR.body, atVector)).toMatchObject({
      ok: false,
      code: 'invalid_signature',
    });
  });

  it('rejects the wrong secret', () => {
    expect(verifyWebhook(generateWebhookSecret(), vectorHeaders(), VECTOR.body, atVector)).toMatchObject({
      ok: false,
      code: 'invalid_signature',
    });
  });

  it('rejects timestamps outside the tolerance (default 5 minutes) in both directions', () => {
    const at = (offsetSeconds: number) => ({ now: new Date((VECTOR.timestamp + offsetSeconds) * 1000) });
    expect(verifyWebhook(VECTOR.secret, vectorHeaders(), VECTOR.body, at(300)).ok).toBe(true);
    expect(verifyWebhook(VECTOR.secret, vectorHeaders(), VECTOR.body, at(-300)).ok).toBe(true);
    expect(verifyWebhook(VECTOR.secret, vectorHeaders(), VECTOR.body, at(301))).toMatchObject({
      ok: false,
      code: 'timestamp_too_old',
    });
    expect(verifyWebhook(VECTOR.secret, vectorHeaders(), VECTOR.body, at(-301))).toMatchObject({
      ok: false,
      code: 'timestamp_too_new',
    });
    expect(verifyWebhook(VECTOR.secret, vectorHeaders(), VECTOR.body, { ...at(301), toleranceSeconds: 3600 }).ok).toBe(
      true,
    );
  });

  it('codes missing headers, a malformed timestamp, a malformed signature and a bad secret', () => {
    const { 'webhook-signature': _, ...noSignature } = vectorHeaders();
    const missing = verifyWebhook(VECTOR.secret, noSignature, VECTOR.body, atVector);
    expect(missing).toMatchObject({ ok: false, code: 'missing_headers' });
    expect(!missing.ok && missing.message).toContain('webhook-signature');
    for (const ts of ['hello', '1614265330.5', '-1', '']) {
      expect(
        verifyWebhook(VECTOR.secret, { ...vectorHeaders(), 'webhook-timestamp': ts }, VECTOR.body, atVector).ok,
      ).toBe(false);
    }
    expect(
      verifyWebhook(VECTOR.secret, { ...vectorHeaders(), 'webhook-timestamp': 'hello' }, VECTOR.body, atVector),
    ).toMatchObject({ code: 'invalid_timestamp' });
    for (const sig of ['v1,', 'v1,dawfeoifkpqwoekfpqoekf', VECTOR.signature.slice(0, 8), `${VECTOR.signature}!!`]) {
      expect(
        verifyWebhook(VECTOR.secret, { ...vectorHeaders(), 'webhook-signature': sig }, VECTOR.body, atVector),
      ).toMatchObject({ ok: false, code: 'invalid_signature' });
    }
    for (const secret of ['', 'whsec_', 'whsec_not base64!']) {
      expect(verifyWebhook(secret, vectorHeaders(), VECTOR.body, atVector)).toMatchObject({
        ok: false,
        code: 'invalid_secret',
      });
      expect(() => signWebhook(secret, 'm', 1, '')).toThrow(WebhookSecretError);
    }
  });

  it('generates distinct whsec_ secrets of 32 random bytes', () => {
    const a = generateWebhookSecret();
    const b = generateWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(a.slice(6), 'base64')).toHaveLength(32);
    expect(a).not.toBe(b);
  });

  it('interoperates with the standardwebhooks npm package both ways', () => {
    const secret = generateWebhookSecret();
    const body = JSON.stringify({ type: 'tunedrop.run.completed', data: { runId: 'run-1', note: 'é ✓' } });
    const now = new Date();
    const ts = Math.floor(now.getTime() / 1000);
    const reference = new Webhook(secret);
    expect(() => reference.verify(body, webhookHeaders(secret, 'evt_1', ts, body))).not.toThrow();
    const theirs = reference.sign('evt_2', now, body);
    const headers = { 'webhook-id': 'evt_2', 'webhook-timestamp': String(ts), 'webhook-signature': theirs };
    expect(verifyWebhook(secret, headers, body, { now })).toEqual({ ok: true, id: 'evt_2', timestamp: ts });
  });
});
