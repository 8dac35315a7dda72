// A catastrophic regular expression cannot freeze `hookwise run`: filters are matched with RE2 in
// time linear in the text. Before, aliasRegex ^(a+)+$ and an alias of forty a and a ! stopped the
// process answering /healthz and even SIGTERM (only kill -9 ended it). A real child process on
// 127.0.0.1; every request and wait is bounded, and the process is killed at teardown.
import t from 'tap'
import { join } from 'node:path'
import { request } from 'undici'
import { startHookwise } from './helpers/hookwise-process.js'
import { startReceiver } from './helpers/receiver.js'

const EVIL = `${'a'.repeat(40)}!`

const manifests = (url: string): string => `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: hook}
spec: {url: "${url}"}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: catastrophic}
spec:
  scope: {type: Registry, registry: model}
  event: {type: ADD_ARTIFACT_ALIAS, aliasRegex: "^(a+)+$"}
  action: {webhook: hook, payload: {which: catastrophic, alias: "\${artifact_version_string}"}}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: bang}
spec:
  scope: {type: Registry, registry: model}
  event: {type: ADD_ARTIFACT_ALIAS, aliasRegex: "^a+!$"}
  action: {webhook: hook, payload: {which: bang}}
`

/** One request that gives up after 10 s (a frozen process never answers). */
async function call(url: string, body?: unknown): Promise<{ status: number; text: string }> {
  const res = await request(url, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  })
  return { status: res.statusCode, text: await res.body.text() }
}

t.test('aliasRegex ^(a+)+$ and an alias of forty a and a !: the event is matched, /healthz answers, SIGTERM stops it', async (t) => {
  const receiver = await startReceiver(t)
  const dir = t.testdir({ manifests: { 'hooks.yaml': manifests(`${receiver.url}/hook`) } })
  const p = startHookwise(
    [
      'run',
      '--dir',
      join(dir, 'manifests'),
      '--state',
      join(dir, 'state'),
      '--listen',
      '127.0.0.1:0',
      '--allow-insecure-http',
      '--egress-allow',
      '127.0.0.0/8',
    ],
    t,
  )
  const url = await p.url()

  const accepted = await call(`${url}/v1/events`, {
    id: 'e-evil',
    type: 'ADD_ARTIFACT_ALIAS',
    author: 'mallory',
    entity: 'acme',
    project: 'wandb-registry-model',
    registry: 'model',
    collection: 'churn',
    alias: EVIL,
    artifact: { id: 'QQ==', name: 'churn', version: 'v7' },
  })
  t.equal(accepted.status, 202, accepted.text)
  const events = (JSON.parse(accepted.text) as { events: Array<{ deliveries: Array<{ automation: string }> }> }).events
  t.same(
    events[0]!.deliveries.map((d) => d.automation),
    ['default/bang'],
    'only the automation whose regex matches fires',
  )
  const [got] = await receiver.waitFor(1, 30_000)
  t.equal(got!.body, '{"which":"bang"}')

  t.same(await call(`${url}/healthz`), { status: 200, text: '{"ok":true}' }, '/healthz still answers')
  const exit = await Promise.race([
    p.kill('SIGTERM'),
    new Promise((resolve) => setTimeout(() => resolve('still running 20 s after SIGTERM'), 20_000).unref()),
  ])
  t.same(exit, { code: 0, signal: null }, 'SIGTERM stops it with exit code 0')
  t.equal(receiver.received.length, 1, 'one delivery in all')
})
