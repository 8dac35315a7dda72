// Kubernetes mode as processes on a real control plane: `hookwise run --kubernetes` killed with
// deliveries in flight and restarted loses none; with two replicas, the standby waits unready and
// takes over the Lease and the queue when the leader is killed; a leader cut off from the API
// server stops delivering when its Lease can no longer be renewed, and exits.
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { condition, kube } from './helpers/kube.js'
import { until } from './helpers/until.js'
import { startHookwise } from './helpers/hookwise-process.js'
import { startReceiver, type Received } from './helpers/receiver.js'
import { kubeconfigThroughProxy } from './helpers/tcp-proxy.js'
import { useControlPlane } from './k8s/fixture.js'

const cluster = await useControlPlane(t)

const manifests = (url: string): string => `apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {token: tok}
---
apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: hook}
spec:
  url: ${url}
  accessToken: {secretKeyRef: {name: creds, key: token}}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: deploy}
spec:
  scope: {type: Registry, registry: model}
  event: {type: LINK_ARTIFACT}
  action: {webhook: hook, payloadTemplate: '{"event": "\${event_id}"}'}
`
const events = (prefix: string, n: number): unknown[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    type: 'LINK_ARTIFACT',
    entity: 'acme',
    project: 'p',
    registry: 'model',
    collection: 'churn',
    artifact: { id: 'QQ==', name: 'churn', version: `v${i}` },
  }))

