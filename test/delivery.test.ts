// The delivery engine over a real SQLite outbox, a real undici sender and real receivers on
// loopback; the clock is injected so retries are tested without waiting for them.
import t from 'tap'
import { Webhook as StandardWebhook } from 'standardwebhooks'
import { parseManifest } from '../controller/sources/manifest.js'
import { validateObjects } from '../controller/reconcile/validate.js'
import { DeliveryEngine } from '../controller/delivery/engine.js'
import type { EngineOptions } from '../controller/delivery/engine-options.js'
import type { AttemptReport } from '../controller/delivery/outcomes.js'
import { SqliteStore } from '../controller/delivery/sqlite-store.js'
import { UndiciSender } from '../controller/delivery/sender.js'
import { createBreaker, createRetryDecider } from '../controller/delivery/policies.js'
import type { ArtifactEvent } from '../controller/api/types.generated.js'
import { startReceiver, type Receiver } from './helpers/receiver.js'
import type { TapTest } from './helpers/cli.js'

const SIGNING = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'

function manifests(url: string, extra = '', headers = '{X-Team: ml}'): string {
  return `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: hook}
spec:
  url: ${url}
  accessToken: {secretKeyRef: {name: creds, key: token}}
  secrets: [{name: SIGNING_KEY, secretKeyRef: {name: creds, key: signing}}, {name: API_KEY, secretKeyRef: {name: creds, key: api}}]
  signing: {secret: SIGNING_KEY, scheme: standard-webhooks}
  headers: ${headers}
  retry: {maxAttempts: 3}
${extra}---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {token: tok-123, signing: ${SIGNING}, api: key-456}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: deploy}
spec:
  scope: {type: Registry, registry: model}
  event: {type: LINK_ARTIFACT}
  action:
    webhook: hook
    payload: {version: "\${artifact_version_string}", key: "\${API_KEY}"}
`
}

function state(text: string) {
  const parsed = parseManifest(text, 'm.yaml')
  const s = validateObjects(parsed.objects, parsed.diagnostics)
  // Warnings are fine (a URL egress refuses, such as the metadata address, warns HW_URL_NOT_GLOBAL); errors are not.
  const unexpected = s.diagnostics.filter((d) => d.severity === 'error' || d.code !== 'HW_URL_NOT_GLOBAL')
  if (unexpected.length) throw new Error(JSON.stringify(unexpected))
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
  artifact: { id: 'QQ==', name: 'churn', version: 'v7' },
})

interface Harness {
  engine: DeliveryEngine
  store: SqliteStore
  receiver: Receiver
  clock: { now: number }
  reports: AttemptReport[]
  settle(): Promise<void>
}

async function harness(
  t: TapTest,
  options: { url?: (r: Receiver) => string; extraWebhookSpec?: string; headers?: string; engine?: Partial<EngineOptions> } = {},
): Promise<Harness> {
  const receiver = await startReceiver(t)
  const store = new SqliteStore(t.testdir({}))
  const clock = { now: Date.parse('2026-11-27T10:00:00Z') }
  const reports: AttemptReport[] = []
  const sender = new UndiciSender({ egress: { allowInsecureHttp: true, allow: ['127.0.0.0/8'] } })
  const engine = new DeliveryEngine({
    store,
    sender,
    retry: createRetryDecider(() => 0.5), // no jitter: 5 s, 30 s, ...
    breaker: createBreaker(),
    now: () => clock.now,
    pollIntervalMs: 10,
    onAttempt: (r) => reports.push(r),
    ...options.engine,
  })
  engine.setState(state(manifests(options.url ? options.url(receiver) : `${receiver.url}/hook`, options.extraWebhookSpec, options.headers)))
  engine.start()
  t.teardown(async () => {
    await engine.stop()
    await sender.close()
    store.close()
  })
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 200 && engine.pendingCount > 0 && store.due(clock.now, 1).length > 0; i++)
      await new Promise((r) => setTimeout(r, 10))
    await new Promise((r) => setTimeout(r, 30))
  }
  return { engine, store, receiver, clock, reports, settle }
}

