// EventSources in Kubernetes mode, on a real kube-apiserver + etcd: a W&B EventSource and its
// Secret applied with kubectl open the intake POST /v1/sources/<namespace>/<name>; a signed request
// is accepted and delivered through an Automation, a wrongly signed one is refused, and `kubectl get
// eventsources` shows READY and the counts hookwise writes to status.
import { createHmac } from 'node:crypto'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import t from 'tap'
import { startController } from '../controller/app/start-controller.js'
import { createLogger } from '../controller/log.js'
import { hookwise } from './helpers/cli.js'
import { condition, kube, parseTable } from './helpers/kube.js'
import { startReceiver } from './helpers/receiver.js'
import { until } from './helpers/until.js'
import { useControlPlane } from './k8s/fixture.js'

const cluster = await useControlPlane(t)
const SECRET = 'wandb-webhook-secret'
const TOKEN = 'wandb-access-token'

if (cluster) {
  const k = kube(cluster)
  await k.kubectl(['apply', '-f', join(import.meta.dirname, '..', 'crds')])
  await k.kubectl(['wait', '--for=condition=Established', 'crd/eventsources.hookwise.dev', 'crd/automations.hookwise.dev', '--timeout=60s'])

  t.test('a W&B EventSource applied with kubectl: intake accepts, delivers, refuses a bad signature; status counts', async (t) => {
    const ns = 'ml-team'
    await k.createNamespace(ns)
    const receiver = await startReceiver(t)
    await k.apply(
      `apiVersion: v1
kind: Secret
metadata: {name: wandb}
stringData: {secret: ${SECRET}, token: ${TOKEN}}
---
apiVersion: hookwise.dev/v1alpha1
kind: EventSource
metadata: {name: wandb-bridge}
spec:
  wandb:
    signingSecret: {secretKeyRef: {name: wandb, key: secret}}
    accessToken: {secretKeyRef: {name: wandb, key: token}}
---
apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: deploy}
spec: {url: "${receiver.url}/deploy"}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: deploy-production}
spec:
  scope: {type: Collection, registry: model, collection: churn-classifier}
  event: {type: ADD_ARTIFACT_ALIAS, aliasRegex: ^production$}
  action:
    webhook: deploy
    payload:
      version: \${artifact_version_string}
      alias: \${alias}
`,
      ns,
    )
    const c = await startController(
      {
        kubernetes: true,
        kubeconfig: cluster.kubeconfig,
        namespace: [ns],
        statusInterval: 200,
        state: join(t.testdir({}), 'state'),
        listen: '127.0.0.1:0',
        allowInsecureHttp: true,
        egressAllow: ['127.0.0.0/8'],
        logLevel: 'info',
        durability: 'normal',
        maxPending: 1000,
        retentionHours: 24,
      },
      createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) }),
      {},
    )
    t.teardown(() => c.stop())
    const ready = await until('EventSource Ready=True', async () => {
      const o = await k.get('eventsource', ns, 'wandb-bridge')
      return condition(o, 'Ready')?.status === 'True' ? o : undefined
    })
    t.match(condition(ready, 'Ready'), {
      reason: 'Valid',
      message: `accepts events from W&B webhook automations at /v1/sources/${ns}/wandb-bridge`,
      observedGeneration: 1,
    })
    t.same(ready!.status.events, { accepted: 0, duplicates: 0, rejected: 0 })
    t.equal(ready!.status.controller, `${ns}/hookwise-controller`, 'status.controller names the Lease of the controller that writes it')

    // W&B replaces each ${variable} of the template with its text.
    const template = await hookwise(['sources', 'wandb-template', '--event', 'ADD_ARTIFACT_ALIAS'])
    const variables: Record<string, string> = {
      event_author: 'alice',
      entity_name: 'acme',
      project_name: 'wandb-registry-model',
      artifact_collection_name: 'churn-classifier',
      artifact_version: 'wandb-artifact://_id/QXJ0aWZhY3Q6NTE3ODg5ODg3',
      artifact_version_string: 'acme/wandb-registry-model/churn-classifier:production',
      alias: 'production',
    }
    const body = template.stdout.replace(/\$\{([^}]+)\}/g, (_, name: string) => variables[name] ?? '')
    const signature = (secret: string) => createHmac('sha256', secret).update(body).digest('base64')
    const post = async (secret: string) => {
      const res = await fetch(`http://127.0.0.1:${c.address.port}/v1/sources/${ns}/wandb-bridge`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}`, 'X-Wandb-Signature': signature(secret) },
        body,
      })
      return { status: res.status, body: (await res.json()) as Record<string, unknown> }
    }
    const wrong = await post('other')
    t.equal(wrong.status, 401)
    t.equal(wrong.body.detail, "X-Wandb-Signature does not match the body and the EventSource's signingSecret; nothing was stored")
    t.match(await post(SECRET), { status: 202, body: { event: /^wandb-[0-9a-f]{32}$/, deliveries: 1 } })
    await receiver.waitFor(1)
    t.same(
      receiver.received.map((r) => JSON.parse(r.body)),
      [{ version: 'acme/wandb-registry-model/churn-classifier:production', alias: 'production' }],
    )

    const counted = await until('status counts the accepted and the rejected request', async () => {
      const o = await k.get('eventsource', ns, 'wandb-bridge')
      return o?.status?.events?.accepted === 1 && o.status.events.rejected === 1 ? o : undefined
    })
    t.match(counted!.status.lastEvent, { type: 'ADD_ARTIFACT_ALIAS', time: /^\d{4}-\d\d-\d\dT/ })
    const table = await k.kubectl(['get', 'eventsources', '-n', ns, '-o', 'wide'])
    t.comment(`$ kubectl get eventsources -o wide\n${table}`)
    t.match(parseTable(table).rows, [
      {
        NAME: 'wandb-bridge',
        READY: 'True',
        REASON: 'Valid',
        REGISTRY: '',
        'LAST EVENT': /^\d+s$/,
        EVENTS: '1',
        REJECTED: '1',
        MESSAGE: `accepts events from W&B webhook automations at /v1/sources/${ns}/wandb-bridge`,
      },
    ])
    t.notMatch(table + JSON.stringify(counted), new RegExp(`${SECRET}|${TOKEN}`), 'no secret values in status')
  })
}