async function post(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await request(`${url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: res.statusCode, json: await res.body.json() }
}

/** Event id → the webhook-ids it arrived with. */
function arrivals(received: readonly Received[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  for (const r of received) {
    const id = (JSON.parse(r.body) as { event: string }).event
    const ids = out.get(id) ?? new Set<string>()
    ids.add(String(r.headers['webhook-id']))
    out.set(id, ids)
  }
  return out
}

if (cluster) {
  const k = kube(cluster)
  await k.kubectl(['apply', '-f', join(import.meta.dirname, '..', 'crds')])
  await k.kubectl(['wait', '--for=condition=Established', 'crd/webhooks.hookwise.dev', 'crd/automations.hookwise.dev', '--timeout=60s'])
  const delivery = [
    'run',
    '--kubernetes',
    '--listen',
    '127.0.0.1:0',
    '--allow-insecure-http',
    '--egress-allow',
    '127.0.0.0/8',
    '--per-webhook-concurrency',
    '2',
  ]
  const common = [...delivery, '--kubeconfig', cluster.kubeconfig]

  t.test('kill -9 with deliveries in flight, then restart: every delivery arrives, duplicates keep their webhook-id', async (t) => {
    const ns = 'restart'
    await k.createNamespace(ns)
    const receiver = await startReceiver(t)
    receiver.script = Array.from({ length: 1000 }, () => ({ status: 200, delayMs: 20 }))
    await k.apply(manifests(`${receiver.url}/hook`), ns)
    const state = join(t.testdir({}), 'state')
    const args = [...common, '--namespace', ns, '--no-leader-elect', '--state', state]
    const first = startHookwise(args, t)
    const url = await first.url()
    await until('Automation Ready', async () => condition(await k.get('automation', ns, 'deploy'), 'Ready')?.status === 'True')
    const posted = await post(url, events('r', 300))
    t.equal(posted.status, 202)
    t.equal(posted.json.accepted, 300)
    await receiver.waitFor(20, 30_000)
    t.equal((await first.kill('SIGKILL')).signal, 'SIGKILL')
    const before = receiver.received.length
    t.ok(before < 300, `killed with ${300 - before} deliveries still to go`)

    const second = startHookwise(args, t)
    await second.url()
    await until('all 300 events delivered', () => arrivals(receiver.received).size === 300, 60_000)
    for (const [id, webhookIds] of arrivals(receiver.received))
      if (webhookIds.size !== 1) t.fail(`event ${id} arrived with ${webhookIds.size} different webhook-ids`)
    t.pass(`${receiver.received.length} requests for 300 deliveries (${receiver.received.length - 300} duplicates from the kill)`)
  })

  t.test('leader election: the standby is unready, and takes over the Lease and the queue when the leader is killed', async (t) => {
    const ns = 'leader'
    await k.createNamespace(ns)
    const receiver = await startReceiver(t)
    receiver.script = Array.from({ length: 1000 }, () => ({ status: 200, delayMs: 50 }))
    await k.apply(manifests(`${receiver.url}/hook`), ns)
    const state = join(t.testdir({}), 'state')
    const args = [...common, '--namespace', ns, '--lease-namespace', ns, '--lease-duration', '3s', '--state', state]
    const leader = startHookwise(args, t)
    await leader.waitFor(/^became leader/)
    const url = await leader.url()
    // The standby has an intake token: its /metrics needs it, as the leader's does.
    const standby = startHookwise(args, t, { ...process.env, HOOKWISE_INTAKE_TOKEN: 'standby-token' })
    const waiting = await standby.waitFor(/^waiting to become the leader$/)
    t.match(await standby.waitFor(/^cluster listed/), { webhooks: 1, automations: 1 }, 'the standby keeps a warm cache')
    const standbyUrl = `http://${waiting.address}`
    const readyz = await request(`${standbyUrl}/readyz`)
    t.equal(readyz.statusCode, 503)
    t.same(await readyz.body.json(), { ready: false, reason: `waiting for Lease ${ns}/hookwise-controller` })
    const healthz = await request(`${standbyUrl}/healthz`)
    t.equal(healthz.statusCode, 200)
    await healthz.body.dump()
    const metrics = async (url: string, headers: Record<string, string> = {}) => {
      const res = await request(`${url}/metrics`, { headers })
      return { status: res.statusCode, text: await res.body.text() }
    }
    t.match(await metrics(standbyUrl), { status: 401 }, "the standby's /metrics needs the intake token")
    t.same(await metrics(standbyUrl, { authorization: 'Bearer standby-token' }), {
      status: 200,
      text:
        '# HELP hookwise_leader Whether this process delivers from the queue: 1 on the replica holding the leader Lease (and without leader election), 0 on a standby.\n' +
        '# TYPE hookwise_leader gauge\nhookwise_leader 0\n',
    })
    t.match((await metrics(url)).text, /^hookwise_leader 1$/m, 'the leader says it leads')
    const intake = await request(`${standbyUrl}/v1/events`, { method: 'POST', body: '[]' })
    t.equal(intake.statusCode, 503)
    t.equal(intake.headers['retry-after'], '5')
    await intake.body.dump()

    await until('Automation Ready', async () => condition(await k.get('automation', ns, 'deploy'), 'Ready')?.status === 'True')
    t.equal((await post(url, events('l', 100))).status, 202)
    await receiver.waitFor(10, 30_000)
    const leaseBefore = await k.get('lease.coordination.k8s.io', ns, 'hookwise-controller')
    await leader.kill('SIGKILL')
    const killedAt = Date.now()
    await standby.waitFor(/^became leader/, 30_000)
    const tookOverMs = Date.now() - killedAt
    t.ok(tookOverMs < 3000 + 10_000, `the standby took over ${tookOverMs} ms after the kill (lease duration 3 s)`)
    const leaseAfter = await k.get('lease.coordination.k8s.io', ns, 'hookwise-controller')
    t.not(leaseAfter!.spec.holderIdentity, leaseBefore!.spec.holderIdentity)
    t.equal(leaseAfter!.spec.leaseTransitions, (leaseBefore!.spec.leaseTransitions ?? 0) + 1)
    const newUrl = await standby.url()
    const ready = await request(`${newUrl}/readyz`)
    t.equal(ready.statusCode, 200)
    await ready.body.dump()
    t.match((await metrics(newUrl, { authorization: 'Bearer standby-token' })).text, /^hookwise_leader 1$/m, 'the new leader says it leads')
    await until('all 100 events delivered by the new leader', () => arrivals(receiver.received).size === 100, 60_000)
    t.pass(`${receiver.received.length} requests for 100 deliveries`)
  })

  t.test(
    'a leader cut off from the API server stops delivering once it cannot renew its Lease, exits 1, and its queue is delivered after',
    async (t) => {
      const ns = 'partition'
      await k.createNamespace(ns)
      const receiver = await startReceiver(t)
      receiver.script = Array.from({ length: 1000 }, () => ({ status: 200, delayMs: 50 }))
      await k.apply(manifests(`${receiver.url}/hook`), ns)
      const { proxy, kubeconfig } = await kubeconfigThroughProxy(t, cluster, ns)
      const state = join(t.testdir({}), 'state')
      const args = [
        ...delivery,
        '--namespace',
        ns,
        '--lease-namespace',
        ns,
        '--lease-duration',
        '3s',
        '--status-interval',
        '1s',
        '--api-timeout',
        '5s',
        '--state',
        state,
      ]
      const leader = startHookwise([...args, '--kubeconfig', kubeconfig], t)
      await leader.waitFor(/^became leader/)
      const url = await leader.url()
      await until('Automation Ready', async () => condition(await k.get('automation', ns, 'deploy'), 'Ready')?.status === 'True')
      t.equal((await post(url, events('p', 400))).status, 202)
      await receiver.waitFor(10, 30_000)

      // A partition: requests to the API server (status writes, Lease renewals) hang, they do not fail.
      proxy.blackhole()
      await leader.waitFor(/^lost leadership; stopping/, 30_000)
      const lostSeenAt = Date.now()
      const exit = await Promise.race([leader.exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 45_000))])
      t.same(exit, { code: 1, signal: null }, 'the replica that lost its Lease exits 1 (its status writes time out after --api-timeout)')
      const late = receiver.received.filter((r) => r.at > lostSeenAt + 1000)
      t.equal(late.length, 0, 'nothing is delivered after leadership is lost')
      const delivered = arrivals(receiver.received).size
      t.ok(delivered < 400, `${400 - delivered} deliveries were still pending when leadership was lost`)

      proxy.restore()
      const next = startHookwise([...args, '--kubeconfig', cluster.kubeconfig], t)
      await next.waitFor(/^became leader/, 30_000)
      await until('all 400 events delivered by the next leader', () => arrivals(receiver.received).size === 400, 60_000)
      for (const [id, webhookIds] of arrivals(receiver.received))
        if (webhookIds.size !== 1) t.fail(`event ${id} arrived with ${webhookIds.size} different webhook-ids`)
    },
  )
}