t.test('an accepted event is stored, then delivered with the exact request', async (t) => {
  const h = await harness(t)
  const [accepted] = await h.engine.acceptGrouped([event('e-1')])
  t.equal(accepted!.deliveries.length, 1)
  const id = accepted!.deliveries[0]!.id
  t.equal(h.store.get(id)?.status, 'pending', 'stored before anything is sent')
  const [got] = await h.receiver.waitFor(1)
  t.equal(got!.path, '/hook')
  t.equal(got!.body, '{"version":"acme/p/churn:v7","key":"key-456"}')
  t.match(got!.headers, {
    'content-type': 'application/json',
    'user-agent': 'hookwise/0.1.0',
    'webhook-id': id,
    authorization: 'Bearer tok-123',
    'x-team': 'ml',
  })
  // The signature verifies with the standardwebhooks package (timestamp is the injected clock's).
  const wh = new StandardWebhook(SIGNING)
  t.equal(got!.headers['webhook-timestamp'], String(Math.floor(h.clock.now / 1000)))
  t.throws(
    () => wh.verify(got!.body, got!.headers as Record<string, string>),
    /timestamp too old/,
    'the verifier checks our (injected, old) timestamp',
  )
  await h.settle()
  const d = h.store.get(id)!
  t.match(d, { status: 'succeeded', attempts: 1, lastStatusCode: 200 })
  const [attempt] = h.store.attempts(id)
  t.match(attempt, { n: 1, url: `${h.receiver.url}/hook`, statusCode: 200, error: null })
  t.equal(attempt!.requestHeaders.Authorization, 'Bearer ****', 'history masks the token')
  t.equal(attempt!.body, '{"version":"acme/p/churn:v7","key":"****"}', 'history masks secret values in the body')
  t.equal(h.engine.pendingCount, 0)
})

t.test('static headers validation accepts are sent as written: a tab, Latin-1, every visible ASCII character', async (t) => {
  // state() throws on any diagnostic: these pass validation (and the CRD's rules, the same ones).
  const h = await harness(t, { headers: '{X-Team: "ml\\tand ops", X-Name: "Zoé", X-All: "!~ #$%&()*+,-./:;<=>?@[]^_`{|}"}' })
  await h.engine.acceptGrouped([event('e-headers')])
  const [got] = await h.receiver.waitFor(1)
  t.match(got!.headers, { 'x-team': 'ml\tand ops', 'x-all': '!~ #$%&()*+,-./:;<=>?@[]^_`{|}' })
  // Node reads header bytes as Latin-1: é arrives as the one byte 0xE9.
  t.equal(got!.headers['x-name'], 'Zoé')
  await h.settle()
  t.same(
    h.reports.map((r) => [r.status, r.result.statusCode]),
    [['succeeded', 200]],
  )
})

t.test('re-sent event ids are not delivered twice', async (t) => {
  const h = await harness(t)
  const first = await h.engine.acceptGrouped([event('e-dup')])
  const again = await h.engine.acceptGrouped([event('e-dup'), event('e-new')])
  t.equal(first[0]!.duplicate, false)
  t.same(
    again.map((a) => [a.id, a.duplicate, a.deliveries.length]),
    [
      ['e-dup', true, 0],
      ['e-new', false, 1],
    ],
  )
  await h.receiver.waitFor(2)
  await h.settle()
  t.equal(h.receiver.received.length, 2)
})

