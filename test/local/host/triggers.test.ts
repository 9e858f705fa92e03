import { randomBytes } from 'node:crypto';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../../local/runtime';
import { appEvents, clearAppEvents, collectLogs, TEST_APP, VirtualClock } from './support';

const MASTER = 'master-key-for-trigger-tests';
const container = `trig-${randomBytes(4).toString('hex')}`;
const hostId = `triggers-${container}`;

describe('local host: blob and timer triggers on the test app', () => {
  let runtime: LocalRuntime;
  let blobs: ContainerClient;
  const clock = new VirtualClock(new Date('2026-01-01T00:02:30Z'));
  const { logs, logger } = collectLogs();

  const start = () =>
    startLocalRuntime({
      appRoot: TEST_APP,
      storage: { connectionString: inject('azurite').connectionString },
      port: 0,
      keys: { master: MASTER },
      logger,
      clock,
      blobScanIntervalMs: 0,
      hostId,
      environment: process.env,
      appSettings: { TEST_APP_CONTAINER: container },
    });

  const put = async (name: string, text: string) => {
    await blobs.getBlockBlobClient(name).upload(text, Buffer.byteLength(text));
  };

  beforeAll(async () => {
    blobs = BlobServiceClient.fromConnectionString(inject('azurite').connectionString).getContainerClient(container);
    await blobs.create();
    runtime = await start();
  });

  afterAll(async () => {
    await runtime?.stop();
  });

  it('runs a runOnStartup timer once at start, with the timer object camel-cased', () => {
    const [startup] = appEvents('onStartup');
    expect(appEvents('onStartup')).toHaveLength(1);
    expect(startup?.timer).toEqual({
      isPastDue: false,
      schedule: { adjustForDST: true },
      scheduleStatus: {
        last: '1970-01-01T00:00:00.000Z',
        next: '2027-01-01T00:00:00.000Z',
        lastUpdated: '2026-01-01T00:02:30.000Z',
      },
    });
  });

  it('fires a timer on its six-field schedule as the (virtual) clock passes it', async () => {
    expect(
      runtime.host
        .timers()
        .find((t) => t.functionName === 'everyFiveMinutes')
        ?.next?.toISOString(),
    ).toBe('2026-01-01T00:05:00.000Z');
    clock.advance(2 * 60_000); // 00:04:30
    expect(appEvents('everyFiveMinutes')).toHaveLength(0);
    clock.advance(30_000); // 00:05:00
    await vi.waitFor(() => expect(appEvents('everyFiveMinutes')).toHaveLength(1));
    clock.advance(5 * 60_000); // 00:10:00
    await vi.waitFor(() => expect(appEvents('everyFiveMinutes')).toHaveLength(2));
    const [first, second] = appEvents('everyFiveMinutes');
    expect(first?.timer).toMatchObject({ isPastDue: false, scheduleStatus: { next: '2026-01-01T00:10:00.000Z' } });
    expect(second?.timer).toMatchObject({
      scheduleStatus: { last: '2026-01-01T00:05:00.000Z', next: '2026-01-01T00:15:00.000Z' },
    });
    expect(second?.functionName).toBe('everyFiveMinutes');
  });

  it('fires a timer on demand: fireTimer() and POST /admin/functions/{name} with the master key', async () => {
    const before = appEvents('everyFiveMinutes').length;
    await runtime.host.fireTimer('everyFiveMinutes');
    expect(appEvents('everyFiveMinutes')).toHaveLength(before + 1);
    const url = `${runtime.host.baseUrl}/admin/functions/everyFiveMinutes`;
    expect((await fetch(url, { method: 'POST', body: '{}' })).status).toBe(401);
    const res = await fetch(url, { method: 'POST', body: '{}', headers: { 'x-functions-key': MASTER } });
    expect(res.status).toBe(202);
    await vi.waitFor(() => expect(appEvents('everyFiveMinutes')).toHaveLength(before + 2));
  });

  it('fires a blob trigger once per ETag, with path parameters and blob metadata, and writes its blob output', async () => {
    await put('drops/team-a/data.json', 'v1');
    const fired = await runtime.host.scanBlobs();
    expect(fired.map((f) => [f.functionName, f.blobPath, f.outcome])).toEqual([
      ['onDrop', `${container}/drops/team-a/data.json`, 'succeeded'],
    ]);
    const [event] = appEvents('onDrop');
    expect(event).toMatchObject({ content: 'v1', isBuffer: true });
    const metadata = event?.triggerMetadata as Record<string, unknown>;
    expect(metadata).toMatchObject({
      team: 'team-a',
      file: 'data',
      blobTrigger: `${container}/drops/team-a/data.json`,
      uri: expect.stringContaining(`/${container}/drops/team-a/data.json`),
      metadata: {},
    });
    expect(metadata.properties).toMatchObject({ contentLength: 2, eTag: fired[0]?.etag, blobType: 'Block' });
    const copy = await BlobServiceClient.fromConnectionString(inject('azurite').connectionString)
      .getContainerClient(`${container}-copies`)
      .getBlobClient('team-a/data.copy')
      .downloadToBuffer();
    expect(copy.toString()).toBe('copy of v1');

    expect(await runtime.host.scanBlobs()).toEqual([]);
    expect(appEvents('onDrop')).toHaveLength(1);
  });

  it('does not fire for blobs outside the pattern', async () => {
    await put('other/x.json', 'nope');
    await put('drops/team-a/readme.txt', 'nope');
    await put('drops-not/team-a/a.json', 'nope');
    expect(await runtime.host.scanBlobs()).toEqual([]);
    expect(appEvents('onDrop')).toHaveLength(1);
  });

  it('fires again when the blob changes (new ETag)', async () => {
    await put('drops/team-a/data.json', 'v2');
    const fired = await runtime.host.scanBlobs();
    expect(fired).toHaveLength(1);
    expect(appEvents('onDrop').map((e) => e.content)).toEqual(['v1', 'v2']);
  });

  it('drives source: EventGrid registrations by the same container scan', async () => {
    await put('eventgrid/note.txt', 'hello grid');
    await runtime.host.scanBlobs();
    expect(appEvents('onEventGridDrop')).toEqual([
      { kind: 'onEventGridDrop', name: 'note.txt', content: 'hello grid' },
    ]);
  });

  it('retries a failing blob on later scans and gives up after 5 attempts', async () => {
    await put('failing/bad.txt', 'bad');
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      for (const f of await runtime.host.scanBlobs()) outcomes.push(f.outcome);
    }
    expect(outcomes).toEqual(['failed', 'failed', 'failed', 'failed', 'poisoned']);
    expect(logs.some((l) => l.level === 'error' && l.message.includes('poisoned'))).toBe(true);
  });

  it('after a restart does not fire again for blobs already handled, but does for new ones; appTerminate ran', async () => {
    await runtime.stop();
    expect(appEvents('appTerminate')).toEqual([{ kind: 'appTerminate', startedAt: 'app-start' }]);
    clearAppEvents();
    runtime = await start();
    expect(runtime.host.functions.has('onDrop')).toBe(true);
    expect(await runtime.host.scanBlobs()).toEqual([]);
    expect(appEvents('onDrop')).toHaveLength(0);
    await put('drops/team-b/fresh.json', 'new');
    const fired = await runtime.host.scanBlobs();
    expect(fired.map((f) => f.blobPath)).toEqual([`${container}/drops/team-b/fresh.json`]);
    expect(appEvents('onDrop').map((e) => e.content)).toEqual(['new']);
  });
});
