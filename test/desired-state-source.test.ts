// The DesiredStateSource contract (controller/sources/desired-state-source.ts) of the folder and
// git sources, called directly: start resolves once the first state went to onState, a change
// calls onState again, stop ends it; what each source logs of itself. (The cluster source's
// contract is in kubernetes.test.ts, beside its control plane; `hookwise run` over each source is
// in run.test.ts, git-source.test.ts and kubernetes.test.ts.)
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import t from 'tap'
import { createLogger, type Logger } from '../controller/log.js'
import { folderSource } from '../controller/sources/folder-watch.js'
import { gitSource } from '../controller/sources/git-follow.js'
import type { LoadedState } from '../controller/sources/load.js'
import { createRepo } from './helpers/git-repo.js'
import { until } from './helpers/until.js'

const webhook = (name: string, url = 'https://example.com/hook'): string => `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: ${name}}
spec: {url: ${url}}
`
const keys = (s: LoadedState): string[] => [...s.webhooks.keys()].sort()

/** A logger whose lines the test reads back, parsed. */
function capturedLog(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l))
      cb()
    },
  })
  return { log: createLogger({ level: 'info', destination: sink }), lines }
}

t.test('folder source: start resolves after the first state, a change calls onState again, stop ends it', async (t) => {
  const dir = t.testdir({ 'a.yaml': webhook('a') })
  const { log, lines } = capturedLog()
  const source = folderSource({ manifests: [dir] }, { log, debounceMs: 20 })
  t.same(keys(source.state), [], 'empty before start')
  t.equal(source.status, undefined, 'no status of its own')
  t.equal(source.sync, undefined, 'nothing to fetch')

  const states: Array<[string[], string | undefined]> = []
  await source.start((s, revision) => states.push([keys(s), revision]))
  t.same(states, [[['default/a'], undefined]])
  t.same(keys(source.state), ['default/a'])

  writeFileSync(join(dir, 'b.yaml'), webhook('b'))
  await until('the new file applied', () => states.length === 2, 10_000, 20)
  t.same(states[1], [['default/a', 'default/b'], undefined])
  t.same(keys(source.state), ['default/a', 'default/b'])

  // The manifests' diagnostics are logged: outside Kubernetes no object status carries them.
  writeFileSync(join(dir, 'c.yaml'), webhook('c', 'ftp://x'))
  await until('the invalid file applied', () => states.length === 3, 10_000, 20)
  const error = lines.find((l) => l.code === 'HW_SCHEMA')
  t.match(error, { level: 50, code: 'HW_SCHEMA', file: join(dir, 'c.yaml'), line: 4, object: 'Webhook default/c' })
  t.match(error?.msg, /^.*c\.yaml:4:\d+: error HW_SCHEMA: Webhook default\/c: spec\.url: "ftp:\/\/x" does not match the pattern/)

  await source.stop()
  writeFileSync(join(dir, 'd.yaml'), webhook('d'))
  await new Promise((r) => setTimeout(r, 400))
  t.equal(states.length, 3, 'no state after stop')
})

t.test('git source: start resolves after the first commit applied, sync applies the next, stop ends it', async (t) => {
  const repo = createRepo()
  t.teardown(() => repo.remove())
  repo.write({ 'hooks/a.yaml': webhook('a'), 'README.md': 'not a manifest\n' })
  const first = repo.commit('a')
  const { log, lines } = capturedLog()
  const source = gitSource(
    { url: repo.root, branch: 'main', path: 'hooks', intervalMs: 3_600_000, secrets: [], checkoutDir: join(t.testdir({}), 'git') },
    { log, env: process.env },
  )
  t.same(keys(source.state), [], 'empty before start')

  const states: Array<[string[], string | undefined]> = []
  await source.start((s, revision) => states.push([keys(s), revision]))
  t.same(states, [[['default/a'], first]])
  t.same(keys(source.state), ['default/a'])
  t.match(source.status(), {
    type: 'git',
    url: repo.root,
    branch: 'main',
    path: 'hooks',
    revision: first,
    consecutiveFailures: 0,
    condition: { status: 'True', reason: 'Synced', message: `applied ${first.slice(0, 12)} of main` },
  })
  t.match(
    lines.find((l) => l.msg === 'following git repository'),
    { level: 30, url: repo.root, branch: 'main', path: 'hooks', revision: first, reason: 'Synced' },
  )

  repo.write({ 'hooks/b.yaml': webhook('b') })
  const second = repo.commit('b')
  const synced = await source.sync()
  t.same(states, [
    [['default/a'], first],
    [['default/a', 'default/b'], second],
  ])
  t.equal(synced.revision, second)
  t.same(keys(source.state), ['default/a', 'default/b'])

  // Nothing new: sync applies nothing.
  await source.sync()
  t.equal(states.length, 2)

  await source.stop()
  repo.write({ 'hooks/c.yaml': webhook('c') })
  repo.commit('c')
  t.equal((await source.sync()).revision, second, 'a sync after stop fetches nothing')
  t.equal(states.length, 2, 'no state after stop')
})
