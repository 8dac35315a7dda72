// The maths of the run metric events (docs/run-events.md): what a window of logged values says about
// a threshold, a change against the prior window, and the z-score of the newest value. Pure: a
// window is the values of one (run, metric) in step order, oldest first, newest last.
//
// Decisions (W&B does not say; docs/run-events.md#edge-cases):
// - NaN is not a value: it is never put in a window (isWindowValue), so it cannot fire or hide one.
// - ±Infinity are values. MAX/MIN/AVERAGE treat them as IEEE 754 does (AVERAGE of +Inf and -Inf is
//   NaN), and a comparison with NaN is false, so a NaN result never fires.
// - A window that is not full yet decides nothing: RUN_METRIC needs `window` values, a change
//   currentWindow + priorWindow, a z-score `window` + 1.
// - The standard deviation is the population one (numpy's default, ddof=0). With a flat prior window
//   (deviation 0) the z-score of a different newest value is ±Infinity (fires), of the same value NaN.

export type Agg = 'MAX' | 'MIN' | 'AVERAGE'
export type Direction = 'INCREASE' | 'DECREASE' | 'ANY'
export type Op = 'gt' | 'gte' | 'lt' | 'lte'

/** What an evaluation found: the value that decided (see ${metric_value}) and whether it fires. */
export interface Verdict {
  fires: boolean
  /** The aggregate (threshold), the current window's aggregate (change), the newest value (z-score). */
  value: number
  /** The change (ABSOLUTE or RELATIVE) or the z-score; absent for thresholds. */
  measure?: number
}

/** A logged value from JSON: NaN and the infinities come as text. */
export function metricNumber(v: number | string): number {
  if (typeof v === 'number') return v
  return v === 'Infinity' ? Number.POSITIVE_INFINITY : v === '-Infinity' ? Number.NEGATIVE_INFINITY : Number.NaN
}

/** Whether a logged value goes into windows: every number but NaN. */
export const isWindowValue = (v: number): boolean => !Number.isNaN(v)

/**
 * The aggregate of values[from, to); without `agg`, the newest value (values[to - 1]), as W&B does
 * when no aggregation is chosen.
 */
export function aggregate(values: readonly number[], from: number, to: number, agg: Agg | undefined): number {
  if (agg === undefined || agg === 'MAX' || agg === 'MIN') {
    if (agg === undefined) return values[to - 1]!
    let m = values[from]!
    for (let i = from + 1; i < to; i++) {
      const v = values[i]!
      if (agg === 'MAX' ? v > m : v < m) m = v
    }
    return m
  }
  let sum = 0
  for (let i = from; i < to; i++) sum += values[i]!
  return sum / (to - from)
}

const compare: Record<Op, (a: number, b: number) => boolean> = {
  gt: (a, b) => a > b,
  gte: (a, b) => a >= b,
  lt: (a, b) => a < b,
  lte: (a, b) => a <= b,
}

/** RUN_METRIC: agg over the last `window` values, compared with the threshold. */
export function threshold(
  values: readonly number[],
  p: { agg?: Agg | undefined; window?: number | undefined; op: Op; threshold: number },
): Verdict | undefined {
  const window = p.agg === undefined ? 1 : (p.window ?? 1)
  if (values.length < window) return undefined
  const value = aggregate(values, values.length - window, values.length, p.agg)
  return { fires: compare[p.op](value, p.threshold), value }
}

/** Whether a signed measure goes at least `amount` in the direction (W&B compares with >=). */
function inDirection(measure: number, amount: number, direction: Direction): boolean {
  if (direction === 'INCREASE') return measure >= amount
  if (direction === 'DECREASE') return -measure >= amount
  return Math.abs(measure) >= amount
}

/**
 * RUN_METRIC_CHANGE: agg of the current window (the newest `currentWindow` values) against agg of
 * the prior window (the `priorWindow` values just before it). ABSOLUTE: current - prior; RELATIVE:
 * (current - prior) / |prior| (0.1 is 10 %; a prior of 0 gives ±Infinity, or NaN when both are 0).
 */
