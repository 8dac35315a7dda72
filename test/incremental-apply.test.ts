// One edited file re-applies alone (issue 22): the folder source parses, validates and compiles only
// the document that changed; every other automation keeps its compiled form (the same object), the
// matching index changes only there, and a delivery in flight for another automation goes on
// undisturbed. Real folders, a real controller on loopback, a real HTTP receiver, real SQLite.
import t from 'tap'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { request } from 'undici'
import { startController } from '../controller/app/start-controller.js'
import { createLogger } from '../controller/log.js'
import type { CompiledAutomation } from '../controller/model/desired-state.js'
import { folderSource } from '../controller/sources/folder-watch.js'
import type { LoadedState } from '../controller/sources/load.js'
import { until } from './helpers/until.js'

const quiet = () => createLogger({ level: 'error', destination: new Writable({ write: (_c, _e, cb) => cb() }) })

const webhook = (url: string): string => `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: hook}
spec:
  url: ${url}
  timeoutSeconds: 120
`
const automation = (name: string, collection: string, alias = '^production$'): string => `---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata:
  name: ${name}
spec:
  scope: {type: Collection, registry: model, collection: ${collection}}
  event:
    type: ADD_ARTIFACT_ALIAS
    aliasRegex: ${alias}
  action:
    webhook: hook
    payload: {name: ${name}, version: "\${artifact_version_string}"}
`

const byName = (s: LoadedState): Map<string, CompiledAutomation> => new Map(s.automations.map((a) => [a.name, a]))

t.test('an edit recompiles only the object it changed; an error in it still has its file, line and column', async (t) => {
  const dir = t.testdir({
    'webhooks.yaml': webhook('https://example.com/hook'),
    'a.yaml': automation('a1', 'churn') + automation('a2', 'churn') + automation('a3', 'fraud'),
    'b.yaml': automation('b1', 'churn'),
  })
  const source = folderSource({ manifests: [dir] }, { log: quiet(), debounceMs: 20 })
  const states: LoadedState[] = []
  await source.start((s) => states.push(s))
  t.teardown(() => source.stop())
  const first = byName(states[0]!)
  t.same([...first.keys()].sort(), ['a1', 'a2', 'a3', 'b1'])

  // One line of a2 changes (its alias regex): a1, a3 (same file) and b1 (another file) keep their compiled objects.
  const file = join(dir, 'a.yaml')
  writeFileSync(file, readFileSync(file, 'utf8').replace(/(name: a2\n(?:.*\n){4} {4}aliasRegex: )\^production\$/, '$1^staging$'))
  await until('the edit to apply', () => states.length === 2, 10_000, 20)
  const second = byName(states[1]!)
  t.equal(second.get('a1'), first.get('a1'), 'a1: the same compiled object')
  t.equal(second.get('a3'), first.get('a3'), 'a3: the same compiled object')
  t.equal(second.get('b1'), first.get('b1'), 'b1 (another file): the same compiled object')
  t.not(second.get('a2'), first.get('a2'), 'a2 is compiled again')
  t.equal(second.get('a2')!.aliasRegex!.source, '^staging$')
  t.same(states[1]!.diagnostics, [])

  // An error brought in by an edit is reported at its field, as on a first load.
  writeFileSync(file, readFileSync(file, 'utf8').replace('^staging$', '^(staging$'))
  await until('the broken edit to apply', () => states.length === 3, 10_000, 20)
  const line = readFileSync(file, 'utf8').split('\n').indexOf('    aliasRegex: ^(staging$') + 1
  t.match(states[2]!.diagnostics, [
    { file, line, column: 5, code: 'HW_REGEX_INVALID', object: 'Automation default/a2', path: 'spec.event.aliasRegex' },
  ])
  t.same([...byName(states[2]!).keys()].sort(), ['a1', 'a3', 'b1'], 'a2 is left out until it is fixed')
  t.equal(byName(states[2]!).get('a1'), first.get('a1'))

  // Lines added above the others move them: those are compiled again, so their positions stay true.
  writeFileSync(file, `# a comment\n${readFileSync(file, 'utf8')}`)
  await until('the moved file to apply', () => states.length === 4, 10_000, 20)
  t.not(byName(states[3]!).get('a1'), first.get('a1'), 'a1 moved down a line: compiled again')
  t.equal(byName(states[3]!).get('b1'), first.get('b1'), 'b1 (another file) stays')
  t.match(states[3]!.diagnostics, [{ line: line + 1, column: 5, code: 'HW_REGEX_INVALID' }])
})

