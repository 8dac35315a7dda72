// Leader election with a Lease on a real kube-apiserver: one leader at a time, release on stop(),
// takeover after a leader is killed with SIGKILL (never before its Lease expired), loss when
// another identity overwrites the Lease, and RBAC denial logged and retried.

import { KubeConfig } from '@kubernetes/client-node'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import t from 'tap'
import { LeaderElector, type LeaderElectionOptions } from '../controller/kubernetes/leader-election.js'
import { createLogger } from '../controller/log.js'
import type { TapTest } from './helpers/cli.js'
import { useControlPlane } from './k8s/fixture.js'
import { until } from './helpers/until.js'

// Short periods so a takeover after expiry happens within seconds; their ratios are the defaults'.
const TIMING = { leaseDurationMs: 6000, renewDeadlineMs: 4000, retryPeriodMs: 500 }

interface LeaseJson {
  metadata: { resourceVersion: string }
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number }
}

t.test('options: the renew deadline must be shorter than the lease duration', async (t) => {
  const kubeConfig = new KubeConfig()
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  })
  const make = (o: Partial<LeaderElectionOptions>) => () =>
    new LeaderElector({ kubeConfig, namespace: 'default', name: 'x', identity: 'a', log: createLogger({ level: 'silent' }), ...o })
  t.throws(make({ leaseDurationMs: 10_000 }), {
    code: 'HW_USAGE',
    message: 'leader election needs retry period × 1.2 < renew deadline < lease duration; got 2000 ms, 10000 ms, 10000 ms',
    hint: 'keep the defaults (2 s, 10 s, 15 s) or scale all three together',
  })
  t.throws(make({ retryPeriodMs: 9000 }), { code: 'HW_USAGE' })
  t.doesNotThrow(make({}))
})

const cluster = await useControlPlane(t)