export function change(
  values: readonly number[],
  p: {
    agg?: Agg | undefined
    currentWindow?: number | undefined
    priorWindow?: number | undefined
    changeType: 'ABSOLUTE' | 'RELATIVE'
    direction?: Direction | undefined
    amount: number
  },
): Verdict | undefined {
  const current = p.agg === undefined ? 1 : (p.currentWindow ?? 1)
  const prior = p.agg === undefined ? 1 : (p.priorWindow ?? current)
  const n = values.length
  if (n < current + prior) return undefined
  const now = aggregate(values, n - current, n, p.agg)
  const before = aggregate(values, n - current - prior, n - current, p.agg)
  const measure = p.changeType === 'ABSOLUTE' ? now - before : (now - before) / Math.abs(before)
  return { fires: inDirection(measure, p.amount, p.direction ?? 'ANY'), value: now, measure }
}

/** RUN_METRIC_ZSCORE defaults, as W&B's. */
export const ZSCORE_DEFAULTS = { window: 30, threshold: 3 } as const

/**
 * RUN_METRIC_ZSCORE: the newest value's z-score against the mean and (population) standard
 * deviation of the `window` values logged before it; fires when |z| >= threshold in the direction.
 */
export function zscore(
  values: readonly number[],
  p: { window?: number | undefined; threshold?: number | undefined; direction?: Direction | undefined },
): Verdict | undefined {
  const window = p.window ?? ZSCORE_DEFAULTS.window
  const n = values.length
  if (n < window + 1) return undefined
  const from = n - 1 - window
  let sum = 0
  for (let i = from; i < n - 1; i++) sum += values[i]!
  const mean = sum / window
  let squares = 0
  for (let i = from; i < n - 1; i++) {
    const d = values[i]! - mean
    squares += d * d
  }
  const std = Math.sqrt(squares / window)
  const value = values[n - 1]!
  const z = (value - mean) / std
  return { fires: inDirection(z, p.threshold ?? ZSCORE_DEFAULTS.threshold, p.direction ?? 'ANY'), value, measure: z }
}

/** How many of the newest values an automation's event needs to decide. */
export function valuesNeeded(e: {
  type: string
  agg?: Agg | undefined
  window?: number | undefined
  currentWindow?: number | undefined
  priorWindow?: number | undefined
}): number {
  if (e.type === 'RUN_METRIC') return e.agg === undefined ? 1 : (e.window ?? 1)
  if (e.type === 'RUN_METRIC_CHANGE') {
    if (e.agg === undefined) return 2
    const current = e.currentWindow ?? 1
    return current + (e.priorWindow ?? current)
  }
  if (e.type === 'RUN_METRIC_ZSCORE') return (e.window ?? ZSCORE_DEFAULTS.window) + 1
  return 0
}

/** The most values any run metric event can need (the schema bounds each window by 500): a window's bound. */
export const MAX_WINDOW_VALUES = 1000

/** The newest values of one (run, metric), by step, oldest first: what windows are read from. */
export interface Series {
  steps: number[]
  values: number[]
}

/**
 * Puts a logged value in its series, in step order, keeping at most `bound` values (the newest).
 * A value at a step already held replaces it (a run logs one value per step; MLflow and W&B show
 * the last). Returns `newest` when it is now the newest value (the automations are evaluated),
 * `late` when it went in before newer values (windows include it from the next evaluation on, but
 * it does not trigger one: a late value is not news), `dropped` when it is older than everything
 * the series keeps, or NaN.
 */
export function record(series: Series, step: number, value: number, bound: number): 'newest' | 'late' | 'dropped' {
  if (!isWindowValue(value)) return 'dropped'
  const { steps, values } = series
  const n = steps.length
  if (n === 0 || step > steps[n - 1]!) {
    steps.push(step)
    values.push(value)
    if (steps.length > bound) {
      steps.shift()
      values.shift()
    }
    return 'newest'
  }
  if (step === steps[n - 1]) {
    values[n - 1] = value
    return 'newest'
  }
  if (step < steps[0]! && n >= bound) return 'dropped'
  // Binary search for the first step >= `step`.
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (steps[mid]! < step) lo = mid + 1
    else hi = mid
  }
  if (steps[lo] === step) values[lo] = value
  else {
    steps.splice(lo, 0, step)
    values.splice(lo, 0, value)
    if (steps.length > bound) {
      steps.shift()
      values.shift()
    }
  }
  return 'late'
}
