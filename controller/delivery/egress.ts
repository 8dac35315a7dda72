// The egress policy (SSRF guard): which URLs and which addresses hookwise may send webhooks to.
//
// The URL check is a fast, early answer. The check that matters is on the address actually
// connected to: the undici connector below resolves the host name itself, checks every address
// it got and hands the socket only addresses that passed, so a DNS answer that changes between a
// check and the connection (DNS rebinding) cannot reach a refused address. IP-literal hosts skip
// DNS (Node does not call `lookup` for them), so the connector checks those before connecting.
import dns from 'node:dns'
import net from 'node:net'
import os from 'node:os'
import tls from 'node:tls'
import { buildConnector } from 'undici'
import { EgressDeniedError, UsageError } from '../errors.js'
import { specialRange } from '../model/special-addresses.js'

export interface EgressPolicy {
  /** Allow `http:` URLs (`--allow-insecure-http`). Without it only `https:` is sent. */
  allowInsecureHttp: boolean
  /** CIDRs that are reachable although a refused range contains them (`--egress-allow`), e.g. `10.0.0.0/8`. */
  allow: string[]
  /**
   * The Helm release this controller runs from (the chart sets HOOKWISE_HELM_RELEASE), so that a
   * refusal names the chart value to change rather than a flag the user never typed.
   */
  helmRelease?: string
}

/** How to allow plain http, or an address range, where this controller is configured. */
export function howToAllow(what: 'http' | 'range', policy?: Pick<EgressPolicy, 'helmRelease'>): string {
  const release = policy?.helmRelease
  if (what === 'http')
    return release
      ? `set the Helm value egress.allowInsecureHttp=true (helm upgrade ${release} charts/hookwise --reuse-values --set egress.allowInsecureHttp=true)`
      : 'run with --allow-insecure-http'
  return release ? 'add its range (CIDR) to the Helm value egress.allowCIDRs' : 'allow it with --egress-allow CIDR'
}

/** The policy with nothing allowed: https only, public addresses only. */
export const DEFAULT_EGRESS_POLICY: Readonly<EgressPolicy> = Object.freeze({ allowInsecureHttp: false, allow: [] })

type Family = 'ipv4' | 'ipv6'

/**
 * Parses `--egress-allow` CIDRs into a net.BlockList (used here as an allow list).
 * Throws a UsageError naming the bad entry when one is not a CIDR.
 */
export function parseAllowList(cidrs: readonly string[]): net.BlockList {
  const list = new net.BlockList()
  for (const cidr of cidrs) {
    const m = /^([^/\s]+)\/(\d{1,3})$/.exec(cidr.trim())
    const family = m ? net.isIP(m[1]!) : 0
    const prefix = m ? Number(m[2]) : NaN
    const max = family === 4 ? 32 : 128
    if (!m || family === 0 || prefix > max) {
      throw new UsageError(
        `--egress-allow "${cidr}" is not a CIDR: ${!m ? 'expected ADDRESS/PREFIX' : family === 0 ? `"${m[1]}" is not an IP address` : `the prefix must be 0..${max}`}`,
        'write an address and a prefix length, e.g. --egress-allow 10.0.0.0/8 or --egress-allow fd00::/8',
      )
    }
    list.addSubnet(m[1]!, prefix, family === 4 ? 'ipv4' : 'ipv6')
  }
  return list
}

/** Checks one IP address; undefined when it may be connected to, else why not. */
export function checkAddress(address: string, allow: net.BlockList, policy?: Pick<EgressPolicy, 'helmRelease'>): string | undefined {
  const version = net.isIP(address)
  if (version === 0) return `"${address}" is not an IP address`
  const family: Family = version === 4 ? 'ipv4' : 'ipv6'
  if (allow.check(address, family)) return undefined
  // Refused: every range of the IANA special-purpose registries that is not globally reachable (model/special-addresses.ts).
  const range = specialRange(address)
  return range
    ? `address ${address} is ${range.what}; the egress policy refuses it (${howToAllow('range', policy)} if this receiver is trusted)`
    : undefined
}

