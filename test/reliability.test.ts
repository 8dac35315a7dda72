// Reliability of `hookwise run` as a real child process on 127.0.0.1: kill -9 with deliveries in
// flight, a receiver that is down for a while, fuzzed and oversized bodies at the intake, graceful
// shutdown on SIGTERM, and secret values kept out of logs and history. Every process is killed and
// every temporary folder removed at teardown; every wait is bounded.
import t from 'tap'
import type { ChildProcess } from 'node:child_process'
import { createHmac, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hookwise, type TapTest } from './helpers/cli.js'
import { startHookwise } from './helpers/hookwise-process.js'
import { startReceiver, type Received, type Receiver } from './helpers/receiver.js'
import { until } from './helpers/until.js'

const _sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

// --- fixtures ------------------------------------------------------------------------------

interface Harness {
  dir: string
  manifests: string
  secrets: string
  state: string
  controllers: Controller[]
}

/** A temporary folder (manifests, secrets, state); at teardown every controller is killed, then the folder removed. */
function harness(t: TapTest): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'hookwise-reliability-'))
  const h: Harness = { dir, manifests: join(dir, 'manifests'), secrets: join(dir, 'secrets'), state: join(dir, 'state'), controllers: [] }
  mkdirSync(h.manifests)
  mkdirSync(h.secrets)
  t.teardown(async () => {
    for (const c of h.controllers) await c.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })
  return h
}

/** A Webhook to `url` and an Automation on LINK_ARTIFACT in the model registry (or one collection of it) whose payload names the event. */
function webhookAndAutomation(
  name: string,
  url: string,
  options: { webhookExtra?: string; payloadExtra?: string; collection?: string } = {},
): string {
  return `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata:
  name: ${name}
spec:
  url: ${url}
  timeoutSeconds: 10
${options.webhookExtra ?? ''}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata:
  name: ${name}-links
spec:
  scope:
    type: ${options.collection ? `Collection\n    collection: ${options.collection}` : 'Registry'}
    registry: model
  event:
    type: LINK_ARTIFACT
  action:
    webhook: ${name}
    payload:
      event: \${event_id}
      version: \${artifact_version_string}
      collection: \${artifact_collection_name}
${options.payloadExtra ?? ''}
---
`
}

function event(id: string, collection = 'churn-classifier'): Record<string, unknown> {
  return {
    id,
    type: 'LINK_ARTIFACT',
    time: '2026-11-27T09:30:00Z',
    author: 'bob',
    entity: 'acme',
    project: 'wandb-registry-model',
    registry: 'model',
    collection,
    artifact: {
      id: 'QXJ0aWZhY3Q6NTE3ODg5ODg3',
      name: 'churn-classifier',
      version: 'v7',
      type: 'model',
      aliases: ['latest'],
      tags: [],
      metadata: { accuracy: 0.93, framework: 'xgboost' },
    },
  }
}

// --- the controller as a child process -----------------------------------------------------

interface Controller {
  child: ChildProcess
  url: string
  /** Every line it printed, stdout and stderr. */
  lines: string[]
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** `node --import tsx controller/cli/main.ts run ...` on 127.0.0.1:0; resolves once it says it is running. */
async function startController(h: Harness, options: { env?: Record<string, string>; logLevel?: string } = {}): Promise<Controller> {
  const env = { ...process.env, ...options.env }
  if (!options.env?.HOOKWISE_INTAKE_TOKEN) delete env.HOOKWISE_INTAKE_TOKEN
  const args = [
    'run',
    '--dir',
    h.manifests,
    '--secrets',
    h.secrets,
    '--state',
    h.state,
    '--listen',
    '127.0.0.1:0',
    '--allow-insecure-http',
    '--egress-allow',
    '127.0.0.0/8',
    '--log-level',
    options.logLevel ?? 'info',
  ]
  // Killed by the harness's teardown, before its folder is removed.
  const p = startHookwise(args, { teardown: () => {} }, env)
  const c: Controller = { child: p.child, url: '', lines: p.lines, exited: p.exited, kill: (signal) => p.kill(signal) }
  h.controllers.push(c)
  c.url = await p.url()
  return c
}

// --- HTTP client -----------------------------------------------------------------------------

interface Answer {
  status: number
  headers: http.IncomingHttpHeaders
  text: string
}

/**
 * One request on a fresh connection. `chunked` sends the body in pieces without Content-Length.
 * Resolves as soon as a whole response has arrived, even if the server then cut the upload short.
 */
function call(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer; chunked?: boolean } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : Buffer.from(options.body)
    const headers: Record<string, string | number> = { ...options.headers }
    if (body && !options.chunked) headers['content-length'] = body.length
    const req = http.request(url, { method: options.method ?? 'POST', headers, agent: false })
    let answered = false
    req.on('response', (res) => {
      answered = true
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', (err) => {
      if (!answered) reject(err)
    })
    if (body && options.chunked) {
      const piece = Math.max(1, Math.ceil(body.length / 7))
      for (let i = 0; i < body.length; i += piece) req.write(body.subarray(i, i + piece))
      req.end()
    } else {
      req.end(body)
    }
  })
}

