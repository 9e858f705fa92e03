import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TableClient } from '@azure/data-tables';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { TableReplayLog } from '../../../shared/api/inboundSignature';
import { createRunRoute } from '../../../shared/api/routes/runs';
import { TABLES } from '../../../shared/config/resources';
import { generateWebhookSecret, webhookHeaders } from '../../../shared/webhooks/signing';
import { apiDeps, azuriteServices, configureTeam, invoke, REPO, RecordingDurableClient, uploadBlob } from './support';

const team = `api-sig-${randomUUID().slice(0, 8)}`;
const manifest = JSON.parse(readFileSync(path.join(REPO, 'examples', 'sql-instructions', 'run.json'), 'utf8'));
const secret = generateWebhookSecret();
const now = new Date('2026-11-27T21:00:00Z');
const nowSeconds = Math.floor(now.getTime() / 1000);

describe('POST /api/runs with TUNEDROP_INBOUND_WEBHOOK_SECRET (Standard Webhooks)', () => {
  const services = azuriteServices(inject('azurite').connectionString, { TUNEDROP_INBOUND_WEBHOOK_SECRET: secret });
  const durable = new RecordingDurableClient();
  const deps = { ...apiDeps(services, durable), now: () => now };
  const body = JSON.stringify({ team, dataset: 'signed', manifest });
  const signed = (msgId: string, timestamp: number, payload = body) =>
    invoke(createRunRoute, deps, { body: payload, headers: webhookHeaders(secret, msgId, timestamp, body) });

  beforeAll(async () => {
    await configureTeam(services, team);
    await uploadBlob(
      services,
      `${team}/signed/train.jsonl`,
      readFileSync(path.join(REPO, 'examples', 'sql-instructions', 'train.jsonl')),
    );
  });

  it('accepts a valid signature and starts the run', async () => {
    const res = await signed(`msg_${randomUUID()}`, nowSeconds - 10);
    expect(res.status, res.text).toBe(202);
    expect(durable.started.size).toBe(1);
  });

  it('rejects a tampered body, an old timestamp, missing headers and a wrong secret with 401 invalid_signature', async () => {
    const tampered = await signed(`msg_${randomUUID()}`, nowSeconds, body.replace('"signed"', '"signex"'));
    expect(tampered.status).toBe(401);
    expect(tampered.json()).toMatchObject({ code: 'invalid_signature', reason: 'invalid_signature' });

    const old = await signed(`msg_${randomUUID()}`, nowSeconds - 301);
    expect(old.status).toBe(401);
    expect(old.json()).toMatchObject({ code: 'invalid_signature', reason: 'timestamp_too_old' });

    const unsignedGarbage = await invoke(createRunRoute, deps, { body: '{"team":' });
    expect(unsignedGarbage.status).toBe(401);

    const unsigned = await invoke(createRunRoute, deps, { body });
    expect(unsigned.status).toBe(401);
    expect(unsigned.json()).toMatchObject({ code: 'invalid_signature', reason: 'missing_headers' });
    expect(String(unsigned.json().detail)).toContain('webhook-id');

    const other = generateWebhookSecret();
    const wrong = await invoke(createRunRoute, deps, {
      body,
      headers: webhookHeaders(other, `msg_${randomUUID()}`, nowSeconds, body),
    });
    expect(wrong.status).toBe(401);
    for (const res of [tampered, old, unsigned, wrong]) {
      expect(res.text).not.toContain(secret.slice(6));
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    }
    expect(durable.started.size).toBe(1);
  });

  it('rejects a replayed webhook-id with 409 webhook_replayed, even from another instance', async () => {
    const msgId = `msg_${randomUUID()}`;
    const first = await signed(msgId, nowSeconds);
    expect(first.status, first.text).not.toBe(401);
    expect(first.status).not.toBe(409);
    // A second app instance: same storage, its own deps.
    const otherInstance = { ...apiDeps(services, new RecordingDurableClient()), now: () => now };
    const replay = await invoke(createRunRoute, otherInstance, {
      body,
      headers: webhookHeaders(secret, msgId, nowSeconds, body),
    });
    expect(replay.status).toBe(409);
    expect(replay.json()).toMatchObject({ code: 'webhook_replayed' });
  });

  it('forgets ids once their timestamp is past the tolerance (they can no longer verify), and only those', async () => {
    const log = new TableReplayLog(
      TableClient.fromConnectionString(services.connectionString, TABLES.intake, { allowInsecureConnection: true }),
    );
    const stale = `msg_${randomUUID()}`;
    const fresh = `msg_${randomUUID()}`;
    const later = new Date(now.getTime() + 3_600_000);
    const laterSeconds = Math.floor(later.getTime() / 1000);
    expect(await log.rememberOnce(stale, laterSeconds - 301, later)).toBe(true);
    expect(await log.rememberOnce(fresh, laterSeconds - 10, later)).toBe(true);
    // Remembering `fresh` pruned `stale`; `fresh` is still a replay.
    expect(await log.rememberOnce(stale, laterSeconds - 301, later)).toBe(true);
    expect(await log.rememberOnce(fresh, laterSeconds - 10, later)).toBe(false);
    expect(await log.pruneExpired(new Date(later.getTime() + 301_000))).toBeGreaterThanOrEqual(1);
    expect(await log.rememberOnce(fresh, laterSeconds - 10, later)).toBe(true);
  });
});
