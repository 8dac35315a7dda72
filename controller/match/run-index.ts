// Which run automations a run's metric value or state change concerns, and whether they fire
// (docs/run-events.md). Automations are indexed by metric (or state) and scope key, so a point costs
// what the automations of its own project and metric cost. Pure: the values come from the caller.
import type { RunEvent, RunInfo } from '../api/types.generated.js'
import type { CompiledAutomation } from '../model/desired-state.js'
import { change, threshold, zscore, type Verdict } from './metric-window.js'

const SEP = '\u0000'
const STATE = `${SEP}state`

/** The run automations, by `metric|state` + scope key (Project: entity + project; Entity: entity). */
export class RunIndex {
  private readonly byKey = new Map<string, CompiledAutomation[]>()
  /** Every metric some enabled run automation watches: values of other metrics are not kept. */
  readonly metrics = new Set<string>()

  constructor(
    automations: readonly CompiledAutomation[],
    private readonly namespaceEntities?: ReadonlyMap<string, ReadonlySet<string>>,
  ) {
    for (const a of automations) {
      const e = a.spec.event
      if (a.spec.enabled === false || !a.run) continue
      const what = e.type === 'RUN_STATE' ? STATE : e.metric!
      if (e.type !== 'RUN_STATE') this.metrics.add(e.metric!)
      const s = a.spec.scope
      const key = s.type === 'Project' ? `${what}${SEP}${s.entity}${SEP}${s.project}` : `${what}${SEP}${s.entity}`
      const list = this.byKey.get(key)
      if (list) list.push(a)
      else this.byKey.set(key, [a])
    }
  }

  get size(): number {
    let n = 0
    for (const list of this.byKey.values()) n += list.length
    return n
  }

  /** The automations of this metric (or of state changes, with `metric` undefined) whose scope and run filters accept the run. */
  candidates(run: RunInfo, metric: string | undefined, sample: RunEvent): CompiledAutomation[] {
    const what = metric ?? STATE
    const out: CompiledAutomation[] = []
    for (const key of [`${what}${SEP}${run.entity}${SEP}${run.project}`, `${what}${SEP}${run.entity}`]) {
      for (const a of this.byKey.get(key) ?? []) if (this.accepts(a, run, sample)) out.push(a)
    }
    return out
  }

  private accepts(a: CompiledAutomation, run: RunInfo, sample: RunEvent): boolean {
    if (this.namespaceEntities && !this.namespaceEntities.get(a.namespace)?.has(run.entity)) return false
    const f = a.run!
    const name = run.name ?? run.id
    if (f.nameRegex && !f.nameRegex.test(name)) return false
    if (f.displayNameRegex && !f.displayNameRegex.test(run.displayName ?? name)) return false
    if (f.tags.length > 0) {
      const tags = run.tags ?? []
      for (const tag of f.tags) if (!tags.includes(tag)) return false
    }
    return a.filter === undefined || a.filter.test(sample)
  }
}

/** What a metric automation says of a series (oldest first, newest last); undefined while its windows are not full. */
export function evaluate(a: CompiledAutomation, values: readonly number[]): Verdict | undefined {
  const e = a.spec.event
  switch (e.type) {
    case 'RUN_METRIC':
      return threshold(values, { agg: e.agg, window: e.window, op: e.op!, threshold: e.threshold! })
    case 'RUN_METRIC_CHANGE':
      return change(values, {
        agg: e.agg,
        currentWindow: e.currentWindow,
        priorWindow: e.priorWindow,
        changeType: e.changeType!,
        direction: e.direction,
        amount: e.amount!,
      })
    case 'RUN_METRIC_ZSCORE':
      return zscore(values, { window: e.window, threshold: e.threshold, direction: e.direction })
    default:
      return undefined
  }
}
