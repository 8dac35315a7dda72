// The egress policy: URL checks, address ranges, and the connector that checks the address
// actually connected to. Only loopback servers are contacted; refused addresses never are.
import t from 'tap'
import type dns from 'node:dns'
import {
  checkAddress,
  checkUrl,
  createEgressConnector,
  parseAllowList,
  type Connector,
  type LookupFunction,
} from '../controller/delivery/egress.js'
import { UndiciSender } from '../controller/delivery/sender.js'
import type { OutgoingRequest } from '../controller/delivery/request.js'
import { buildConnector } from 'undici'
import { startServer } from './helpers/http-server.js'

const insecure = { allowInsecureHttp: true, allow: [] }
const post = (url: string): OutgoingRequest => ({ method: 'POST', url, headers: { 'Content-Type': 'application/json' }, body: '{}' })

t.test('checkUrl: https only unless allowInsecureHttp, no credentials, no other schemes', async (t) => {
  const strict = { allowInsecureHttp: false, allow: [] }
  t.equal(checkUrl('https://hooks.example.com/x', strict), undefined)
  t.equal(
    checkUrl('http://hooks.example.com/x', strict),
    'http://hooks.example.com uses http; only https is sent (use https, or run with --allow-insecure-http)',
  )
  t.equal(checkUrl('http://hooks.example.com/x', insecure), undefined)
  t.equal(checkUrl('ftp://hooks.example.com/x', insecure), 'ftp: URLs are not sent; use https')
  t.equal(
    checkUrl('https://user:pw@hooks.example.com/x', strict),
    'the URL carries credentials (user:password@); use the webhook accessToken or secrets instead',
  )
  t.equal(checkUrl('not a url', strict), '"not a url" is not a valid URL')
})

t.test('run from the Helm chart (HOOKWISE_HELM_RELEASE): refusals name the chart value, not a flag', async (t) => {
  const chart = { allowInsecureHttp: false, allow: [], helmRelease: 'hookwise' }
  t.equal(
    checkUrl('http://hooks.example.com/x', chart),
    'http://hooks.example.com uses http; only https is sent (use https, or set the Helm value egress.allowInsecureHttp=true (helm upgrade hookwise charts/hookwise --reuse-values --set egress.allowInsecureHttp=true))',
  )
  t.equal(
    checkUrl('https://10.1.2.3/x', chart),
    'address 10.1.2.3 is private; the egress policy refuses it (add its range (CIDR) to the Helm value egress.allowCIDRs if this receiver is trusted)',
  )
})

t.test('checkUrl: IP-literal hosts are checked against the refused ranges', async (t) => {
  const strict = { allowInsecureHttp: false, allow: [] }
  t.equal(
    checkUrl('https://169.254.169.254/latest/meta-data', strict),
    'address 169.254.169.254 is link-local (includes the cloud metadata address 169.254.169.254); the egress policy refuses it (allow it with --egress-allow CIDR if this receiver is trusted)',
  )
  t.match(checkUrl('https://[::ffff:127.0.0.1]/', strict), /^address ::ffff:7f00:1 is loopback;/)
  t.match(checkUrl('https://[::1]:8443/', strict), /^address ::1 is loopback;/)
  t.match(checkUrl('https://10.1.2.3/', strict), /is private;/)
  t.equal(checkUrl('https://93.184.215.14/', strict), undefined)
  t.equal(checkUrl('https://127.0.0.1/', { allowInsecureHttp: false, allow: ['127.0.0.0/8'] }), undefined)
})

