// The adaptive in-flight limit per webhook (controller/delivery/concurrency-limit.ts) against real
// receivers on loopback: the engine over a real SQLite outbox and the real undici sender, on the
// real clock (the limit learns from real latencies).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import type { ArtifactEvent } from '../controller/api/types.generated.js'
import { INITIAL_LIMIT } from '../controller/delivery/concurrency-limit.js'
import { DeliveryEngine } from '../controller/delivery/engine.js'
import type { EngineOptions } from '../controller/delivery/engine-options.js'
import { createBreaker, createRetryDecider } from '../controller/delivery/policies.js'
import { UndiciSender } from '../controller/delivery/sender.js'
import { SqliteStore } from '../controller/delivery/sqlite-store.js'
import { validateObjects } from '../controller/reconcile/validate.js'
import { parseManifest } from '../controller/sources/manifest.js'
import type { TapTest } from './helpers/cli.js'
import { until } from './helpers/until.js'

/** A receiver taking `delayMs` per request that answers 503 (with `retryAfter`, if any) to a request arriving while `capacity` are in flight. */
async function boundedReceiver(t: TapTest, o: { delayMs: number; capacity: number; retryAfter?: string }) {
  const r = {
    url: '',
    active: 0,
    /** [arrival time, requests in flight at the receiver with this one] per request. */
    arrivals: [] as Array<[number, number]>,
    refused: 0,
    ids: new Set<string>(),
  }
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    r.active++
    r.arrivals.push([Date.now(), r.active])
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (r.active > o.capacity) {
        r.refused++
        r.active--
        res.writeHead(503, o.retryAfter ? { 'retry-after': o.retryAfter } : {})
        res.end()
        return
      }
      setTimeout(() => {
        r.ids.add(String(req.headers['webhook-id']))
        r.active--
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end('{"ok":true}')
      }, o.delayMs)
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  t.teardown(() => new Promise<void>((ok) => server.close(() => ok())))
  return r
}

function state(url: string, extra = '') {
  const parsed = parseManifest(
    `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: hook}
spec:
  url: ${url}
  retry: {maxAttempts: 20, maxBackoffSeconds: 1}
${extra}---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: deploy}
spec:
  scope: {type: Registry, registry: model}
  event: {type: LINK_ARTIFACT}
  action:
    webhook: hook
    payload: {version: "\${artifact_version_string}"}
`,
    'm.yaml',
  )
  const s = validateObjects(parsed.objects, parsed.diagnostics)
  const errors = s.diagnostics.filter((d) => d.severity === 'error')
  if (errors.length) throw new Error(JSON.stringify(errors))
  return s
}

const event = (id: string): ArtifactEvent => ({
  id,
  type: 'LINK_ARTIFACT',
  author: 'alice',
  entity: 'acme',
  project: 'p',
  registry: 'model',
  collection: 'churn',
  artifact: { id: 'QQ==', name: 'churn', version: id },
})

async function engineFor(t: TapTest, url: string, extra = '', options: Partial<EngineOptions> = {}) {
  const store = new SqliteStore(t.testdir({}))
  const sender = new UndiciSender({ egress: { allowInsecureHttp: true, allow: ['127.0.0.0/8'] }, connectionsPerOrigin: 64 })
  const engine = new DeliveryEngine({
    store,
    sender,
    retry: createRetryDecider(),
    breaker: createBreaker(),
    pollIntervalMs: 20,
    ...options,
  })
  engine.setState(state(url, extra))
  engine.start()
  t.teardown(async () => {
    await engine.stop()
    await sender.close()
    store.close()
  })
  return { engine, store }
}

