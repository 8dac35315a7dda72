// The per-origin circuit breaker, driven by a fake clock.
import t from 'tap'
import { BREAKER_DEFAULTS, CircuitBreaker, endpointOk, originOf } from '../controller/delivery/circuit-breaker.js'
import type { SendErrorCode, SendResult } from '../controller/delivery/send-result.js'

const A = 'https://a.example'
const B = 'https://b.example:8443'

t.test('defaults', async (t) => {
  t.same(BREAKER_DEFAULTS, { failureThreshold: 5, cooldownMs: 30_000, maxCooldownMs: 300_000, probeLeaseMs: 330_000, probeWaitMs: 2_000 })
})

t.test('closed → open after 5 consecutive failures; a success in between resets the count', async (t) => {
  const b = new CircuitBreaker()
  let now = 1_000_000
  for (let i = 0; i < 4; i++) b.record(A, false, now++)
  t.equal(b.state(A), 'closed')
  t.equal(b.canSend(A, now), true)
  b.record(A, true, now++)
  t.same(b.snapshot(), [], 'a success forgets the origin')
  for (let i = 0; i < 4; i++) b.record(A, false, now++)
  t.equal(b.state(A), 'closed')
  b.record(A, false, now) // the fifth in a row
  t.equal(b.state(A), 'open')
  t.equal(b.openUntil(A), now + 30_000)
  t.equal(b.canSend(A, now + 1), false)
  t.equal(b.blockedUntil(A, now + 29_999), now + 30_000, 'jobs are told when to come back')
  t.same(b.snapshot(), [{ origin: A, state: 'open', consecutiveFailures: 5, openUntil: now + 30_000 }])
  t.equal(b.state(B), 'closed', 'other origins are unaffected')
  t.equal(b.canSend(B, now), true)
})

t.test('open → half-open lets exactly one probe through; its success closes the circuit', async (t) => {
  const b = new CircuitBreaker()
  const t0 = 0
  for (let i = 0; i < 5; i++) b.record(A, false, t0)
  t.equal(b.state(A, 29_999), 'open')
  t.equal(b.state(A, 30_000), 'half-open', 'reads half-open once the cool-down is over')
  t.equal(b.canSend(A, 30_000), true, 'the probe')
  t.equal(b.state(A), 'half-open')
  t.equal(b.openUntil(A), undefined)
  t.equal(b.canSend(A, 30_001), false, 'a second request waits for the probe')
  t.equal(b.blockedUntil(A, 30_500), 32_500, 'come back after probeWaitMs')
  b.record(A, true, 31_000)
  t.equal(b.state(A), 'closed')
  t.equal(b.canSend(A, 31_001), true)
  t.equal(b.canSend(A, 31_001), true)
})

t.test('a failed probe reopens for twice as long, doubling up to the cap; success resets the cool-down', async (t) => {
  const b = new CircuitBreaker()
  let now = 0
  for (let i = 0; i < 5; i++) b.record(A, false, now)
  const cooldowns: number[] = []
  for (let round = 0; round < 7; round++) {
    now = b.openUntil(A)!
    t.equal(b.canSend(A, now - 1), false)
    t.equal(b.canSend(A, now), true, `probe ${round + 1}`)
    now += 100
    b.record(A, false, now)
    cooldowns.push(b.openUntil(A)! - now)
  }
  t.same(cooldowns, [60_000, 120_000, 240_000, 300_000, 300_000, 300_000, 300_000])
  now = b.openUntil(A)!
  t.equal(b.canSend(A, now), true)
  b.record(A, true, now + 10)
  t.equal(b.state(A), 'closed')
  for (let i = 0; i < 5; i++) b.record(A, false, now + 20)
  t.equal(b.openUntil(A), now + 20 + 30_000, 'the next opening starts from the base cool-down again')
})

t.test('a lost probe is replaced after the lease; late failures while open change nothing', async (t) => {
  const b = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 1_000, probeLeaseMs: 10_000 })
  b.record(A, false, 0)
  b.record(A, false, 0)
  t.equal(b.openUntil(A), 1_000)
  b.record(A, false, 500) // a request sent before the circuit opened
  t.equal(b.openUntil(A), 1_000)
  t.equal(b.canSend(A, 1_000), true)
  t.equal(b.canSend(A, 5_000), false)
  t.equal(b.blockedUntil(A, 9_500), 11_000, 'never later than the lease expiry')
  t.equal(b.canSend(A, 11_000), true, 'the first probe never reported: a new one goes')
  t.equal(b.canSend(A, 11_001), false)
  b.record(A, false, 12_000)
  t.equal(b.state(A), 'open')
  t.equal(b.openUntil(A), 14_000)
})

t.test('endpointOk: which results count against the endpoint', async (t) => {
  const r = (statusCode?: number, code?: SendErrorCode): SendResult => ({
    latencyMs: 1,
    ...(statusCode === undefined ? {} : { statusCode }),
    ...(code ? { error: { code, message: 'x' } } : {}),
  })
  t.same(
    [200, 204, 302, 400, 404, 410].map((s) => endpointOk(r(s))),
    [true, true, true, true, true, true],
  )
  t.same(
    [408, 425, 429, 500, 503].map((s) => endpointOk(r(s))),
    [false, false, false, false, false],
  )
  t.equal(endpointOk(r(undefined, 'NETWORK')), false)
  t.equal(endpointOk(r(undefined, 'TIMEOUT')), false)
  t.equal(endpointOk(r(undefined, 'EGRESS_DENIED')), undefined)
  t.equal(endpointOk(r(undefined, 'INVALID_REQUEST')), undefined, "nothing was sent: the receiver's host is not to blame")
})

t.test('originOf keys circuits by scheme, host and port', async (t) => {
  t.equal(originOf('https://api.github.com/repos/acme/deploy/dispatches?x=1'), 'https://api.github.com')
  t.equal(originOf('https://hooks.example:8443/a'), 'https://hooks.example:8443')
  t.equal(originOf('https://hooks.example:443/a'), 'https://hooks.example')
  t.equal(originOf('http://[::1]:8080/'), 'http://[::1]:8080')
  t.equal(originOf('not a url'), 'not a url')
})

t.test("release hands a half-open circuit's probe slot back at once; it changes nothing otherwise", async (t) => {
  const b = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 1_000, probeLeaseMs: 600_000 })
  b.release(A)
  t.same(b.snapshot(), [], 'an origin never seen stays forgotten')
  b.record(A, false, 0)
  b.release(A)
  t.equal(b.blockedUntil(A, 500), 1_000, 'an open circuit stays open')
  t.equal(b.canSend(A, 1_000), true, 'the probe slot, taken by a request that will send nothing')
  t.equal(b.canSend(A, 1_001), false)
  b.release(A)
  t.equal(b.state(A), 'half-open')
  t.equal(b.canSend(A, 1_002), true, 'the next request is the probe, without waiting for the lease')
  t.equal(b.canSend(A, 1_003), false, 'and only one')
  b.record(A, true, 1_100)
  t.equal(b.state(A), 'closed')
})
