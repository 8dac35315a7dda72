// The HTTP API against input that tried to break it: a malformed % escape in a delivery id, limit
// values outside 1..1000, and /metrics without the intake token. A real controller on loopback.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { request } from 'undici'
import { startController } from '../controller/app/start-controller.js'
import { createLogger } from '../controller/log.js'
import type { TapTest } from './helpers/cli.js'
import { startReceiver } from './helpers/receiver.js'
import { until } from './helpers/until.js'

const TOKEN = 'intake-token-api-input-0123'

interface Answer {
  status: number
  type: unknown
  text: string
}

async function run(
  t: TapTest,
): Promise<{ get(path: string, auth?: boolean): Promise<Answer>; post(path: string, body: unknown): Promise<Answer> }> {
  const receiver = await startReceiver(t)
  receiver.fallback = 503 // deliveries stay pending: the tests only list them
  const root = t.testdir({
    m: {
      'hook.yaml': `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: hook}
spec: {url: "${receiver.url}/hook"}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: deploy}
spec:
  scope: {type: Registry, registry: model}
  event: {type: LINK_ARTIFACT}
  action: {webhook: hook, payload: {v: "\${artifact_version_string}"}}
`,
    },
  })
  const tokenFile = join(root, 'token')
  writeFileSync(tokenFile, `${TOKEN}\n`)
  const c = await startController(
    {
      dir: [join(root, 'm')],
      state: join(root, 's'),
      listen: '127.0.0.1:0',
      intakeTokenFile: tokenFile,
      allowInsecureHttp: true,
      egressAllow: ['127.0.0.0/8'],
      logLevel: 'info',
      durability: 'normal',
      maxPending: 5000,
      retentionHours: 1,
    },
    createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) }),
    {},
  )
  t.teardown(() => c.stop())
  const base = `http://127.0.0.1:${c.address.port}`
  const answer = async (res: Awaited<ReturnType<typeof request>>): Promise<Answer> => ({
    status: res.statusCode,
    type: res.headers['content-type'],
    text: await res.body.text(),
  })
  return {
    get: async (path, auth = true) =>
      answer(await request(`${base}${path}`, { headers: auth ? { authorization: `Bearer ${TOKEN}` } : {} })),
    post: async (path, body) =>
      answer(
        await request(`${base}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }),
      ),
  }
}

const problem = (status: number, title: string, detail: string): Answer => ({
  status,
  type: 'application/problem+json',
  text: JSON.stringify({ type: `https://hookwise.dev/problems/${title.toLowerCase().replace(/[^a-z]+/g, '-')}`, title, status, detail }),
})

t.test('a malformed % escape in a delivery id is a 400 naming the path, never a 500', async (t) => {
  const api = await run(t)
  for (const path of ['/v1/deliveries/%E0%A4%A', '/v1/deliveries/%zz', '/v1/deliveries/%']) {
    t.same(
      await api.get(path),
      problem(400, 'Bad Request', `the path ${path} has a malformed % escape; percent-encode the delivery id as UTF-8`),
      `GET ${path}`,
    )
  }
  t.same(
    await api.post('/v1/deliveries/%FF/redeliver', ''),
    problem(400, 'Bad Request', 'the path /v1/deliveries/%FF/redeliver has a malformed % escape; percent-encode the delivery id as UTF-8'),
  )
  t.same(await api.get('//['), problem(400, 'Bad Request', 'the path "//[" is not a valid URL path'), 'a path that is no URL')
  t.same(await api.get('/v1/deliveries/%6Eope'), problem(404, 'Not Found', 'no delivery nope'), 'a well-formed escape is decoded')
})

t.test('limit: a whole number from 1; above 1,000 it is 1,000; anything else is a 400', async (t) => {
  const api = await run(t)
  const events = (from: number, n: number): unknown[] =>
    Array.from({ length: n }, (_, i) => ({
      id: `e-${from + i}`,
      type: 'LINK_ARTIFACT',
      author: 'alice',
      entity: 'acme',
      project: 'p',
      registry: 'model',
      collection: 'churn',
      artifact: { id: 'QQ==', name: 'churn', version: 'v7' },
    }))
  t.equal((await api.post('/v1/events', events(0, 1000))).status, 202)
  t.equal((await api.post('/v1/events', events(1000, 1))).status, 202)
  const count = async (query: string): Promise<number> => (JSON.parse((await api.get(`/v1/deliveries${query}`)).text) as unknown[]).length
  await until('1001 deliveries', async () => (await count('?limit=1000')) === 1000, 10_000, 50)
  t.equal(await count(''), 100, 'no limit: 100')
  t.equal(await count('?limit=7'), 7)
  t.equal(await count('?limit=1000'), 1000)
  t.equal(await count('?limit=1001'), 1000, 'above the cap: the cap')
  t.equal(await count('?limit=99999999999999999999999'), 1000, 'huge: the cap')
  for (const bad of ['-1', '0', '-0', 'abc', '1.5', '1e3', '', ' 5', '0x10', 'Infinity', 'NaN']) {
    t.same(
      await api.get(`/v1/deliveries?limit=${encodeURIComponent(bad)}`),
      problem(400, 'Bad Request', `limit must be a whole number from 1 (at most 1000 are returned); got ${JSON.stringify(bad)}`),
      `limit=${JSON.stringify(bad)}`,
    )
  }
})

t.test('/metrics needs the intake token', async (t) => {
  const api = await run(t)
  t.match(await api.get('/metrics', false), {
    status: 401,
    type: 'application/problem+json',
    text: JSON.stringify({
      type: 'https://hookwise.dev/problems/unauthorized',
      title: 'Unauthorized',
      status: 401,
      detail: 'send Authorization: Bearer <intake token>',
    }),
  })
  const metrics = await api.get('/metrics')
  t.equal(metrics.status, 200)
  t.match(metrics.text, /^hookwise_queue_pending \d+$/m)
  t.match(await api.get('/healthz', false), { status: 200 }, 'probes need no token')
  t.match(await api.get('/readyz', false), { status: 200 })
})