t.test('5xx and network errors are retried on the schedule with the same webhook-id; 4xx fails at once', async (t) => {
  const h = await harness(t)
  h.receiver.script = [503, { status: 429, headers: { 'retry-after': '60' } }, 200]
  const [a] = await h.engine.acceptGrouped([event('e-retry')])
  const id = a!.deliveries[0]!.id
  await h.receiver.waitFor(1)
  await h.settle()
  t.match(h.store.get(id), { status: 'pending', attempts: 1, lastStatusCode: 503, nextAttemptAt: h.clock.now + 5_000 })
  h.clock.now += 5_000
  h.engine.kick()
  await h.receiver.waitFor(2)
  await h.settle()
  t.match(
    h.store.get(id),
    { status: 'pending', attempts: 2, lastStatusCode: 429, nextAttemptAt: h.clock.now + 60_000 },
    'Retry-After 60 beats the 30 s schedule',
  )
  h.clock.now += 60_000
  h.engine.kick()
  await h.receiver.waitFor(3)
  await h.settle()
  t.match(h.store.get(id), { status: 'succeeded', attempts: 3, lastStatusCode: 200 })
  t.same(new Set(h.receiver.received.map((r) => r.headers['webhook-id'])), new Set([id]), 'one webhook-id across retries')

  h.receiver.script = [400]
  const [b] = await h.engine.acceptGrouped([event('e-400')])
  await h.receiver.waitFor(4)
  await h.settle()
  t.match(h.store.get(b!.deliveries[0]!.id), {
    status: 'failed',
    attempts: 1,
    lastStatusCode: 400,
    lastError: /^the receiver answered 400, which is not retried/,
  })
})

t.test('maxAttempts bounds retries; then the delivery is failed', async (t) => {
  const h = await harness(t)
  h.receiver.fallback = 500
  const [a] = await h.engine.acceptGrouped([event('e-max')])
  const id = a!.deliveries[0]!.id
  for (let n = 1; n <= 3; n++) {
    await h.receiver.waitFor(n)
    await h.settle()
    h.clock.now += 31_000
    h.engine.kick()
  }
  await h.settle()
  t.match(h.store.get(id), { status: 'failed', attempts: 3, lastError: /^gave up after 3 attempts \(spec.retry.maxAttempts 3\)/ })
  t.equal(h.receiver.received.length, 3)
})

t.test('410 marks the webhook gone: later deliveries wait until the Webhook changes', async (t) => {
  const h = await harness(t)
  h.receiver.script = [410]
  const [a] = await h.engine.acceptGrouped([event('e-gone')])
  await h.receiver.waitFor(1)
  await h.settle()
  t.match(h.store.get(a!.deliveries[0]!.id), { status: 'failed', lastError: /410 Gone/ })
  const [b] = await h.engine.acceptGrouped([event('e-after')])
  await h.settle()
  t.equal(h.receiver.received.length, 1, 'nothing sent to a gone webhook')
  t.match(h.store.get(b!.deliveries[0]!.id), { status: 'pending', lastError: /answered 410 Gone; change the Webhook to resume/ })
  h.engine.setState(state(manifests(`${h.receiver.url}/hook2`)))
  h.clock.now += 31_000
  h.engine.kick()
  await h.receiver.waitFor(2)
  t.equal(h.receiver.received[1]!.path, '/hook2')
})

t.test('the egress policy refuses cloud metadata addresses without retrying', async (t) => {
  const h = await harness(t, { url: () => 'http://169.254.169.254/latest/meta-data' })
  const [a] = await h.engine.acceptGrouped([event('e-ssrf')])
  await h.settle()
  t.match(h.store.get(a!.deliveries[0]!.id), { status: 'failed', attempts: 1, lastError: /169\.254\.169\.254/ })
  t.match(h.reports[0], { verdict: 'fail', result: { error: { code: 'EGRESS_DENIED' } } })
})

t.test('a token with a trailing newline: INVALID_REQUEST, failed at the first attempt, nothing sent, the circuit not told', async (t) => {
  const breaker = createBreaker({ failureThreshold: 1 })
  const h = await harness(t, { engine: { breaker } })
  h.engine.setState(state(manifests(`${h.receiver.url}/hook`).replace('token: tok-123', 'token: "tok-123\\n"')))
  const [a] = await h.engine.acceptGrouped([event('e-newline')])
  await h.settle()
  const why =
    "header Authorization holds U+000A (line feed) at its end, which HTTP does not allow; nothing was sent. Fix the Webhook's spec.headers, " +
    'or the secret the header is built from (a token saved with a trailing newline: write it with printf or echo -n), then redeliver'
  t.match(h.store.get(a!.deliveries[0]!.id), { status: 'failed', attempts: 1, lastError: `${why} (not retried)` })
  t.match(h.reports, [{ attempt: 1, verdict: 'fail', result: { error: { code: 'INVALID_REQUEST', message: why } } }])
  t.equal(h.receiver.received.length, 0)
  t.same(breaker.snapshot(), [], 'one failure would open the circuit; this one was not recorded')
})