/** Where this controller's API listens (as bound: `0.0.0.0` and `::` are every local address). */
export interface ListenAddress {
  host: string
  port: number
}

const WILDCARD = new Set(['0.0.0.0', '::', ''])
const LOOPBACK = new net.BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')
LOOPBACK.addAddress('0.0.0.0', 'ipv4')
LOOPBACK.addAddress('::', 'ipv6')

/** Whether `address` reaches a socket bound to `host`: the same address, or for a wildcard bind any address of this machine. */
function reaches(address: string, family: Family, host: string): boolean {
  if (!WILDCARD.has(host)) {
    const bound = new net.BlockList()
    bound.addAddress(host, net.isIP(host) === 6 ? 'ipv6' : 'ipv4')
    return bound.check(address, family)
  }
  if (LOOPBACK.check(address, family)) return true
  const local = new net.BlockList()
  for (const list of Object.values(os.networkInterfaces()))
    for (const i of list ?? []) local.addAddress(i.address.replace(/%.*$/, ''), i.family === 'IPv6' ? 'ipv6' : 'ipv4')
  return local.check(address, family)
}

/**
 * Why connecting to `address`:`port` would reach hookwise's own API (a webhook to its /v1/events
 * would loop), or undefined. Not something --egress-allow can allow.
 */
export function selfRefusal(address: string, port: number, self: readonly ListenAddress[]): string | undefined {
  const version = net.isIP(address)
  if (version === 0) return undefined
  const family: Family = version === 4 ? 'ipv4' : 'ipv6'
  const own = self.find((s) => s.port === port && reaches(address, family, s.host))
  if (!own) return undefined
  const listens = `${own.host.includes(':') ? `[${own.host}]` : own.host}:${own.port}`
  return `address ${address} port ${port} is hookwise's own intake (it listens on ${listens}): a webhook to it would loop; the egress policy refuses it`
}

const defaultPort = (protocol: string): number => (protocol === 'https:' ? 443 : 80)

/** Strips the brackets of an IPv6 URL host. */
function bareHost(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname
}

/**
 * Checks a webhook URL before sending: https only (http with allowInsecureHttp), no credentials,
 * and an IP-literal host must pass checkAddress. Host names are checked when they are resolved,
 * by the connector of createEgressConnector. Returns undefined or the reason for refusing.
 */
export function checkUrl(
  url: string,
  policy: EgressPolicy,
  allow: net.BlockList = parseAllowList(policy.allow),
  self: readonly ListenAddress[] = [],
): string | undefined {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return `"${url}" is not a valid URL`
  }
  if (u.protocol === 'http:') {
    if (!policy.allowInsecureHttp) return `${u.origin} uses http; only https is sent (use https, or ${howToAllow('http', policy)})`
  } else if (u.protocol !== 'https:') {
    return `${u.protocol} URLs are not sent; use https`
  }
  if (u.username || u.password) return 'the URL carries credentials (user:password@); use the webhook accessToken or secrets instead'
  const host = bareHost(u.hostname)
  const port = u.port ? Number(u.port) : defaultPort(u.protocol)
  // localhost is loopback wherever it resolves (RFC 6761): known to be this controller without asking DNS.
  const literals = net.isIP(host) ? [host] : /^localhost\.?$|\.localhost\.?$/i.test(host) ? ['127.0.0.1', '::1'] : []
  for (const address of literals) {
    const own = selfRefusal(address, port, self)
    if (own) return own
  }
  return net.isIP(host) ? checkAddress(host, allow, policy) : undefined
}

/** A dns.lookup-compatible function (the `lookup` option of net.connect). */
export type LookupFunction = typeof dns.lookup

interface LookupAddress {
  address: string
  family: number
}

/**
 * Wraps a lookup function so that only addresses the policy allows come out: it resolves every
 * address of the host, drops refused ones and fails with EgressDeniedError when none is left.
 */
