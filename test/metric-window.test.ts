// The run metric maths (controller/match/metric-window.ts) against values numpy computes on its own
// (the MLflow virtualenv of the event-source tests has numpy), and a hand table for the decisions
// numpy cannot make for us: NaN, windows that are not full, out-of-order and repeated steps.
import t from 'tap'
import { change, record, threshold, zscore, type Agg, type Series } from '../controller/match/metric-window.js'
import { useMlflow } from './helpers/mlflow.js'

/** A deterministic sequence (a linear congruential generator) with infinities mixed in where asked. */
function sequence(seed: number, n: number, specials: ReadonlyMap<number, number> = new Map()): number[] {
  let x = seed
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648
    out.push(specials.get(i) ?? (x / 2147483648) * 10 - 5)
  }
  return out
}

interface Case {
  values: number[]
  agg: Agg
  window: number
  current: number
  prior: number
}

const AGGS: Agg[] = ['MAX', 'MIN', 'AVERAGE']
const cases: Case[] = []
for (let i = 0; i < 30; i++) {
  const specials = new Map<number, number>()
  if (i % 5 === 1) specials.set(38, Number.POSITIVE_INFINITY)
  if (i % 5 === 2) specials.set(39, Number.NEGATIVE_INFINITY)
  if (i % 5 === 3) {
    specials.set(37, Number.POSITIVE_INFINITY)
    specials.set(36, Number.NEGATIVE_INFINITY)
  }
  if (i % 7 === 4) for (let k = 0; k < 40; k++) specials.set(k, 2.5) // a flat run: deviation 0
  if (i % 7 === 5) specials.set(39, 1e6) // a spike
  cases.push({ values: sequence(i + 1, 40, specials), agg: AGGS[i % 3]!, window: 1 + (i % 9), current: 1 + (i % 4), prior: 1 + (i % 6) })
}

// Python's json writes NaN and the infinities as bare words; the script writes them as text.
const NUMPY_SCRIPT = (input: string) => `
import json, sys, warnings
import numpy as np
warnings.simplefilter('ignore')
def out(v):
    v = float(v)
    return 'NaN' if np.isnan(v) else ('Infinity' if v == np.inf else ('-Infinity' if v == -np.inf else v))
aggs = {'MAX': np.max, 'MIN': np.min, 'AVERAGE': np.mean}
result = []
for c in json.loads(${JSON.stringify(input)}):
    v = np.array([float(x) for x in c['values']], dtype=np.float64)
    agg = aggs[c['agg']]
    t = agg(v[-c['window']:])
    cur = agg(v[-c['current']:])
    pri = agg(v[-(c['current'] + c['prior']):-c['current']])
    prev = v[-31:-1]
    z = (v[-1] - np.mean(prev)) / np.std(prev)
    result.append({'threshold': out(t), 'current': out(cur), 'absolute': out(cur - pri), 'relative': out((cur - pri) / abs(pri)), 'z': out(z)})
print(json.dumps(result))
`

const fromText = (v: number | string): number =>
  v === 'NaN' ? Number.NaN : v === 'Infinity' ? Number.POSITIVE_INFINITY : v === '-Infinity' ? Number.NEGATIVE_INFINITY : (v as number)
const asText = (v: number): number | string =>
  Number.isNaN(v) ? 'NaN' : v === Number.POSITIVE_INFINITY ? 'Infinity' : v === Number.NEGATIVE_INFINITY ? '-Infinity' : v

/** Equal as numbers: NaN to NaN, infinities exactly, finite values within 1e-9 (numpy sums pairwise). */
function close(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b)
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b))
}

// numpy is in the MLflow virtualenv: without Python the file is skipped locally and fails in CI.
const mlflow = await useMlflow(t)

t.test('threshold, change and z-score agree with numpy on 30 windows with infinities, flat runs and spikes', async (t) => {
  if (!mlflow) return
  const input = JSON.stringify(cases.map((c) => ({ ...c, values: c.values.map(asText) })))
  const expected = JSON.parse(await mlflow.python(NUMPY_SCRIPT(input))) as Array<Record<string, number | string>>
  t.equal(expected.length, cases.length)
  let fired = 0
  for (const [i, c] of cases.entries()) {
    const e = expected[i]!
    const th = threshold(c.values, { agg: c.agg, window: c.window, op: 'gt', threshold: 1 })!
    const ch = change(c.values, { agg: c.agg, currentWindow: c.current, priorWindow: c.prior, changeType: 'ABSOLUTE', amount: 0 })!
    const rel = change(c.values, { agg: c.agg, currentWindow: c.current, priorWindow: c.prior, changeType: 'RELATIVE', amount: 0 })!
    const z = zscore(c.values, { window: 30 })!
    const mine = { threshold: th.value, current: ch.value, absolute: ch.measure!, relative: rel.measure!, z: z.measure! }
    for (const [k, v] of Object.entries(mine)) {
      if (!close(v, fromText(e[k]!))) t.fail(`case ${i} ${k}: hookwise ${v}, numpy ${e[k]}`)
    }
    // The decision follows from the numbers: a NaN never fires, ±Infinity does when |z| is asked for.
    t.equal(z.fires, Math.abs(fromText(e.z!)) >= 3, `case ${i}: z-score fires iff |z| >= 3 (z = ${e.z})`)
    if (z.fires) fired++
  }
  t.ok(fired >= 3, `some cases fire (${fired}): the spikes, the infinities after finite windows`)
})

