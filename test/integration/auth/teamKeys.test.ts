import { randomBytes } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { describe, expect, inject, it } from 'vitest';
import { TeamKeyStore } from '../../../shared/auth/teamKeys';

describe('team keys in Azure Tables (Azurite)', () => {
  const table = TableClient.fromConnectionString(
    inject('azurite').connectionString,
    `teamKeys${randomBytes(4).toString('hex')}`,
    { allowInsecureConnection: true },
  );
  let now = new Date('2026-11-30T03:00:00Z');
  const store = new TeamKeyStore(table, () => now);

  it('stores only a hash, verifies the exact key, records last use at most once a minute', async () => {
    await store.ensure();
    const created = await store.create({ team: 'support', actions: ['read', 'start'], description: 'ci' }, 'entra:t/o');
    expect(created.key).toMatch(/^tdk_[0-9a-f]{20}\.[A-Za-z0-9_-]{43}$/);
    const secret = created.key.split('.')[1] ?? '';
    const row = await table.getEntity('teamkey', created.id);
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(row.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await store.get(created.id)).not.toHaveProperty('key');

    expect(await store.verify(created.key)).toMatchObject({
      id: created.id,
      team: 'support',
      actions: ['read', 'start'],
    });
    expect((await store.get(created.id))?.lastUsedAt).toBe('2026-11-30T03:00:00.000Z');
    now = new Date('2026-11-30T03:00:30Z');
    await store.verify(created.key);
    expect((await store.get(created.id))?.lastUsedAt).toBe('2026-11-30T03:00:00.000Z');
    now = new Date('2026-11-30T03:02:00Z');
    await store.verify(created.key);
    expect((await store.get(created.id))?.lastUsedAt).toBe('2026-11-30T03:02:00.000Z');

    const flipped = created.key.slice(0, -1) + (created.key.endsWith('A') ? 'B' : 'A');
    expect(await store.verify(flipped)).toBeUndefined();
    expect(await store.verify(`tdk_${'0'.repeat(20)}.${secret}`)).toBeUndefined();
    expect(await store.verify('host-key-0123456789')).toBeUndefined();
  });

  it('a revoked or expired key never verifies again; lists are per team and never carry the key', async () => {
    const revoked = await store.create({ team: 'ops', actions: ['read'] }, 'entra:t/o');
    expect(await store.verify(revoked.key)).toBeDefined();
    const first = await store.revoke(revoked.id);
    expect(first?.revokedAt).toBeDefined();
    expect((await store.revoke(revoked.id))?.revokedAt).toBe(first?.revokedAt);
    expect(await store.verify(revoked.key)).toBeUndefined();

    const expiring = await store.create({ team: 'ops', actions: ['read'], expiresInDays: 1 }, 'entra:t/o');
    expect(await store.verify(expiring.key)).toBeDefined();
    now = new Date(now.getTime() + 86_400_000);
    expect(await store.verify(expiring.key)).toBeUndefined();

    const ops = await store.list({ teams: ['ops'] });
    expect(ops.map((k) => k.id).sort()).toEqual([revoked.id, expiring.id].sort());
    expect(JSON.stringify(ops)).not.toContain(revoked.key);
    expect(await store.list({ teams: [] })).toEqual([]);
    expect((await store.list({ teams: 'all' })).length).toBe(3);
    expect(await store.revoke('0123456789abcdef0123')).toBeUndefined();
  });
});
