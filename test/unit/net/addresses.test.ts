import { describe, expect, it } from 'vitest';
import { classifyAddress, parseV6 } from '../../../shared/net/addresses';

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.1.2', 'loopback'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['10.0.0.1', 'blocked'],
    ['10.255.255.255', 'blocked'],
    ['172.16.0.1', 'blocked'],
    ['172.31.255.255', 'blocked'],
    ['192.168.1.1', 'blocked'],
    ['169.254.169.254', 'blocked'],
    ['100.64.0.1', 'blocked'],
    ['100.127.255.255', 'blocked'],
    ['0.0.0.0', 'blocked'],
    ['224.0.0.1', 'blocked'],
    ['255.255.255.255', 'blocked'],
    ['198.18.0.1', 'blocked'],
    ['::', 'blocked'],
    ['fc00::1', 'blocked'],
    ['fd12:3456::1', 'blocked'],
    ['fe80::1', 'blocked'],
    ['fe80::1%eth0', 'blocked'],
    ['ff02::1', 'blocked'],
    ['2001:db8::1', 'blocked'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'blocked'],
    ['::ffff:a9fe:a9fe', 'blocked'],
    ['::169.254.169.254', 'blocked'],
    ['64:ff9b::10.0.0.1', 'blocked'],
    ['2002:a00:1::1', 'blocked'],
    ['8.8.8.8', 'public'],
    ['172.15.255.255', 'public'],
    ['172.32.0.0', 'public'],
    ['100.128.0.1', 'public'],
    ['2606:4700:4700::1111', 'public'],
    ['::ffff:8.8.8.8', 'public'],
    ['64:ff9b::8.8.8.8', 'public'],
    ['2002:808:808::1', 'public'],
  ] as const)('%s is %s', (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });

  it('is undefined for things that are not IP addresses', () => {
    for (const s of ['example.com', '1.2.3', '256.1.1.1', ':::1', '1::2::3', ''])
      expect(classifyAddress(s)).toBeUndefined();
  });

  it('expands IPv6 text forms to the same bytes', () => {
    const a = parseV6('::ffff:127.0.0.1');
    expect(a).toEqual(parseV6('0:0:0:0:0:ffff:7f00:1'));
    expect(a).toEqual(parseV6('[::ffff:7f00:0001]'));
  });
});
