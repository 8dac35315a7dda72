// Kubernetes mode on a real kube-apiserver + etcd (test/k8s/): `hookwise run --kubernetes`
// reconciles Webhooks and Automations, resolves Secrets of their namespace, delivers, and writes
// status, Events and test results back; everything asserted is what the API server returns.
import { CoreV1Api, KubeConfig, Watch } from '@kubernetes/client-node'
import { Writable } from 'node:stream'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { startController, type RunningController, type RunOptions } from '../controller/app/start-controller.js'
import { KubernetesSource } from '../controller/kubernetes/cluster-source.js'
import { startInformer } from '../controller/kubernetes/informer.js'
import { loadKubeConfig } from '../controller/kubernetes/kube-config.js'
import { createLogger } from '../controller/log.js'
import type { DesiredState } from '../controller/model/desired-state.js'
import { VERSION } from '../controller/version.js'
import { hookwise, type TapTest } from './helpers/cli.js'
import { condition, kube, parseTable, type Kube } from './helpers/kube.js'
import { until } from './helpers/until.js'
import { startReceiver } from './helpers/receiver.js'
import { kubeconfigThroughProxy } from './helpers/tcp-proxy.js'
import { useControlPlane, type ControlPlane } from './k8s/fixture.js'

// Automations are watched from etcd, not the API server's watch cache, so compacting etcd makes
// an old watch resourceVersion expire (410 Gone) as it does in a long-running cluster.
const cluster = await useControlPlane(t, { apiserverArgs: ['--watch-cache-sizes=automations.hookwise.dev#0'] })

const webhookYaml = (url: string, secret = 'creds', extra = ''): string => `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: hook}
spec:
  url: ${url}
  accessToken: {secretKeyRef: {name: ${secret}, key: token}}
  secrets: [{name: API_KEY, secretKeyRef: {name: ${secret}, key: api}}]
${extra}`
const automationYaml = (name: string, extra = ''): string => `apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: ${name}}
spec:
  scope: {type: Registry, registry: model}
  event: {type: LINK_ARTIFACT${extra}}
  action: {webhook: hook, payload: {version: "\${artifact_version_string}", key: "\${API_KEY}"}}
`
const secretYaml = (token: string, name = 'creds'): string =>
  `apiVersion: v1\nkind: Secret\nmetadata: {name: ${name}}\nstringData: {token: ${token}, api: k-123}\n`
const event = (id: string, over: Record<string, unknown> = {}): Record<string, unknown> => ({
  id,
  type: 'LINK_ARTIFACT',
  author: 'alice',
  entity: 'acme',
  project: 'p',
  registry: 'model',
  collection: 'churn',
  artifact: { id: 'QQ==', name: 'churn', version: 'v7' },
  ...over,
})

interface Running {
  controller: RunningController
  base: string
  logs: string[]
  post(events: unknown): Promise<{ status: number; json: any }>
}

