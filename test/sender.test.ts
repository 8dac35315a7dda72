// UndiciSender against real servers on loopback: what arrives, timeouts, refused ports, huge
// bodies, keep-alive. Loopback is allowed explicitly; the default policy refuses it.
import t from 'tap'
import net from 'node:net'
import https from 'node:https'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setImmediate as tick } from 'node:timers/promises'
import type { AddressInfo } from 'node:net'
import { UndiciSender, BODY_HEAD_BYTES } from '../controller/delivery/sender.js'
import { buildRequest } from '../controller/delivery/request.js'
import type { OutgoingRequest } from '../controller/delivery/request.js'
import { startServer } from './helpers/http-server.js'
import { nextAttempt } from '../controller/delivery/retry-policy.js'
import { endpointOk } from '../controller/delivery/circuit-breaker.js'

const loopback = { egress: { allowInsecureHttp: true, allow: ['127.0.0.0/8'] } }
const post = (url: string, body = '{}'): OutgoingRequest => ({ method: 'POST', url, headers: { 'Content-Type': 'application/json' }, body })

function newSender(t: { teardown: (fn: () => unknown) => void }, options = {}) {
  const sender = new UndiciSender({ ...loopback, ...options })
  t.teardown(() => sender.close())
  return sender
}

t.test('the exact headers and body arrive; the response comes back with lower-case header names', async (t) => {
  const server = await startServer(t, (_req, res) => {
    res.writeHead(202, { 'X-Request-Id': 'r-1', 'Set-Cookie': ['a=1', 'b=2'] }).end('{"queued":true}')
  })
  const sender = newSender(t)
  const body = '{"event_type":"BUILD_AND_DEPLOY","note":"żółć 🚀"}'
  const request = buildRequest({
    webhook: {
      url: server.url('/hooks/deploy?x=1'),
      headers: { 'X-Team': 'ml' },
      accessToken: { secretKeyRef: { name: 's', key: 'k' } },
      secrets: [{ name: 'KEY', secretKeyRef: { name: 's', key: 'k2' } }],
      signing: { secret: 'KEY', scheme: 'github' },
    },
    secrets: { ACCESS_TOKEN: 'tok-123', KEY: 'sig-key' },
    body,
    deliveryId: 'd-42',
    timestamp: 1764241200,
  })
  const result = await sender.send(request, { timeoutMs: 2000 })
  t.equal(result.error, undefined)
  t.equal(result.statusCode, 202)
  t.equal(result.bodyHead, '{"queued":true}')
  t.equal(result.headers?.['x-request-id'], 'r-1')
  t.equal(result.headers?.['set-cookie'], 'a=1, b=2')
  t.ok(Object.keys(result.headers ?? {}).every((k) => k === k.toLowerCase()))
  t.ok(result.latencyMs > 0 && result.latencyMs < 2000)

  t.equal(server.received.length, 1)
  const got = server.received[0]!
  t.equal(got.method, 'POST')
  t.equal(got.url, '/hooks/deploy?x=1')
  t.equal(got.body, body)
  t.equal(got.headers['content-type'], 'application/json')
  t.equal(got.headers['user-agent'], request.headers['User-Agent'])
  t.equal(got.headers['webhook-id'], 'd-42')
  t.equal(got.headers['x-team'], 'ml')
  t.equal(got.headers.authorization, 'Bearer tok-123')
  t.equal(got.headers['x-hub-signature-256'], request.headers['X-Hub-Signature-256'])
  t.equal(got.headers['content-length'], String(Buffer.byteLength(body)))
  const sent = Object.keys(request.headers)
    .map((k) => k.toLowerCase())
    .sort()
  t.same(
    Object.keys(got.headers)
      .filter((k) => !['host', 'connection', 'content-length'].includes(k))
      .sort(),
    sent,
    'no header added or lost',
  )
})