t.test('checkAddress: every refused range, its edges, and the allow list', async (t) => {
  const none = parseAllowList([])
  const refused: Array<[string, string]> = [
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['fd12::1', 'private'],
    ['fc00::1', 'private'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.255', 'carrier-grade NAT'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'reserved or broadcast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:10.0.0.1', 'private'],
    ['::127.0.0.1', 'IPv4-compatible'],
    ['64:ff9b::a9fe:a9fe', 'IPv4-compatible or NAT64 IPv6'],
  ]
  for (const [address, what] of refused)
    t.match(checkAddress(address, none), new RegExp(`^address ${address.replace(/[.]/g, '\\.')} is ${what}`), address)
  for (const address of [
    '8.8.8.8',
    '172.15.255.255',
    '172.32.0.1',
    '100.63.255.255',
    '100.128.0.1',
    '169.253.255.255',
    '2606:4700::1111',
    'fec0::1',
    '::ffff:8.8.8.8',
  ]) {
    t.equal(checkAddress(address, none), undefined, `${address} is public`)
  }
  const allow = parseAllowList(['127.0.0.0/8', '10.20.0.0/16', 'fd00::/8'])
  t.equal(checkAddress('127.0.0.1', allow), undefined)
  t.equal(checkAddress('::ffff:127.0.0.1', allow), undefined)
  t.equal(checkAddress('10.20.3.4', allow), undefined)
  t.match(checkAddress('10.21.0.1', allow), /is private/)
  t.equal(checkAddress('fd00::5', allow), undefined)
  t.match(checkAddress('::1', allow), /is loopback/)
  t.equal(checkAddress('example.com', none), '"example.com" is not an IP address')
})

t.test('parseAllowList: a bad CIDR is a usage error that names it and shows the form', async (t) => {
  const hint = 'write an address and a prefix length, e.g. --egress-allow 10.0.0.0/8 or --egress-allow fd00::/8'
  t.throws(() => parseAllowList(['10.0.0.0']), {
    name: 'UsageError',
    code: 'HW_USAGE',
    message: '--egress-allow "10.0.0.0" is not a CIDR: expected ADDRESS/PREFIX',
    hint,
  })
  t.throws(() => parseAllowList(['10.0.0.0/33']), { message: '--egress-allow "10.0.0.0/33" is not a CIDR: the prefix must be 0..32' })
  t.throws(() => parseAllowList(['fd00::/129']), { message: '--egress-allow "fd00::/129" is not a CIDR: the prefix must be 0..128' })
  t.throws(() => parseAllowList(['10.0.0.300/8']), {
    message: '--egress-allow "10.0.0.300/8" is not a CIDR: "10.0.0.300" is not an IP address',
  })
  t.throws(() => parseAllowList(['intranet/8']), { message: '--egress-allow "intranet/8" is not a CIDR: "intranet" is not an IP address' })
  t.throws(() => new UndiciSender({ egress: { allowInsecureHttp: true, allow: ['nope'] } }), { code: 'HW_USAGE' })
  t.doesNotThrow(() => parseAllowList(['0.0.0.0/0', '::/0', ' 192.168.0.0/16 ']))
})

t.test('loopback is refused by default, even through the host name localhost, and nothing arrives', async (t) => {
  const server = await startServer(t, (_req, res) => res.end('ok'))
  const sender = new UndiciSender({ egress: insecure })
  t.teardown(() => sender.close())
  const byIp = await sender.send(post(server.url()), { timeoutMs: 2000 })
  t.equal(byIp.error?.code, 'EGRESS_DENIED')
  t.match(byIp.error?.message, /^address 127\.0\.0\.1 is loopback;/)
  const byName = await sender.send(post(`http://localhost:${server.port}/`), { timeoutMs: 2000 })
  t.equal(byName.error?.code, 'EGRESS_DENIED')
  t.match(byName.error?.message, /^localhost resolves to no address the egress policy allows: address (127\.0\.0\.1|::1) is loopback;/)
  t.equal(byName.statusCode, undefined)
  t.equal(server.connections(), 0)
  t.equal(server.received.length, 0)
})

t.test('loopback is reached when allowed with 127.0.0.0/8, by address and by localhost', async (t) => {
  const server = await startServer(t, (_req, res) => res.end('ok'))
  const sender = new UndiciSender({ egress: { allowInsecureHttp: true, allow: ['127.0.0.0/8'] } })
  t.teardown(() => sender.close())
  const byIp = await sender.send(post(server.url('/a')), { timeoutMs: 2000 })
  t.equal(byIp.statusCode, 200)
  t.equal(byIp.bodyHead, 'ok')
  const byName = await sender.send(post(`http://localhost:${server.port}/b`), { timeoutMs: 2000 })
  t.equal(byName.statusCode, 200)
  t.same(
    server.received.map((r) => r.url),
    ['/a', '/b'],
  )
})

t.test('http is refused unless allowInsecureHttp, before any connection', async (t) => {
  const server = await startServer(t, (_req, res) => res.end('ok'))
  const sender = new UndiciSender({ egress: { allowInsecureHttp: false, allow: ['127.0.0.0/8'] } })
  t.teardown(() => sender.close())
  const result = await sender.send(post(server.url()), { timeoutMs: 2000 })
  t.same(result.error, {
    code: 'EGRESS_DENIED',
    message: `http://127.0.0.1:${server.port} uses http; only https is sent (use https, or run with --allow-insecure-http)`,
  })
  t.equal(server.connections(), 0)
})

t.test('169.254.169.254 and ::ffff:127.0.0.1 are refused before connecting', async (t) => {
  // A spy in place of the real connect: it must never be called for a refused address.
  const calls: string[] = []
  const spy: Connector = (opts, cb) => {
    calls.push(opts.hostname)
    cb(new Error('the spy never connects'), null)
  }
  const attempt = (hostname: string) =>
    new Promise<Error | null>((resolve) => connect({ hostname, protocol: 'http:', port: '80' }, (...args) => resolve(args[0])))
  const connect = createEgressConnector(insecure, { baseConnect: spy })
  for (const hostname of ['169.254.169.254', '::ffff:127.0.0.1', '[::ffff:7f00:1]', '10.0.0.1']) {
    const err = await attempt(hostname)
    t.equal(err?.name, 'EgressDeniedError', hostname)
    t.equal((err as { code?: string }).code, 'EGRESS_DENIED')
  }
  t.same(calls, [])
  const err = await attempt('93.184.215.14')
  t.equal(err?.message, 'the spy never connects')
  t.same(calls, ['93.184.215.14'], 'a public address goes on to connect')

  // Through the sender, with the real connector: refused with no socket opened.
  const sender = new UndiciSender({ egress: insecure })
  t.teardown(() => sender.close())
  for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://[::ffff:127.0.0.1]:9/', 'https://[::ffff:a9fe:a9fe]/']) {
    const result = await sender.send(post(url), { timeoutMs: 5000 })
    t.equal(result.error?.code, 'EGRESS_DENIED', url)
    t.ok(result.latencyMs < 1000, `${url} refused without a network round trip (${result.latencyMs} ms)`)
  }
})