t.test('removing an automation cancels its pending deliveries', async (t) => {
  const h = await harness(t)
  h.receiver.fallback = 503
  const [a] = await h.engine.acceptGrouped([event('e-cancel')])
  await h.receiver.waitFor(1)
  await h.settle()
  const onlyWebhook = manifests(`${h.receiver.url}/hook`).split('---\napiVersion: hookwise.dev/v1alpha1\nkind: Automation')[0]!
  t.same(await h.engine.setState(state(onlyWebhook)), { cancelled: 1 })
  t.match(h.store.get(a!.deliveries[0]!.id), { status: 'cancelled', lastError: 'automation removed' })
  t.equal(h.engine.pendingCount, 0)
})

t.test('a missing Secret makes deliveries wait, not fail; they go once it exists', async (t) => {
  const h = await harness(t)
  const without = manifests(`${h.receiver.url}/hook`).replace(/---\napiVersion: v1\nkind: Secret[\s\S]*?\n---\n/, '---\n')
  h.engine.setState(state(without))
  const [a] = await h.engine.acceptGrouped([event('e-nosecret')])
  await h.settle()
  t.match(h.store.get(a!.deliveries[0]!.id), {
    status: 'pending',
    attempts: 0,
    lastError: 'webhook default/hook needs ACCESS_TOKEN: Secret default/creds not found',
  })
  h.engine.setState(state(manifests(`${h.receiver.url}/hook`)))
  h.clock.now += 31_000
  h.engine.kick()
  await h.receiver.waitFor(1)
  await h.settle()
  t.match(h.store.get(a!.deliveries[0]!.id), { status: 'succeeded', attempts: 1 })
})

t.test('the circuit opens after consecutive failures: jobs wait, nothing is dropped', async (t) => {
  const h = await harness(t)
  h.receiver.fallback = 503
  const accepted = await h.engine.acceptGrouped(Array.from({ length: 8 }, (_, i) => event(`e-cb-${i}`)))
  await h.receiver.waitFor(5)
  await h.settle()
  t.ok(
    h.receiver.received.length >= 5 && h.receiver.received.length <= 8,
    `${h.receiver.received.length} attempts before the circuit opened`,
  )
  const ids = accepted.map((a) => a.deliveries[0]!.id)
  t.ok(
    ids.every((id) => h.store.get(id)!.status === 'pending'),
    'all still pending',
  )
  const before = h.receiver.received.length
  h.clock.now += 10_000
  h.engine.kick()
  await h.settle()
  t.equal(h.receiver.received.length, before, 'no request while the circuit is open')
  h.receiver.fallback = 200
  // The probe is answered after 300 ms; anything sent beside it would be answered at once.
  h.receiver.script = [{ status: 200, delayMs: 300 }]
  h.clock.now += 60_000
  h.engine.kick()
  await new Promise((r) => setTimeout(r, 150))
  t.equal(h.receiver.received.length, before, 'half-open: one probe, nothing beside it')
  await h.receiver.waitFor(before + 1)
  // The others go once the probe succeeded (those told to wait for it, once that wait has passed).
  h.clock.now += 60_000
  h.engine.kick()
  await h.receiver.waitFor(before + 8)
  await h.settle()
  t.ok(
    ids.every((id) => h.store.get(id)!.status === 'succeeded'),
    'all delivered after the endpoint recovered',
  )
})