async function run(t: TapTest, c: ControlPlane, options: Partial<RunOptions> & { kubeconfig?: string }): Promise<Running> {
  const root = t.testdir({})
  const logs: string[] = []
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(...String(chunk).split('\n').filter(Boolean))
      cb()
    },
  })
  const controller = await startController(
    {
      kubernetes: true,
      kubeconfig: c.kubeconfig,
      leaderElect: false,
      statusInterval: 1000,
      state: join(root, 'state'),
      listen: '127.0.0.1:0',
      allowInsecureHttp: true,
      egressAllow: ['127.0.0.0/8'],
      logLevel: 'debug',
      durability: 'normal',
      maxPending: 100_000,
      retentionHours: 24,
      ...options,
    },
    createLogger({ level: 'debug', destination: sink }),
    {},
  )
  t.teardown(() => controller.stop())
  const base = `http://127.0.0.1:${controller.address.port}`
  return {
    controller,
    base,
    logs,
    post: async (events) => {
      const res = await request(`${base}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(events),
      })
      const text = await res.body.text()
      return { status: res.statusCode, json: text ? JSON.parse(text) : undefined }
    },
  }
}

const ready = (k: Kube, resource: string, ns: string, name: string, status = 'True', reason?: string) =>
  until(`${resource} ${ns}/${name} Ready=${status}${reason ? `/${reason}` : ''}`, async () => {
    const o = await k.get(resource, ns, name)
    const c = condition(o, 'Ready')
    return c?.status === status && (!reason || c.reason === reason) && c.observedGeneration === o?.metadata.generation ? o : undefined
  })

if (cluster) {
  const k = kube(cluster)
  await k.kubectl(['apply', '-f', join(import.meta.dirname, '..', 'crds')])
  await k.kubectl(['wait', '--for=condition=Established', 'crd/webhooks.hookwise.dev', 'crd/automations.hookwise.dev', '--timeout=60s'])

  t.test('apply, deliver, and kubectl shows Ready and the last delivery', async (t) => {
    const ns = 'e2e'
    await k.createNamespace(ns)
    const receiver = await startReceiver(t)
    await k.apply([secretYaml('token-1'), webhookYaml(`${receiver.url}/hook`), automationYaml('deploy')].join('---\n'), ns)
    const h = await run(t, cluster, { namespace: [ns] })

    const automation = await ready(k, 'automation', ns, 'deploy')
    t.match(condition(automation, 'Ready'), {
      type: 'Ready',
      status: 'True',
      reason: 'Valid',
      message: 'fires on LINK_ARTIFACT and delivers to Webhook hook',
      observedGeneration: 1,
    })
    t.match(condition(await ready(k, 'webhook', ns, 'hook'), 'Ready'), {
      status: 'True',
      reason: 'Valid',
      message: `ready to deliver to ${receiver.url}/hook`,
    })

    const posted = await h.post(event('evt-1'))
    t.equal(posted.status, 202)
    t.same(
      posted.json.events[0].deliveries.map((d: { automation: string }) => d.automation),
      [`${ns}/deploy`],
    )
    const [got] = await receiver.waitFor(1)
    // The API server keeps a payload's keys sorted (JSON maps): payloadTemplate keeps an order.
    t.equal(got!.body, '{"key":"k-123","version":"acme/p/churn:v7"}')
    t.equal(got!.headers.authorization, 'Bearer token-1')
    t.equal(got!.headers['user-agent'], `hookwise/${VERSION}`)
    t.equal(got!.headers['content-type'], 'application/json')
    t.equal(got!.headers['webhook-id'], posted.json.events[0].deliveries[0].id)

    const delivered = await until('lastDelivery on the automation', async () => {
      const o = await k.get('automation', ns, 'deploy')
      return o?.status?.lastDelivery?.outcome === 'Succeeded' ? o : undefined
    })
    t.match(delivered.status, {
      lastDelivery: { id: posted.json.events[0].deliveries[0].id, outcome: 'Succeeded', statusCode: 200, attempts: 1 },
      counters: { triggered: 1, succeeded: 1, failed: 0 },
      observedGeneration: 1,
    })
    t.match(delivered.status.lastTriggered, /^\d{4}-\d\d-\d\dT/)
    const hook = await until('webhook Healthy', async () => {
      const o = await k.get('webhook', ns, 'hook')
      return condition(o, 'Healthy')?.status === 'True' ? o : undefined
    })
    t.match(condition(hook, 'Healthy'), { status: 'True', reason: 'Succeeding', message: 'the last attempt succeeded' })
    t.equal(hook.status.consecutiveFailures, 0)

    const table = parseTable(await k.kubectl(['get', 'automations', '-n', ns]))
    t.same(table.header, ['NAME', 'READY', 'REASON', 'EVENT', 'WEBHOOK', 'LAST DELIVERY', 'AGE'])
    t.match(table.rows[0], {
      NAME: 'deploy',
      READY: 'True',
      REASON: 'Valid',
      EVENT: 'LINK_ARTIFACT',
      WEBHOOK: 'hook',
      'LAST DELIVERY': /^\d+s$/,
    })
    const described = await k.kubectl(['describe', 'automation', 'deploy', '-n', ns])
    t.match(described, /Reason:\s+Valid/)
    t.notMatch(
      JSON.stringify(hook) + JSON.stringify(delivered) + JSON.stringify(await k.events(ns)) + h.logs.join('\n'),
      /token-1|k-123/,
      'secret values are in no status, Event or log line',
    )
  })

  t.test('an invalid regex: Ready=False/InvalidSpec with the message and an Event; fixed: Ready', async (t) => {
    const ns = 'invalid'
    await k.createNamespace(ns)
    const receiver = await startReceiver(t)
    await k.apply(
      [
        secretYaml('t'),
        webhookYaml(`${receiver.url}/hook`),
        automationYaml('broken', ', aliasRegex: "^(prod"').replace('LINK_ARTIFACT', 'ADD_ARTIFACT_ALIAS'),
      ].join('---\n'),
      ns,
    )
    await run(t, cluster, { namespace: [ns] })
    const broken = await ready(k, 'automation', ns, 'broken', 'False', 'InvalidSpec')
    t.equal(
      condition(broken, 'Ready')!.message,
      'spec.event.aliasRegex: "^(prod" is not a valid regular expression: /^(prod/: Unterminated group (fix the expression in RE2 syntax, as W&B does: no lookahead, lookbehind or backreferences; escape literal characters such as . ( [ with a backslash; see docs/resources.md#regular-expressions)',
    )
    const events = await until('an InvalidSpec Event', async () => (await k.events(ns)).find((e) => e.reason === 'InvalidSpec'))
    t.match(events, {
      type: 'Warning',
      action: 'Reconcile',
      regarding: { kind: 'Automation', name: 'broken' },
      reportingController: 'hookwise.dev/controller',
      note: condition(broken, 'Ready')!.message,
    })
    t.match(parseTable(await k.kubectl(['get', 'automations', '-n', ns])).rows[0], { NAME: 'broken', READY: 'False' })

    await k.apply(automationYaml('broken', ', aliasRegex: "^prod"').replace('LINK_ARTIFACT', 'ADD_ARTIFACT_ALIAS'), ns)
    const fixed = await ready(k, 'automation', ns, 'broken', 'True', 'Valid')
    t.equal(fixed.status.observedGeneration, 2)
    t.equal(condition(fixed, 'Ready')!.observedGeneration, 2)
  })

  t.test('a Secret created after its Webhook: SecretNotFound, then Ready by itself; a rotated token is used next', async (t) => {
    const ns = 'late-secret'
    await k.createNamespace(ns)
    const receiver = await startReceiver(t)
    await k.apply([webhookYaml(`${receiver.url}/hook`, 'later'), automationYaml('deploy')].join('---\n'), ns)
    const h = await run(t, cluster, { namespace: [ns] })
    const hook = await ready(k, 'webhook', ns, 'hook', 'False', 'SecretNotFound')
    t.equal(
      condition(hook, 'Ready')!.message,
      `webhook ${ns}/hook needs ACCESS_TOKEN: Secret ${ns}/later not found (create it: kubectl -n ${ns} create secret generic later --from-literal=token=VALUE)`,
    )
    const automation = await ready(k, 'automation', ns, 'deploy', 'False', 'WebhookNotReady')
    t.match(
      condition(automation, 'Ready')!.message,
      `Webhook ${ns}/hook is not ready (SecretNotFound): webhook ${ns}/hook needs ACCESS_TOKEN`,
    )
    t.match(await until('a SecretNotFound Event', async () => (await k.events(ns)).find((e) => e.reason === 'SecretNotFound')), {
      type: 'Warning',
      regarding: { kind: 'Webhook', name: 'hook' },
    })

    await k.apply(secretYaml('first', 'later'), ns)
    await ready(k, 'webhook', ns, 'hook', 'True', 'Valid')
    await ready(k, 'automation', ns, 'deploy', 'True', 'Valid')
    t.equal((await h.post(event('one'))).status, 202)
    t.equal((await receiver.waitFor(1))[0]!.headers.authorization, 'Bearer first')

    await k.apply(secretYaml('second', 'later'), ns)
    // The informer sees the update a moment later: from then on every attempt uses the new value.
    let n = 1
    await until(
      'a delivery with the rotated token',
      async () => {
        t.equal((await h.post(event(`rotated-${n}`))).status, 202)
        const got = await receiver.waitFor(++n)
        return got[n - 1]!.headers.authorization === 'Bearer second'
      },
      15_000,
      200,
    )
    t.equal((await h.post(event('after'))).status, 202)
    t.equal((await receiver.waitFor(n + 1))[n]!.headers.authorization, 'Bearer second', 'no restart needed')
  })

  t.test('the test annotation sends one test request per new value and records status.lastTest', async (t) => {
    const ns = 'annotate'
    await k.createNamespace(ns)
    const receiver = await startReceiver(t)
    await k.apply([secretYaml('tok'), webhookYaml(`${receiver.url}/hook`)].join('---\n'), ns)
    await run(t, cluster, { namespace: [ns] })
    await ready(k, 'webhook', ns, 'hook')

    await k.kubectl(['annotate', 'webhook', 'hook', '-n', ns, 'hookwise.dev/test-requested-at=1700000000', '--overwrite'])
    const [test] = await receiver.waitFor(1)
    t.match(JSON.parse(test!.body), { test: true, source: `hookwise/${VERSION}`, webhook: `${ns}/hook` })
    t.equal(test!.headers.authorization, 'Bearer tok')
    const tested = await until('status.lastTest', async () => {
      const o = await k.get('webhook', ns, 'hook')
      return o?.status?.lastTest?.requestedAt === '1700000000' ? o : undefined
    })
    t.match(tested.status.lastTest, { requestedAt: '1700000000', statusCode: 200, latencyMs: Number, time: /^\d{4}-/ })
    t.notOk(tested.status.lastTest.error)
    t.match(await until('a TestSucceeded Event', async () => (await k.events(ns)).find((e) => e.reason === 'TestSucceeded')), {
      type: 'Normal',
      action: 'Test',
      note: /^test request answered HTTP 200 in \d+ ms$/,
    })

    // The same value again (a label change re-reconciles the object) sends nothing.
    await k.kubectl(['label', 'webhook', 'hook', '-n', ns, 'touched=yes'])
    await k.kubectl(['annotate', 'webhook', 'hook', '-n', ns, 'hookwise.dev/test-requested-at=1700000000', '--overwrite'])
    receiver.fallback = 503
    await k.kubectl(['annotate', 'webhook', 'hook', '-n', ns, 'hookwise.dev/test-requested-at=1700000100', '--overwrite'])
    const failed = await until('the second test', async () => {
      const o = await k.get('webhook', ns, 'hook')
      return o?.status?.lastTest?.requestedAt === '1700000100' ? o : undefined
    })
    t.match(failed.status.lastTest, { requestedAt: '1700000100', statusCode: 503, error: 'the endpoint answered HTTP 503' })
    t.equal(receiver.received.length, 2, 'one request per new annotation value')
    t.match(await until('a TestFailed Event', async () => (await k.events(ns)).find((e) => e.reason === 'TestFailed')), {
      type: 'Warning',
      note: 'test request failed: the endpoint answered HTTP 503',
    })
  })

  t.test('a failed delivery: DeliveryFailed Event, counters and Healthy=False; 410: WebhookGone', async (t) => {
    const ns = 'failing'
    await k.createNamespace(ns)
    const receiver = await startReceiver(t)
    await k.apply([secretYaml('tok'), webhookYaml(`${receiver.url}/hook`), automationYaml('deploy')].join('---\n'), ns)
    const h = await run(t, cluster, { namespace: [ns] })
    await ready(k, 'automation', ns, 'deploy')
    receiver.script = [400]
    const posted = await h.post(event('bad'))
    const id = posted.json.events[0].deliveries[0].id
    const failed = await until('lastDelivery Failed', async () => {
      const o = await k.get('automation', ns, 'deploy')
      return o?.status?.lastDelivery?.outcome === 'Failed' ? o : undefined
    })
    t.match(failed.status, {
      lastDelivery: { id, outcome: 'Failed', statusCode: 400, attempts: 1 },
      counters: { triggered: 1, succeeded: 0, failed: 1 },
    })
    t.match(await until('a DeliveryFailed Event', async () => (await k.events(ns)).find((e) => e.reason === 'DeliveryFailed')), {
      type: 'Warning',
      regarding: { kind: 'Automation', name: 'deploy' },
      note: `delivery ${id} failed after 1 attempt: HTTP 400`,
    })
    const unhealthy = await until('Healthy=False', async () => {
      const o = await k.get('webhook', ns, 'hook')
      return condition(o, 'Healthy')?.status === 'False' ? o : undefined
    })
    t.match(condition(unhealthy, 'Healthy'), { reason: 'DeliveryFailing', message: '1 failed attempt in a row; last attempt HTTP 400' })

    receiver.script = [410]
    await h.post(event('gone'))
    const gone = await until('Healthy=False/Gone', async () => {
      const o = await k.get('webhook', ns, 'hook')
      return condition(o, 'Healthy')?.reason === 'Gone' ? o : undefined
    })
    t.match(condition(gone, 'Healthy')!.message, /answered 410 Gone/)
    t.match(await until('a WebhookGone Event', async () => (await k.events(ns)).find((e) => e.reason === 'WebhookGone')), {
      type: 'Warning',
      regarding: { kind: 'Webhook', name: 'hook' },
    })
  })

  t.test('tenancy by namespace label: a namespace only gets events of its entities', async (t) => {
    const receiverA = await startReceiver(t)
    const receiverB = await startReceiver(t)
    await k.createNamespace('team-a', 'annotations: {hookwise.dev/entities: "acme, initech"}\n')
    await k.createNamespace('team-b', 'labels: {hookwise.dev/entities: globex}\n')
    await k.apply([secretYaml('a'), webhookYaml(`${receiverA.url}/a`), automationYaml('deploy')].join('---\n'), 'team-a')
    await k.apply([secretYaml('b'), webhookYaml(`${receiverB.url}/b`), automationYaml('deploy')].join('---\n'), 'team-b')
    const h = await run(t, cluster, { namespace: ['team-a', 'team-b'], tenancy: 'namespace-label' })
    await ready(k, 'automation', 'team-a', 'deploy')
    await ready(k, 'automation', 'team-b', 'deploy')
    const acme = await h.post(event('acme-1'))
    t.same(
      acme.json.events[0].deliveries.map((d: { automation: string }) => d.automation),
      ['team-a/deploy'],
    )
    const globex = await h.post(event('globex-1', { entity: 'globex' }))
    t.same(
      globex.json.events[0].deliveries.map((d: { automation: string }) => d.automation),
      ['team-b/deploy'],
    )
    const other = await h.post(event('other-1', { entity: 'umbrella' }))
    t.same(other.json.events[0].deliveries, [], 'an entity no namespace lists reaches nobody')
    await receiverA.waitFor(1)
    await receiverB.waitFor(1)
    t.equal(receiverA.received.length, 1)
    t.equal(receiverB.received.length, 1)

    // Relabelling a namespace changes what it receives, without a restart.
    await k.kubectl(['label', 'namespace', 'team-b', 'hookwise.dev/entities=umbrella', '--overwrite'])
    await until(
      'team-b receives umbrella',
      async () => (await h.post(event(`umbrella-${Date.now()}`, { entity: 'umbrella' }))).json.events[0].deliveries.length === 1,
    )
  })

  /** The API server's MODIFIED events per object of `plural` in `ns` from now on: one per status write. */
  const countWrites = async (tt: TapTest, plural: 'webhooks' | 'automations', ns: string): Promise<Map<string, number>> => {
    const writes = new Map<string, number>()
    const kc = new KubeConfig()
    kc.loadFromFile(cluster.kubeconfig)
    const from = (await k.list(plural, ns))
      .map((o) => Number(o.metadata.resourceVersion))
      .sort((a, b) => b - a)[0]!
      .toString()
    const watching = await new Watch(kc).watch(
      `/apis/hookwise.dev/v1alpha1/namespaces/${ns}/${plural}`,
      { resourceVersion: from },
      (phase, obj: { metadata: { name: string } }) => {
        if (phase === 'MODIFIED') writes.set(obj.metadata.name, (writes.get(obj.metadata.name) ?? 0) + 1)
      },
      () => {},
    )
    tt.teardown(() => watching.abort())
    return writes
  }

  t.test('200 Automations and a burst of events: status writes per object stay bounded by the status interval', async (t) => {
    const ns = 'load'
    await k.createNamespace(ns)
    const receiver = await startReceiver(t)
    const automations = Array.from({ length: 200 }, (_, i) => automationYaml(`a${String(i).padStart(3, '0')}`)).join('---\n')
    await k.apply([secretYaml('tok'), webhookYaml(`${receiver.url}/hook`), automations].join('---\n'), ns)
    const intervalMs = 5000
    const h = await run(t, cluster, { namespace: [ns], statusInterval: intervalMs })
    await until(
      '200 Automations Ready',
      async () => (await k.list('automations', ns)).filter((o) => condition(o, 'Ready')?.status === 'True').length === 200,
      60_000,
      500,
    )
    await h.controller.kubernetes!.drained()

    const writes = await countWrites(t, 'automations', ns)

    const rebuilds = (): number => h.logs.filter((l) => l.includes('"msg":"desired state applied"')).length
    const rebuildsBefore = rebuilds()
    const started = Date.now()
    const perRequest = 5
    const requests = 10
    for (let i = 0; i < requests; i++)
      t.equal((await h.post(Array.from({ length: perRequest }, (_, j) => event(`burst-${i}-${j}`)))).status, 202)
    const deliveries = 200 * perRequest * requests
    await receiver.waitFor(deliveries, 120_000)
    const final = await until(
      'every Automation shows all its deliveries',
      async () => {
        const list = await k.list('automations', ns)
        return list.every((o) => o.status?.counters?.succeeded === perRequest * requests) ? list : undefined
      },
      60_000,
      500,
    )
    const elapsedMs = Date.now() - started
    t.equal(final.length, 200)
    const max = Math.max(...[...writes.values()])
    const total = [...writes.values()].reduce((a, b) => a + b, 0)
    const bound = Math.ceil(elapsedMs / intervalMs) + 2
    t.ok(
      max <= bound,
      `at most ${max} status writes per Automation in ${elapsedMs} ms (bound ${bound}: one per ${intervalMs} ms, plus the first and the last)`,
    )
    t.ok(total <= 200 * bound, `${total} status writes for ${deliveries} deliveries to 200 Automations`)
    t.ok(total < deliveries / 5, 'far fewer writes than deliveries')
    t.equal(rebuilds() - rebuildsBefore, 0, "hookwise's own status writes rebuild no desired state")
  })

  t.test("a receiver refusing every delivery: the Webhook's failure count is written at most once per status interval", async (t) => {
    const ns = 'refusing'
    await k.createNamespace(ns)
    const receiver = await startReceiver(t)
    receiver.fallback = 400 // not retried and never opens the circuit: every delivery fails once
    await k.apply([secretYaml('tok'), webhookYaml(`${receiver.url}/hook`), automationYaml('deploy')].join('---\n'), ns)
    const intervalMs = 3000
    const h = await run(t, cluster, { namespace: [ns], statusInterval: intervalMs })
    await ready(k, 'automation', ns, 'deploy')
    await h.controller.kubernetes!.drained()

    const webhookWrites = await countWrites(t, 'webhooks', ns)

    const started = Date.now()
    const events = 200
    for (let i = 0; i < 20; i++)
      t.equal((await h.post(Array.from({ length: events / 20 }, (_, j) => event(`refused-${i}-${j}`)))).status, 202)
    await receiver.waitFor(events, 60_000)
    const failing = await until(
      'Healthy shows every failure',
      async () => {
        const o = await k.get('webhook', ns, 'hook')
        return condition(o, 'Healthy')?.message?.startsWith(`${events} failed attempts in a row; last attempt HTTP 400`) ? o : undefined
      },
      30_000,
      250,
    )
    t.match(condition(failing, 'Healthy'), { status: 'False', reason: 'DeliveryFailing' })
    const bound = Math.ceil((Date.now() - started) / intervalMs) + 2
    const writes = webhookWrites.get('hook') ?? 0
    t.ok(
      writes <= bound,
      `${writes} status writes of the Webhook for ${events} failed deliveries (bound ${bound}: one per ${intervalMs} ms, plus the first and the last)`,
    )
  })

  t.test('a watch that expires (410 Gone) lists again and loses no change, re-created objects included', async (t) => {
    const ns = 'relist'
    await k.createNamespace(ns)
    const receiver = await startReceiver(t)
    await k.apply(
      [secretYaml('tok'), webhookYaml(`${receiver.url}/hook`), automationYaml('keep'), automationYaml('remove')].join('---\n'),
      ns,
    )
    // The controller reaches the API server through a proxy the test can cut.
    const { proxy, kubeconfig } = await kubeconfigThroughProxy(t, cluster, ns)
    const h = await run(t, cluster, { namespace: [ns], kubeconfig })
    await ready(k, 'automation', ns, 'remove')
    const kept = await ready(k, 'automation', ns, 'keep')
    t.equal(h.controller.kubernetes!.relists, 0)

    proxy.cut()
    // While the controller is cut off: delete one Automation, add one, delete and re-create one
    // under the same name, and compact etcd past the controller's resourceVersion: its watch then
    // gets 410 Gone and must list again.
    await k.kubectl(['delete', 'automation', 'remove', '-n', ns])
    await k.apply(automationYaml('added'), ns)
    await k.kubectl(['delete', 'automation', 'keep', '-n', ns])
    await k.apply(automationYaml('keep'), ns)
    const recreated = await k.get('automation', ns, 'keep')
    t.not(recreated!.metadata.uid, kept.metadata.uid)
    t.equal(recreated!.status, undefined, 'the re-created Automation starts without status')
    const latest = (await k.list('automations', ns)).map((o) => Number(o.metadata.resourceVersion)).sort((a, b) => b - a)[0]!
    const compaction = await request(`${cluster.etcd}/v3/kv/compaction`, {
      method: 'POST',
      body: JSON.stringify({ revision: String(latest), physical: true }),
    })
    const compacted = await compaction.body.text()
    t.equal(compaction.statusCode, 200, `etcd compacted to revision ${latest}`, { body: compacted })
    proxy.restore()

    await ready(k, 'automation', ns, 'added')
    await until('the controller lists again', () => h.controller.kubernetes!.relists > 0, 60_000)
    t.equal((await ready(k, 'automation', ns, 'keep')).metadata.uid, recreated!.metadata.uid, 'the re-created Automation gets its status')
    await until(
      'the deleted Automation is gone from the desired state',
      () => !h.controller.kubernetes!.state.automations.some((a) => a.name === 'remove'),
      30_000,
    )
    const posted = await h.post(event('after-relist'))
    t.same(posted.json.events[0].deliveries.map((d: { automation: string }) => d.automation).sort(), [`${ns}/added`, `${ns}/keep`])
    t.ok(
      h.logs.some((l) => l.includes('listing again')),
      'the relist is logged',
    )
  })
  t.test('the cluster source hands on no state before every informer has listed: a partial one cancelled pending deliveries', async (t) => {
    const ns = 'source-first-state'
    await k.createNamespace(ns)
    const automations = Array.from({ length: 150 }, (_, i) => automationYaml(`a${i}`))
    await k.apply([secretYaml('tok'), webhookYaml('https://example.com/hook'), ...automations].join('---\n'), ns)
    const source = new KubernetesSource({
      kubeConfig: loadKubeConfig(cluster.kubeconfig, {}),
      namespaces: [ns],
      tenancy: 'none',
      log: createLogger({ destination: new Writable({ write: (_chunk, _enc, cb) => cb() }) }),
      debounceMs: 0,
    })
    t.teardown(() => source.stop())
    const seen: Array<[number, number]> = []
    await source.start((s) => seen.push([s.webhooks.size, s.automations.length]))
    await new Promise((r) => setTimeout(r, 300))
    t.same(seen, [[1, 150]], 'one state, with every Webhook and Automation')
  })
  t.test(
    'the cluster source (DesiredStateSource): start resolves after the first state, a change calls onState again, stop ends it',
    async (t) => {
      const ns = 'source-contract'
      await k.createNamespace(ns)
      await k.apply([secretYaml('tok'), webhookYaml('https://example.com/hook')].join('---\n'), ns)
      const lines: string[] = []
      const sink = new Writable({
        write(chunk, _enc, cb) {
          lines.push(...String(chunk).split('\n').filter(Boolean))
          cb()
        },
      })
      const source = new KubernetesSource({
        kubeConfig: loadKubeConfig(cluster.kubeconfig, {}),
        namespaces: [ns],
        tenancy: 'none',
        log: createLogger({ destination: sink }),
        debounceMs: 20,
      })
      t.teardown(() => source.stop())
      t.equal(source.state.webhooks.size, 0, 'empty before start')
      const states: Array<[string[], string | undefined]> = []
      const names = (s: DesiredState): string[] => [...s.webhooks.keys(), ...s.automations.map((a) => a.key)]
      await source.start((s, revision?: string) => states.push([names(s), revision]))
      t.same(states, [[[`${ns}/hook`], undefined]])
      t.same(names(source.state), [`${ns}/hook`])
      t.equal(source.secretLookup(ns, 'creds')?.data.token, 'tok', 'Secret values come from the informer cache')
      t.match(JSON.parse(lines.find((l) => l.includes('watching Webhooks, Automations and EventSources'))!), {
        level: 30,
        namespaces: [ns],
        tenancy: 'none',
        webhooks: 1,
        automations: 0,
        eventSources: 0,
      })

      await k.apply(automationYaml('deploy'), ns)
      // (The informers' first events may rebuild the same state once more before it.)
      await until('the new Automation applied', () => states.at(-1)![0].length === 2, 30_000, 20)
      t.same(states.at(-1), [[`${ns}/hook`, `${ns}/deploy`], undefined])

      await source.stop()
      const count = states.length
      await k.apply(automationYaml('later'), ns)
      await new Promise((r) => setTimeout(r, 500))
      t.equal(states.length, count, 'no state after stop')
    },
  )
  t.test('an informer stopped while its list is in flight leaves no watch open', async (t) => {
    const ns = 'informer-stop'
    await k.createNamespace(ns)
    const kc = new KubeConfig()
    kc.loadFromFile(cluster.kubeconfig)
    const core = kc.makeApiClient(CoreV1Api)
    // The API server's own count of open watches on podtemplates, which nothing else here watches.
    const watches = async (): Promise<number> =>
      Number(
        /^apiserver_longrunning_requests\{[^}]*resource="podtemplates",scope="namespace"[^}]*verb="WATCH"[^}]*\} (\d+)$/m.exec(
          await k.kubectl(['get', '--raw', '/metrics']),
        )?.[1] ?? 0,
      )
    const informer = (list: () => Promise<void>) =>
      startInformer(kc, {
        resource: 'podtemplates',
        log: createLogger({ level: 'silent' }),
        onChange: () => {},
        sources: [
          {
            path: `/api/v1/namespaces/${ns}/podtemplates`,
            list: async () => {
              await list()
              return core.listNamespacedPodTemplate({ namespace: ns })
            },
          },
        ],
      })
    t.equal(await watches(), 0)

    let listing!: () => void
    let release!: () => void
    const started = new Promise<void>((resolve) => (listing = resolve))
    const gate = new Promise<void>((resolve) => (release = resolve))
    const stoppedEarly = informer(async () => {
      listing()
      await gate
    })
    await started
    const stopping = stoppedEarly.stop()
    release()
    await stopping

    // A second informer's watch shows the count works; the stopped one must not add a watch of its own.
    const running = informer(async () => {})
    await running.synced
    await until("the running informer's watch", async () => (await watches()) >= 1)
    await new Promise((r) => setTimeout(r, 1000))
    t.equal(await watches(), 1, 'only the running informer watches')
    await running.stop()
    await until('no watch open after stop()', async () => (await watches()) === 0)
  })
}

t.test('no usable kubeconfig: HW_KUBECONFIG says what to pass', async (t) => {
  const dir = t.testdir({ 'empty.yaml': 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n' })
  const res = await hookwise(['run', '--kubernetes', '--kubeconfig', join(dir, 'missing'), '--state', join(dir, 's')])
  t.equal(res.status, 1)
  t.match(res.stderr, `error HW_KUBECONFIG: cannot load Kubernetes configuration from ${join(dir, 'missing')}: ENOENT`)
  t.match(res.stderr, 'hint: pass --kubeconfig FILE, set KUBECONFIG, or run hookwise in a pod with a service account')
  const empty = await hookwise(['run', '--kubernetes', '--kubeconfig', join(dir, 'empty.yaml'), '--state', join(dir, 's')])
  t.equal(empty.status, 1)
  t.match(empty.stderr, `error HW_KUBECONFIG: the Kubernetes configuration in ${join(dir, 'empty.yaml')} has no current cluster`)
})