const json = (a: Answer): any => JSON.parse(a.text)

interface AcceptedEvent {
  id: string
  duplicate: boolean
  deliveries: Array<{ id: string; automation: string; webhook: string }>
}

async function postEvents(c: Controller, events: unknown[], headers: Record<string, string> = {}): Promise<AcceptedEvent[]> {
  const a = await call(`${c.url}/v1/events`, { headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(events) })
  if (a.status !== 202) throw new Error(`POST /v1/events answered ${a.status}: ${a.text}`)
  return (json(a) as { events: AcceptedEvent[] }).events
}

const distinctIds = (received: readonly Received[]): Set<string> => new Set(received.map((r) => String(r.headers['webhook-id'])))

/** Waits until the controller has no pending delivery left (so history is final). */
async function drained(c: Controller, timeoutMs = 60_000): Promise<void> {
  await until(
    'no pending deliveries',
    async () => {
      const a = await call(`${c.url}/v1/deliveries?status=pending&limit=1000`, { method: 'GET' })
      return a.status === 200 && (json(a) as unknown[]).length === 0
    },
    timeoutMs,
    100,
  )
}

interface DeliveryRow {
  id: string
  eventId: string
  status: string
  attempts: number
}

async function historyRows(state: string): Promise<DeliveryRow[]> {
  const r = await hookwise(['deliveries', '--state', state, '--json', '--limit', '5000'])
  if (r.status !== 0) throw new Error(`hookwise deliveries failed: ${r.stderr}`)
  return JSON.parse(r.stdout) as DeliveryRow[]
}

/** A slow 200 for every request: `min`..`max` ms. */
const slowScript = (n: number, min: number, max: number): Receiver['script'] =>
  Array.from({ length: n }, () => ({ status: 200, delayMs: min + Math.floor(Math.random() * (max - min)) }))

// --- 1. kill -9 with deliveries in flight --------------------------------------------------

