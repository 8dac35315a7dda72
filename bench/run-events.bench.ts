// Benchmark: run events (docs/run-events.md). Prints one JSON line per measurement.
// 1. Points/s evaluated through the run intake (series in runs.db, evaluation, cooldown reads) with
//    1,000 run automations on the metric (a third each threshold, change, z-score), against the
//    same points with 1 automation, in the same run (`ratio`: per-point cost relative to it).
// 2. 1,000,000 points into one run (batches of 1,000): points/s, memory, and the rows runs.db keeps.
// Fired events go to a callback that answers like the engine (the engine's own cost is
// bench:delivery's). Run: npm run bench:runs   (not part of npm test)
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RunEvent, RunMessage } from '../controller/api/types.generated.js'
import { RunIntake } from '../controller/delivery/run-intake.js'
import { RunWindowStore } from '../controller/delivery/run-windows.js'
import { MAX_WINDOW_VALUES } from '../controller/match/metric-window.js'
import type { ManifestObject } from '../controller/model/manifest-object.js'
import { validateObjects } from '../controller/reconcile/validate.js'
import { positiveEnv } from './measure.js'

const object = (body: Record<string, unknown>): ManifestObject => ({
  apiVersion: body.apiVersion,
  kind: body.kind,
  body,
  source: { file: 'bench', document: 0, line: 1, column: 1, locate: () => ({ line: 1, column: 1 }) },
})

const EVENTS = [
  { type: 'RUN_METRIC', agg: 'AVERAGE', window: 10, op: 'gt', threshold: 1e9 },
  { type: 'RUN_METRIC_CHANGE', agg: 'MAX', currentWindow: 5, priorWindow: 5, changeType: 'RELATIVE', direction: 'INCREASE', amount: 1e9 },
  { type: 'RUN_METRIC_ZSCORE', window: 30, threshold: 1e9 },
]

function state(n: number) {
  const objects = [
    object({ apiVersion: 'hookwise.dev/v1alpha1', kind: 'Webhook', metadata: { name: 'hook' }, spec: { url: 'https://example.com/hook' } }),
    ...Array.from({ length: n }, (_, i) =>
      object({
        apiVersion: 'hookwise.dev/v1alpha1',
        kind: 'Automation',
        metadata: { name: `run-${i}` },
        spec: {
          scope: { type: 'Project', entity: 'acme', project: 'churn' },
          event: { metric: 'val_loss', ...EVENTS[i % EVENTS.length] },
          action: { webhook: 'hook', payload: { text: '${run_name} ${metric_value}' } },
        },
      }),
    ),
  ]
  const s = validateObjects(objects)
  if (s.automations.length !== n) throw new Error(JSON.stringify(s.diagnostics.slice(0, 3)))
  return s
}

const run = { id: 'r1', entity: 'acme', project: 'churn', name: 'bench' }
const batch = (from: number, size: number, runId = 'r1'): RunMessage[] =>
  Array.from({ length: size }, (_, i) => ({ run: { ...run, id: runId }, step: from + i, metrics: { val_loss: Math.sin((from + i) / 7) } }))

function intake(automations: number): { intake: RunIntake; store: RunWindowStore; dir: string; fired: () => number } {
  const dir = mkdtempSync(join(tmpdir(), 'hookwise-bench-runs-'))
  const store = new RunWindowStore(dir, MAX_WINDOW_VALUES)
  let fired = 0
  const i = new RunIntake(store, async (events: RunEvent[]) => {
    fired += events.length
    return events.map((e) => ({ id: e.id, duplicate: false, deliveries: [] }))
  })
  i.setState(state(automations))
  return { intake: i, store, dir, fired: () => fired }
}

async function pointsPerSecond(automations: number, points: number): Promise<number> {
  const { intake: i, store, dir } = intake(automations)
  // Warm up: fill the windows (and the JIT) before timing.
  await i.take(batch(0, 100))
  const started = performance.now()
  for (let step = 100; step < 100 + points; step += 100) await i.take(batch(step, 100))
  const seconds = (performance.now() - started) / 1000
  store.close()
  rmSync(dir, { recursive: true, force: true })
  return points / seconds
}

const points = positiveEnv('BENCH_RUN_POINTS', 20_000)
const one = await pointsPerSecond(1, points)
const thousand = await pointsPerSecond(1000, points)
console.log(
  JSON.stringify({
    bench: 'run-events evaluate',
    points,
    automations: 1000,
    pointsPerSecond: Math.round(thousand),
    evaluationsPerSecond: Math.round(thousand * 1000),
    baselineOneAutomationPointsPerSecond: Math.round(one),
    ratio: Number((one / thousand).toFixed(1)),
  }),
)

const total = positiveEnv('BENCH_RUN_LONG_POINTS', 1_000_000)
const long = intake(1)
const rss0 = process.memoryUsage().rss
let peak = rss0
const started = performance.now()
for (let step = 0; step < total; step += 1000) {
  await long.intake.take(batch(step, 1000, 'long'))
  if (step % 50_000 === 0) peak = Math.max(peak, process.memoryUsage().rss)
}
const seconds = (performance.now() - started) / 1000
peak = Math.max(peak, process.memoryUsage().rss)
console.log(
  JSON.stringify({
    bench: 'run-events one long run',
    points: total,
    seconds: Number(seconds.toFixed(1)),
    pointsPerSecond: Math.round(total / seconds),
    rssStartMb: Math.round(rss0 / 1e6),
    rssPeakMb: Math.round(peak / 1e6),
    rowsKept: long.store.pointCount(),
    runsDbMb: Number((statSync(join(long.dir, 'runs.db')).size / 1e6).toFixed(1)),
    fired: long.fired(),
  }),
)
long.store.close()
rmSync(long.dir, { recursive: true, force: true })