t.test('TIMEOUT against a server that never answers', async (t) => {
  const server = await startServer(t, () => {
    /* never answers */
  })
  const sender = newSender(t)
  const started = Date.now()
  const result = await sender.send(post(server.url('/slow')), { timeoutMs: 300 })
  const took = Date.now() - started
  t.equal(result.error?.code, 'TIMEOUT')
  t.match(result.error?.message, /^no response within 300 ms/)
  t.equal(result.statusCode, undefined)
  t.ok(took >= 280 && took < 1500, `gave up after ${took} ms`)
  t.equal(server.received.length, 1, 'the request did arrive')
})

t.test('a 2xx status line is the answer: a body that then stalls or is cut keeps what arrived, not TIMEOUT', async (t) => {
  const stalls = await startServer(t, (_req, res) => {
    res.writeHead(200, { 'Content-Length': '100', 'X-Id': 's-1' })
    res.write('partial')
  })
  const sender = newSender(t)
  const started = Date.now()
  const stalled = await sender.send(post(stalls.url()), { timeoutMs: 300 })
  const took = Date.now() - started
  t.match(stalled, { statusCode: 200, headers: { 'x-id': 's-1' }, bodyHead: 'partial' })
  t.equal(stalled.error, undefined, 'no error: the receiver said 200')
  t.same(nextAttempt(1, stalled, undefined, { now: 0, random: () => 0.5 }), { kind: 'success' }, 'a success, not retried')
  t.ok(took >= 280 && took < 1500, `the drain still ends by timeoutMs (${took} ms)`)

  const cuts = await startServer(t, (_req, res) => {
    res.writeHead(202, { 'Content-Length': '100' })
    res.write('cut here', () => res.socket?.destroy())
  })
  const cut = await sender.send(post(cuts.url()), { timeoutMs: 2000 })
  t.match(cut, { statusCode: 202, bodyHead: 'cut here' })
  t.equal(cut.error, undefined, 'a connection cut while draining changes nothing')

  const failing = await startServer(t, (_req, res) => {
    res.writeHead(503, { 'Content-Length': '100' })
    res.write('busy')
  })
  t.match(
    await sender.send(post(failing.url()), { timeoutMs: 300 }),
    { statusCode: 503, bodyHead: 'busy', error: undefined },
    'any status line is the answer',
  )
})

t.test('NETWORK against a closed port and a connection reset', async (t) => {
  // A port that was just free: listen, note it, close.
  const probe = net.createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const port = (probe.address() as AddressInfo).port
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  const sender = newSender(t)
  const refused = await sender.send(post(`http://127.0.0.1:${port}/`), { timeoutMs: 2000 })
  t.equal(refused.error?.code, 'NETWORK')
  t.match(refused.error?.message, /^ECONNREFUSED: /)
  t.ok(refused.latencyMs < 1000)

  const server = await startServer(t, (req) => req.socket.destroy())
  const reset = await sender.send(post(server.url()), { timeoutMs: 2000 })
  t.equal(reset.error?.code, 'NETWORK')
  t.equal(reset.statusCode, undefined)
})

t.test('a 10 MB response: only the first 4 KiB is kept and the call returns promptly', async (t) => {
  const chunk = Buffer.alloc(64 * 1024, 'x')
  chunk.write('HEAD:', 0)
  let written = 0
  const server = await startServer(t, (_req, res) => {
    res.writeHead(500, { 'Content-Type': 'text/plain', 'Content-Length': String(10 * 1024 * 1024) })
    const pump = () => {
      while (written < 10 * 1024 * 1024) {
        written += chunk.length
        if (!res.write(written === chunk.length ? chunk : Buffer.alloc(chunk.length, 'y'))) return void res.once('drain', pump)
      }
      res.end()
    }
    res.on('error', () => undefined)
    pump()
  })
  const sender = newSender(t)
  const started = Date.now()
  const result = await sender.send(post(server.url()), { timeoutMs: 5000 })
  const took = Date.now() - started
  t.equal(result.statusCode, 500)
  t.equal(result.bodyHead?.length, BODY_HEAD_BYTES)
  t.equal(result.bodyHead, `HEAD:${'x'.repeat(BODY_HEAD_BYTES - 5)}`)
  t.ok(took < 1000, `returned after ${took} ms`)
  t.ok(written < 10 * 1024 * 1024, `the server could not write it all (${written} bytes): the rest was not read`)
})