t.test('kill -9 with 500 deliveries in flight, then restart: every delivery arrives, duplicates are exact copies, none lost', async (t) => {
  const started = Date.now()
  const h = harness(t)
  const receiver = await startReceiver(t)
  receiver.script = slowScript(2000, 100, 300)
  // Five webhooks (up to 8 attempts in flight each; all share the receiver's origin, whose pool
  // holds 16 connections), one automation per collection.
  const collections = [0, 1, 2, 3, 4].map((i) => `churn-${i}`)
  writeFileSync(
    join(h.manifests, 'hooks.yaml'),
    collections.map((c) => webhookAndAutomation(`slow-${c}`, `${receiver.url}/hook/${c}`, { collection: c })).join(''),
  )
  const first = await startController(h)

  // 500 events with distinct ids, each matching one automation, in 5 batches.
  const accepted: AcceptedEvent[] = []
  for (let b = 0; b < 5; b++)
    accepted.push(
      ...(await postEvents(
        first,
        Array.from({ length: 100 }, (_, i) => event(`kill9-${b * 100 + i}`, collections[i % 5])),
      )),
    )
  t.same(
    accepted.filter((a) => a.duplicate || a.deliveries.length !== 1).map((a) => a.id),
    [],
    'each of the 500 events was new and matched one automation',
  )
  const deliveryOf = new Map(accepted.map((a) => [a.id, a.deliveries[0]!.id]))
  const ids = new Set(deliveryOf.values())
  t.equal(ids.size, 500, '500 distinct delivery ids in the 202 answers')

  await until('some deliveries to arrive', () => distinctIds(receiver.received).size >= 100, 60_000, 10)
  const killed = await first.kill('SIGKILL')
  t.equal(killed.signal, 'SIGKILL', 'the controller died of SIGKILL')
  const beforeRestart = distinctIds(receiver.received).size
  t.ok(beforeRestart < 500, `only part had arrived when it was killed (${beforeRestart} of 500)`)

  const second = await startController(h)
  await until('all 500 deliveries to arrive', () => distinctIds(receiver.received).size >= 500, 120_000, 50)
  await drained(second)

  const eventOf = new Map([...deliveryOf].map(([e, d]) => [d, e]))
  const byId = new Map<string, Received[]>()
  for (const r of receiver.received) {
    const id = String(r.headers['webhook-id'])
    byId.set(id, [...(byId.get(id) ?? []), r])
  }
  const unknown = [...byId.keys()].filter((id) => !ids.has(id))
  t.same(unknown, [], 'every webhook-id received is a delivery id from a 202')
  const lost = [...ids].filter((id) => !byId.has(id))
  t.same(lost, [], 'no delivery lost')
  let mismatched = 0
  let unequalCopies = 0
  for (const [id, copies] of byId) {
    if ((JSON.parse(copies[0]!.body) as { event: string }).event !== eventOf.get(id)) mismatched++
    if (copies.some((c) => c.body !== copies[0]!.body)) unequalCopies++
  }
  t.equal(mismatched, 0, 'each webhook-id carries the body of its own event')
  t.equal(unequalCopies, 0, 'a duplicate carries the same webhook-id and the same body')
  const duplicates = receiver.received.length - byId.size
  t.ok(
    receiver.received.every((r) => r.method === 'POST' && r.path === `/hook/${(JSON.parse(r.body) as { collection: string }).collection}`),
    'each to its own webhook',
  )

  const rows = await historyRows(h.state)
  t.equal(rows.length, 500, 'hookwise deliveries lists 500 deliveries')
  t.same(new Set(rows.map((r) => r.id)), ids, 'the same ids as the 202 answers')
  t.same(
    rows.filter((r) => r.status !== 'succeeded').map((r) => `${r.id} ${r.status}`),
    [],
    'all succeeded',
  )
  t.comment(
    `kill -9 after ${beforeRestart} of 500 had arrived; ${receiver.received.length} requests in all, ${duplicates} duplicates; ${((Date.now() - started) / 1000).toFixed(1)} s`,
  )
})

// --- 2. a receiver down for a while ---------------------------------------------------------