t.test('hand table: windows that are not full decide nothing; defaults; directions; relative change', async (t) => {
  t.equal(threshold([0.9, 0.8], { agg: 'AVERAGE', window: 3, op: 'gt', threshold: 0.5 }), undefined, 'needs 3 values')
  t.same(threshold([0.9, 1, 0.5, 0], { agg: 'AVERAGE', window: 3, op: 'gt', threshold: 0.4 }), { fires: true, value: 0.5 })
  t.same(threshold([0.9, 0.8, 0.1], { window: 3, op: 'gt', threshold: 0.5 }), { fires: false, value: 0.1 }, 'no agg: the newest value')
  t.same(threshold([0.5], { op: 'gte', threshold: 0.5 }), { fires: true, value: 0.5 })
  t.same(threshold([0.5], { op: 'lt', threshold: 0.5 }), { fires: false, value: 0.5 })
  t.same(
    threshold([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY], { agg: 'AVERAGE', window: 2, op: 'gt', threshold: 0 })?.fires,
    false,
    'Inf - Inf is NaN: never fires',
  )

  // accuracy 0.90 0.90 0.90 then 0.80 0.80 0.77: AVERAGE current 0.79, prior 0.90: relative -0.1222...
  const acc = [0.9, 0.9, 0.9, 0.8, 0.8, 0.77]
  const drop = change(acc, {
    agg: 'AVERAGE',
    currentWindow: 3,
    priorWindow: 3,
    changeType: 'RELATIVE',
    direction: 'DECREASE',
    amount: 0.1,
  })!
  t.equal(drop.fires, true)
  t.ok(close(drop.value, 0.79) && close(drop.measure!, (0.79 - 0.9) / 0.9))
  t.equal(change(acc, { agg: 'AVERAGE', currentWindow: 3, changeType: 'RELATIVE', direction: 'INCREASE', amount: 0.1 })!.fires, false)
  t.equal(
    change(acc, { agg: 'AVERAGE', currentWindow: 4, changeType: 'ABSOLUTE', amount: 0 }),
    undefined,
    'prior defaults to current: needs 8',
  )
  t.same(
    change([1, 3], { changeType: 'ABSOLUTE', direction: 'ANY', amount: 2 }),
    { fires: true, value: 3, measure: 2 },
    'no agg: newest against the one before',
  )
  t.same(change([0, 3], { changeType: 'RELATIVE', amount: 1 }), { fires: true, value: 3, measure: Number.POSITIVE_INFINITY }, 'prior 0')
  t.equal(change([0, 0], { changeType: 'RELATIVE', amount: 0 })!.fires, false, '0/0 is NaN: never fires')

  const flat = Array.from({ length: 30 }, () => 2)
  t.equal(zscore(flat, {}), undefined, 'default window 30 needs 31 values')
  t.same(zscore([...flat, 2], {}), { fires: false, value: 2, measure: Number.NaN }, 'flat and the same: 0/0')
  t.same(
    zscore([...flat, 2.001], {}),
    { fires: true, value: 2.001, measure: Number.POSITIVE_INFINITY },
    'flat and different: infinitely far',
  )
  // prior 1 2 3 4 5 (mean 3, population deviation sqrt(2)); 7.3 is z = 4.3/1.414 = 3.04
  const z = zscore([1, 2, 3, 4, 5, 7.3], { window: 5, threshold: 3, direction: 'DECREASE' })!
  t.ok(close(z.measure!, 4.3 / Math.SQRT2))
  t.equal(z.fires, false, 'a rise is not a DECREASE')
  t.equal(zscore([1, 2, 3, 4, 5, 7.3], { window: 5, direction: 'INCREASE' })!.fires, true)
  t.equal(zscore([1, 2, 3, 4, 5, -1.3], { window: 5, direction: 'ANY' })?.fires, true, '-1.3 is z = -3.04')
})

t.test('series: NaN is dropped, steps are kept in order, a repeated step replaces, the bound keeps the newest', async (t) => {
  const s: Series = { steps: [], values: [] }
  t.equal(record(s, 1, 0.5, 4), 'newest')
  t.equal(record(s, 2, Number.NaN, 4), 'dropped')
  t.equal(record(s, 3, 0.7, 4), 'newest')
  t.equal(record(s, 2, 0.6, 4), 'late', 'step 2 arrives after step 3')
  t.equal(record(s, 3, 0.75, 4), 'newest', 'step 3 again replaces its value')
  t.same(s, { steps: [1, 2, 3], values: [0.5, 0.6, 0.75] })
  t.equal(record(s, 5, Number.POSITIVE_INFINITY, 4), 'newest')
  t.equal(record(s, 6, 0.1, 4), 'newest')
  t.same(s, { steps: [2, 3, 5, 6], values: [0.6, 0.75, Number.POSITIVE_INFINITY, 0.1] }, 'bound 4: step 1 went')
  t.equal(record(s, 1, 9, 4), 'dropped', 'older than everything kept')
  t.equal(record(s, 4, 0.2, 4), 'late')
  t.same(s, { steps: [3, 4, 5, 6], values: [0.75, 0.2, Number.POSITIVE_INFINITY, 0.1] })
})
