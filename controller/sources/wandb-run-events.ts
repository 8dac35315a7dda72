// W&B's run events as the wandb SDK dumps them (docs/wandb.md#run-events), turned into hookwise's
// `spec.event` of the same type (docs/run-events.md). Pure. A run event's filter is a JSON text:
//   {"run_filter": "<Mongo filter on the run>", "run_metric_filter": {"threshold_filter" |
//    "change_filter" | "zscore_filter": {...}}, "metric_filter": null}   (RUN_METRIC*)
//   {"run_filter": "...", "run_state_filter": {"states": ["FAILED", ...]}}  (RUN_STATE)
import { isRecord } from '../model/json-equal.js'

type Json = Record<string, unknown>
export type RunEventConversion = { ok: true; event: Json } | { ok: false; why: string }

export const RUN_EVENT_TYPES: ReadonlySet<string> = new Set(['RUN_METRIC', 'RUN_METRIC_CHANGE', 'RUN_METRIC_ZSCORE', 'RUN_STATE'])

const OPS: Readonly<Record<string, string>> = { $gt: 'gt', $gte: 'gte', $lt: 'lt', $lte: 'lte' }
/** W&B's run states; CRASHED counts as FAILED in hookwise, as in W&B's UI. */
const STATES: Readonly<Record<string, string>> = { RUNNING: 'RUNNING', FINISHED: 'FINISHED', FAILED: 'FAILED', CRASHED: 'FAILED' }

function json(v: unknown): unknown {
  if (typeof v !== 'string') return v
  try {
    return JSON.parse(v)
  } catch {
    return v
  }
}

/** The SDK's run filter that holds always: {"$and": []} (or none). */
function isEmptyRunFilter(f: unknown): boolean {
  if (f === undefined || f === null) return true
  if (!isRecord(f)) return false
  const keys = Object.keys(f)
  return keys.length === 0 || (keys.length === 1 && Array.isArray(f.$and) && f.$and.length === 0)
}

/** Copies the parameters that are set (W&B writes null for an absent one). */
function given(entries: Record<string, unknown>): Json {
  return Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined && v !== null))
}

/** hookwise's `spec.event` for a W&B run event, or why it does not convert. */
export function runEventOf(type: string, rawFilter: unknown): RunEventConversion {
  const filter = json(rawFilter)
  if (!isRecord(filter)) return { ok: false, why: `its run filter ${JSON.stringify(rawFilter)} is not a JSON object` }
  const runFilter = json(filter.run_filter)
  if (!isEmptyRunFilter(runFilter))
    return {
      ok: false,
      why: `its run filter ${JSON.stringify(runFilter)} is not converted: write it as runNameRegex, runTags or filter (docs/run-events.md#filters-on-the-run)`,
    }
  if (type === 'RUN_STATE') {
    const states = isRecord(filter.run_state_filter) ? filter.run_state_filter.states : undefined
    if (!Array.isArray(states) || states.length === 0) return { ok: false, why: 'its run state filter names no states' }
    const mapped = states.map((s) => STATES[String(s).toUpperCase()])
    const unknown = states.filter((_, i) => mapped[i] === undefined)
    if (unknown.length) return { ok: false, why: `its run states ${JSON.stringify(unknown)} are not RUNNING, FINISHED, FAILED or CRASHED` }
    return { ok: true, event: { type, states: [...new Set(mapped)] } }
  }
  const m = isRecord(filter.run_metric_filter) ? filter.run_metric_filter : {}
  const f =
    type === 'RUN_METRIC'
      ? m.threshold_filter
      : type === 'RUN_METRIC_CHANGE'
        ? m.change_filter
        : type === 'RUN_METRIC_ZSCORE'
          ? m.zscore_filter
          : undefined
  if (!isRecord(f))
    return {
      ok: false,
      why: `its ${type} filter has no ${type === 'RUN_METRIC' ? 'threshold' : type === 'RUN_METRIC_CHANGE' ? 'change' : 'zscore'}_filter`,
    }
  if (type === 'RUN_METRIC') {
    const op = OPS[String(f.cmp_op)]
    if (!op) return { ok: false, why: `its comparison ${JSON.stringify(f.cmp_op)} is not $gt, $gte, $lt or $lte` }
    return { ok: true, event: given({ type, metric: f.name, agg: f.agg_op, window: f.window_size, op, threshold: f.threshold }) }
  }
  if (type === 'RUN_METRIC_CHANGE')
    return {
      ok: true,
      event: given({
        type,
        metric: f.name,
        agg: f.agg_op,
        currentWindow: f.current_window_size,
        priorWindow: f.prior_window_size,
        changeType: f.change_type,
        direction: f.change_dir,
        amount: f.change_amount,
      }),
    }
  return { ok: true, event: given({ type, metric: f.name, window: f.window_size, threshold: f.threshold, direction: f.change_dir }) }
}
