// Run events (docs/run-events.md): metric points and state changes of runs come in (POST /v1/runs,
// the MLflow run poller), are put in their series, and evaluated as they arrive against the run
// automations; what fires is stored by the engine with its delivery, like an artifact event. Then
// the points and cooldown marks are written (runs.db): a crash in between may fire once more after
// the restart (a re-sent point has the same event id, a duplicate), but never loses a delivery.
import { createHash } from 'node:crypto'
import type { MetricValue, RunEvent, RunInfo, RunMessage } from '../api/types.generated.js'
import { MAX_WINDOW_VALUES, metricNumber, record, type Series } from '../match/metric-window.js'
import { RunIndex, evaluate } from '../match/run-index.js'
import type { CompiledAutomation, DesiredState } from '../model/desired-state.js'
import type { AcceptedEvent } from './outcomes.js'
import type { PointWrite, RunWindowStore, RunWrites } from './run-windows.js'

export interface RunAccepted {
  /** Metric values put in series (values of metrics no automation watches are not kept). */
  points: number
  /** Run events fired, each with its deliveries. */
  fired: AcceptedEvent[]
}

type RunState = RunEvent['state']

/** Series kept in memory (each at most MAX_WINDOW_VALUES values); the rest are read from runs.db when needed. */
const CACHED_SERIES = 4096

/** Cooldown marks kept in memory (fired or known not to have fired); the rest are read from runs.db. */
const CACHED_MARKS = 200_000

const ENDED: ReadonlySet<RunState> = new Set(['FINISHED', 'FAILED'])

const SEP = '\u0000'