t.test('a body that stalls after the first 4 KiB: the head is kept and the call still ends by timeoutMs', async (t) => {
  const server = await startServer(t, (_req, res) => {
    res.writeHead(503, { 'Content-Length': '20000' })
    res.write('z'.repeat(5000))
  })
  const started = Date.now()
  const result = await newSender(t).send(post(server.url()), { timeoutMs: 300 })
  const took = Date.now() - started
  t.equal(result.statusCode, 503)
  t.equal(result.bodyHead, 'z'.repeat(BODY_HEAD_BYTES))
  t.ok(took < 1000, `returned after ${took} ms`)
})

t.test('a multi-byte character cut at 4 KiB is dropped, not garbled', async (t) => {
  const text = `${'a'.repeat(BODY_HEAD_BYTES - 1)}żółć and more`
  const server = await startServer(t, (_req, res) => res.end(text))
  const result = await newSender(t).send(post(server.url()), { timeoutMs: 2000 })
  t.equal(result.bodyHead, 'a'.repeat(BODY_HEAD_BYTES - 1))
})

t.test('keep-alive: sequential sends to one origin reuse one connection', async (t) => {
  const server = await startServer(t, (_req, res) => res.end('x'.repeat(10_000)))
  const sender = newSender(t)
  for (let i = 0; i < 5; i++) {
    const result = await sender.send(post(server.url(`/n${i}`)), { timeoutMs: 2000 })
    t.equal(result.statusCode, 200)
    // undici hands the connection back to the pool just after the body ends; a back-to-back send
    // in the same tick would find it still busy and open a second one.
    await tick()
  }
  t.equal(server.received.length, 5)
  t.equal(server.connections(), 1, 'one TCP connection for five requests (a 10 kB body is drained, not cut)')
})

t.test('connectionsPerOrigin bounds parallel connections', async (t) => {
  const pending: Array<() => void> = []
  const server = await startServer(t, (_req, res) => pending.push(() => res.end('ok')))
  const sender = newSender(t, { connectionsPerOrigin: 2 })
  const sends = Array.from({ length: 6 }, (_, i) => sender.send(post(server.url(`/p${i}`)), { timeoutMs: 3000 }))
  while (pending.length < 2) await new Promise((r) => setTimeout(r, 5))
  await new Promise((r) => setTimeout(r, 50))
  t.equal(server.connections(), 2)
  t.equal(pending.length, 2, 'the others wait for a free connection')
  const answer = setInterval(() => pending.shift()?.(), 2)
  const results = await Promise.all(sends)
  clearInterval(answer)
  t.same(
    results.map((r) => r.statusCode),
    [200, 200, 200, 200, 200, 200],
  )
  t.equal(server.connections(), 2)
})

t.test('send never throws: a malformed URL is a refusal, close() is idempotent enough', async (t) => {
  const sender = new UndiciSender(loopback)
  const result = await sender.send(post('::not a url::'), { timeoutMs: 100 })
  t.same(result.error, { code: 'EGRESS_DENIED', message: '"::not a url::" is not a valid URL' })
  await sender.close()
  const after = await sender.send(post('http://127.0.0.1:9/'), { timeoutMs: 100 })
  t.equal(after.error?.code, 'NETWORK', 'a closed sender reports, it does not throw')
})

