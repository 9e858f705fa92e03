import { isIP } from 'node:net';

/**
 * Which IP addresses outbound requests to user-configured URLs may reach. Anything that is not
 * globally routable unicast is refused: private (RFC 1918), loopback, link-local (incl. the
 * cloud metadata endpoint 169.254.169.254), CGNAT, unspecified, multicast, reserved and
 * documentation ranges, unique-local IPv6, and IPv6 forms that embed such an IPv4 address
 * (IPv4-mapped, IPv4-compatible, NAT64, 6to4).
 */

export type AddressClass = 'public' | 'loopback' | 'blocked';

type Range = readonly [prefix: number[], bits: number];

const BLOCKED_V4: Range[] = [
  [[0], 8], // "this network", incl. 0.0.0.0
  [[10], 8],
  [[100, 64], 10], // CGNAT
  [[169, 254], 16], // link-local, cloud metadata
  [[172, 16], 12],
  [[192, 0, 0], 24], // IETF protocol assignments
  [[192, 0, 2], 24], // TEST-NET-1
  [[192, 88, 99], 24], // 6to4 relay anycast
  [[192, 168], 16],
  [[198, 18], 15], // benchmarking
  [[198, 51, 100], 24], // TEST-NET-2
  [[203, 0, 113], 24], // TEST-NET-3
  [[224], 4], // multicast
  [[240], 4], // reserved, incl. broadcast
];
const LOOPBACK_V4: Range = [[127], 8];

const BLOCKED_V6: Range[] = [
  [[0x01, 0x00], 64], // discard-only 100::/64
  [[0x00, 0x64, 0xff, 0x9b, 0x00, 0x01], 48], // local-use NAT64 64:ff9b:1::/48
  [[0x20, 0x01, 0x00], 23], // IETF special purpose 2001::/23 (Teredo, ORCHID, …)
  [[0x20, 0x01, 0x0d, 0xb8], 32], // documentation
  [[0xfc], 7], // unique local
  [[0xfe, 0x80], 10], // link-local
  [[0xfe, 0xc0], 10], // site-local (deprecated)
  [[0xff], 8], // multicast
];

function inRange(bytes: Uint8Array, [prefix, bits]: Range): boolean {
  for (let i = 0; i < bits; i += 8) {
    const remaining = Math.min(8, bits - i);
    const mask = (0xff << (8 - remaining)) & 0xff;
    if (((bytes[i / 8] ?? 0) & mask) !== ((prefix[i / 8] ?? 0) & mask)) return false;
  }
  return true;
}

function parseV4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : Number.NaN));
  if (bytes.some((b) => !(b >= 0 && b <= 255))) return undefined;
  return Uint8Array.from(bytes);
}

/** 16 bytes of an IPv6 address in any textual form (compressed, with a dotted IPv4 tail, with a zone). */
export function parseV6(input: string): Uint8Array | undefined {
  let text = input.replace(/^\[|\]$/g, '');
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  if (isIP(text) !== 6) return undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = parseV4(text.slice(lastColon + 1));
    if (!v4) return undefined;
    const hex = (hi: number, lo: number) => ((hi << 8) | lo).toString(16);
    text = `${text.slice(0, lastColon + 1)}${hex(v4[0]!, v4[1]!)}:${hex(v4[2]!, v4[3]!)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const toGroups = (s: string) => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  const head = toGroups(halves[0]!);
  const rest = halves.length === 2 ? toGroups(halves[1]!) : [];
  const groups =
    halves.length === 2
      ? [...head, ...new Array<number>(Math.max(0, 8 - head.length - rest.length)).fill(0), ...rest]
      : head;
  if (groups.length !== 8 || groups.some((g) => !(g >= 0 && g <= 0xffff))) return undefined;
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[i * 2] = g >> 8;
    bytes[i * 2 + 1] = g & 0xff;
  });
  return bytes;
}

function classifyV4(bytes: Uint8Array): AddressClass {
  if (inRange(bytes, LOOPBACK_V4)) return 'loopback';
  return BLOCKED_V4.some((r) => inRange(bytes, r)) ? 'blocked' : 'public';
}

function classifyV6(bytes: Uint8Array): AddressClass {
  const zeros = (from: number, to: number) => bytes.subarray(from, to).every((b) => b === 0);
  if (zeros(0, 15) && bytes[15] === 1) return 'loopback'; // ::1
  if (zeros(0, 16)) return 'blocked'; // ::
  // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible), 64:ff9b::a.b.c.d (NAT64): judge the IPv4 inside.
  const mapped = zeros(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff;
  const compatible = zeros(0, 12);
  const nat64 = inRange(bytes, [[0x00, 0x64, 0xff, 0x9b], 32]) && zeros(4, 12);
  if (mapped || compatible || nat64) return classifyV4(bytes.subarray(12, 16));
  if (inRange(bytes, [[0x20, 0x02], 16])) {
    // 6to4 2002:a.b.c.d::/48
    const inner = classifyV4(bytes.subarray(2, 6));
    return inner === 'public' ? 'public' : 'blocked';
  }
  return BLOCKED_V6.some((r) => inRange(bytes, r)) ? 'blocked' : 'public';
}

/** Classify an IP address literal; `undefined` when the text is not an IP address. */
export function classifyAddress(address: string): AddressClass | undefined {
  const v4 = isIP(address) === 4 ? parseV4(address) : undefined;
  if (v4) return classifyV4(v4);
  const v6 = parseV6(address);
  return v6 ? classifyV6(v6) : undefined;
}