t.test('the queue bound refuses new events with QueueFullError, storing nothing', async (t) => {
  const h = await harness(t, { engine: { maxPending: 2 } })
  h.receiver.fallback = 503
  await h.engine.acceptGrouped([event('q-1'), event('q-2')])
  await t.rejects(h.engine.acceptGrouped([event('q-3')]), { name: 'QueueFullError', retryAfterSeconds: 5 })
  await t.rejects(h.engine.acceptGrouped([event('q-4')]), {
    code: 'HW_QUEUE_FULL',
    message: 'the delivery queue holds 2 pending deliveries (limit 2); retry later',
  })
  t.equal(h.store.list({}).length, 2)
})

t.test('a suspended webhook holds its deliveries', async (t) => {
  const h = await harness(t, { extraWebhookSpec: '  suspend: true\n' })
  const [a] = await h.engine.acceptGrouped([event('e-susp')])
  await h.settle()
  t.equal(h.receiver.received.length, 0)
  t.match(h.store.get(a!.deliveries[0]!.id), { status: 'pending', lastError: 'webhook default/hook is suspended' })
})

t.test('a backlog larger than the read window goes out whole, each delivery once, without waiting for the timer', async (t) => {
  // Two in flight and reads of 8 rows (4 x concurrency, plus those in flight): the engine reads the
  // outbox again each time its cache runs dry, not on the (hour-long) timer.
  const h = await harness(t, { engine: { concurrency: 2, perWebhookConcurrency: 2, pollIntervalMs: 3_600_000 } })
  const accepted = await h.engine.acceptGrouped(Array.from({ length: 25 }, (_, i) => event(`backlog-${i}`)))
  const ids = accepted.map((a) => a.deliveries[0]!.id)
  const got = await h.receiver.waitFor(25, 5_000)
  await h.settle()
  t.same(got.map((r) => r.headers['webhook-id']).sort(), [...ids].sort(), 'every delivery arrived once')
  t.equal(h.receiver.received.length, 25, 'and no more')
  t.equal(h.engine.pendingCount, 0)
  t.equal(h.store.list({ status: 'succeeded', limit: 100 }).length, 25)
})

t.test("under a backlog, slow outbox reads space out the timer's re-reads, to at most 10 poll intervals", async (t) => {
  // One request in flight for the one webhook (a second slot free in all, so the timer looks for
  // other work), each answered 1 s late: the cache does not run dry during the test, so only the
  // timer reads the outbox. Each read is made to take 20 ms: 50 x 20 ms would be 1,000 ms between
  // timer reads, and the bound is 10 x pollIntervalMs (10 ms) = 100 ms of the engine's clock.
  const h = await harness(t, { engine: { concurrency: 2, perWebhookConcurrency: 1 } })
  h.receiver.script = Array.from({ length: 20 }, () => ({ status: 200, delayMs: 1_000 }))
  let reads = 0
  const due = h.store.due.bind(h.store)
  h.store.due = (...args: Parameters<typeof due>) => {
    reads++
    const until = performance.now() + 20
    while (performance.now() < until);
    return due(...args)
  }
  await h.engine.acceptGrouped(Array.from({ length: 20 }, (_, i) => event(`slow-read-${i}`)))
  // The intake hands new deliveries to the scheduler's cache without a read; a kick makes the
  // engine read them from the outbox instead, as it does a backlog after a restart.
  h.engine.kick()
  await h.receiver.waitFor(1)
  const before = reads
  t.ok(before > 0, 'the backlog was read from the outbox')
  h.clock.now += 99
  await new Promise((r) => setTimeout(r, 60)) // several ticks of the 10 ms timer
  t.equal(reads, before, 'no timer read before 100 ms of the engine clock')
  h.clock.now += 1
  for (let i = 0; i < 50 && reads === before; i++) await new Promise((r) => setTimeout(r, 10))
  t.equal(reads, before + 1, 'one timer read once 100 ms have passed')
})

