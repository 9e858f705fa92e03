import type { LookupAddress } from 'node:dns';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOutboundUrl, createSafePost, parseRetryAfter, type ResolveAll } from '../../../shared/net/outbound';

/** A fake DNS: names → addresses, anything else NXDOMAIN; `hang` never answers. */
function fakeDns(table: Record<string, string[]>): ResolveAll & { asked: string[] } {
  const asked: string[] = [];
  const resolve = async (hostname: string): Promise<LookupAddress[]> => {
    asked.push(hostname);
    if (hostname === 'hang.test') return new Promise(() => {});
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { asked });
}

const local = { allowLoopbackHttp: true };
const azure = { allowLoopbackHttp: false };
const SECRET_PATH = '/workflows/abc/triggers/manual/paths/invoke?sig=S3CR3T-SIG';

describe('safePost', () => {
  let server: http.Server;
  let base: string;
  const received: { method: string; url: string; body: string; headers: http.IncomingHttpHeaders }[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        received.push({ method: req.method ?? '', url: req.url ?? '', body, headers: req.headers });
        const path = (req.url ?? '').split('?')[0];
        if (path === '/ok') res.writeHead(200).end('fine');
        else if (path === '/fail') res.writeHead(500).end('boom');
        else if (path === '/busy') res.writeHead(429, { 'retry-after': '30' }).end('slow down');
        else if (path === '/big') res.writeHead(200).end('x'.repeat(1_000_000));
        else if (path === '/slow')
          res.writeHead(200).write('partial'); // never ends
        else if (path === '/hang')
          return; // never answers
        else if (path === '/redirect-307') res.writeHead(307, { location: '/ok' }).end();
        else if (path === '/redirect-303') res.writeHead(303, { location: `${base}/ok` }).end();
        else if (path === '/redirect-private') res.writeHead(307, { location: 'https://10.1.2.3/x' }).end();
        else if (path === '/redirect-metadata') res.writeHead(302, { location: 'http://169.254.169.254/latest' }).end();
        else if (path === '/redirect-name') res.writeHead(308, { location: 'https://internal.test/x' }).end();
        else if (path === '/redirect-loop') res.writeHead(307, { location: '/redirect-loop' }).end();
        else res.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const dns = fakeDns({
    'internal.test': ['10.0.0.7'],
    'mixed.test': ['93.184.216.34', '192.168.0.10'],
    localhost: ['127.0.0.1'],
  });
  const post = createSafePost({ resolveAll: dns });

  it('posts the body and headers to an allowed target and returns a 2xx answer', async () => {
    const r = await post(`${base}/ok`, '{"a":1}', { 'content-type': 'application/json', 'webhook-id': 'evt_1' }, local);
    expect(r).toEqual({ ok: true, status: 200, body: 'fine', truncated: false });
    expect(received.at(-1)).toMatchObject({ method: 'POST', body: '{"a":1}' });
    expect(received.at(-1)?.headers).toMatchObject({ 'content-type': 'application/json', 'webhook-id': 'evt_1' });
  });

  it('returns a non-2xx answer as ok: false with its status and body', async () => {
    expect(await post(`${base}/fail`, '{}', {}, local)).toEqual({
      ok: false,
      status: 500,
      body: 'boom',
      truncated: false,
    });
  });

  it('passes a Retry-After on a non-2xx answer along', async () => {
    expect(await post(`${base}/busy`, '{}', {}, local)).toEqual({
      ok: false,
      status: 429,
      body: 'slow down',
      truncated: false,
      retryAfterSeconds: 30,
    });
  });

  it.each([
    ['http://127.0.0.1/', 'blocked_address'],
    ['https://127.0.0.1/', 'blocked_address'],
    ['https://10.0.0.1/hook', 'blocked_address'],
    ['https://172.20.1.1/', 'blocked_address'],
    ['https://192.168.1.1/', 'blocked_address'],
    ['http://169.254.169.254/latest/meta-data/', 'blocked_address'],
    ['https://169.254.169.254/', 'blocked_address'],
    ['https://100.64.0.1/', 'blocked_address'],
    ['https://0.0.0.0/', 'blocked_address'],
    ['https://[::1]/', 'blocked_address'],
    ['http://[::1]/', 'blocked_address'],
    ['https://[::ffff:127.0.0.1]/', 'blocked_address'],
    ['https://[::ffff:169.254.169.254]/', 'blocked_address'],
    ['https://[fd00::1]/', 'blocked_address'],
    ['https://[fe80::1]/', 'blocked_address'],
    ['http://2130706433/', 'blocked_address'], // WHATWG URL: 127.0.0.1
    ['https://0x7f000001/', 'blocked_address'],
    ['https://017700000001/', 'blocked_address'],
    ['http://example.com/hook', 'scheme_not_allowed'],
    ['ftp://example.com/hook', 'scheme_not_allowed'],
    ['file:///etc/passwd', 'scheme_not_allowed'],
    ['not a url', 'invalid_url'],
  ])('refuses %s in Azure mode (%s) without connecting', async (url, failure) => {
    const before = received.length;
    const r = await post(url, '{}', {}, azure);
    expect(r).toMatchObject({ ok: false, failure });
    expect(received.length).toBe(before);
  });

  it('refuses a host name that resolves to a private address, and one where any address is private', async () => {
    expect(await post('https://internal.test/hook', '{}', {}, azure)).toMatchObject({
      ok: false,
      failure: 'blocked_address',
    });
    expect(await post('https://mixed.test/hook', '{}', {}, azure)).toMatchObject({
      ok: false,
      failure: 'blocked_address',
    });
  });

  it('refuses localhost in Azure mode after resolving it', async () => {
    expect(await post('https://localhost/hook', '{}', {}, azure)).toMatchObject({ failure: 'blocked_address' });
  });

  it('allows http to loopback only in local mode, and http to a private name even then is refused', async () => {
    const port = (server.address() as AddressInfo).port;
    expect(await post(`http://localhost:${port}/ok`, '{}', {}, local)).toMatchObject({ ok: true, status: 200 });
    expect(await post(`http://localhost:${port}/ok`, '{}', {}, azure)).toMatchObject({ failure: 'scheme_not_allowed' });
    expect(await post(`http://internal.test:${port}/ok`, '{}', {}, local)).toMatchObject({
      failure: 'scheme_not_allowed',
    });
    expect(await post('https://10.0.0.1/', '{}', {}, local)).toMatchObject({ failure: 'blocked_address' });
  });

  it('follows a 307 with the same POST, and a 303 as a GET', async () => {
    const r = await post(`${base}/redirect-307`, '{"n":307}', {}, local);
    expect(r).toMatchObject({ ok: true, status: 200 });
    expect(received.at(-1)).toMatchObject({ method: 'POST', url: '/ok', body: '{"n":307}' });
    await post(`${base}/redirect-303`, '{"n":303}', { 'content-type': 'application/json' }, local);
    expect(received.at(-1)).toMatchObject({ method: 'GET', url: '/ok', body: '' });
  });

  it('checks every redirect hop: to a private literal, to the metadata endpoint, to a name resolving privately', async () => {
    expect(await post(`${base}/redirect-private`, '{}', {}, local)).toMatchObject({ failure: 'blocked_address' });
    expect(await post(`${base}/redirect-metadata`, '{}', {}, local)).toMatchObject({ failure: 'blocked_address' });
    expect(await post(`${base}/redirect-name`, '{}', {}, local)).toMatchObject({ failure: 'blocked_address' });
    expect(dns.asked).toContain('internal.test');
  });

  it('stops after maxRedirects', async () => {
    const before = received.length;
    const r = await post(`${base}/redirect-loop`, '{}', {}, { ...local, maxRedirects: 2 });
    expect(r).toMatchObject({ ok: false, failure: 'too_many_redirects' });
    expect(received.length - before).toBe(3);
  });

  it('caps the response body it reads', async () => {
    const r = await post(`${base}/big`, '{}', {}, { ...local, maxResponseBytes: 1000 });
    expect(r).toMatchObject({ ok: true, status: 200, truncated: true });
    expect('body' in r && r.body.length).toBe(1000);
  });

  it('times out a server that never answers, and one that never finishes its body', async () => {
    const t0 = Date.now();
    expect(await post(`${base}/hang`, '{}', {}, { ...local, responseTimeoutMs: 200 })).toMatchObject({
      failure: 'response_timeout',
    });
    expect(await post(`${base}/slow`, '{}', {}, { ...local, responseTimeoutMs: 200 })).toMatchObject({
      failure: 'response_timeout',
    });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('times out a connection that is never made (DNS and TCP count towards the connect timeout)', async () => {
    expect(await post('https://hang.test/', '{}', {}, { ...azure, connectTimeoutMs: 100 })).toMatchObject({
      failure: 'connect_timeout',
    });
  });

  it('reports DNS and connection failures with codes', async () => {
    expect(await post('https://nxdomain.test/', '{}', {}, azure)).toMatchObject({ failure: 'dns_failure' });
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    expect(await post(`http://127.0.0.1:${port}/`, '{}', {}, local)).toMatchObject({ failure: 'connection_error' });
  });

  it('never puts the path or query in an error message (they hold webhook secrets)', async () => {
    const port = (server.address() as AddressInfo).port;
    const results = [
      await post(`https://internal.test${SECRET_PATH}`, '{}', {}, azure),
      await post(`https://10.0.0.1${SECRET_PATH}`, '{}', {}, azure),
      await post(`http://example.com${SECRET_PATH}`, '{}', {}, azure),
      await post(`https://nxdomain.test${SECRET_PATH}`, '{}', {}, azure),
      await post(`http://127.0.0.1:${port}/hang?sig=S3CR3T-SIG`, '{}', {}, { ...local, responseTimeoutMs: 100 }),
    ];
    for (const r of results) {
      expect(r.ok).toBe(false);
      expect(JSON.stringify(r)).not.toMatch(/S3CR3T|workflows|invoke/);
    }
  });
});

describe('checkOutboundUrl (create-time check, no DNS)', () => {
  it('accepts https to a name, and http to loopback only in local mode', () => {
    expect(checkOutboundUrl('https://hooks.example.com/x', azure)).toMatchObject({ ok: true, literal: false });
    expect(checkOutboundUrl('http://127.0.0.1:7072/inbox', local)).toMatchObject({ ok: true, literal: true });
    expect(checkOutboundUrl('http://localhost:7072/inbox', local)).toMatchObject({ ok: true });
    expect(checkOutboundUrl('http://127.0.0.1:7072/inbox', azure)).toMatchObject({
      ok: false,
      failure: 'blocked_address',
    });
    expect(checkOutboundUrl('http://hooks.example.com/x', local)).toMatchObject({
      ok: false,
      failure: 'scheme_not_allowed',
    });
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates, and ignores anything else', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:02:00 GMT', now)).toBe(120);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    for (const bad of [undefined, '', '-5', '1.5', 'soon', '12:00']) expect(parseRetryAfter(bad, now)).toBeUndefined();
  });
});
