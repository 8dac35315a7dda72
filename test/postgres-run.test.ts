// `hookwise run --store-url-file` on a real PostgreSQL (test/helpers/postgres.ts): events in, deliveries
// out, and the history commands (`deliveries`, `delivery`, `redeliver`) on the same database, by
// --store-url-file and by HOOKWISE_STORE_URL. The password never shows: not on a command line (a
// --store URL with one is refused), not in a log line, not in an error.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { request } from 'undici'
import { startController } from '../controller/app/start-controller.js'
import { createLogger } from '../controller/log.js'
import { hookwise } from './helpers/cli.js'
import { usePostgres } from './helpers/postgres.js'
import { startReceiver } from './helpers/receiver.js'

const manifests = (url: string) => `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: hook}
spec: {url: "${url}"}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: deploy}
spec:
  scope: {type: Registry, registry: model}
  event: {type: LINK_ARTIFACT}
  action: {webhook: hook, payload: {version: "\${artifact_version_string}"}}
`
const event = (id: string) => ({
  id,
  type: 'LINK_ARTIFACT',
  author: 'alice',
  entity: 'acme',
  project: 'p',
  registry: 'model',
  collection: 'churn',
  artifact: { id: 'QQ==', name: 'churn', version: 'v7' },
})

const server = await usePostgres(t)
if (server) {
  const withEnv = async <T>(env: Record<string, string | undefined>, f: () => Promise<T>): Promise<T> => {
    const before = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]))
    Object.assign(process.env, env)
    try {
      return await f()
    } finally {
      for (const [k, v] of Object.entries(before)) {
        if (v === undefined) delete process.env[k]
        else process.env[k] = v
      }
    }
  }

  t.test('a --store URL holding a password is refused, masked', async (t) => {
    const url = await server.database('refused')
    const r = await hookwise(['deliveries', '--store', url])
    t.equal(r.status, 1)
    t.match(r.stderr, 'HW_STORE_URL')
    t.match(r.stderr, `postgres://hookwise:****@127.0.0.1:${server.port}/refused holds a password`)
    t.match(r.stderr, '--store-url-file')
    t.notMatch(r.stderr, server.password)
    const run = await hookwise(['run', '--dir', t.testdir({}), '--store', url, '--listen', '127.0.0.1:0'])
    t.equal(run.status, 1)
    t.match(run.stderr, 'HW_STORE_URL')
    t.notMatch(run.stderr, server.password)
    const other = await hookwise(['deliveries', '--store', 'mysql://db/x'])
    t.match(other.stderr, 'HW_STORE_URL: --store must be a postgres:// or postgresql:// URL, not mysql://')
  })

  t.test('a wrong password: HW_STORE_CONNECT with what PostgreSQL said, the URL masked', async (t) => {
    await server.database('wrong')
    const file = join(t.testdir({}), 'url')
    writeFileSync(file, `postgres://hookwise:not-${server.password}@127.0.0.1:${server.port}/wrong\n`, { mode: 0o600 })
    const r = await hookwise(['deliveries', '--store-url-file', file])
    t.equal(r.status, 1)
    t.match(r.stderr, `HW_STORE_CONNECT: cannot open the PostgreSQL store postgres://hookwise:****@127.0.0.1:${server.port}/wrong`)
    t.match(r.stderr, 'password authentication failed for user "hookwise"')
    t.notMatch(r.stderr, server.password)
  })

  t.test('run --store-url-file: delivered through PostgreSQL; the history commands read and redeliver from it', async (t) => {
    const receiver = await startReceiver(t)
    const root = t.testdir({ m: { 'hook.yaml': manifests(`${receiver.url}/hook`) } })
    const url = await server.database('run')
    const file = join(root, 'store-url')
    writeFileSync(file, `${url}\n`, { mode: 0o600 })
    const logs: string[] = []
    const sink = new Writable({
      write(chunk, _e, cb) {
        logs.push(...String(chunk).split('\n').filter(Boolean))
        cb()
      },
    })
    // In this process (as `hookwise run` does it): a child under tsx takes a minute to start on a busy machine.
    const c = await startController(
      {
        dir: [join(root, 'm')],
        storeUrlFile: file,
        state: join(root, 'state'),
        listen: '127.0.0.1:0',
        allowInsecureHttp: true,
        egressAllow: ['127.0.0.1/32'],
        logLevel: 'info',
        durability: 'normal',
        maxPending: 1000,
        retentionHours: 24,
      },
      createLogger({ level: 'info', destination: sink }),
      {},
    )
    let stopped = false
    t.teardown(() => (stopped ? undefined : c.stop()))
    const base = `http://127.0.0.1:${c.address.port}`
    const running = JSON.parse(logs.find((l) => l.includes('hookwise is running'))!)
    t.equal(running.state, `postgres://hookwise:****@127.0.0.1:${server.port}/run`, 'the log names the store, masked')
    const res = await request(`${base}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([event('e-1'), event('e-2'), event('e-1')]),
    })
    t.equal(res.statusCode, 202)
    const accepted = (await res.body.json()) as { events: Array<{ duplicate: boolean; deliveries: Array<{ id: string }> }> }
    t.same(
      accepted.events.map((e) => e.duplicate),
      [false, false, true],
      'the repeated event is a duplicate',
    )
    await receiver.waitFor(2, 20_000)
    t.same(
      receiver.received.map((r) => JSON.parse(r.body)).sort((a, b) => (a.version < b.version ? -1 : 1)),
      [{ version: 'acme/p/churn:v7' }, { version: 'acme/p/churn:v7' }],
    )
    const id = accepted.events[0]!.deliveries[0]!.id

    const until = async (check: () => Promise<boolean>) => {
      for (let i = 0; i < 100 && !(await check()); i++) await new Promise((r) => setTimeout(r, 100))
    }
    await until(async () =>
      JSON.parse((await hookwise(['deliveries', '--store-url-file', file, '--json'])).stdout).every(
        (d: { status: string }) => d.status === 'succeeded',
      ),
    )
    const listed = await hookwise(['deliveries', '--store-url-file', file, '--json'])
    t.equal(listed.status, 0, listed.stderr)
    t.same(
      JSON.parse(listed.stdout).map((d: { status: string; automation: string }) => [d.automation, d.status]),
      [
        ['default/deploy', 'succeeded'],
        ['default/deploy', 'succeeded'],
      ],
    )
    const one = await withEnv({ HOOKWISE_STORE_URL: url }, () => hookwise(['delivery', id]))
    t.equal(one.status, 0, one.stderr)
    t.match(one.stdout, `Delivery:    ${id}`)
    t.match(one.stdout, 'Status:      succeeded')
    t.match(one.stdout, `webhook-id: ${id}`)

    const again = await withEnv({ HOOKWISE_STORE_URL: url }, () => hookwise(['redeliver', id]))
    t.equal(again.status, 0, again.stderr)
    t.equal(again.stdout, `delivery ${id} queued again (same webhook-id)\n`)
    await receiver.waitFor(3, 20_000)
    t.equal(receiver.received[2]!.headers['webhook-id'], id, 'redelivered with the same webhook-id')

    stopped = true
    await c.stop()
    t.ok(logs.length >= 3, `${logs.length} log lines`)
    t.equal(logs.filter((l) => l.includes(server.password)).length, 0, 'no log line holds the password')
  })
}
