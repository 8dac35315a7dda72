// The adaptive in-flight limit's decisions (controller/delivery/concurrency-limit.ts), a pure
// function of the answers and the times passed in. test/adaptive-concurrency.test.ts runs it
// against real receivers.
import t from 'tap'
import { CEILING_HOLD_MS, ConcurrencyLimit, INITIAL_LIMIT, loadSignal } from '../controller/delivery/concurrency-limit.js'
import type { SendResult } from '../controller/delivery/send-result.js'

const ok = (latencyMs = 20): SendResult => ({ statusCode: 200, latencyMs })
const busy = (status = 503, headers: Record<string, string> = {}): SendResult => ({ statusCode: status, headers, latencyMs: 1 })

/** Moves the clock on by `ms` and returns the new time. */
function step(at: { now: number }, ms: number): number {
  at.now += ms
  return at.now
}

/** `n` answers at `latencyMs`, each sent with the whole current limit in flight, `stepMs` apart. */
function answer(limit: ConcurrencyLimit, n: number, at: { now: number }, result = ok(), stepMs = 1): void {
  for (let i = 0; i < n; i++) {
    at.now += stepMs
    limit.record(result, limit.current(at.now), at.now)
  }
}

t.test('starts at 8 and doubles per round trip while answers come quickly, up to the cap', async (t) => {
  const at = { now: 1_000_000 }
  const limit = new ConcurrencyLimit(100)
  t.equal(limit.current(at.now), INITIAL_LIMIT)
  answer(limit, 8, at)
  t.equal(limit.current(at.now), 16, 'eight answers, eight more slots')
  answer(limit, 16, at)
  t.equal(limit.current(at.now), 32)
  answer(limit, 500, at)
  t.equal(limit.current(at.now), 100, 'never above its cap')
  limit.setMax(3)
  t.equal(limit.current(at.now), 3, 'a lower cap (spec.maxConcurrency) applies at once')
})

t.test('does not grow while there is little to send', async (t) => {
  const at = { now: 0 }
  const limit = new ConcurrencyLimit(100)
  for (let i = 0; i < 100; i++) limit.record(ok(), 2, step(at, 1))
  t.equal(limit.current(at.now), 8)
})

t.test('a 503 at 17 in flight: at most 16 for 30 s, a lower limit at once, growth again after', async (t) => {
  const at = { now: 0 }
  const limit = new ConcurrencyLimit(1000)
  answer(limit, 8, at)
  t.equal(limit.current(at.now), 16)
  limit.record(busy(503), 17, step(at, 1))
  t.equal(limit.current(at.now), 11, '16 × 0.7, rounded down')
  answer(limit, 2000, at, ok(), 10) // 20 s of quick answers
  t.equal(limit.current(at.now), 16, 'grows back to 16 and no further while the refusal is recent')
  at.now += CEILING_HOLD_MS
  answer(limit, 200, at, ok(), 10)
  t.ok(limit.current(at.now) > 16, `probes above 16 again after ${CEILING_HOLD_MS / 1000} s (${limit.current(at.now)})`)
})

t.test('refused again while the ceiling holds (our count ran ahead of the receiver): 0.7 of it, once per ceiling', async (t) => {
  const at = { now: 0 }
  const limit = new ConcurrencyLimit(1000)
  answer(limit, 300, at, ok(20), 1) // round trip about 20 ms
  limit.record(busy(503), 20, step(at, 1))
  answer(limit, 2000, at, ok(20), 10)
  t.equal(limit.current(at.now), 19, 'the ceiling: one below the 20 in flight when refused')
  // Two refusals of requests sent under that ceiling (sent 1 ms before their answers): it was too high.
  limit.record(busy(503), 19, step(at, 1))
  limit.record(busy(503), 19, step(at, 1))
  // A late refusal of a request sent before that (answered 3 s after it was sent) says nothing of it.
  limit.record({ statusCode: 503, latencyMs: 3000 }, 40, step(at, 1))
  answer(limit, 2000, at, ok(20), 10)
  t.equal(limit.current(at.now), 13, 'two refusals under the ceiling and a late one: 19 × 0.7, once')
})

t.test("slow start ends when the fastest answer of a round is slower than the last round's (HyStart++)", async (t) => {
  const at = { now: 0 }
  const limit = new ConcurrencyLimit(10_000)
  // Rounds of answers at 20 ms, then at 40 ms (requests queueing), each sent with the whole limit in flight.
  const round = (latencyMs: number): void => {
    const n = limit.current(at.now)
    for (let i = 0; i < n; i++) limit.record(ok(latencyMs), limit.current(at.now), step(at, latencyMs / n))
  }
  round(20)
  round(20)
  const beforeDelay = limit.current(at.now)
  round(40)
  const after = limit.current(at.now)
  t.ok(after < beforeDelay * 2, `no doubling once latency rose (${beforeDelay} → ${after})`)
  round(40)
  t.ok(limit.current(at.now) <= after + 2, `then about one more per round trip (${after} → ${limit.current(at.now)})`)
})

t.test('429 and timeouts count as overload; one decrease per round trip; never below 1', async (t) => {
  const at = { now: 0 }
  const limit = new ConcurrencyLimit(1000)
  limit.record(busy(429), 8, step(at, 100))
  t.equal(limit.current(at.now), 5)
  limit.record({ error: { code: 'TIMEOUT', message: 'no answer in 15 s' }, latencyMs: 15_000 }, 6, step(at, 100))
  t.equal(limit.current(at.now), 5, 'an answer within a round trip of the last decrease changes nothing')
  for (let i = 0; i < 20; i++) limit.record(busy(503), 1, step(at, 100))
  t.equal(limit.current(at.now), 1)
})

t.test('Retry-After on 429 or 503 pauses new requests for that long (at most a minute)', async (t) => {
  const at = { now: 0 }
  const limit = new ConcurrencyLimit(1000)
  limit.record(busy(503, { 'retry-after': '2' }), 8, at.now)
  t.equal(limit.current(at.now + 1999), 0)
  t.equal(limit.pausedTill(at.now), 2000)
  t.equal(limit.current(at.now + 2000), 5)
  at.now = 10_000
  limit.record(busy(429, { 'retry-after': '86400' }), 5, at.now)
  t.equal(limit.pausedTill(at.now), 70_000)
})

t.test('latency rising to twice its longer-run level eases the limit off', async (t) => {
  const at = { now: 0 }
  const limit = new ConcurrencyLimit(1000)
  answer(limit, 300, at, ok(20), 2)
  const before = limit.current(at.now)
  answer(limit, 30, at, ok(200), 50)
  t.ok(limit.current(at.now) < before, `${before} → ${limit.current(at.now)}`)
})

t.test('what says something about load', async (t) => {
  t.equal(loadSignal({ statusCode: 200, latencyMs: 1 }), 'ok')
  t.equal(loadSignal({ statusCode: 404, latencyMs: 1 }), 'ok', 'a 4xx is an answer in time')
  t.equal(loadSignal({ statusCode: 503, latencyMs: 1 }), 'overload')
  t.equal(loadSignal({ statusCode: 504, latencyMs: 1 }), 'overload')
  t.equal(loadSignal({ statusCode: 500, latencyMs: 1 }), 'none', 'a 500 is a fault, not load')
  t.equal(loadSignal({ error: { code: 'NETWORK', message: 'refused' }, latencyMs: 1 }), 'none')
})
