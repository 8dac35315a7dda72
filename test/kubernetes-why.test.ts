// What a newcomer sees on a real kube-apiserver + etcd when something is wrong: `kubectl get -o
// wide` answers "why not Ready" (REASON, MESSAGE) with messages that name the fix, and a second
// hookwise controller (as the Helm chart's, next to one started by hand) leaves the first one's
// objects alone and says so, until the first stops.
import { Writable } from 'node:stream'
import { join } from 'node:path'
import t from 'tap'
import { startController, type RunOptions } from '../controller/app/start-controller.js'
import { createLogger } from '../controller/log.js'
import type { TapTest } from './helpers/cli.js'
import { condition, kube, parseTable, type Kube } from './helpers/kube.js'
import { startReceiver } from './helpers/receiver.js'
import { until } from './helpers/until.js'
import { useControlPlane, type ControlPlane } from './k8s/fixture.js'

const cluster = await useControlPlane(t)

const manifests = (url: string, { key = 'tokn', webhook = 'local-listenr' } = {}): string => `apiVersion: v1
kind: Secret
metadata: {name: ci-bot}
stringData: {${key}: s3cr3t-value, other: x}
---
apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: local-listener}
spec:
  url: ${url}/hook
  accessToken: {secretKeyRef: {name: ci-bot, key: token}}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: notify-production}
spec:
  scope: {type: Registry, registry: model}
  event: {type: ADD_ARTIFACT_ALIAS, aliasRegex: ^production$}
  action: {webhook: ${webhook}, payloadTemplate: '{"model": "\${artifact_version_string}"}'}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: announce}
spec:
  scope: {type: Registry, registry: model}
  event: {type: LINK_ARTIFACT}
  action: {webhook: local-listener, payloadTemplate: '{"model": "\${artifact_version_string}"}'}
`

async function run(t: TapTest, c: ControlPlane, options: Partial<RunOptions>): Promise<{ stop(): Promise<void>; logs: string[] }> {
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
      statusInterval: 1000,
      leaseDuration: 3000,
      state: join(t.testdir({}), 'state'),
      listen: '127.0.0.1:0',
      logLevel: 'info',
      durability: 'normal',
      maxPending: 1000,
      retentionHours: 24,
      ...options,
    },
    createLogger({ level: 'info', destination: sink }),
    {},
  )
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    await controller.stop()
  }
  t.teardown(stop)
  return { stop, logs }
}

const readyIs = (k: Kube, resource: string, ns: string, name: string, status: string, reason: string) =>
  until(`${resource} ${ns}/${name} Ready=${status}/${reason}`, async () => {
    const o = await k.get(resource, ns, name)
    const c = condition(o, 'Ready')
    return c?.status === status && c.reason === reason ? o : undefined
  })

