// One status model: the same Webhooks and Automations run in --dir mode and in Kubernetes mode (a
// real kube-apiserver), delivering to the same receivers, and every view of their status agrees on
// every condition: --dir mode's GET /v1/status, `hookwise get` and `hookwise describe` against it,
// the objects read with `kubectl get -o json` (and `kubectl get`'s READY/HEALTHY columns), and
// Kubernetes mode's own /v1/status.
import { join } from 'node:path'
import { Writable } from 'node:stream'
import t from 'tap'
import { request } from 'undici'
import { startController, type RunOptions } from '../controller/app/start-controller.js'
import { createLogger } from '../controller/log.js'
import { hookwise, type TapTest } from './helpers/cli.js'
import { kube, parseTable, type KubeObject } from './helpers/kube.js'
import { startReceiver } from './helpers/receiver.js'
import { until } from './helpers/until.js'
import { useControlPlane } from './k8s/fixture.js'

const cluster = await useControlPlane(t)
const NS = 'agree'

const webhookYaml = (name: string, url: string): string => `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: ${name}, namespace: ${NS}}
spec:
  url: ${url}
  retry: {maxAttempts: 1}
`
const automationYaml = (name: string, webhook: string, extra = ''): string => `apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: ${name}, namespace: ${NS}}
spec:
  scope: {type: Registry, registry: model}
  event: {type: LINK_ARTIFACT}
  action: {webhook: ${webhook}, payload: {version: "\${artifact_version_string}"}}
${extra}`
const event = {
  id: 'evt-1',
  type: 'LINK_ARTIFACT',
  author: 'alice',
  entity: 'acme',
  project: 'p',
  registry: 'model',
  collection: 'churn',
  artifact: { id: 'QQ==', name: 'churn', version: 'v7' },
}

interface Cond {
  type: string
  status: string
  reason: string
  message: string
}
/** Conditions by object, `Kind name`, as type/status/reason/message (what every view must agree on). */
type Conditions = Record<string, Cond[]>
const only = (cs: Cond[] | undefined): Cond[] => (cs ?? []).map(({ type, status, reason, message }) => ({ type, status, reason, message }))