/** A number as the event carries it: NaN and the infinities as text. */
const asJson = (v: number): MetricValue => (Number.isFinite(v) ? v : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity')

const runKey = (r: RunInfo): string => `${r.entity}/${r.project}/${r.id}`

export class RunIntake {
  private index = new RunIndex([])
  private readonly cache = new Map<string, Series>()
  /** When each automation last fired for each run (null: never), as read from or written to runs.db. */
  private readonly firedCache = new Map<string, number | null>()
  /** Batches are taken one at a time: a batch's evaluation sees the series the one before left. */
  private queue: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly store: RunWindowStore,
    private readonly accept: (events: RunEvent[], targets: CompiledAutomation[][]) => Promise<AcceptedEvent[]>,
    private readonly now: () => number = Date.now,
  ) {}

  setState(state: DesiredState): void {
    this.index = new RunIndex(state.automations, state.namespaceEntities)
  }

  /** Takes messages already validated against the RunMessage schema; resolves once what fired is stored. */
  take(messages: readonly RunMessage[]): Promise<RunAccepted> {
    const turn = this.queue.then(() => this.evaluate(messages))
    this.queue = turn.catch(() => undefined)
    return turn
  }

  private seriesOf(key: string, run: string, metric: string): Series {
    let s = this.cache.get(key)
    if (s) {
      this.cache.delete(key)
      this.cache.set(key, s)
      return s
    }
    s = this.store.series(run, metric)
    this.cache.set(key, s)
    if (this.cache.size > CACHED_SERIES) this.cache.delete(this.cache.keys().next().value!)
    return s
  }

  private async evaluate(messages: readonly RunMessage[]): Promise<RunAccepted> {
    const now = this.now()
    const points: PointWrite[] = []
    const trim = new Map<string, { run: string; metric: string }>()
    const fired: RunWrites['fired'][number][] = []
    const ended: string[] = []
    const events: RunEvent[] = []
    const targets: CompiledAutomation[][] = []
    const touched = new Set<string>()
    /** Fired in this batch, so a second point of the batch respects the cooldown too. */
    const firedNow = new Map<string, number>()
    const lastFired = (a: CompiledAutomation, run: string, kind: string): number | undefined => {
      const key = `${a.key}${SEP}${run}${SEP}${kind}`
      const justNow = firedNow.get(key)
      if (justNow !== undefined) return justNow
      let at = this.firedCache.get(key)
      if (at === undefined) {
        at = this.store.firedAt(a.key, run, kind) ?? null
        this.firedCache.set(key, at)
        if (this.firedCache.size > CACHED_MARKS) this.firedCache.delete(this.firedCache.keys().next().value!)
      }
      return at ?? undefined
    }
    const fire = (a: CompiledAutomation, run: string, kind: string, event: RunEvent): void => {
      firedNow.set(`${a.key}${SEP}${run}${SEP}${kind}`, now)
      fired.push({ automation: a.key, run, kind, at: now })
      events.push(event)
      targets.push([a])
    }

    for (const m of messages) {
      const run = runKey(m.run)
      const state: RunState = m.state === 'CRASHED' ? 'FAILED' : (m.state ?? 'RUNNING')
      const time = m.time ?? new Date(now).toISOString()
      const base = {
        time,
        ...(m.run.author !== undefined ? { author: m.run.author } : {}),
        entity: m.run.entity,
        project: m.run.project,
        run: m.run,
        state,
      }
      for (const [metric, raw] of Object.entries(m.metrics ?? {})) {
        if (!this.index.metrics.has(metric)) continue
        const key = run + SEP + metric
        const series = this.seriesOf(key, run, metric)
        const step = m.step ?? (series.steps.length ? series.steps[series.steps.length - 1]! + 1 : 0)
        const value = metricNumber(raw)
        const placed = record(series, step, value, MAX_WINDOW_VALUES)
        if (placed === 'dropped') continue
        touched.add(key)
        points.push({ run, metric, step, value })
        trim.set(key, { run, metric })
        if (placed !== 'newest') continue
        const sample: RunEvent = { ...base, type: 'RUN_METRIC', id: '' }
        for (const a of this.index.candidates(m.run, metric, sample)) {
          const last = lastFired(a, run, 'metric')
          if (last !== undefined && now - last < a.run!.cooldownMs) continue
          const verdict = evaluate(a, series.values)
          if (!verdict?.fires) continue
          const e = a.spec.event
          const threshold = e.type === 'RUN_METRIC_CHANGE' ? e.amount : e.type === 'RUN_METRIC_ZSCORE' ? (e.threshold ?? 3) : e.threshold
          fire(a, run, 'metric', {
            ...base,
            type: e.type as RunEvent['type'],
            id: eventId(a.key, run, `${metric}@${step}`),
            metric: {
              name: metric,
              value: asJson(verdict.value),
              ...(e.agg !== undefined ? { agg: e.agg } : {}),
              ...(threshold !== undefined ? { threshold } : {}),
              step,
            },
          })
        }
      }
      if (m.state !== undefined) {
        const sample: RunEvent = { ...base, type: 'RUN_STATE', id: '' }
        for (const a of this.index.candidates(m.run, undefined, sample)) {
          if (!a.spec.event.states!.includes(state) || lastFired(a, run, state) !== undefined) continue
          fire(a, run, state, { ...sample, id: eventId(a.key, run, state) })
        }
        if (ENDED.has(state)) ended.push(run)
      }
    }

    let accepted: AcceptedEvent[] = []
    try {
      if (events.length) accepted = await this.accept(events, targets)
      this.store.write({ points, trim: [...trim.values()], fired, ended })
    } catch (err) {
      // Nothing of the batch counts: its series are read again from runs.db next time.
      for (const key of touched) this.cache.delete(key)
      throw err
    }
    for (const run of ended) for (const key of this.cache.keys()) if (key.startsWith(run + SEP)) this.cache.delete(key)
    for (const [key, at] of firedNow) this.firedCache.set(key, at)
    return { points: points.length, fired: accepted }
  }
}

/** The id of a fired run event: the same automation, run and step (or state) give the same id, so a re-sent point is a duplicate. */
function eventId(automation: string, run: string, what: string): string {
  return `run_${createHash('sha256').update(`${automation}${SEP}${run}${SEP}${what}`).digest('hex').slice(0, 32)}`
}