t.test('a delivery in flight for one automation is not disturbed by an edit of another', async (t) => {
  // A receiver that holds the first request until the test lets it go.
  const arrived: Array<{ body: string; res: ServerResponse }> = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = ''
    req.on('data', (c: Buffer) => {
      body += c.toString()
    })
    req.on('end', () => {
      arrived.push({ body, res })
      if (arrived.length > 1) res.writeHead(200).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`

  const dir = t.testdir({
    manifests: {
      'webhooks.yaml': webhook(url),
      'a.yaml': automation('deploy-churn', 'churn'),
      'b.yaml': automation('deploy-fraud', 'fraud'),
    },
    token: 'intake-token-incremental\n',
  })
  const running = await startController(
    {
      dir: [join(dir, 'manifests')],
      state: join(dir, 'state'),
      listen: '127.0.0.1:0',
      intakeTokenFile: join(dir, 'token'),
      allowInsecureHttp: true,
      egressAllow: ['127.0.0.0/8'],
      logLevel: 'error',
      durability: 'normal',
      maxPending: 100,
      retentionHours: 24,
    },
    quiet(),
  )
  t.teardown(() => running.stop())
  const base = `http://127.0.0.1:${running.address.port}`
  const auth = { authorization: 'Bearer intake-token-incremental' }
  const api = async (path: string, body?: unknown): Promise<any> => {
    const res = await request(`${base}${path}`, {
      method: body ? 'POST' : 'GET',
      headers: { ...auth, 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    })
    return res.body.json()
  }
  const event = (id: string, collection: string) => ({
    id,
    type: 'ADD_ARTIFACT_ALIAS',
    author: 'alice',
    entity: 'acme',
    project: 'wandb-registry-model',
    registry: 'model',
    collection,
    alias: 'production',
    artifact: { id: 'QXJ0aWZhY3Q6MQ==', name: collection, version: 'v3' },
  })

  await api('/v1/events', event('e-churn', 'churn'))
  await until('the churn delivery to be in flight', () => arrived.length === 1, 10_000, 20)
  t.match(JSON.parse(arrived[0]!.body), { name: 'deploy-churn' })

  // While it is in flight, the other automation's file changes (its payload), and the change applies.
  const b = join(dir, 'manifests', 'b.yaml')
  writeFileSync(b, readFileSync(b, 'utf8').replace('{name: deploy-fraud,', '{name: deploy-fraud-v2,'))
  await api('/v1/events', event('e-fraud', 'fraud'))
  // Until the edit applies, fraud events render the old payload; poll with new events until one renders the new one.
  await until(
    'the edited automation to render its new payload',
    async () => {
      if (arrived.some((a) => a.body.includes('deploy-fraud-v2'))) return true
      await api('/v1/events', event(`e-fraud-${arrived.length}-${Date.now()}`, 'fraud'))
      return false
    },
    15_000,
    300,
  )

  // The held delivery was not cancelled or retried meanwhile: it completes on its first attempt.
  arrived[0]!.res.writeHead(200).end()
  const churn = await until(
    'the churn delivery to succeed',
    async () => {
      const list = (await api('/v1/deliveries')) as Array<{ automation: string; status: string; attempts: number }>
      const d = list.find((x) => x.automation === 'default/deploy-churn')
      return d?.status === 'succeeded' ? d : undefined
    },
    10_000,
    50,
  )
  t.match(churn, { status: 'succeeded', attempts: 1 })
  t.equal(arrived.filter((a) => a.body.includes('deploy-churn')).length, 1, 'the churn receiver got it once')
})