if (cluster) {
  const { kubectl } = cluster
  const kubeConfig = new KubeConfig()
  kubeConfig.loadFromFile(cluster.kubeconfig)

  const readLease = async (name: string): Promise<LeaseJson> => {
    const r = await kubectl(['get', 'lease', name, '-n', 'default', '-o', 'json'])
    if (r.code !== 0) throw new Error(r.stderr)
    return JSON.parse(r.stdout) as LeaseJson
  }
  const ms = (micro: string | undefined) => Date.parse(micro ?? '')
  const elector = (t: TapTest, name: string, identity: string, kc = kubeConfig) => {
    const logs: Array<Record<string, any>> = []
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logs.push(
          ...String(chunk)
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Record<string, any>),
        )
        cb()
      },
    })
    const e = new LeaderElector({
      kubeConfig: kc,
      namespace: 'default',
      name,
      identity,
      ...TIMING,
      log: createLogger({ level: 'debug', destination: sink }),
    })
    t.teardown(() => e.stop())
    return { e, logs }
  }

  t.test('one leader at a time; stop() releases the Lease and the standby takes it at once', async (t) => {
    const a = elector(t, 'release', 'replica-a')
    await a.e.acquire()
    t.ok(a.e.isLeader)
    const first = await readLease('release')
    t.equal(first.spec.holderIdentity, 'replica-a')
    t.equal(first.spec.leaseDurationSeconds, 6)
    t.equal(first.spec.leaseTransitions, 0)
    t.match(first.spec.acquireTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'acquireTime is a MicroTime')
    t.match(first.spec.renewTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'renewTime is a MicroTime')
    t.match(
      a.logs.find((l) => l.msg === 'became leader: acquired Lease default/release'),
      { level: 30, identity: 'replica-a', leaseTransitions: 0 },
    )

    const b = elector(t, 'release', 'replica-b')
    const bStarted = Date.now()
    let bLeads = false
    const bAcquired = b.e.acquire().then(() => {
      bLeads = true
    })
    // A renews across more than a whole lease duration after B started trying: B must still wait.
    const renewed = await until('replica-a to renew past a lease duration', async () => {
      const l = await readLease('release')
      return ms(l.spec.renewTime) > bStarted + TIMING.leaseDurationMs + 1000 ? l : undefined
    })
    t.equal(renewed.spec.holderIdentity, 'replica-a')
    t.equal(renewed.spec.acquireTime, first.spec.acquireTime, 'renewals keep acquireTime')
    t.notOk(bLeads, 'the standby did not acquire while the leader renewed')
    t.notOk(b.e.isLeader)

    const beforeStop = await readLease('release')
    await a.e.stop()
    t.notOk(a.e.isLeader)
    t.ok(a.logs.some((l) => l.msg === 'released Lease default/release'))
    await bAcquired
    const tookOver = Date.now()
    t.ok(
      tookOver < ms(beforeStop.spec.renewTime) + TIMING.leaseDurationMs,
      `the standby took over before the released Lease would have expired (${tookOver - ms(beforeStop.spec.renewTime)} ms after the last renewal)`,
    )
    const after = await readLease('release')
    t.equal(after.spec.holderIdentity, 'replica-b')
    t.equal(after.spec.leaseTransitions, 1)
    t.equal(after.spec.leaseDurationSeconds, 6)
  })

  t.test('a leader killed with SIGKILL: the standby takes over once the Lease expired, not before', async (t) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, 'helpers', 'leader-child.ts'),
        cluster.kubeconfig,
        'default',
        'killed',
        'replica-killed',
        ...Object.values(TIMING).map(String),
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    )
    t.teardown(() => {
      child.kill('SIGKILL')
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => {
      out += String(d)
    })
    child.stderr.on('data', (d) => {
      err += String(d)
    })
    t.teardown(() => {
      if (t.passing() === false) t.comment(`child replica's log:\n${err}`)
    })
    await until('the child replica to lead', () => out.includes('"leader":"replica-killed"'), 60_000)
    const held = await readLease('killed')
    t.equal(held.spec.holderIdentity, 'replica-killed')

    const b = elector(t, 'killed', 'replica-b')
    const bAcquired = b.e.acquire()
    const exited = new Promise((r) => child.once('exit', (_code, signal) => r(signal)))
    child.kill('SIGKILL')
    t.equal(await exited, 'SIGKILL')
    // A renewal the child sent just before dying may still land: take the Lease once it stops changing.
    let last = await readLease('killed')
    await until('the Lease to stop changing', async () => {
      await new Promise((r) => setTimeout(r, 700))
      const now = await readLease('killed')
      if (now.metadata.resourceVersion === last.metadata.resourceVersion || now.spec.holderIdentity === 'replica-b') return true
      last = now
      return undefined
    })
    t.equal(last.spec.holderIdentity, 'replica-killed')

    await bAcquired
    const taken = await readLease('killed')
    t.equal(taken.spec.holderIdentity, 'replica-b')
    t.equal(taken.spec.leaseTransitions, (last.spec.leaseTransitions ?? 0) + 1, 'leaseTransitions incremented')
    const expiry = ms(last.spec.renewTime) + (last.spec.leaseDurationSeconds ?? 0) * 1000
    const acquiredAt = ms(taken.spec.acquireTime)
    t.ok(acquiredAt >= expiry, `taken over ${acquiredAt - expiry} ms after the Lease expired, not before`)
    t.ok(acquiredAt < expiry + 20_000, 'taken over within 20 s of expiry')
    t.equal(taken.spec.renewTime, taken.spec.acquireTime)
  })

  t.test('onLost fires when another identity overwrites the Lease', async (t) => {
    const a = elector(t, 'overwritten', 'replica-a')
    await a.e.acquire()
    const lost = new Promise<string>((r) => a.e.onLost(r))
    const renewTime = new Date().toISOString().replace(/Z$/, '000Z')
    const patch = await kubectl([
      'patch',
      'lease',
      'overwritten',
      '-n',
      'default',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { holderIdentity: 'intruder', renewTime } }),
    ])
    t.equal(patch.code, 0, patch.stderr)
    t.equal(await lost, 'the Lease is now held by intruder')
    t.notOk(a.e.isLeader)
    t.match(
      a.logs.find((l) => l.msg === 'lost leadership of Lease default/overwritten: the Lease is now held by intruder'),
      { level: 30, identity: 'replica-a' },
    )
    // A late onLost still hears about it; the lost leader does not write the Lease back.
    t.equal(await new Promise<string>((r) => a.e.onLost(r)), 'the Lease is now held by intruder')
    await new Promise((r) => setTimeout(r, TIMING.retryPeriodMs * 3))
    t.equal((await readLease('overwritten')).spec.holderIdentity, 'intruder')
  })

  t.test('without RBAC for leases: a clear error is logged once and acquiring retries until granted', async (t) => {
    const sa = 'elector'
    const subject = `system:serviceaccount:default:${sa}`
    t.equal((await kubectl(['create', 'serviceaccount', sa])).code, 0)
    const token = await kubectl(['create', 'token', sa, '--duration=10m'])
    t.equal(token.code, 0, token.stderr)
    const kc = new KubeConfig()
    kc.loadFromOptions({
      clusters: [{ name: 'test', server: cluster.server, caFile: join(cluster.dir, 'pki', 'ca.crt') }],
      users: [{ name: sa, token: token.stdout.trim() }],
      contexts: [{ name: 'test', cluster: 'test', user: sa }],
      currentContext: 'test',
    })
    const a = elector(t, 'rbac', 'replica-a', kc)
    let leads = false
    const acquired = a.e.acquire().then(() => {
      leads = true
    })
    const denied = await until('the denial to be logged', () => a.logs.find((l) => l.level === 50))
    t.same(denied, {
      ...denied,
      code: 'HW_KUBERNETES_API',
      lease: 'default/rbac',
      msg: `cannot get Lease default/rbac: forbidden (403): leases.coordination.k8s.io "rbac" is forbidden: User "${subject}" cannot get resource "leases" in API group "coordination.k8s.io" in the namespace "default"`,
      hint: 'grant this identity get, create and update on leases.coordination.k8s.io in namespace default; retrying every 0.5 s',
    })
    t.notOk(leads)
    // Several more rounds are denied the same way before access is granted.
    await new Promise((r) => setTimeout(r, TIMING.retryPeriodMs * 4))
    t.notOk(leads)

    t.equal((await kubectl(['create', 'role', 'elector', '--verb=get,create,update', '--resource=leases.coordination.k8s.io'])).code, 0)
    t.equal((await kubectl(['create', 'rolebinding', 'elector', '--role=elector', `--serviceaccount=default:${sa}`])).code, 0)
    await acquired
    t.ok(a.e.isLeader)
    t.equal((await readLease('rbac')).spec.holderIdentity, 'replica-a')
    t.equal(a.logs.filter((l) => l.level === 50).length, 1, 'the same denial is logged once, not on every retry')
    t.ok(a.logs.some((l) => l.msg === 'requests for Lease default/rbac succeed again'))
  })
}