t.test('DNS rebinding: a host name resolving to a refused address is refused at connect time', async (t) => {
  const server = await startServer(t, (_req, res) => res.end('ok'))
  const answers: Record<string, Array<{ address: string; family: number }>> = {
    'metadata.rebind.test': [{ address: '169.254.169.254', family: 4 }],
    'mixed.rebind.test': [
      { address: '10.0.0.7', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ],
  }
  const asked: string[] = []
  const lookup = ((hostname: string, options: dns.LookupAllOptions, cb: (err: Error | null, addresses: unknown) => void) => {
    asked.push(`${hostname} all=${String(options.all)}`)
    const a = answers[hostname]
    if (!a) return cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), [])
    cb(null, a)
  }) as unknown as LookupFunction
  // checkUrl passes both host names (they are not IP literals); only the connector can refuse them.
  const sender = new UndiciSender({ egress: { allowInsecureHttp: true, allow: ['127.0.0.0/8'] }, connector: { lookup } })
  t.teardown(() => sender.close())
  const meta = await sender.send(post('http://metadata.rebind.test/latest'), { timeoutMs: 5000 })
  t.same(meta.error, {
    code: 'EGRESS_DENIED',
    message:
      'metadata.rebind.test resolves to no address the egress policy allows: address 169.254.169.254 is link-local (includes the cloud metadata address 169.254.169.254); the egress policy refuses it (allow it with --egress-allow CIDR if this receiver is trusted)',
  })
  // EGRESS_DENIED can only come from the lookup wrapper, which runs before net.connect opens a socket.
  t.ok(meta.latencyMs < 1000, `refused without a connection attempt (${meta.latencyMs} ms)`)
  // Of several answers, only the allowed one is connected to.
  const mixed = await sender.send(post(`http://mixed.rebind.test:${server.port}/m`), { timeoutMs: 2000 })
  t.equal(mixed.statusCode, 200)
  t.equal(server.received[0]?.headers.host, `mixed.rebind.test:${server.port}`)
  const missing = await sender.send(post('http://nowhere.rebind.test/'), { timeoutMs: 2000 })
  t.equal(missing.error?.code, 'NETWORK')
  t.match(missing.error?.message, /ENOTFOUND/)
  t.same(
    asked.map((a) => a.split(' ')[0]),
    ['metadata.rebind.test', 'mixed.rebind.test', 'nowhere.rebind.test'],
  )
  t.ok(
    asked.every((a) => a.endsWith('all=true')),
    'every address is resolved and checked',
  )
})

