// Memory across runs in one process: the engine keeps nothing of finished work in memory. Runs of
// events go through the engine over a real SQLite outbox and the real undici sender to a real
// receiver on loopback; after each, a full garbage collection, and the live heap must come back to
// where it was after the first run (docs/performance.md, "Memory across runs").
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import v8 from 'node:v8'
import vm from 'node:vm'
import t from 'tap'
import type { ArtifactEvent } from '../controller/api/types.generated.js'
import { DeliveryEngine } from '../controller/delivery/engine.js'
import { createBreaker, createRetryDecider } from '../controller/delivery/policies.js'
import { UndiciSender } from '../controller/delivery/sender.js'
import { SqliteStore } from '../controller/delivery/sqlite-store.js'
import { validateObjects } from '../controller/reconcile/validate.js'
import { parseManifest } from '../controller/sources/manifest.js'
import { until } from './helpers/until.js'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

const RUNS = 4
const EVENTS = 1000

t.test(`${RUNS} runs of ${EVENTS} events in one engine: the live heap after each run stays where the first left it`, async (t) => {
  let received = 0
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      received++
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"ok":true}')
    })
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  t.teardown(() => new Promise<void>((ok) => server.close(() => ok())))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  const parsed = parseManifest(
    `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: hook}
spec: {url: "${url}"}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: deploy}
spec:
  scope: {type: Registry, registry: model}
  event: {type: LINK_ARTIFACT}
  action:
    webhook: hook
    payload: {version: "\${artifact_version_string}", note: "\${json:artifact_metadata.note}"}
`,
    'm.yaml',
  )
  const store = new SqliteStore(t.testdir({}))
  const sender = new UndiciSender({ egress: { allowInsecureHttp: true, allow: ['127.0.0.0/8'] } })
  const engine = new DeliveryEngine({ store, sender, retry: createRetryDecider(), breaker: createBreaker(), pollIntervalMs: 20 })
  engine.setState(validateObjects(parsed.objects, parsed.diagnostics))
  engine.start()
  t.teardown(async () => {
    await engine.stop()
    await sender.close()
    store.close()
  })
  // About 2 KB per event, so a leak of the events themselves would show in megabytes.
  const note = 'x'.repeat(2000)
  const event = (run: number, i: number): ArtifactEvent => ({
    id: `run-${run}-${i}`,
    type: 'LINK_ARTIFACT',
    author: 'alice',
    entity: 'acme',
    project: 'p',
    registry: 'model',
    collection: 'churn',
    artifact: { id: 'QQ==', name: 'churn', version: `v${i}`, metadata: { note: `${note}${run}-${i}` } },
  })
  const heapMb: number[] = []
  const mb = (bytes: number): number => Math.round(bytes / 2 ** 20)
  const split: string[] = []
  for (let run = 1; run <= RUNS; run++) {
    for (let i = 0; i < EVENTS; i += 250) await engine.acceptGrouped(Array.from({ length: 250 }, (_, k) => event(run, i + k)))
    await until(`run ${run} delivered`, () => received === run * EVENTS && engine.pendingCount === 0, 120_000)
    await new Promise((r) => setTimeout(r, 100)) // let the last attempts be recorded
    gc()
    gc()
    heapMb.push(Math.round((v8.getHeapStatistics().used_heap_size / 2 ** 20) * 10) / 10)
    const m = process.memoryUsage()
    split.push(`run ${run}: rss ${mb(m.rss)}, V8 heap reserved ${mb(m.heapTotal)}, live ${mb(m.heapUsed)}, outside V8 ${mb(m.external)}`)
  }
  t.comment(`live heap after each run, MB: ${heapMb.join(', ')}`)
  t.comment(`MB after each run and a full GC: ${split.join('; ')}`)
  const grew = heapMb[RUNS - 1]! - heapMb[0]!
  // Each run brings in 1,000 events of about 2 KB (2 MB): keeping a third of them over three runs would show.
  t.ok(grew < 2, `the live heap grew by ${grew.toFixed(1)} MB from run 1 to run ${RUNS} (under 2 MB)`)
})