if (cluster) {
  const k = kube(cluster)
  await k.kubectl(['apply', '-f', join(import.meta.dirname, '..', 'crds')])
  await k.kubectl(['wait', '--for=condition=Established', 'crd/webhooks.hookwise.dev', 'crd/automations.hookwise.dev', '--timeout=60s'])

  t.test('kubectl get -o wide shows why: REASON and MESSAGE, naming the fix; fixed, Valid', async (t) => {
    const ns = 'ml-team'
    await k.createNamespace(ns)
    const receiver = await startReceiver(t)
    await k.apply(manifests(receiver.url), ns)
    await run(t, cluster, { namespace: [ns], allowInsecureHttp: true, egressAllow: ['127.0.0.0/8'] })
    await readyIs(k, 'automation', ns, 'notify-production', 'False', 'WebhookNotFound')
    await readyIs(k, 'automation', ns, 'announce', 'False', 'WebhookNotReady')
    await readyIs(k, 'webhook', ns, 'local-listener', 'False', 'SecretNotFound')

    const short = parseTable(await k.kubectl(['get', 'automations', '-n', ns]))
    t.same(short.header, ['NAME', 'READY', 'REASON', 'EVENT', 'WEBHOOK', 'LAST DELIVERY', 'AGE'], 'no MESSAGE without -o wide')
    const wideText = await k.kubectl(['get', 'automations', '-n', ns, '-o', 'wide'])
    t.comment(`broken:\n$ kubectl get automations -o wide\n${wideText}`)
    const wide = parseTable(wideText)
    t.same(wide.header, ['NAME', 'READY', 'REASON', 'EVENT', 'WEBHOOK', 'LAST DELIVERY', 'AGE', 'MESSAGE'])
    // In the cluster the fix is the Secret object, not a --secrets folder.
    const secretMessage = `webhook ${ns}/local-listener needs ACCESS_TOKEN: Secret ${ns}/ci-bot has no key \`token\` (keys: \`other\`, \`tokn\`) (add key token to Secret ci-bot in namespace ${ns}, or set secretKeyRef.key to the key that holds the value)`
    t.same(
      wide.rows.map(({ AGE: _age, ...row }) => row),
      [
        {
          NAME: 'announce',
          READY: 'False',
          REASON: 'WebhookNotReady',
          EVENT: 'LINK_ARTIFACT',
          WEBHOOK: 'local-listener',
          'LAST DELIVERY': '',
          MESSAGE: `Webhook ${ns}/local-listener is not ready (SecretNotFound): ${secretMessage}`,
        },
        {
          NAME: 'notify-production',
          READY: 'False',
          REASON: 'WebhookNotFound',
          EVENT: 'ADD_ARTIFACT_ALIAS',
          WEBHOOK: 'local-listenr',
          'LAST DELIVERY': '',
          MESSAGE: `spec.action.webhook: webhook local-listenr does not exist in namespace ${ns} (webhooks there: local-listener) (did you mean local-listener?)`,
        },
      ],
    )
    const hooks = parseTable(await k.kubectl(['get', 'webhooks', '-n', ns, '-o', 'wide']))
    t.same(hooks.header, ['NAME', 'URL', 'READY', 'REASON', 'HEALTHY', 'LAST DELIVERY', 'AGE', 'MESSAGE'])
    t.match(hooks.rows[0], {
      NAME: 'local-listener',
      READY: 'False',
      REASON: 'SecretNotFound',
      MESSAGE: secretMessage,
    })
    t.notMatch(wideText + JSON.stringify(hooks), /s3cr3t-value|--secrets/, 'key names only, never values; no --secrets note')
    await k.apply(
      'apiVersion: hookwise.dev/v1alpha1\nkind: EventSource\nmetadata: {name: mlflow-prod}\nspec:\n  mlflow:\n    trackingUri: https://mlflow.mlops.svc:5000\n    entity: acme\n    signingSecret: {secretKeyRef: {name: mlflow, key: webhook-secret}}\n',
      ns,
    )
    t.same(
      parseTable(await k.kubectl(['get', 'eventsources', '-n', ns, '-o', 'wide'])).header,
      ['NAME', 'READY', 'REASON', 'REGISTRY', 'LAST EVENT', 'EVENTS', 'REJECTED', 'AGE', 'MESSAGE'],
      'EventSources show why too',
    )

    await k.apply(manifests(receiver.url, { key: 'token', webhook: 'local-listener' }), ns)
    await readyIs(k, 'automation', ns, 'notify-production', 'True', 'Valid')
    await readyIs(k, 'automation', ns, 'announce', 'True', 'Valid')
    const healthy = await k.kubectl(['get', 'automations', '-n', ns, '-o', 'wide'])
    t.comment(`healthy:\n$ kubectl get automations -o wide\n${healthy}`)
    t.same(
      parseTable(healthy).rows.map((r) => [r.NAME, r.READY, r.REASON, r.MESSAGE]),
      [
        ['announce', 'True', 'Valid', 'fires on LINK_ARTIFACT and delivers to Webhook local-listener'],
        ['notify-production', 'True', 'Valid', 'fires on ADD_ARTIFACT_ALIAS and delivers to Webhook local-listener'],
      ],
    )
  })

  t.test(
    'two controllers: the second leaves the first one’s objects alone and says which; once the first stops, it takes over',
    async (t) => {
      const ns = 'two-controllers'
      await k.createNamespace(ns)
      await k.createNamespace('hookwise-system')
      const receiver = await startReceiver(t)
      await k.apply(manifests(receiver.url, { key: 'token', webhook: 'local-listener' }), ns)
      // As `hookwise run --kubernetes --namespace NS` by hand: http to loopback allowed, Lease in NS.
      const first = await run(t, cluster, { namespace: [ns], allowInsecureHttp: true, egressAllow: ['127.0.0.0/8'] })
      const firstId = `${ns}/hookwise-controller`
      const owned = await readyIs(k, 'webhook', ns, 'local-listener', 'True', 'Valid')
      t.equal(owned.status.controller, firstId, 'status names the controller that wrote it')
      t.equal((await readyIs(k, 'automation', ns, 'announce', 'True', 'Valid')).status.controller, firstId)

      // As the Helm chart's controller: every namespace, https only, its Lease in hookwise-system.
      const second = await run(t, cluster, { leaseNamespace: 'hookwise-system', leaseName: 'hookwise' })
      const note = (kind: string, name: string) =>
        `status is written by the hookwise controller ${firstId} (Lease held by ` +
        `${'HOLDER'}); this controller (hookwise-system/hookwise) leaves ${kind} ${ns}/${name} alone while that one runs: stop one of the two (docs/kubernetes.md#one-controller-per-object)`
      const conflicts = await until('ControllerConflict Events for the three objects', async () => {
        const found = (await k.events(ns)).filter((e) => e.reason === 'ControllerConflict')
        return found.length >= 3 ? found : undefined
      })
      const holder = (JSON.parse(await k.kubectl(['get', 'lease', 'hookwise-controller', '-n', ns, '-o', 'json'])) as any).spec
        .holderIdentity
      t.same(conflicts.map((e) => [e.type, e.regarding.kind, e.regarding.name, e.note]).sort(), [
        ['Warning', 'Automation', 'announce', note('Automation', 'announce').replace('HOLDER', holder)],
        ['Warning', 'Automation', 'notify-production', note('Automation', 'notify-production').replace('HOLDER', holder)],
        ['Warning', 'Webhook', 'local-listener', note('Webhook', 'local-listener').replace('HOLDER', holder)],
      ])
      t.ok(
        second.logs.some((l) => l.includes('"msg":"status is written by the hookwise controller')),
        'and a log line',
      )
      // The chart's https-only policy would say EgressDenied: the first controller's status stays.
      await new Promise((r) => setTimeout(r, 1500))
      const kept = await k.get('webhook', ns, 'local-listener')
      t.match(condition(kept, 'Ready'), { status: 'True', reason: 'Valid' })
      t.equal(kept?.status.controller, firstId)

      await first.stop() // releases its Lease: the second takes the objects over at its next look
      const taken = await until(
        'the second controller writes the status',
        async () => {
          const o = await k.get('webhook', ns, 'local-listener')
          return o?.status?.controller === 'hookwise-system/hookwise' ? o : undefined
        },
        40_000,
        250,
      )
      t.match(condition(taken, 'Ready'), { status: 'False', reason: 'EgressDenied' })
    },
  )
}
