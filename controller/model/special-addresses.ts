// The IP addresses a webhook is not sent to unless allowed: every entry of the IANA IPv4
// Special-Purpose Address Registry (iana-ipv4-special-registry) and the IANA IPv6 Special-Purpose
// Address Registry (iana-ipv6-special-registry) whose "Globally Reachable" is False, as of the
// registries' 2025 editions, plus multicast and three ranges that can embed any IPv4 address. The
// egress policy (delivery/egress.ts) refuses them at connect time; validation warns about a URL
// whose host is one of them (reconcile/validate.ts). Pure: net.BlockList is built into Node.
import net from 'node:net'

type Family = 'ipv4' | 'ipv6'
type Range = readonly [address: string, prefix: number, family: Family]

export interface SpecialRange {
  /** What the range is, to finish "address X is …". */
  what: string
  /**
   * A range where a deployment's own receivers live (loopback, private, shared address space):
   * allowed with --egress-allow for internal receivers, so validation does not warn about it.
   */
  internal: boolean
}

// IPv4-mapped IPv6 addresses (::ffff:0:0/96, itself not globally reachable) match the IPv4 ranges:
// net.BlockList checks them against IPv4 rules itself, so ::ffff:127.0.0.1 is loopback and
// ::ffff:8.8.8.8 is 8.8.8.8.
const RANGES: ReadonlyArray<SpecialRange & { ranges: readonly Range[] }> = [
  {
    what: 'loopback',
    internal: true,
    ranges: [
      ['127.0.0.0', 8, 'ipv4'],
      ['::1', 128, 'ipv6'],
    ],
  },
  {
    what: 'link-local (includes the cloud metadata address 169.254.169.254)',
    internal: false,
    ranges: [
      ['169.254.0.0', 16, 'ipv4'],
      ['fe80::', 10, 'ipv6'],
    ],
  },
  {
    what: 'unspecified ("this network")',
    internal: false,
    ranges: [
      ['0.0.0.0', 8, 'ipv4'],
      ['::', 128, 'ipv6'],
    ],
  },
  {
    what: 'private',
    internal: true,
    ranges: [
      ['10.0.0.0', 8, 'ipv4'],
      ['172.16.0.0', 12, 'ipv4'],
      ['192.168.0.0', 16, 'ipv4'],
      ['fc00::', 7, 'ipv6'],
    ],
  },
  { what: 'carrier-grade NAT (shared address space)', internal: true, ranges: [['100.64.0.0', 10, 'ipv4']] },
  {
    what: 'reserved for documentation',
    internal: false,
    ranges: [
      ['192.0.2.0', 24, 'ipv4'],
      ['198.51.100.0', 24, 'ipv4'],
      ['203.0.113.0', 24, 'ipv4'],
      ['2001:db8::', 32, 'ipv6'],
      ['3fff::', 20, 'ipv6'],
    ],
  },
  {
    what: 'reserved for benchmarking',
    internal: false,
    ranges: [
      ['198.18.0.0', 15, 'ipv4'],
      ['2001:2::', 48, 'ipv6'],
    ],
  },
  {
    // 192.0.0.0/29 (DS-Lite), 192.0.0.8 (dummy), 192.0.0.170-171 (NAT64 discovery), Teredo 2001::/32,
    // ORCHID 2001:10::/28 lie inside (checked after the more specific 2001:2::/48, benchmarking); the entries marked globally reachable are GLOBALLY_REACHABLE below.
    what: 'an IETF protocol assignment, not globally reachable',
    internal: false,
    ranges: [
      ['192.0.0.0', 24, 'ipv4'],
      ['2001::', 23, 'ipv6'],
    ],
  },
  { what: 'local-use NAT64', internal: false, ranges: [['64:ff9b:1::', 48, 'ipv6']] },
  { what: 'discard-only', internal: false, ranges: [['100::', 64, 'ipv6']] },
  { what: 'the dummy IPv6 prefix', internal: false, ranges: [['100:0:0:1::', 64, 'ipv6']] },
  { what: 'an SRv6 segment identifier', internal: false, ranges: [['5f00::', 16, 'ipv6']] },
  {
    // Not in the special-purpose registries (they have their own), and no TCP receiver lives there.
    what: 'multicast',
    internal: false,
    ranges: [
      ['224.0.0.0', 4, 'ipv4'],
      ['ff00::', 8, 'ipv6'],
    ],
  },
  { what: 'reserved or broadcast', internal: false, ranges: [['240.0.0.0', 4, 'ipv4']] },
  // Deprecated IPv4-compatible IPv6 (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d, globally reachable in
  // the registry) can carry any IPv4 address, including the ones above; webhooks have no business there.
  {
    what: 'IPv4-compatible or NAT64 IPv6',
    internal: false,
    ranges: [
      ['::', 96, 'ipv6'],
      ['64:ff9b::', 96, 'ipv6'],
    ],
  },
]

// More specific entries of the registries inside 192.0.0.0/24 and 2001::/23 whose Globally
// Reachable is True (anycast services, AMT, AS112, ORCHIDv2, DETs): not refused.
const GLOBALLY_REACHABLE: readonly Range[] = [
  ['192.0.0.9', 32, 'ipv4'],
  ['192.0.0.10', 32, 'ipv4'],
  ['2001:1::1', 128, 'ipv6'],
  ['2001:1::2', 128, 'ipv6'],
  ['2001:1::3', 128, 'ipv6'],
  ['2001:3::', 32, 'ipv6'],
  ['2001:4:112::', 48, 'ipv6'],
  ['2001:20::', 28, 'ipv6'],
  ['2001:30::', 28, 'ipv6'],
]

const blockList = (ranges: readonly Range[]): net.BlockList => {
  const list = new net.BlockList()
  for (const [address, prefix, family] of ranges) list.addSubnet(address, prefix, family)
  return list
}
const LISTS = RANGES.map(({ ranges, ...range }) => ({ range, list: blockList(ranges) }))
const EXCEPTIONS = blockList(GLOBALLY_REACHABLE)

/** The special-purpose range an IP address is in, or undefined when it is globally reachable (or not an IP address). */
export function specialRange(address: string): SpecialRange | undefined {
  const version = net.isIP(address)
  if (version === 0) return undefined
  const family: Family = version === 4 ? 'ipv4' : 'ipv6'
  if (EXCEPTIONS.check(address, family)) return undefined
  return LISTS.find(({ list }) => list.check(address, family))?.range
}
