// A receiver that answers 200 and then never ends the body: the delivery is succeeded after one
// attempt and never sent again (it was recorded as TIMEOUT and retried). A real controller and a
// real HTTP server on loopback.
import t from 'tap'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { request } from 'undici'
import { startController } from '../controller/app/start-controller.js'
import { createLogger } from '../controller/log.js'
import { until } from './helpers/until.js'

const TOKEN = 'intake-token-stalled-body-01'

t.test('200 and a body that never ends: succeeded after one attempt, never retried', async (t) => {
  let requests = 0
  const sockets = new Set<Socket>()
  const server = http.createServer((req, res) => {
    requests++
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '1000' })
      res.write('{"ok":true,') // and nothing more, ever
    })
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`

  const root = t.testdir({
    m: {
      'hook.yaml': `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: hook}
spec: {url: "${url}", timeoutSeconds: 1}
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
  writeFileSync(join(root, 'token'), `${TOKEN}\n`)
  const c = await startController(
    {
      dir: [join(root, 'm')],
      state: join(root, 's'),
      listen: '127.0.0.1:0',
      intakeTokenFile: join(root, 'token'),
      allowInsecureHttp: true,
      egressAllow: ['127.0.0.0/8'],
      logLevel: 'info',
      durability: 'normal',
      maxPending: 10,
      retentionHours: 1,
    },
    createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) }),
    {},
  )
  t.teardown(() => c.stop())
  const base = `http://127.0.0.1:${c.address.port}`
  const auth = { authorization: `Bearer ${TOKEN}` }
  const accepted = await request(`${base}/v1/events`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({
      id: 'e-stall',
      type: 'LINK_ARTIFACT',
      author: 'alice',
      entity: 'acme',
      project: 'p',
      registry: 'model',
      collection: 'churn',
      artifact: { id: 'QQ==', name: 'churn', version: 'v7' },
    }),
  })
  t.equal(accepted.statusCode, 202)
  const id = ((await accepted.body.json()) as { events: Array<{ deliveries: Array<{ id: string }> }> }).events[0]!.deliveries[0]!.id
  const delivery = async (): Promise<{ status: string; attempts: Array<Record<string, unknown>> }> =>
    (await (await request(`${base}/v1/deliveries/${id}`, { headers: auth })).body.json()) as {
      status: string
      attempts: Array<Record<string, unknown>>
    }
  const done = await until(
    'the delivery is finished',
    async () => {
      const d = await delivery()
      return d.status === 'pending' ? undefined : d
    },
    10_000,
    50,
  )
  t.equal(done.status, 'succeeded')
  t.equal(done.attempts.length, 1)
  t.match(done.attempts[0], { n: 1, statusCode: 200, responseHead: '{"ok":true,', error: null }, 'what arrived is recorded')
  // A retry would come 4 to 6 s after the attempt (the schedule's ~5 s, with jitter): wait past it.
  await new Promise((resolve) => setTimeout(resolve, 6500))
  t.equal(requests, 1, 'the receiver got it once')
  t.match(await delivery(), { status: 'succeeded', attempts: [{ n: 1 }] })
})