/** Starts a controller with its state in `state`, and posts the event to it. */
async function run(t: TapTest, state: string, options: Partial<RunOptions>): Promise<{ base: string; status(): Promise<any> }> {
  const controller = await startController(
    {
      state,
      listen: '127.0.0.1:0',
      allowInsecureHttp: true,
      egressAllow: ['127.0.0.0/8'],
      logLevel: 'info',
      durability: 'normal',
      maxPending: 1000,
      retentionHours: 24,
      ...options,
    },
    createLogger({ level: 'info', destination: new Writable({ write: (_c, _e, cb) => cb() }) }),
    {},
  )
  t.teardown(() => controller.stop())
  const base = `http://127.0.0.1:${controller.address.port}`
  const res = await request(`${base}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(event),
  })
  t.equal(res.statusCode, 202)
  await res.body.text()
  return { base, status: async () => (await request(`${base}/v1/status`)).body.json() }
}

/** The conditions of GET /v1/status. */
const fromReport = (report: any): Conditions =>
  Object.fromEntries([
    ...report.webhooks.map((w: any) => [`Webhook ${w.name}`, only(w.conditions)]),
    ...report.automations.map((a: any) => [`Automation ${a.name}`, only(a.conditions)]),
  ])

/** The conditions of objects read with kubectl. */
const fromCluster = (items: KubeObject[]): Conditions =>
  Object.fromEntries(items.map((o) => [`${o.kind} ${o.metadata.name}`, only(o.status?.conditions)]))

/** The Conditions table `hookwise describe` prints. */
function fromDescribe(text: string): Cond[] {
  const lines = text.split('\n')
  const after = lines.slice(lines.indexOf('Conditions:') + 1)
  const end = after.findIndex((l) => !l.startsWith('  '))
  const block = after.slice(0, end === -1 ? after.length : end).map((l) => l.slice(2))
  return parseTable(block.join('\n')).rows.map((r) => ({ type: r.Type!, status: r.Status!, reason: r.Reason!, message: r.Message! }))
}

if (cluster) {
  const k = kube(cluster)
  await k.kubectl(['apply', '-f', join(import.meta.dirname, '..', 'crds')])
  await k.kubectl(['wait', '--for=condition=Established', 'crd/webhooks.hookwise.dev', 'crd/automations.hookwise.dev', '--timeout=60s'])

  t.test('hookwise get/describe, /v1/status and kubectl get agree on every condition', async (t) => {
    const ok = await startReceiver(t)
    const failing = await startReceiver(t)
    failing.fallback = 500
    const gone = await startReceiver(t)
    gone.fallback = 410
    const manifests = [
      webhookYaml('ok', `${ok.url}/hook`),
      webhookYaml('failing', `${failing.url}/hook`),
      webhookYaml('gone', `${gone.url}/hook`),
      automationYaml('to-ok', 'ok'),
      automationYaml('disabled', 'ok', '  enabled: false\n'),
      automationYaml('to-failing', 'failing'),
      automationYaml('to-gone', 'gone'),
      automationYaml('orphan', 'nowhere'),
    ]
    const expected: Conditions = {
      'Webhook failing': [
        { type: 'Ready', status: 'True', reason: 'Valid', message: `ready to deliver to ${failing.url}/hook` },
        { type: 'Healthy', status: 'False', reason: 'DeliveryFailing', message: '1 failed attempt in a row; last attempt HTTP 500' },
      ],
      'Webhook gone': [
        { type: 'Ready', status: 'True', reason: 'Valid', message: `ready to deliver to ${gone.url}/hook` },
        {
          type: 'Healthy',
          status: 'False',
          reason: 'Gone',
          message:
            'the endpoint answered 410 Gone: deliveries wait until the Webhook spec changes (update the URL, or remove the Automations)',
        },
      ],
      'Webhook ok': [
        { type: 'Ready', status: 'True', reason: 'Valid', message: `ready to deliver to ${ok.url}/hook` },
        { type: 'Healthy', status: 'True', reason: 'Succeeding', message: 'the last attempt succeeded' },
      ],
      'Automation disabled': [
        {
          type: 'Ready',
          status: 'False',
          reason: 'Disabled',
          message: 'spec.enabled is false: the automation does not fire (set it to true to resume)',
        },
      ],
      'Automation orphan': [
        {
          type: 'Ready',
          status: 'False',
          reason: 'WebhookNotFound',
          message: `spec.action.webhook: webhook nowhere does not exist in namespace ${NS} (webhooks there: failing, gone, ok) (create Webhook ${NS}/nowhere, or name an existing one (automations use webhooks of their own namespace))`,
        },
      ],
      'Automation to-failing': [
        { type: 'Ready', status: 'True', reason: 'Valid', message: 'fires on LINK_ARTIFACT and delivers to Webhook failing' },
      ],
      'Automation to-gone': [
        { type: 'Ready', status: 'True', reason: 'Valid', message: 'fires on LINK_ARTIFACT and delivers to Webhook gone' },
      ],
      'Automation to-ok': [
        { type: 'Ready', status: 'True', reason: 'Valid', message: 'fires on LINK_ARTIFACT and delivers to Webhook ok' },
      ],
    }
    const settled = (c: Conditions): boolean =>
      ['ok', 'failing', 'gone'].every((w) => c[`Webhook ${w}`]?.some((x) => x.type === 'Healthy' && x.reason !== 'NoDeliveries'))

    // --dir mode: /v1/status, then hookwise get and describe against it.
    const root = t.testdir({ manifests: Object.fromEntries(manifests.map((m, i) => [`${i}.yaml`, m])) })
    const local = await run(t, join(root, 'dir-state'), { dir: [join(root, 'manifests')] })
    const report = await until('--dir mode: every webhook attempted', async () => {
      const r = await local.status()
      return settled(fromReport(r)) ? r : undefined
    })
    const dirConditions = fromReport(report)
    t.same(dirConditions, expected, '--dir mode /v1/status')
    t.same(
      report.webhooks.map((w: any) => [w.name, w.ready, w.healthy, w.gone]).sort(),
      [
        ['failing', true, false, false],
        ['gone', true, false, true],
        ['ok', true, true, false],
      ],
      'ready, healthy and gone follow the conditions',
    )
    t.same(
      report.automations.map((a: any) => [a.name, a.ready]),
      [
        ['disabled', false],
        ['orphan', false],
        ['to-failing', true],
        ['to-gone', true],
        ['to-ok', true],
      ],
    )

    const server = ['--server', local.base]
    const columns = async (kind: string) => {
      const got = await hookwise(['get', kind, ...server])
      t.equal(got.status, 0, `hookwise get ${kind}`)
      return Object.fromEntries(parseTable(got.stdout).rows.map((r) => [r.NAME!, r]))
    }
    const webhookRows = await columns('webhooks')
    const automationRows = await columns('automations')
    const described: Conditions = {}
    for (const [name, conditions] of Object.entries(dirConditions)) {
      const [kind, short] = name.split(' ') as [string, string]
      const row = kind === 'Webhook' ? webhookRows[short] : automationRows[short]
      t.equal(row?.READY, conditions.find((c) => c.type === 'Ready')!.status, `hookwise get: READY of ${name}`)
      if (kind === 'Webhook')
        t.equal(row?.HEALTHY, conditions.find((c) => c.type === 'Healthy')!.status, `hookwise get: HEALTHY of ${name}`)
      const text = await hookwise(['describe', kind.toLowerCase(), `${NS}/${short}`, ...server])
      t.equal(text.status, 0, `hookwise describe ${name}`)
      described[name] = fromDescribe(text.stdout)
    }
    t.same(described, dirConditions, 'hookwise describe prints the conditions of /v1/status')

    // Kubernetes mode on the same objects: what kubectl reads, and the controller's /v1/status.
    await k.createNamespace(NS)
    await k.apply(manifests.join('---\n'))
    const inCluster = await run(t, join(root, 'kubernetes-state'), {
      kubernetes: true,
      kubeconfig: cluster.kubeconfig,
      leaderElect: false,
      statusInterval: 1000,
      namespace: [NS],
    })
    const objects = await until('Kubernetes mode: every webhook attempted and every status written', async () => {
      const items = (JSON.parse(await k.kubectl(['get', 'webhooks,automations', '-n', NS, '-o', 'json'])) as { items: KubeObject[] }).items
      const current = items.every((o) => o.status?.observedGeneration === o.metadata.generation)
      return current && items.length === 8 && settled(fromCluster(items)) ? items : undefined
    })
    t.same(fromCluster(objects), dirConditions, 'kubectl get -o json: the same conditions as --dir mode')
    t.same(fromReport(await inCluster.status()), dirConditions, 'Kubernetes mode /v1/status: the same conditions')
    const kubectlWebhooks = Object.fromEntries(parseTable(await k.kubectl(['get', 'webhooks', '-n', NS])).rows.map((r) => [r.NAME!, r]))
    const kubectlAutomations = Object.fromEntries(
      parseTable(await k.kubectl(['get', 'automations', '-n', NS])).rows.map((r) => [r.NAME!, r]),
    )
    for (const [name, row] of Object.entries(webhookRows))
      t.match(kubectlWebhooks[name], { READY: row.READY, HEALTHY: row.HEALTHY }, `kubectl get webhooks: ${name} as hookwise get prints it`)
    for (const [name, row] of Object.entries(automationRows))
      t.match(kubectlAutomations[name], { READY: row.READY }, `kubectl get automations: ${name} as hookwise get prints it`)
  })
}
