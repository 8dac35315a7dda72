// Webhook loops: a webhook that posts to hookwise's own intake is refused by egress (nothing reaches
// the intake, the Webhook says why), and deliveries carry a hookwise-hop header that the intake
// refuses past its limit, so two controllers posting to each other stop after a few hops.
// Real controllers in this process, on loopback, with real SQLite files.
import t from 'tap'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { request } from 'undici'
import { startController } from '../controller/app/start-controller.js'
import { createLogger } from '../controller/log.js'
import type { TapTest } from './helpers/cli.js'
import { until } from './helpers/until.js'

const TOKENS = { a: 'intake-token-aaaaaaaaaaaa', b: 'intake-token-bbbbbbbbbbbb' }

/** An event without an id: each one hookwise posts is a new event wherever it arrives. */
const eventPayload = `{type: LINK_ARTIFACT, entity: acme, project: p, registry: model, collection: churn, artifact: {id: QQ==, name: churn, version: v7}}`

const manifests = (url: string, token: string): string => `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: next}
spec:
  url: ${url}
  accessToken: {secretKeyRef: {name: intake, key: token}}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: forward}
spec:
  scope: {type: Registry, registry: model}
  event: {type: LINK_ARTIFACT}
  action: {webhook: next, payload: ${eventPayload}}
---
apiVersion: v1
kind: Secret
metadata: {name: intake}
stringData: {token: ${token}}
`

const event = {
  type: 'LINK_ARTIFACT',
  entity: 'acme',
  project: 'p',
  registry: 'model',
  collection: 'churn',
  artifact: { id: 'QQ==', name: 'churn', version: 'v7' },
}

interface Controller {
  base: string
  port: number
  dir: string
  post(body: unknown, headers?: Record<string, string>): Promise<{ status: number; json: any }>
  get(path: string): Promise<any>
  /** GET /metrics (it needs the intake token) as text. */
  metrics(): Promise<string>
}

