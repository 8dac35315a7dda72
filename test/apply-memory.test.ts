// Memory stays flat while a folder is edited (issue 22): a controller on 1,200 automations takes 100
// one-line edits, and the live heap afterwards (after a full garbage collection) is within 10 % of
// the live heap after the first load. Kept objects must not hold on to earlier versions of their
// files (a slice of a string keeps its whole parent alive in V8). A real controller in this process,
// real files, real SQLite.
import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { startController } from '../controller/app/start-controller.js'
import { createLogger } from '../controller/log.js'
import { until } from './helpers/until.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const liveHeapMb = (): number => {
  gc()
  gc()
  return process.memoryUsage().heapUsed / 1024 / 1024
}

const automation = (i: number, variant = 0): string => `---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata:
  name: deploy-${i}
spec:
  scope: {type: Collection, registry: model, collection: churn-${i}}
  event:
    type: ADD_ARTIFACT_ALIAS
    aliasRegex: ^(production|canary-${variant})$
    metadata: [{key: accuracy, op: gte, value: "0.9"}]
  action:
    webhook: hook
    payload: {event_type: BUILD_AND_DEPLOY, version: "\${artifact_version_string}", author: "\${event_author}", accuracy: "\${json:artifact_metadata.accuracy}"}
`

t.test('100 successive edits: the live heap stays within 10 % of the first load', async (t) => {
  // Two files of 600: a kept version of a file (300 KB) per edit would be 30 MB after 100 edits.
  const files = 2
  const perFile = 600
  const tree: Record<string, string> = {
    'webhooks.yaml': 'apiVersion: hookwise.dev/v1alpha1\nkind: Webhook\nmetadata: {name: hook}\nspec: {url: "https://example.com/hook"}\n',
  }
  for (let f = 0; f < files; f++)
    tree[`automations-${f}.yaml`] = Array.from({ length: perFile }, (_, k) => automation(f * perFile + k)).join('')
  const dir = t.testdir({ manifests: tree })
  let applied = 0
  const log = createLogger({
    level: 'info',
    destination: new Writable({
      write: (chunk, _e, cb) => {
        if (String(chunk).includes('"msg":"desired state applied"')) applied++
        cb()
      },
    }),
  })
  const running = await startController(
    {
      dir: [join(dir, 'manifests')],
      state: join(dir, 'state'),
      listen: '127.0.0.1:0',
      logLevel: 'info',
      durability: 'normal',
      maxPending: 100,
      retentionHours: 24,
    },
    log,
  )
  t.teardown(() => running.stop())
  t.equal(applied, 1)
  const first = liveHeapMb()
  const variants = new Map<number, number>()
  for (let k = 1; k <= 100; k++) {
    // Each edit changes one line of one automation, in a different file each time.
    const i = (k * 37) % (files * perFile)
    const file = join(dir, 'manifests', `automations-${Math.floor(i / perFile)}.yaml`)
    const text = readFileSync(file, 'utf8')
    const was = automation(i, variants.get(i) ?? 0)
    if (!text.includes(was)) throw new Error(`automation ${i} not found as written`)
    writeFileSync(file, text.replace(was, automation(i, k)))
    variants.set(i, k)
    await until(`edit ${k} to apply`, () => applied === k + 1, 15_000, 10)
  }
  const after = liveHeapMb()
  t.ok(after <= first * 1.1, `live heap ${after.toFixed(1)} MB after 100 edits, ${first.toFixed(1)} MB after the first load`)
})