t.test('a webhook whose Secret is missing never holds the probe of a circuit it shares with a healthy webhook', async (t) => {
  // Two webhooks on the same receiver origin (one circuit): `healthy`, and `orphan` whose Secret
  // does not exist. The lease of a probe is long (10 min) and the cool-down short (1 s): a probe
  // slot taken by a delivery that sends nothing would hold the healthy webhook for 10 minutes.
  const breaker = createBreaker({ failureThreshold: 1, cooldownMs: 1_000, probeLeaseMs: 600_000 })
  const h = await harness(t, { engine: { breaker } })
  const pair = (name: string, registry: string, token: string) => `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: ${name}}
spec:
  url: ${h.receiver.url}/${name}
  accessToken: {secretKeyRef: {name: ${token}, key: token}}
  retry: {maxAttempts: 5}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: ${name}-auto}
spec:
  scope: {type: Registry, registry: ${registry}}
  event: {type: LINK_ARTIFACT}
  action: {webhook: ${name}, payload: {version: "\${artifact_version_string}"}}
---
`
  h.engine.setState(
    state(
      `${pair('healthy', 'model', 'creds')}${pair('orphan', 'dataset', 'missing')}apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {token: tok-123}\n`,
    ),
  )
  const t0 = h.clock.now
  h.receiver.fallback = 503
  const [first] = await h.engine.acceptGrouped([event('e-open')])
  await h.receiver.waitFor(1)
  await h.settle()
  t.same(
    breaker.snapshot(),
    [{ origin: h.receiver.url, state: 'open', consecutiveFailures: 1, openUntil: t0 + 1_000 }],
    'one 503 opened it',
  )
  const healthyId = first!.deliveries[0]!.id
  t.match(h.store.get(healthyId), { status: 'pending', attempts: 1, nextAttemptAt: t0 + 5_000 })

  // The receiver recovers. The cool-down is over when the orphan's delivery comes due: it is the
  // first to ask, so it gets the probe slot, and cannot send.
  h.receiver.fallback = 200
  h.clock.now = t0 + 1_000
  const [orphan] = await h.engine.acceptGrouped([{ ...event('e-orphan'), registry: 'dataset' }])
  await h.settle()
  const orphanId = orphan!.deliveries[0]!.id
  t.match(h.store.get(orphanId), {
    status: 'pending',
    attempts: 0,
    lastError: 'webhook default/orphan needs ACCESS_TOKEN: Secret default/missing not found',
  })
  t.equal(h.receiver.received.length, 1, 'nothing was sent for the orphan')

  // The healthy webhook's retry comes due 4 s later, long before any lease: it goes, and closes the circuit.
  h.clock.now = t0 + 5_000
  h.engine.kick()
  await h.receiver.waitFor(2, 2_000)
  await h.settle()
  t.match(h.store.get(healthyId), { status: 'succeeded', attempts: 2, lastStatusCode: 200 })
  t.equal(h.receiver.received[1]!.path, '/healthy')
  t.same(breaker.snapshot(), [], 'the circuit is closed')
  const [next] = await h.engine.acceptGrouped([event('e-after')])
  await h.receiver.waitFor(3, 2_000)
  await h.settle()
  t.match(h.store.get(next!.deliveries[0]!.id), { status: 'succeeded', attempts: 1 })
  t.match(h.store.get(orphanId), { status: 'pending', attempts: 0 }, 'the orphan still waits for its Secret')
})

