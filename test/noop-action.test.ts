// action.noop (W&B's DoNothing): the automation matches and records a delivery, already succeeded
// with no attempt, and sends nothing: a real engine, SQLite outbox and loopback receiver show it.
import t from 'tap'
import { join } from 'node:path'
import { parseManifest } from '../controller/sources/manifest.js'
import { validateObjects } from '../controller/reconcile/validate.js'
import { DeliveryEngine } from '../controller/delivery/engine.js'
import { SqliteStore } from '../controller/delivery/sqlite-store.js'
import { UndiciSender } from '../controller/delivery/sender.js'
import { createBreaker, createRetryDecider } from '../controller/delivery/policies.js'
import type { ArtifactEvent } from '../controller/api/types.generated.js'
import { startReceiver } from './helpers/receiver.js'
import { until } from './helpers/until.js'
import { hookwise } from './helpers/cli.js'
import { createRepo } from './helpers/git-repo.js'
import { planCommand } from '../controller/cli/plan.js'

const event: ArtifactEvent = {
  id: 'e-1',
  type: 'ADD_ARTIFACT_ALIAS',
  author: 'alice',
  entity: 'acme',
  project: 'wandb-registry-model',
  registry: 'model',
  collection: 'churn',
  alias: 'production',
  artifact: { id: 'QQ==', name: 'churn', version: 'v7' },
}

const automation = (name: string, action: string) => `---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: ${name}}
spec:
  scope: {type: Registry, registry: model}
  event: {type: ADD_ARTIFACT_ALIAS, aliasRegex: '^production$'}
  action:
${action}`

const manifests = (url: string) => `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: ci}
spec:
  url: ${url}
${automation('try-filter', '    noop: {}\n')}${automation('notify', '    webhook: ci\n    payload: {alias: "${alias}"}\n')}`

t.test('a noop automation records a succeeded delivery with no attempt and sends nothing', async (t) => {
  const receiver = await startReceiver(t)
  const parsed = parseManifest(manifests(receiver.url), 'm.yaml')
  const state = validateObjects(parsed.objects, parsed.diagnostics)
  t.same(
    state.diagnostics.filter((d) => d.severity === 'error'),
    [],
  )
  const store = new SqliteStore(t.testdir({}))
  const sender = new UndiciSender({ egress: { allowInsecureHttp: true, allow: ['127.0.0.0/8'] } })
  const engine = new DeliveryEngine({ store, sender, retry: createRetryDecider(() => 0.5), breaker: createBreaker(), pollIntervalMs: 10 })
  engine.setState(state)
  engine.start()
  t.teardown(async () => {
    await engine.stop()
    await sender.close()
    store.close()
  })
  await engine.acceptGrouped([event])
  // The webhook automation's request arrives; then both deliveries are finished.
  const [got] = await receiver.waitFor(1)
  t.equal(got!.body, '{"alias":"production"}')
  const rows = await until('both deliveries finished', () => store.list().every((d) => d.status !== 'pending') && store.list())
  const noop = rows.find((d) => d.automation === 'default/try-filter')!
  t.match(noop, { status: 'succeeded', attempts: 0, lastStatusCode: null, lastError: null, webhook: '(noop)' })
  t.same(store.attempts(noop.id), [])
  t.equal(rows.find((d) => d.automation === 'default/notify')!.status, 'succeeded')
  t.equal(await store.pendingCount(), 0)
  await engine.stop()
  t.equal(receiver.received.length, 1, 'the receiver got only the webhook automation request')
})

t.test('validation: a noop action with a webhook, or none at all, is an error at its line', async (t) => {
  const check = (action: string) => {
    const parsed = parseManifest(manifests('https://example.com/hook').replace('    noop: {}\n', action), 'm.yaml')
    return validateObjects(parsed.objects, parsed.diagnostics).diagnostics.filter((d) => d.severity === 'error')
  }
  t.match(check('    webhook: ci\n    noop: {}\n'), [
    {
      line: 14,
      path: 'spec.action.webhook',
      code: 'HW_PAYLOAD_CHOICE',
      message: 'a noop action names no webhook; every other action names one in action.webhook',
    },
  ])
  t.match(check('    noop: {}\n    payload: {a: b}\n'), [
    {
      path: 'spec.action',
      code: 'HW_PAYLOAD_CHOICE',
      message: 'set exactly one of action.payload, action.payloadTemplate, action.slack and action.noop',
    },
  ])
  t.match(check('    noop: {a: 1}\n'), [{ path: 'spec.action.noop', code: 'HW_SCHEMA' }])
})

t.test('hookwise match shows a noop automation as noop; render has no request for it', async (t) => {
  const dir = t.testdir({ 'm.yaml': manifests('https://example.com/hook'), 'e.json': JSON.stringify(event) })
  const text = await hookwise(['match', '--manifests', dir, '--event', join(dir, 'e.json')])
  t.equal(text.stdout, 'default/notify\ndefault/try-filter noop\n')
  const json = await hookwise(['match', '--manifests', dir, '--event', join(dir, 'e.json'), '--format', 'json'])
  t.same(JSON.parse(json.stdout), [
    { namespace: 'default', name: 'notify', webhook: 'ci' },
    { namespace: 'default', name: 'try-filter', action: 'noop' },
  ])
  const render = await hookwise(['render', '--manifests', dir, '--automation', 'try-filter', '--event', join(dir, 'e.json')])
  t.equal(render.status, 2)
  t.match(
    render.stderr,
    /automation default\/try-filter has a noop action: it records a delivery and sends nothing, so there is no request/,
  )
})

t.test('hookwise plan shows an added noop automation as noop, with no request', async (t) => {
  const repo = createRepo()
  t.teardown(repo.remove)
  repo.write({ 'hw/hooks.yaml': manifests('https://example.com/hook').split('\n---\n')[0]! })
  repo.commit('base')
  repo.write({ 'hw/hooks.yaml': manifests('https://example.com/hook') })
  let stdout = ''
  const io = {
    out: (s: string) => {
      stdout += s
    },
    err: () => {},
    stdin: async () => '',
  }
  t.equal(await planCommand({ base: 'main', path: 'hw', format: 'markdown', cwd: repo.root }, io), 0)
  t.match(stdout, /try-filter[\s\S]*: noop — this event fires it; it records a delivery and sends nothing/)
})