t.test('https: a receiver with an untrusted certificate is NETWORK; trusted via ca, it is reached by host name', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookwise-tls-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  )
  const cert = readFileSync(join(dir, 'cert.pem'), 'utf8')
  let connections = 0
  const server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) => {
    req.resume()
    req.on('end', () => res.end(`tls ${req.headers.host}`))
  })
  server.on('secureConnection', () => connections++)
  server.on('tlsClientError', () => undefined)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  const port = (server.address() as AddressInfo).port
  const egress = { allowInsecureHttp: false, allow: ['127.0.0.0/8'] }

  const untrusted = await newSender(t, { egress }).send(post(`https://localhost:${port}/`), { timeoutMs: 2000 })
  t.equal(untrusted.error?.code, 'NETWORK')
  t.match(untrusted.error?.message, /^DEPTH_ZERO_SELF_SIGNED_CERT: /)

  const trusted = newSender(t, { egress, ca: [cert] })
  const ok = await trusted.send(post(`https://localhost:${port}/`), { timeoutMs: 2000 })
  t.equal(ok.error, undefined)
  t.equal(ok.bodyHead, `tls localhost:${port}`)
  const denied = await newSender(t, { egress: { allowInsecureHttp: false, allow: [] }, ca: [cert] }).send(
    post(`https://localhost:${port}/`),
    { timeoutMs: 2000 },
  )
  t.equal(denied.error?.code, 'EGRESS_DENIED')
  t.equal(connections, 1, 'only the trusted, allowed request completed a handshake')
})

const FIX =
  ", which HTTP does not allow; nothing was sent. Fix the Webhook's spec.headers, or the secret the header is built from " +
  '(a token saved with a trailing newline: write it with printf or echo -n), then redeliver'

t.test(
  'INVALID_REQUEST: a header undici refuses is not sent, and the message names the header and character, never the value',
  async (t) => {
    const server = await startServer(t, (_req, res) => res.end('ok'))
    const sender = newSender(t)
    const withHeader = (headers: Record<string, string>): OutgoingRequest => ({
      ...post(server.url('/h')),
      headers: { 'Content-Type': 'application/json', ...headers },
    })
    const cases: Array<[Record<string, string>, string]> = [
      [{ Authorization: 'Bearer tok-123\n' }, 'header Authorization holds U+000A (line feed) at its end'],
      [{ 'X-Team': 'ml\r\nX-Injected: 1' }, 'header X-Team holds U+000D (carriage return) at position 3 of 17'],
      [{ 'X-Team': 'm\0l' }, 'header X-Team holds U+0000 (NUL) at position 2 of 3'],
      [{ 'X-Team': 'm\x1bl' }, 'header X-Team holds U+001B (a control character) at position 2 of 3'],
      [{ 'X-Team': 'ml ✓' }, 'header X-Team holds U+2713 (a character above U+00FF) at its end'],
      [{ 'X-Team': 'ml 🚀 ops' }, 'header X-Team holds U+1F680 (a character above U+00FF) at position 4 of 9'],
      [{ 'X Team': 'ml' }, 'the header name "X Team" is not an HTTP token (letters, digits and !#$%&\'*+-.^_`|~ only)'],
    ]
    for (const [headers, why] of cases) {
      const result = await sender.send(withHeader(headers), { timeoutMs: 2000 })
      t.same(result.error, { code: 'INVALID_REQUEST', message: `${why}${FIX}` }, why)
      t.equal(result.statusCode, undefined)
      // The policy fails it at once, on the first of ten attempts.
      t.same(nextAttempt(1, result, undefined, { now: 0, random: () => 0.5 }), { kind: 'fail', reason: `${why}${FIX} (not retried)` })
      t.equal(endpointOk(result), undefined, "the receiver's circuit is not told")
    }
    t.notMatch(JSON.stringify(server.received), /tok-123/)
    t.equal(server.connections(), 0, 'nothing left: not even a connection was opened')
    t.equal(server.received.length, 0)
    // What undici allows is sent: a tab, Latin-1 (é is U+00E9), spaces inside.
    const fine = await sender.send(withHeader({ 'X-Team': 'ml\tand ops', 'X-Name': 'Zoé' }), { timeoutMs: 2000 })
    t.equal(fine.statusCode, 200)
    t.equal(server.received.length, 1)
    t.equal(server.received[0]!.headers['x-team'], 'ml\tand ops')
  },
)