t.test('410 Gone is kept in the state: after a restart nothing goes to the gone endpoint until the Webhook changes', async (t) => {
  const dir = t.testdir({})
  const receiver = await startReceiver(t)
  const clock = { now: Date.parse('2026-11-27T10:00:00Z') }
  const open = (text: string) => {
    const store = new SqliteStore(dir)
    const sender = new UndiciSender({ egress: { allowInsecureHttp: true, allow: ['127.0.0.0/8'] } })
    const engine = new DeliveryEngine({
      store,
      sender,
      retry: createRetryDecider(() => 0.5),
      breaker: createBreaker(),
      now: () => clock.now,
      pollIntervalMs: 10,
    })
    engine.setState(state(text))
    engine.start()
    let stopped: Promise<void> | undefined
    const stop = () =>
      (stopped ??= (async () => {
        await engine.stop()
        await sender.close()
        await store.close()
      })())
    return { store, engine, stop }
  }
  receiver.script = [410]
  const first = open(manifests(`${receiver.url}/hook`))
  const [a] = await first.engine.acceptGrouped([event('e-gone-1')])
  await receiver.waitFor(1)
  for (let i = 0; i < 100 && first.store.get(a!.deliveries[0]!.id)!.status === 'pending'; i++) await new Promise((r) => setTimeout(r, 10))
  t.match(first.store.get(a!.deliveries[0]!.id), { status: 'failed', lastError: /410 Gone/ })
  await first.stop()

  // A new engine on the same file, with the same Webhook: still gone.
  const second = open(manifests(`${receiver.url}/hook`))
  t.teardown(() => second.stop())
  const [b] = await second.engine.acceptGrouped([event('e-gone-2')])
  await new Promise((r) => setTimeout(r, 200))
  t.equal(receiver.received.length, 1, 'nothing sent to the gone endpoint after the restart')
  t.match(second.store.get(b!.deliveries[0]!.id), {
    status: 'pending',
    attempts: 0,
    lastError: 'webhook default/hook answered 410 Gone; change the Webhook to resume',
  })
  // The Webhook changes (a new URL): its deliveries go again, and a restart does not hold them.
  second.engine.setState(state(manifests(`${receiver.url}/hook2`)))
  clock.now += 31_000
  second.engine.kick()
  await receiver.waitFor(2)
  t.equal(receiver.received[1]!.path, '/hook2')
  await second.stop()
  const third = open(manifests(`${receiver.url}/hook2`))
  t.teardown(() => third.stop())
  await third.engine.acceptGrouped([event('e-gone-3')])
  await receiver.waitFor(3)
  t.equal(receiver.received[2]!.path, '/hook2')
})

t.test("a dead webhook at its pending bound does not make the intake refuse another webhook's events", async (t) => {
  const h = await harness(t, { engine: { maxPending: 100, maxPendingPerWebhook: 2 } })
  const dead = `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: dead}
spec: {url: "${h.receiver.url}/dead"}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: to-dead}
spec:
  scope: {type: Registry, registry: dataset}
  event: {type: LINK_ARTIFACT}
  action: {webhook: dead, payload: {v: "\${artifact_version_string}"}}
---
`
  h.engine.setState(state(dead + manifests(`${h.receiver.url}/hook`)))
  h.receiver.fallback = 503
  const toDead = (id: string): ArtifactEvent => ({ ...event(id), registry: 'dataset' })
  await h.engine.acceptGrouped([toDead('d-1'), toDead('d-2')])
  await h.settle()
  await t.rejects(h.engine.acceptGrouped([toDead('d-3')]), {
    name: 'QueueFullError',
    code: 'HW_QUEUE_FULL',
    retryAfterSeconds: 5,
    message: 'webhook default/dead holds 2 pending deliveries (limit 2 per webhook); retry later',
  })
  // An event that matches both the dead webhook's automation and another: refused whole, nothing stored.
  const both: ArtifactEvent = { ...event('d-both'), registry: 'dataset' }
  h.engine.setState(state(dead.replace('registry: dataset', 'registry: model') + manifests(`${h.receiver.url}/hook`)))
  await t.rejects(h.engine.acceptGrouped([both, { ...event('d-both-2') }]), { code: 'HW_QUEUE_FULL' })
  t.equal(h.store.list({}).length, 2, 'nothing of a refused call is stored')
  h.engine.setState(state(dead + manifests(`${h.receiver.url}/hook`)))
  // The healthy webhook's events are accepted and delivered.
  h.receiver.fallback = 200
  h.receiver.script = []
  const before = h.receiver.received.length
  const accepted = await h.engine.acceptGrouped([event('ok-1'), event('ok-2')])
  t.same(
    accepted.map((a) => a.deliveries.map((d) => d.webhook)),
    [['default/hook'], ['default/hook']],
  )
  const got = await h.receiver.waitFor(before + 2)
  t.same(
    got.slice(before).map((r) => r.path),
    ['/hook', '/hook'],
  )
  await h.settle()
  t.same(
    accepted.map((a) => h.store.get(a.deliveries[0]!.id)!.status),
    ['succeeded', 'succeeded'],
  )
})