async function controller(t: TapTest, name: 'a' | 'b'): Promise<Controller> {
  // A folder per controller (t.testdir is one per test, and a test here may run two).
  const root = mkdtempSync(join(tmpdir(), `hookwise-loop-${name}-`))
  mkdirSync(join(root, `manifests-${name}`))
  writeFileSync(join(root, 'token'), `${TOKENS[name]}\n`)
  const sink = new Writable({ write: (_c, _e, cb) => cb() })
  const running = await startController(
    {
      dir: [join(root, `manifests-${name}`)],
      state: join(root, `state-${name}`),
      listen: '127.0.0.1:0',
      intakeTokenFile: join(root, 'token'),
      allowInsecureHttp: true,
      egressAllow: ['127.0.0.0/8'],
      logLevel: 'info',
      durability: 'normal',
      // Bounds a loop that is not stopped, so the test fails rather than runs away.
      maxPending: 200,
      retentionHours: 24,
    },
    createLogger({ level: 'info', destination: sink }),
    {},
  )
  t.teardown(async () => {
    await running.stop()
    rmSync(root, { recursive: true, force: true })
  })
  const base = `http://127.0.0.1:${running.address.port}`
  const auth = { authorization: `Bearer ${TOKENS[name]}` }
  return {
    base,
    port: running.address.port,
    dir: join(root, `manifests-${name}`),
    post: async (body, headers = {}) => {
      const res = await request(`${base}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth, ...headers },
        body: JSON.stringify(body),
      })
      const text = await res.body.text()
      return { status: res.statusCode, json: text ? JSON.parse(text) : undefined }
    },
    get: async (path) => (await request(`${base}${path}`, { headers: auth })).body.json(),
    metrics: async () => (await request(`${base}/metrics`, { headers: auth })).body.text(),
  }
}

const eventsReceived = async (c: Controller): Promise<number> => {
  const text = await c.metrics()
  return Number(/^hookwise_events_received_total\{duplicate="false"\} (\d+)$/m.exec(text)?.[1] ?? 0)
}

t.test("a webhook to the controller's own /v1/events is refused by egress: delivered 0 times, the Webhook says why", async (t) => {
  const a = await controller(t, 'a')
  const url = `${a.base}/v1/events`
  writeFileSync(join(a.dir, 'self.yaml'), manifests(url, TOKENS.a))
  await until('reload', async () => (await a.get('/v1/status')).webhooks.length === 1, 10_000, 25)
  const why = `address 127.0.0.1 port ${a.port} is hookwise's own intake (it listens on 127.0.0.1:${a.port}): a webhook to it would loop; the egress policy refuses it`
  t.match((await a.get('/v1/status')).webhooks, [
    {
      name: 'next',
      ready: false,
      conditions: [{ type: 'Ready', status: 'False', reason: 'EgressDenied', message: `the egress policy refuses ${url}: ${why}` }],
    },
  ])

  t.equal((await a.post(event)).status, 202)
  await until('the delivery to fail', async () => (await a.get('/v1/deliveries?status=failed')).length === 1, 10_000, 25)
  await new Promise((res) => setTimeout(res, 500))
  const deliveries = await a.get('/v1/deliveries')
  t.equal(deliveries.length, 1, 'one delivery, of the one event')
  const one = await a.get(`/v1/deliveries/${deliveries[0].id}`)
  t.match(one, { status: 'failed', attempts: [{ n: 1, statusCode: null, error: `EGRESS_DENIED: ${why}` }] })
  t.equal(await eventsReceived(a), 1, 'the intake received only the event sent to it: the webhook reached it 0 times')
})

t.test('the intake refuses an event whose hookwise-hop header is at the limit, or is not a number', async (t) => {
  const a = await controller(t, 'a')
  t.equal((await a.post(event, { 'hookwise-hop': '2' })).status, 202)
  const refused = await a.post(event, { 'hookwise-hop': '3' })
  t.same(refused, {
    status: 400,
    json: {
      type: 'https://hookwise.dev/problems/bad-request',
      title: 'Bad Request',
      status: 400,
      detail:
        'hookwise-hop: 3: the event already passed through 3 hookwise deliveries (the limit is 3); refused to stop a webhook loop, nothing was accepted',
      errors: [
        {
          code: 'HW_EVENT_LOOP',
          message: 'the event already passed through 3 hookwise deliveries (the limit is 3)',
          hint: "a Webhook posts to a hookwise intake that, directly or through others, posts back; point the Webhook at the receiver, not at hookwise's /v1/events",
        },
      ],
    },
  })
  const bad = await a.post(event, { 'hookwise-hop': 'many' })
  t.equal(bad.status, 400)
  t.equal(bad.json.detail, 'hookwise-hop: "many" is not a number of hops')
  t.equal(await eventsReceived(a), 1, 'only the event under the limit was accepted')
})

t.test('two controllers posting to each other: the hop limit stops the loop after exactly 3 deliveries', async (t) => {
  const a = await controller(t, 'a')
  const b = await controller(t, 'b')
  writeFileSync(join(a.dir, 'to-b.yaml'), manifests(`${b.base}/v1/events`, TOKENS.b))
  writeFileSync(join(b.dir, 'to-a.yaml'), manifests(`${a.base}/v1/events`, TOKENS.a))
  for (const c of [a, b]) await until('reload', async () => (await c.get('/v1/status')).webhooks[0]?.ready === true, 10_000, 25)

  t.equal((await a.post(event)).status, 202)
  const settled = async (c: Controller, n: number): Promise<boolean> => {
    const list = await c.get('/v1/deliveries')
    return list.length >= n && list.every((d: { status: string }) => d.status !== 'pending')
  }
  await until('the loop to stop', async () => (await settled(a, 2)) && (await settled(b, 1)), 10_000, 25)
  await new Promise((res) => setTimeout(res, 700))

  // A: the event sent to it (hop 0) and the one B posted back (hop 2); B: the one A posted (hop 1).
  t.equal(await eventsReceived(a), 2)
  t.equal(await eventsReceived(b), 1)
  const fromA = (await a.get('/v1/deliveries')).map((d: { status: string }) => d.status).sort()
  const fromB = (await b.get('/v1/deliveries')).map((d: { status: string }) => d.status)
  t.same(fromA, ['failed', 'succeeded'], 'A delivered twice: to B at hop 1, then at hop 3, which B refused')
  t.same(fromB, ['succeeded'], 'B delivered once, to A at hop 2')
  const failed = (await a.get('/v1/deliveries?status=failed'))[0]
  const detail = await a.get(`/v1/deliveries/${failed.id}`)
  t.match(detail.attempts, [{ n: 1, statusCode: 400, requestHeaders: { 'hookwise-hop': '3' } }])
  t.match(detail.attempts[0].responseHead, /"code":"HW_EVENT_LOOP"/)
  const first = (await a.get('/v1/deliveries?status=succeeded'))[0]
  t.match((await a.get(`/v1/deliveries/${first.id}`)).attempts, [{ statusCode: 202, requestHeaders: { 'hookwise-hop': '1' } }])
})