t.test('a redirect is not followed: the 302 is the result', async (t) => {
  const server = await startServer(t, (req, res) => {
    if (req.url === '/moved') res.writeHead(302, { Location: '/target' }).end('see /target')
    else res.end('target reached')
  })
  const sender = new UndiciSender({ egress: { allowInsecureHttp: true, allow: ['127.0.0.0/8'] } })
  t.teardown(() => sender.close())
  const result = await sender.send(post(server.url('/moved')), { timeoutMs: 2000 })
  t.equal(result.statusCode, 302)
  t.equal(result.headers?.location, '/target')
  t.equal(result.bodyHead, 'see /target')
  t.same(
    server.received.map((r) => r.url),
    ['/moved'],
  )
})

// The IANA IPv4 and IPv6 Special-Purpose Address Registries, every entry whose Globally Reachable is
// False (written out here from the registries, not from the code under test): first and last address.
const NOT_GLOBAL: Array<[range: string, first: string, last: string, what: RegExp]> = [
  ['0.0.0.0/8', '0.0.0.0', '0.255.255.255', /unspecified/],
  ['10.0.0.0/8', '10.0.0.0', '10.255.255.255', /private/],
  ['100.64.0.0/10', '100.64.0.0', '100.127.255.255', /carrier-grade NAT/],
  ['127.0.0.0/8', '127.0.0.0', '127.255.255.255', /loopback/],
  ['169.254.0.0/16', '169.254.0.0', '169.254.255.255', /link-local/],
  ['172.16.0.0/12', '172.16.0.0', '172.31.255.255', /private/],
  ['192.0.0.0/24', '192.0.0.0', '192.0.0.255', /IETF protocol assignment/],
  ['192.0.0.0/29', '192.0.0.0', '192.0.0.7', /IETF protocol assignment/],
  ['192.0.0.8/32', '192.0.0.8', '192.0.0.8', /IETF protocol assignment/],
  ['192.0.0.170/32', '192.0.0.170', '192.0.0.170', /IETF protocol assignment/],
  ['192.0.0.171/32', '192.0.0.171', '192.0.0.171', /IETF protocol assignment/],
  ['192.0.2.0/24', '192.0.2.0', '192.0.2.255', /documentation/],
  ['192.168.0.0/16', '192.168.0.0', '192.168.255.255', /private/],
  ['198.18.0.0/15', '198.18.0.0', '198.19.255.255', /benchmarking/],
  ['198.51.100.0/24', '198.51.100.0', '198.51.100.255', /documentation/],
  ['203.0.113.0/24', '203.0.113.0', '203.0.113.255', /documentation/],
  ['240.0.0.0/4', '240.0.0.0', '255.255.255.255', /reserved/],
  ['255.255.255.255/32', '255.255.255.255', '255.255.255.255', /reserved or broadcast/],
  ['::1/128', '::1', '::1', /loopback/],
  ['::/128', '::', '::', /unspecified/],
  ['::ffff:0:0/96', '::ffff:0.0.0.0', '::ffff:255.255.255.255', /unspecified|reserved/],
  ['64:ff9b:1::/48', '64:ff9b:1::', '64:ff9b:1:ffff:ffff:ffff:ffff:ffff', /local-use NAT64/],
  ['100::/64', '100::', '100::ffff:ffff:ffff:ffff', /discard-only/],
  ['100:0:0:1::/64', '100:0:0:1::', '100::1:ffff:ffff:ffff:ffff', /dummy/],
  ['2001::/23', '2001::', '2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff', /IETF protocol assignment/],
  ['2001:2::/48', '2001:2::', '2001:2:0:ffff:ffff:ffff:ffff:ffff', /benchmarking/],
  ['2001:db8::/32', '2001:db8::', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', /documentation/],
  ['3fff::/20', '3fff::', '3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff', /documentation/],
  ['5f00::/16', '5f00::', '5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff', /SRv6/],
  ['fc00::/7', 'fc00::', 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', /private/],
  ['fe80::/10', 'fe80::', 'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff', /link-local/],
]
const literal = (address: string): string => (address.includes(':') ? `[${address}]` : address)

t.test('every IANA special-purpose range that is not globally reachable is refused at connect time, first and last address', async (t) => {
  // The real connector, with the real base connector behind it: a refused address never reaches it.
  const calls: string[] = []
  const spy: Connector = (opts, cb) => {
    calls.push(opts.hostname)
    cb(new Error('the spy never connects'), null)
  }
  const sender = new UndiciSender({ egress: insecure, connector: { baseConnect: spy } })
  t.teardown(() => sender.close())
  for (const [range, first, last, what] of NOT_GLOBAL) {
    for (const address of [first, last]) {
      const result = await sender.send(post(`http://${literal(address)}:8080/hook`), { timeoutMs: 2000 })
      t.equal(result.error?.code, 'EGRESS_DENIED', `${range}: ${address}`)
      t.match(result.error?.message, what, `${range}: ${address} is named as ${what}`)
      t.match(result.error?.message, /the egress policy refuses it \(allow it with --egress-allow CIDR if this receiver is trusted\)$/)
    }
  }
  t.same(calls, [], 'nothing was connected')
  // More specific entries the registries mark globally reachable stay allowed, and so do the neighbours.
  const none = parseAllowList([])
  for (const address of [
    '192.0.0.9',
    '192.0.0.10',
    '192.0.1.0',
    '192.0.3.0',
    '198.17.255.255',
    '198.20.0.0',
    '198.51.99.255',
    '203.0.114.0',
    '2001:1::1',
    '2001:1::2',
    '2001:1::3',
    '2001:3::1',
    '2001:4:112::1',
    '2001:20::1',
    '2001:30::1',
    '2001:200::1',
    '2001:db9::1',
    '3fff:1000::1',
    '5f01::1',
  ])
    t.equal(checkAddress(address, none), undefined, `${address} is globally reachable`)
})

t.test('--egress-allow re-allows a special-purpose range: the delivery reaches a real loopback receiver', async (t) => {
  const server = await startServer(t, (_req, res) => res.end('reached'))
  // The policy is checked on the IP literal; the base connector behind it then connects to the loopback receiver.
  const toLoopback: Connector = (opts, cb) =>
    baseConnector({ ...opts, hostname: '127.0.0.1', port: String(server.port) } as Parameters<Connector>[0], cb)
  const baseConnector = buildConnector({})
  const denied = new UndiciSender({ egress: insecure, connector: { baseConnect: toLoopback } })
  const allowed = new UndiciSender({
    egress: { allowInsecureHttp: true, allow: ['198.18.0.0/15', '192.0.2.0/24', '2001:db8::/32'] },
    connector: { baseConnect: toLoopback },
  })
  t.teardown(() => Promise.all([denied.close(), allowed.close()]))
  for (const address of ['198.18.0.1', '198.19.255.254', '192.0.2.10', '2001:db8::1']) {
    const no = await denied.send(post(`http://${literal(address)}/hook`), { timeoutMs: 2000 })
    t.equal(no.error?.code, 'EGRESS_DENIED', `${address} refused without --egress-allow`)
    const yes = await allowed.send(post(`http://${literal(address)}/hook`), { timeoutMs: 2000 })
    t.equal(yes.statusCode, 200, `${address} allowed by --egress-allow`)
    t.equal(yes.bodyHead, 'reached')
  }
  t.equal(server.received.length, 4, 'only the allowed sends arrived')
  const other = await allowed.send(post('http://203.0.113.5/hook'), { timeoutMs: 2000 })
  t.equal(other.error?.code, 'EGRESS_DENIED', 'a range not allowed stays refused')
})

t.test("the controller's own listen address is refused at connect time, also through a host name, with nothing sent", async (t) => {
  const own = await startServer(t, (_req, res) => res.end('own intake'))
  const other = await startServer(t, (_req, res) => res.end('receiver'))
  const lookup = ((_hostname: string, _options: unknown, cb: (err: Error | null, addresses: unknown) => void) =>
    cb(null, [{ address: '127.0.0.1', family: 4 }])) as unknown as LookupFunction
  const sender = new UndiciSender({ egress: { allowInsecureHttp: true, allow: ['127.0.0.0/8'] }, connector: { lookup } })
  t.teardown(() => sender.close())
  // Before refuseSelf it is an allowed loopback receiver like any other.
  t.equal((await sender.send(post(`http://127.0.0.1:${own.port}/v1/events`), { timeoutMs: 2000 })).statusCode, 200)
  sender.refuseSelf([{ host: '127.0.0.1', port: own.port }])
  const why = `address 127.0.0.1 port ${own.port} is hookwise's own intake (it listens on 127.0.0.1:${own.port}): a webhook to it would loop; the egress policy refuses it`
  t.same((await sender.send(post(`http://127.0.0.1:${own.port}/v1/events`), { timeoutMs: 2000 })).error, {
    code: 'EGRESS_DENIED',
    message: why,
  })
  t.same((await sender.send(post(`http://localhost:${own.port}/v1/events`), { timeoutMs: 2000 })).error, {
    code: 'EGRESS_DENIED',
    message: why,
  })
  const byName = await sender.send(post(`http://hookwise.internal.test:${own.port}/v1/events`), { timeoutMs: 2000 })
  t.same(byName.error, { code: 'EGRESS_DENIED', message: why }, 'a name that resolves to it is refused on the address connected to')
  t.equal(own.received.length, 1, 'only the request sent before refuseSelf arrived')
  t.equal(
    (await sender.send(post(`http://hookwise.internal.test:${other.port}/x`), { timeoutMs: 2000 })).statusCode,
    200,
    'another port is fine',
  )

  // Bound to every address (0.0.0.0): any loopback address on that port is this controller.
  const wildcard = new UndiciSender({ egress: { allowInsecureHttp: true, allow: ['127.0.0.0/8'] } })
  t.teardown(() => wildcard.close())
  wildcard.refuseSelf([{ host: '0.0.0.0', port: own.port }])
  t.match((await wildcard.send(post(`http://127.0.0.2:${own.port}/`), { timeoutMs: 2000 })).error, {
    code: 'EGRESS_DENIED',
    message: `address 127.0.0.2 port ${own.port} is hookwise's own intake (it listens on 0.0.0.0:${own.port}): a webhook to it would loop; the egress policy refuses it`,
  })
  t.equal(own.received.length, 1)
})
