// Three replicas of `hookwise run` on one PostgreSQL database (test/helpers/postgres.ts): two in this
// process, one a child process that is killed with SIGKILL while its deliveries are in flight.
// Events go through all three intakes. Every accepted delivery arrives at least once, a delivery
// sent twice carries the same webhook-id both times, and the dead replica's claims are delivered by
// the others within the claim lease and a few seconds.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { request } from 'undici'
import { startController } from '../controller/app/start-controller.js'
import { createLogger } from '../controller/log.js'
import { startHookwise } from './helpers/hookwise-process.js'
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
  action: {webhook: hook, payload: {event: "\${event_id}"}}
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
const LEASE_S = 3
const EVENTS = 300

const server = await usePostgres(t)
if (server) {
  t.test('three replicas, one killed with SIGKILL mid-delivery: nothing lost, its claims delivered by the others', async (t) => {
    const receiver = await startReceiver(t)
    receiver.fallback = 200
    const root = t.testdir({ m: { 'hook.yaml': manifests(`${receiver.url}/hook`) } })
    const url = await server.database('replicas')
    const file = join(root, 'store-url')
    writeFileSync(file, `${url}\n`, { mode: 0o600 })
    const common = ['--store-url-file', file, '--allow-insecure-http', '--egress-allow', '127.0.0.1/32', '--claim-lease', `${LEASE_S}s`]
    // The child first (it takes longest to start); it migrates the database.
    const child = startHookwise(['run', '--dir', join(root, 'm'), '--state', join(root, 'child'), '--listen', '127.0.0.1:0', ...common], t)
    const childUrl = await child.url(300_000)
    const sink = new Writable({ write: (_c, _e, cb) => cb() })
    const inProcess = await Promise.all(
      ['a', 'b'].map((name) =>
        startController(
          {
            dir: [join(root, 'm')],
            storeUrlFile: file,
            claimLease: LEASE_S * 1000,
            state: join(root, name),
            listen: '127.0.0.1:0',
            allowInsecureHttp: true,
            egressAllow: ['127.0.0.1/32'],
            logLevel: 'info',
            durability: 'normal',
            maxPending: 10_000,
            retentionHours: 24,
          },
          createLogger({ level: 'info', destination: sink }),
          {},
        ),
      ),
    )
    t.teardown(() => Promise.all(inProcess.map((c) => c.stop())))
    const intakes = [childUrl, ...inProcess.map((c) => `http://127.0.0.1:${c.address.port}`)]

    // Slow answers keep deliveries in flight when the child is killed.
    receiver.script = Array.from({ length: EVENTS }, () => ({ status: 200, delayMs: 1000 }))
    const accepted = new Set<string>()
    const viaChild = new Set<string>()
    for (let i = 0; i < EVENTS; i += 10) {
      const intake = intakes[(i / 10) % 3]!
      const res = await request(`${intake}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(Array.from({ length: 10 }, (_, k) => event(`e-${i + k}`))),
      })
      t.equal(res.statusCode, 202)
      const body = (await res.body.json()) as { events: Array<{ deliveries: Array<{ id: string }> }> }
      for (const e of body.events)
        for (const d of e.deliveries) {
          accepted.add(d.id)
          if (intake === childUrl) viaChild.add(d.id)
        }
    }
    t.equal(accepted.size, EVENTS, 'one delivery per event, all accepted')
    await receiver.waitFor(20, 60_000)
    const killedAt = Date.now()
    child.child.kill('SIGKILL')
    await child.exited
    const before = new Set(receiver.received.map((r) => String(r.headers['webhook-id'])))
    const orphaned = [...viaChild].filter((id) => !before.has(id)).length
    t.ok(orphaned > 0, `killed mid-delivery: ${orphaned} of the ${viaChild.size} deliveries it accepted had not arrived`)

    const deadline = killedAt + (LEASE_S + 30) * 1000
    const arrived = () => new Set(receiver.received.map((r) => String(r.headers['webhook-id'])))
    while (Date.now() < deadline && [...accepted].some((id) => !arrived().has(id))) await new Promise((r) => setTimeout(r, 200))
    const took = (Date.now() - killedAt) / 1000
    const missing = [...accepted].filter((id) => !arrived().has(id))
    t.same(missing, [], `every accepted delivery arrived at least once (${took.toFixed(1)} s after the kill)`)
    const byId = new Map<string, string[]>()
    for (const r of receiver.received)
      byId.set(String(r.headers['webhook-id']), [...(byId.get(String(r.headers['webhook-id'])) ?? []), r.body])
    t.ok(
      [...byId.keys()].every((id) => accepted.has(id)),
      'every request carries the webhook-id of an accepted delivery',
    )
    const twice = [...byId.values()].filter((bodies) => bodies.length > 1)
    t.ok(
      twice.every((bodies) => bodies.every((b) => b === bodies[0])),
      `${twice.length} deliveries sent twice (the killed replica's in flight), each with the same webhook-id and body`,
    )
    t.ok(took < LEASE_S + 15, `the dead replica's claims were delivered within the lease and a few seconds (${took.toFixed(1)} s)`)
  })
}