export function checkedLookup(
  allow: net.BlockList,
  lookup: LookupFunction = dns.lookup,
  policy?: Pick<EgressPolicy, 'helmRelease'>,
): LookupFunction {
  const wrapped = (hostname: string, options: unknown, callback?: unknown): void => {
    const cb = (typeof options === 'function' ? options : callback) as (
      err: Error | null,
      address?: string | LookupAddress[],
      family?: number,
    ) => void
    const opts = (
      typeof options === 'object' && options !== null ? options : typeof options === 'number' ? { family: options } : {}
    ) as dns.LookupOptions
    lookup(hostname, { ...opts, all: true }, (err, addresses) => {
      if (err) return cb(err)
      const list = addresses as LookupAddress[]
      const allowed = list.filter((a) => checkAddress(a.address, allow) === undefined)
      if (allowed.length === 0) {
        const reasons = list.map((a) => checkAddress(a.address, allow, policy)).join('; ')
        return cb(new EgressDeniedError(`${hostname} resolves to no address the egress policy allows: ${reasons || 'no addresses'}`))
      }
      if (opts.all) return cb(null, allowed)
      const first = allowed[0]!
      cb(null, first.address, first.family)
    })
  }
  return wrapped as unknown as LookupFunction
}

/** The connect function of an undici Client/Agent (the `connect` option). */
export type Connector = buildConnector.connector

export interface EgressConnectorOptions {
  /** Resolver, dns.lookup by default; tests inject one to script DNS answers. */
  lookup?: LookupFunction
  /** The connector wrapped, undici's buildConnector by default; tests inject a spy. */
  baseConnect?: Connector
  /** Connect timeout in ms passed to undici's connector (default 10 s). */
  connectTimeoutMs?: number
  /** Extra trusted CA certificates (PEM) for https receivers, added to Node's defaults. */
  ca?: string[]
  /** Where this controller listens, read at each connection (it is known once the API listens). */
  self?: () => readonly ListenAddress[]
}

/**
 * An undici connector that enforces the policy on the address actually connected to: host names
 * resolve through checkedLookup; IP-literal hosts are checked here, since Node skips lookup for
 * them. A refusal reaches the request as an EgressDeniedError and nothing is connected.
 */
export function createEgressConnector(policy: EgressPolicy, options: EgressConnectorOptions = {}): Connector {
  const allow = parseAllowList(policy.allow)
  const base =
    options.baseConnect ??
    buildConnector({
      lookup: checkedLookup(allow, options.lookup, policy),
      timeout: options.connectTimeoutMs ?? 10_000,
      ...(options.ca ? { ca: [...tls.rootCertificates, ...options.ca] } : {}),
    })
  const self = options.self ?? (() => [])
  return (opts, callback) => {
    const host = bareHost(opts.hostname)
    const port = opts.port ? Number(opts.port) : defaultPort(opts.protocol)
    if (net.isIP(host)) {
      const reason = selfRefusal(host, port, self()) ?? checkAddress(host, allow, policy)
      if (reason) {
        process.nextTick(() => callback(new EgressDeniedError(reason), null))
        return
      }
    }
    if (opts.protocol !== 'https:' && !(opts.protocol === 'http:' && policy.allowInsecureHttp)) {
      const reason = `${opts.protocol} is not allowed by the egress policy; use https, or ${howToAllow('http', policy)}`
      process.nextTick(() => callback(new EgressDeniedError(reason), null))
      return
    }
    // A host name may resolve to this controller: judged on the address actually connected to,
    // before undici writes anything on the socket, so its intake never sees the request.
    return base(opts, (err, socket) => {
      const own = socket && !err ? selfRefusal(socket.remoteAddress ?? '', socket.remotePort ?? 0, self()) : undefined
      if (!own) return callback(err, socket as never)
      socket!.destroy()
      callback(new EgressDeniedError(own), null)
    })
  }
}