t.test('a receiver taking 20 ms that answers 503 above 16 in flight: at most 16 after the first second, nothing lost', async (t) => {
  const receiver = await boundedReceiver(t, { delayMs: 20, capacity: 16 })
  const { engine, store } = await engineFor(t, receiver.url)
  // 2,000 deliveries at 16 × 50 per second take 2.5 s or more: most of them come after the first second.
  const n = 2000
  for (let i = 0; i < n; i += 100) await engine.acceptGrouped(Array.from({ length: 100 }, (_, k) => event(`e-${i + k}`)))
  await until(`all ${n} delivered`, () => receiver.ids.size === n, 180_000)
  // Counted at the receiver: what it sees is the rule. The first second is the first second of
  // requests or, when this process gets so little CPU that the receiver answers far fewer than 800
  // a second (16 × 50; it saw 2 to 20 per 250 ms at load 20 on two cores), the first 800 requests.
  const first = receiver.arrivals[0]![0]
  const secondAt = Math.max(first + 1000, receiver.arrivals[800]![0])
  const late = receiver.arrivals.filter(([at]) => at >= secondAt)
  const over = late.filter(([, active]) => active > 16).length
  t.comment(`timeline (ms from the first arrival: requests, most in flight): ${timeline(receiver.arrivals, first)}`)
  t.ok(late.length > 500, `${late.length} requests after the first second (from ${secondAt - first} ms on)`)
  if (secondAt - first <= 2000) t.equal(over, 0, 'none found more than 16 in flight at the receiver after the first second')
  else {
    // Starved that much, our count in flight runs far ahead of the receiver's (answers wait unread in
    // this process for hundreds of ms) and each lowering of the ceiling waits for a refusal: a few
    // requests can still find 17.
    t.ok(
      over <= late.length / 100,
      `at most 1 % found more than 16 after the first 800 requests, on a starved machine (${over} of ${late.length})`,
    )
  }
  t.ok(receiver.refused >= 1, `the limit found the receiver's bound (${receiver.refused} requests refused with 503, all retried)`)
  await until('nothing pending', () => engine.pendingCount === 0, 10_000)
  t.same(
    store.countsByAutomation().get('default/deploy'),
    { pending: 0, succeeded: n, failed: 0, cancelled: 0 },
    'every delivery succeeded',
  )
  t.equal(receiver.ids.size, n, `every one of the ${n} deliveries arrived`)
})

/** Requests and the most in flight per 250 ms, for the test's log (how the limit found the bound). */
function timeline(arrivals: Array<[number, number]>, first: number): string {
  const buckets = new Map<number, [number, number]>()
  for (const [at, active] of arrivals) {
    const b = Math.floor((at - first) / 250) * 250
    const [count, most] = buckets.get(b) ?? [0, 0]
    buckets.set(b, [count + 1, Math.max(most, active)])
  }
  return [...buckets].map(([b, [count, most]]) => `${b}: ${count}, ${most}`).join('; ')
}

t.test('Retry-After on 503 pauses new requests to the webhook for that long', async (t) => {
  const receiver = await boundedReceiver(t, { delayMs: 50, capacity: 2, retryAfter: '1' })
  const { engine } = await engineFor(t, receiver.url)
  await engine.acceptGrouped(Array.from({ length: 200 }, (_, k) => event(`r-${k}`)))
  await until('all 200 delivered', () => receiver.ids.size === 200, 60_000)
  // After each refusal nothing new is sent for a second (the retry of the refused one included).
  const refusedAt = receiver.arrivals.filter(([, active]) => active > 2).map(([at]) => at)
  t.ok(refusedAt.length >= 1, `${refusedAt.length} refusals`)
  const first = refusedAt[0]!
  const soon = receiver.arrivals.filter(([at]) => at > first + 50 && at < first + 900)
  // Requests sent before the 503 was read can still arrive (on a loaded machine, up to a few hundred
  // ms later): at most the first limit's 8. Without the pause, about 30 would arrive (2 × 50 ms each).
  t.ok(
    soon.length <= INITIAL_LIMIT,
    `at most the ${INITIAL_LIMIT} sent before the refusal was read arrive in the second after the first 503 with Retry-After: 1 (${soon.length})`,
  )
})

t.test('spec.maxConcurrency caps the limit: a fast receiver never sees more than it', async (t) => {
  const receiver = await boundedReceiver(t, { delayMs: 5, capacity: 1000 })
  const { engine } = await engineFor(t, receiver.url, '  maxConcurrency: 3\n')
  await engine.acceptGrouped(Array.from({ length: 300 }, (_, k) => event(`m-${k}`)))
  await until('all 300 delivered', () => receiver.ids.size === 300, 60_000)
  t.equal(Math.max(...receiver.arrivals.map(([, a]) => a)), 3, 'three in flight at most, and three reached')
})

t.test('a fast receiver: the limit grows well past the first 8 in flight', async (t) => {
  const receiver = await boundedReceiver(t, { delayMs: 2, capacity: 100_000 })
  const { engine } = await engineFor(t, receiver.url)
  await engine.acceptGrouped(Array.from({ length: 3000 }, (_, k) => event(`f-${k}`)))
  await until('all 3000 delivered', () => receiver.ids.size === 3000, 180_000)
  const most = Math.max(...receiver.arrivals.map(([, a]) => a))
  t.ok(most > 16, `up to ${most} in flight`)
})