/** A port nothing listens on (yet): connection refused until `listenOn` takes it. */
async function freePort(): Promise<number> {
  const s = http.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

/** A plain 200 receiver on a given port, recording what arrives; closed at teardown. */
async function listenOn(t: TapTest, port: number): Promise<Received[]> {
  const received: Received[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({
        method: req.method!,
        path: req.url!,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      })
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  t.teardown(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  )
  return received
}

interface Attempt {
  n: number
  startedAt: number
  statusCode: number | null
  error: string | null
}

t.test('a receiver down for a while gets every delivery after it recovers, with the backoff visible in the attempt times', async (t) => {
  const started = Date.now()
  const h = harness(t)
  // One receiver answers 503 to the first three requests (the first attempts), then 200; the
  // other origin refuses connections until a server starts on its port. Three deliveries per
  // origin keep each circuit closed (it opens after five consecutive failures).
  const flaky = await startReceiver(t)
  flaky.script = [503, 503, 503]
  const downPort = await freePort()
  writeFileSync(
    join(h.manifests, 'hooks.yaml'),
    webhookAndAutomation('flaky', `${flaky.url}/hook`) + webhookAndAutomation('down', `http://127.0.0.1:${downPort}/hook`),
  )
  const c = await startController(h)
  const accepted = await postEvents(c, [event('down-1'), event('down-2'), event('down-3')])
  const deliveries = accepted.flatMap((a) => a.deliveries)
  t.equal(deliveries.length, 6, 'each event matched both automations')

  const get = async (id: string) =>
    json(await call(`${c.url}/v1/deliveries/${id}`, { method: 'GET' })) as { status: string; webhook: string; attempts: Attempt[] }
  await until(
    'every first attempt to be recorded',
    async () => {
      for (const d of deliveries) if ((await get(d.id)).attempts.length < 1) return undefined
      return true
    },
    30_000,
    50,
  )
  t.equal(flaky.received.length, 3, 'the flaky receiver got the three first attempts (and answered 503)')
  const recoveredAt = Date.now()
  const revived = await listenOn(t, downPort)

  await until('every delivery to arrive after recovery', () => flaky.received.length >= 6 && revived.length >= 3, 30_000, 50)
  await drained(c, 30_000)
  const gaps: number[] = []
  for (const d of deliveries) {
    const row = await get(d.id)
    t.equal(row.status, 'succeeded', `${d.webhook} delivery succeeded`)
    t.equal(row.attempts.length, 2, 'in two attempts')
    const [a1, a2] = row.attempts as [Attempt, Attempt]
    if (d.webhook === 'default/flaky') t.equal(a1.statusCode, 503, 'attempt 1 got 503')
    else t.match(a1.error, /ECONNREFUSED/, 'attempt 1 was refused')
    t.equal(a2.statusCode, 200, 'attempt 2 got 200')
    const gap = a2.startedAt - a1.startedAt
    gaps.push(gap)
    // The first retry waits 5 s ±20 %: never sooner than 4 s; well before the 30 s step.
    t.ok(gap >= 4000, `attempt 2 came ${gap} ms after attempt 1 (at least 4 s)`)
    t.ok(gap < 24_000, 'and it is the ~5 s step of the schedule, not the next one')
  }
  const late = [...flaky.received.slice(3), ...revived]
  t.same(distinctIds(late), new Set(deliveries.map((d) => d.id)), 'every delivery arrived after recovery')
  t.ok(
    late.every((r) => r.at >= recoveredAt),
    'none of them before it',
  )
  t.comment(`backoff between attempt 1 and 2: ${gaps.sort((a, b) => a - b).join(', ')} ms; ${((Date.now() - started) / 1000).toFixed(1)} s`)
})

// --- 3. fuzzed and oversized bodies ------------------------------------------------------------

/** A small seeded PRNG (mulberry32), so a failing case can be replayed with HOOKWISE_FUZZ_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

interface FuzzCase {
  name: string
  body: string | Buffer
  contentType?: string
  chunked?: boolean
  /** Statuses allowed; by default 413 over 1 MiB, else 400. */
  expect?: number[]
}

function fuzzCases(random: () => number): FuzzCase[] {
  const int = (n: number) => Math.floor(random() * n)
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!
  const valid = JSON.stringify(event('fuzz-valid'))
  const cases: FuzzCase[] = []
  const contentTypes = [
    'application/json',
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/octet-stream',
    'multipart/form-data; boundary=x',
    '',
  ]

  // Invalid JSON: truncations and byte mutations of a valid event (kept only when JSON.parse rejects them).
  for (let i = 0; i < 60; i++)
    cases.push({ name: `truncated ${i}`, body: valid.slice(0, int(valid.length)), contentType: pick(contentTypes) })
  for (let i = 0; cases.length < 140 && i < 1000; i++) {
    const bytes = Buffer.from(valid)
    for (let k = 1 + int(4); k > 0; k--)
      bytes[int(bytes.length)] = pick([0x7b, 0x7d, 0x5b, 0x5d, 0x22, 0x3a, 0x2c, 0x5c, 0x00, 0xff, 0x20 + int(95)])
    try {
      JSON.parse(bytes.toString('utf8'))
    } catch {
      cases.push({ name: `mutated ${i}`, body: bytes, contentType: pick(contentTypes) })
    }
  }
  // Binary noise.
  for (let i = 0; i < 30; i++)
    cases.push({ name: `binary ${i}`, body: randomBytesFrom(random, 1 + int(4096)), contentType: pick(contentTypes) })
  for (const text of [
    '',
    ' ',
    'null',
    'true',
    '0',
    '"event"',
    '[]',
    '[[]]',
    '[null]',
    '{}',
    '{"__proto__":{"type":"LINK_ARTIFACT"}}',
    'NaN',
    '1e999',
    '\ufeff{}',
  ])
    cases.push({ name: `literal ${JSON.stringify(text)}`, body: text })

  // Wrong types, missing and unknown fields: every one breaks the schema.
  const base = () => event('fuzz-typed') as Record<string, any>
  const wrongValues = [42, -1, 1.5, true, false, null, [], [1, 2], {}, { nested: { deep: 1 } }, '', 'x'.repeat(300)]
  const topFields = ['id', 'type', 'time', 'author', 'entity', 'project', 'registry', 'collection', 'artifact']
  const artifactFields = ['id', 'name', 'version', 'type', 'aliases', 'tags', 'metadata']
  for (let i = 0; i < 50; i++) {
    const e = base()
    const field = pick(topFields)
    let value = pick(wrongValues)
    // A long author, an empty-looking author or registry are fine: choose a value the schema refuses.
    if (typeof value === 'string' && value === '' && field === 'author') value = 7
    if (typeof value === 'string' && value.length === 300 && (field === 'artifact' || field === 'time' || field === 'type')) value = 300
    e[field] = value
    cases.push({
      name: `wrong type ${field}=${JSON.stringify(value).slice(0, 20)}`,
      body: JSON.stringify(e),
      contentType: pick(contentTypes),
    })
  }
  for (let i = 0; i < 30; i++) {
    const e = base()
    const field = pick(artifactFields)
    e.artifact[field] =
      field === 'metadata' ? pick([42, 'x', [1], true]) : pick([42, null, { a: 1 }, field === 'aliases' || field === 'tags' ? 'x' : [1]])
    cases.push({ name: `wrong type artifact.${field}`, body: JSON.stringify(e) })
  }
  for (const field of ['type', 'entity', 'project', 'collection', 'artifact']) {
    const e = base()
    delete e[field]
    cases.push({ name: `missing ${field}`, body: JSON.stringify(e) })
  }
  cases.push({ name: 'unknown field', body: JSON.stringify({ ...base(), surprise: 1 }) })
  cases.push({ name: 'unknown type', body: JSON.stringify({ ...base(), type: 'DELETE_EVERYTHING' }) })
  cases.push({ name: 'bad time', body: JSON.stringify({ ...base(), time: 'yesterday' }) })
  cases.push({ name: 'id with spaces', body: JSON.stringify({ ...base(), id: 'a b' }) })

  // Huge strings: over the schema's limits, and up to just under the body limit.
  for (const size of [257, 4096, 65_536, 500_000, 1_000_000]) {
    cases.push({ name: `huge entity ${size}`, body: JSON.stringify({ ...base(), entity: 'e'.repeat(size) }) })
    cases.push({ name: `huge id ${size}`, body: JSON.stringify({ ...base(), id: 'i'.repeat(size) }) })
  }
  // Deep nesting, in the metadata (free-form) and at the top level.
  for (const depth of [101, 1000, 10_000, 100_000, 400_000]) {
    cases.push({
      name: `nested metadata ${depth}`,
      body: valid.replace('"metadata":{', `"metadata":{"deep":${'['.repeat(depth)}${']'.repeat(depth)},`),
    })
    cases.push({ name: `nested array ${depth}`, body: `${'['.repeat(depth)}${']'.repeat(depth)}` })
    cases.push({ name: `nested object ${depth}`, body: `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` })
  }
  // Arrays: empty, one bad among good ones, one over the limit.
  cases.push({ name: 'empty array', body: '[]' })
  cases.push({ name: 'one bad in an array', body: JSON.stringify([event('fuzz-a1'), { ...event('fuzz-a2'), type: 1 }]) })
  cases.push({ name: '1001 events', body: JSON.stringify(Array.from({ length: 1001 }, (_, i) => event(`fuzz-many-${i}`))), expect: [413] })
  // Over 1 MiB: declared, and chunked without Content-Length; valid JSON and junk.
  const big = JSON.stringify({ ...base(), author: 'a'.repeat(1024 * 1024) })
  cases.push({ name: 'over 1 MiB', body: big, expect: [413] })
  cases.push({ name: 'over 1 MiB chunked', body: big, chunked: true, expect: [413] })
  cases.push({ name: '5 MiB of junk', body: Buffer.alloc(5 * 1024 * 1024, 0x7b), expect: [413] })
  cases.push({ name: '5 MiB of junk chunked', body: Buffer.alloc(5 * 1024 * 1024, 0x7b), chunked: true, expect: [413] })
  cases.push({ name: 'small junk chunked', body: '{"type":', chunked: true })
  return cases
}

function randomBytesFrom(random: () => number, n: number): Buffer {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = Math.floor(random() * 256)
  return b
}

t.test('fuzzed and oversized bodies get 4xx problem bodies, never 5xx; the process stays up; tokens are enforced', async (t) => {
  const started = Date.now()
  const h = harness(t)
  const receiver = await startReceiver(t)
  writeFileSync(join(h.manifests, 'hooks.yaml'), webhookAndAutomation('fuzz', `${receiver.url}/hook`))
  const token = `intake-${randomBytes(8).toString('hex')}`
  const c = await startController(h, { env: { HOOKWISE_INTAKE_TOKEN: token } })
  const auth = { authorization: `Bearer ${token}` }
  const valid = JSON.stringify(event('fuzz-valid'))

  const isProblem = (a: Answer, status: number): boolean => {
    if (a.headers['content-type'] !== 'application/problem+json') return false
    const p = json(a) as Record<string, unknown>
    return p.status === status && typeof p.type === 'string' && typeof p.title === 'string' && typeof p.detail === 'string'
  }

  // Authentication first: nothing is accepted without the token.
  for (const [name, headers] of [
    ['no token', {}],
    ['wrong token', { authorization: 'Bearer nope' }],
    ['token with a suffix', { authorization: `Bearer ${token}x` }],
    ['basic auth', { authorization: `Basic ${Buffer.from(`u:${token}`).toString('base64')}` }],
  ] as const) {
    const a = await call(`${c.url}/v1/events`, { headers: { 'content-type': 'application/json', ...headers }, body: valid })
    t.equal(a.status, 401, `${name}: 401`)
    t.ok(isProblem(a, 401), `${name}: a problem body`)
    t.match(String(a.headers['www-authenticate']), /^Bearer/)
  }
  t.equal((await call(`${c.url}/v1/deliveries`, { method: 'GET' })).status, 401, 'history needs the token too')

  const seed = Number(process.env.HOOKWISE_FUZZ_SEED ?? Date.now() % 2 ** 31)
  t.comment(`fuzz seed ${seed} (replay with HOOKWISE_FUZZ_SEED=${seed})`)
  const cases = fuzzCases(prng(seed))
  const wrong: string[] = []
  for (const k of cases) {
    const headers: Record<string, string> = { ...auth }
    if (k.contentType !== '') headers['content-type'] = k.contentType ?? 'application/json'
    let a: Answer
    try {
      a = await call(`${c.url}/v1/events`, { headers, body: k.body, ...(k.chunked ? { chunked: true } : {}) })
    } catch (err) {
      wrong.push(`${k.name}: no answer (${(err as Error).message})`)
      continue
    }
    const expect = k.expect ?? (Buffer.byteLength(k.body) > 1024 * 1024 ? [413] : [400])
    if (!expect.includes(a.status)) wrong.push(`${k.name}: ${a.status} ${a.text.slice(0, 200)}`)
    else if (!isProblem(a, a.status)) wrong.push(`${k.name}: not a problem body: ${a.headers['content-type']} ${a.text.slice(0, 200)}`)
  }
  t.same(wrong, [], `${cases.length} fuzzed bodies: each got the expected 4xx with a problem body`)
  t.ok(cases.length >= 300, `${cases.length} cases`)
  const methods = await call(`${c.url}/v1/events`, { method: 'PUT', headers: auth, body: valid })
  t.equal(methods.status, 405, 'PUT /v1/events: 405')

  t.equal(c.child.exitCode, null, 'the controller is still running')
  const health = await call(`${c.url}/healthz`, { method: 'GET' })
  t.equal(health.status, 200, '/healthz 200 after the fuzzing')
  t.same(
    c.lines.filter((l) => l.includes('"request failed"')),
    [],
    'no request failed inside the server',
  )
  const [ok] = await postEvents(c, [event('fuzz-after')], auth)
  t.equal(ok!.deliveries.length, 1, 'a valid event is still accepted')
  const [got] = await receiver.waitFor(1, 30_000)
  t.equal(got!.headers['webhook-id'], ok!.deliveries[0]!.id, 'and delivered')
  t.equal(receiver.received.length, 1, 'nothing from the fuzzing was delivered')
  t.comment(`${((Date.now() - started) / 1000).toFixed(1)} s`)
})

// --- 4. graceful shutdown ------------------------------------------------------------------

t.test('SIGTERM with deliveries in flight: exit 0, in-flight work finished, the rest pending, delivered after restart', async (t) => {
  const started = Date.now()
  const h = harness(t)
  const receiver = await startReceiver(t)
  receiver.script = slowScript(400, 300, 600)
  writeFileSync(join(h.manifests, 'hooks.yaml'), webhookAndAutomation('slow', `${receiver.url}/hook`))
  const first = await startController(h)
  const accepted = await postEvents(
    first,
    Array.from({ length: 100 }, (_, i) => event(`term-${i}`)),
  )
  const ids = new Set(accepted.map((a) => a.deliveries[0]!.id))
  t.equal(ids.size, 100)

  await until('some deliveries to arrive', () => receiver.received.length >= 10, 60_000, 10)
  const exit = await first.kill('SIGTERM')
  t.same(exit, { code: 0, signal: null }, 'exit code 0 after SIGTERM')
  t.ok(
    first.lines.some((l) => l.includes('"shutting down"') && l.includes('SIGTERM')),
    'it logged the shutdown',
  )
  t.ok(
    first.lines.some((l) => l.includes('"stopped"')),
    'and that it stopped',
  )
  const arrivedBefore = distinctIds(receiver.received)

  const rows = await historyRows(h.state)
  const by = (status: string) => rows.filter((r) => r.status === status)
  t.equal(rows.length, 100, 'every accepted delivery is in the state')
  t.equal(by('failed').length + by('cancelled').length, 0, 'none failed or cancelled')
  t.equal(by('succeeded').length + by('pending').length, 100, 'each succeeded or still pending')
  const succeeded = new Set(by('succeeded').map((r) => r.id))
  t.same(
    [...arrivedBefore].filter((id) => !succeeded.has(id)),
    [],
    'every request in flight at SIGTERM was finished and recorded as succeeded',
  )
  const pendingAtExit = by('pending').length

  const second = await startController(h)
  await until('the rest to arrive', () => distinctIds(receiver.received).size >= 100, 120_000, 50)
  await drained(second)
  t.same(distinctIds(receiver.received), ids, 'every delivery arrived')
  t.equal(receiver.received.length, 100, 'exactly once each: nothing in flight was cut off and sent again')
  const after = await historyRows(h.state)
  t.same(
    after.filter((r) => r.status !== 'succeeded').map((r) => r.id),
    [],
    'all succeeded after the restart',
  )
  t.same((await second.kill('SIGTERM')).code, 0)
  t.comment(
    `SIGTERM after ${arrivedBefore.size} of 100 had arrived; ${pendingAtExit} pending at exit; ${((Date.now() - started) / 1000).toFixed(1)} s`,
  )
})

// --- 5. secrets never in logs or history -----------------------------------------------------

t.test('secret values reach the receiver but never a log line or the history', async (t) => {
  const started = Date.now()
  const h = harness(t)
  const secret = {
    token: `tok-${randomBytes(12).toString('hex')}`,
    apiKey: `key-${randomBytes(12).toString('hex')}`,
    signing: `sig-${randomBytes(12).toString('hex')}`,
  }
  const receiver = await startReceiver(t)
  receiver.script = [400] // the first attempt fails for good (logged as an error), then redelivered
  writeFileSync(
    join(h.secrets, 'creds.yaml'),
    `apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  token: ${secret.token}
  api-key: ${secret.apiKey}
data:
  signing-key: ${Buffer.from(secret.signing).toString('base64')}
`,
  )
  writeFileSync(
    join(h.manifests, 'hooks.yaml'),
    webhookAndAutomation('secretive', `${receiver.url}/hook`, {
      webhookExtra: `  accessToken:
    secretKeyRef: {name: creds, key: token}
  secrets:
    - name: API_KEY
      secretKeyRef: {name: creds, key: api-key}
    - name: SIGNING_KEY
      secretKeyRef: {name: creds, key: signing-key}
  signing: {secret: SIGNING_KEY, scheme: wandb}`,
      payloadExtra: '      key: ${API_KEY}\n      note: "key=${API_KEY}"',
    }),
  )
  const c = await startController(h, { logLevel: 'trace' })
  const accepted = await postEvents(c, [event('secret-1'), event('secret-2'), event('secret-3')])
  const ids = accepted.map((a) => a.deliveries[0]!.id)
  await receiver.waitFor(3, 30_000)
  await drained(c, 30_000)
  const failed = (json(await call(`${c.url}/v1/deliveries?status=failed`, { method: 'GET' })) as DeliveryRow[]).map((d) => d.id)
  t.equal(failed.length, 1, 'the delivery answered 400 failed')
  t.equal((await call(`${c.url}/v1/deliveries/${failed[0]}/redeliver`, { method: 'POST' })).status, 202, 'and was redelivered')
  await receiver.waitFor(4, 30_000)
  await drained(c, 30_000)

  // The receiver got the real values, and the signature made with the signing secret.
  for (const r of receiver.received) {
    t.equal(r.headers.authorization, `Bearer ${secret.token}`, 'the access token was sent')
    const body = JSON.parse(r.body) as { key: string; note: string }
    t.equal(body.key, secret.apiKey, 'the payload carried the secret')
    t.equal(body.note, `key=${secret.apiKey}`)
    t.equal(
      r.headers['x-wandb-signature'],
      createHmac('sha256', secret.signing).update(r.body).digest('base64'),
      'signed with the signing secret',
    )
  }

  // Everything hookwise shows about these deliveries, over HTTP and the CLI.
  const shown: Array<[string, string]> = []
  for (const id of ids) {
    const a = await call(`${c.url}/v1/deliveries/${id}`, { method: 'GET' })
    shown.push([`GET /v1/deliveries/${id}`, a.text])
    const attempts = (json(a) as { attempts: Array<{ requestHeaders: Record<string, string>; body: string }> }).attempts
    t.ok(attempts.length >= 1)
    for (const at of attempts) {
      t.equal(at.requestHeaders.Authorization, 'Bearer ****', 'the recorded Authorization is masked')
      t.equal((JSON.parse(at.body) as { key: string }).key, '****', 'the recorded body masks the secret')
    }
    const cli = await hookwise(['delivery', id, '--state', h.state, '--json'])
    shown.push([`hookwise delivery ${id} --json`, cli.stdout + cli.stderr])
    const text = await hookwise(['delivery', id, '--state', h.state])
    shown.push([`hookwise delivery ${id}`, text.stdout + text.stderr])
  }
  for (const path of ['/v1/deliveries?limit=1000', '/v1/status', '/metrics'])
    shown.push([`GET ${path}`, (await call(`${c.url}${path}`, { method: 'GET' })).text])
  const list = await hookwise(['deliveries', '--state', h.state, '--json'])
  shown.push(['hookwise deliveries --json', list.stdout + list.stderr])
  t.same((await c.kill('SIGTERM')).code, 0)
  // The log, every line (trace level), and the raw SQLite files.
  t.ok(
    c.lines.some((l) => l.includes('"delivery failed')),
    'the log has the failure',
  )
  t.ok(c.lines.length >= 8, `${c.lines.length} log lines`)
  for (const [i, line] of c.lines.entries()) shown.push([`log line ${i + 1}`, line])
  for (const file of readdirSync(h.state)) shown.push([`state file ${file}`, readFileSync(join(h.state, file)).toString('latin1')])

  const leaks: string[] = []
  for (const [where, text] of shown) {
    for (const [name, value] of Object.entries(secret)) {
      if (text.includes(value) || text.includes(Buffer.from(value).toString('base64'))) leaks.push(`${name} in ${where}`)
    }
  }
  t.same(leaks, [], `no secret value in ${shown.length} logs, answers and files`)
  t.comment(`${((Date.now() - started) / 1000).toFixed(1)} s`)
})
