// What `hookwise match --run FILE` reports (docs/run-events.md#previewing-with-hookwise-match): the
// run automations a file of run messages would fire if it were posted at once to a hookwise that
// has seen nothing of these runs. Pure: windows start empty and live in memory, the same
// RunIndex and window maths as the intake decide, and the cooldown is the intake's with every
// message arriving at the same moment (so an automation fires once per run, unless its cooldown is 0).
import type { RunEvent, RunMessage } from '../api/types.generated.js'
import type { CompiledAutomation } from '../model/desired-state.js'
import { MAX_WINDOW_VALUES, metricNumber, record, type Series } from './metric-window.js'
import { RunIndex, evaluate } from './run-index.js'

/** One firing: which automation, for which run, and what decided it. */
export interface RunMatch {
  automation: CompiledAutomation
  type: RunEvent['type']
  run: string
  /** Metric events: the metric, the step of the newest value and the value that decided (${metric_value}). */
  metric?: { name: string; step: number; value: number }
  /** RUN_STATE: the state entered (CRASHED counts as FAILED). */
  state?: RunEvent['state']
}

const SEP = '\u0000'

/** The run automations the messages fire, in the order they fire. */
export function matchRuns(
  automations: readonly CompiledAutomation[],
  messages: readonly RunMessage[],
  namespaceEntities?: ReadonlyMap<string, ReadonlySet<string>>,
): RunMatch[] {
  const index = new RunIndex(automations, namespaceEntities)
  const series = new Map<string, Series>()
  const fired = new Set<string>()
  const out: RunMatch[] = []
  for (const m of messages) {
    const run = `${m.run.entity}/${m.run.project}/${m.run.id}`
    const state: RunEvent['state'] = m.state === 'CRASHED' ? 'FAILED' : (m.state ?? 'RUNNING')
    const base = { id: '', time: m.time ?? '', entity: m.run.entity, project: m.run.project, run: m.run, state }
    const sample: RunEvent = { ...base, ...(m.run.author !== undefined ? { author: m.run.author } : {}), type: 'RUN_METRIC' }
    for (const [metric, raw] of Object.entries(m.metrics ?? {})) {
      if (!index.metrics.has(metric)) continue
      const key = run + SEP + metric
      let s = series.get(key)
      if (!s) {
        s = { steps: [], values: [] }
        series.set(key, s)
      }
      const step = m.step ?? (s.steps.length ? s.steps[s.steps.length - 1]! + 1 : 0)
      if (record(s, step, metricNumber(raw), MAX_WINDOW_VALUES) !== 'newest') continue
      for (const a of index.candidates(m.run, metric, sample)) {
        const mark = `${a.key}${SEP}${run}${SEP}metric`
        if (fired.has(mark) && a.run!.cooldownMs > 0) continue
        const verdict = evaluate(a, s.values)
        if (!verdict?.fires) continue
        fired.add(mark)
        out.push({
          automation: a,
          type: a.spec.event.type as RunEvent['type'],
          run: m.run.id,
          metric: { name: metric, step, value: verdict.value },
        })
      }
    }
    if (m.state !== undefined) {
      for (const a of index.candidates(m.run, undefined, { ...sample, type: 'RUN_STATE' })) {
        const mark = `${a.key}${SEP}${run}${SEP}${state}`
        if (!a.spec.event.states!.includes(state) || fired.has(mark)) continue
        fired.add(mark)
        out.push({ automation: a, type: 'RUN_STATE', run: m.run.id, state })
      }
    }
    if (state === 'FINISHED' || state === 'FAILED') for (const key of series.keys()) if (key.startsWith(run + SEP)) series.delete(key)
  }
  return out
}
