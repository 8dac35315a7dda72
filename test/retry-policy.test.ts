// The retry policy, table-driven, with a scripted random source and clock.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { backoffMs, classify, nextAttempt, RETRY_DEFAULTS, retryAfterMs, type Outcome } from '../controller/delivery/retry-policy.js'
import { createRetryDecider } from '../controller/delivery/policies.js'
import type { SendErrorCode, SendResult } from '../controller/delivery/send-result.js'

const status = (statusCode: number, headers: Record<string, string> = {}): SendResult => ({
  statusCode,
  headers,
  bodyHead: '',
  latencyMs: 1,
})
const error = (code: SendErrorCode, message = 'boom'): SendResult => ({ latencyMs: 1, error: { code, message } })
const mid = { now: Date.UTC(2026, 10, 27, 10, 0, 0), random: () => 0.5 } // factor exactly 1

t.test('classify: every class of result', async (t) => {
  const cases: Array<[SendResult, Outcome]> = [
    [status(200), 'success'],
    [status(201), 'success'],
    [status(202), 'success'],
    [status(204), 'success'],
    [status(299), 'success'],
    [error('NETWORK'), 'retry'],
    [error('TIMEOUT'), 'retry'],
    [status(408), 'retry'],
    [status(425), 'retry'],
    [status(429), 'retry'],
    [status(500), 'retry'],
    [status(502), 'retry'],
    [status(503), 'retry'],
    [status(504), 'retry'],
    [status(599), 'retry'],
    [status(410), 'gone'],
    [status(400), 'fail'],
    [status(401), 'fail'],
    [status(403), 'fail'],
    [status(404), 'fail'],
    [status(405), 'fail'],
    [status(409), 'fail'],
    [status(413), 'fail'],
    [status(422), 'fail'],
    [status(451), 'fail'],
    [status(100), 'fail'],
    [status(301), 'fail'],
    [status(302), 'fail'],
    [status(304), 'fail'],
    [status(307), 'fail'],
    [error('EGRESS_DENIED'), 'fail'],
    [error('INVALID_REQUEST'), 'fail'],
    [{ latencyMs: 1 }, 'retry'],
  ]
  for (const [result, expected] of cases)
    t.equal(classify(result), expected, `${result.statusCode ?? result.error?.code ?? 'nothing'} → ${expected}`)
})

t.test('the defaults match the Webhook schema defaults', async (t) => {
  const schema = JSON.parse(readFileSync(new URL('../controller/api/schemas/webhook.schema.json', import.meta.url), 'utf8')) as {
    $defs: {
      WebhookSpec: { properties: { retry: { properties: { maxAttempts: { default: number }; maxBackoffSeconds: { default: number } } } } }
    }
  }
  const retry = schema.$defs.WebhookSpec.properties.retry.properties
  t.equal(RETRY_DEFAULTS.maxAttempts, retry.maxAttempts.default)
  t.equal(RETRY_DEFAULTS.maxBackoffSeconds, retry.maxBackoffSeconds.default)
  t.same(RETRY_DEFAULTS.scheduleMs, [0, 5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000])
})

t.test('the default schedule, without jitter, attempt by attempt, then exhausted', async (t) => {
  const expected = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000]
  for (const [i, delayMs] of expected.entries()) {
    t.same(nextAttempt(i + 1, error('NETWORK'), undefined, mid), { kind: 'retry', delayMs }, `after attempt ${i + 1}`)
  }
  t.same(nextAttempt(10, error('NETWORK'), undefined, mid), {
    kind: 'fail',
    reason: 'gave up after 10 attempts (spec.retry.maxAttempts 10); raise it or use hookwise redeliver',
  })
})

t.test('jitter is ±20 % of the scheduled wait', async (t) => {
  const at = (random: number) => nextAttempt(2, status(503), {}, { now: mid.now, random: () => random })
  t.same(at(0), { kind: 'retry', delayMs: 24_000 })
  t.same(at(0.25), { kind: 'retry', delayMs: 27_000 })
  t.same(at(0.5), { kind: 'retry', delayMs: 30_000 })
  t.same(at(0.75), { kind: 'retry', delayMs: 33_000 })
  t.same(at(0.999999), { kind: 'retry', delayMs: 36_000 })
  t.equal(backoffMs(1, {}, { random: () => 0 }), 4_000)
})

t.test(
  'spec.retry bounds: maxAttempts stops, maxBackoffSeconds caps (after jitter), attempts beyond the table wait its last entry',
  async (t) => {
    t.same(nextAttempt(1, error('TIMEOUT'), { maxAttempts: 1 }, mid), {
      kind: 'fail',
      reason: 'gave up after 1 attempt (spec.retry.maxAttempts 1); raise it or use hookwise redeliver',
    })
    t.same(nextAttempt(2, error('TIMEOUT'), { maxAttempts: 3 }, mid), { kind: 'retry', delayMs: 30_000 })
    t.same(nextAttempt(3, error('TIMEOUT'), { maxAttempts: 3 }, mid), {
      kind: 'fail',
      reason: 'gave up after 3 attempts (spec.retry.maxAttempts 3); raise it or use hookwise redeliver',
    })
    t.same(nextAttempt(4, status(500), { maxBackoffSeconds: 60 }, mid), { kind: 'retry', delayMs: 60_000 })
    t.same(
      nextAttempt(2, status(500), { maxBackoffSeconds: 30 }, { now: mid.now, random: () => 0.99 }),
      { kind: 'retry', delayMs: 30_000 },
      'jitter does not exceed the cap',
    )
    t.same(
      nextAttempt(2, status(500), { maxBackoffSeconds: 30 }, { now: mid.now, random: () => 0 }),
      { kind: 'retry', delayMs: 24_000 },
      'jitter below the cap stays',
    )
    t.same(nextAttempt(15, status(500), { maxAttempts: 20, maxBackoffSeconds: 86_400 }, mid), { kind: 'retry', delayMs: 43_200_000 })
    t.same(nextAttempt(19, status(500), { maxAttempts: 20, maxBackoffSeconds: 86_400 }, mid), { kind: 'retry', delayMs: 43_200_000 })
    t.equal(nextAttempt(20, status(500), { maxAttempts: 20 }, mid).kind, 'fail')
  },
)

t.test('Retry-After is a floor over the schedule, capped at maxBackoffSeconds', async (t) => {
  const httpDate = (ms: number) => new Date(mid.now + ms).toUTCString()
  const cases: Array<[string, number, Record<string, number> | undefined, number]> = [
    // [Retry-After, attempt, spec.retry, expected delay]
    ['120', 1, undefined, 120_000], // longer than the schedule's 5 s: honoured
    ['1', 3, undefined, 120_000], // shorter than the schedule's 2 min: the schedule wins
    ['0', 1, undefined, 5_000],
    ['86400', 1, undefined, 43_200_000], // a day, capped at the default 12 h
    ['600', 1, { maxBackoffSeconds: 300 }, 300_000], // capped at the webhook's bound
    [httpDate(90_000), 1, undefined, 90_000], // HTTP date 90 s ahead
    [httpDate(-60_000), 2, undefined, 30_000], // a date in the past: the schedule
    ['soon', 2, undefined, 30_000], // malformed: ignored
    ['1.5', 1, undefined, 5_000],
    ['-5', 1, undefined, 5_000],
  ]
  for (const [value, attempt, retry, delayMs] of cases) {
    t.same(
      nextAttempt(attempt, status(429, { 'retry-after': value }), retry, mid),
      { kind: 'retry', delayMs },
      `Retry-After ${value} after attempt ${attempt}`,
    )
  }
  t.same(nextAttempt(1, status(503, { 'retry-after': '45' }), undefined, mid), { kind: 'retry', delayMs: 45_000 }, 'on 503 too')
  t.same(nextAttempt(10, status(503, { 'retry-after': '45' }), undefined, mid).kind, 'fail', 'Retry-After does not add attempts')
  t.equal(nextAttempt(1, status(400, { 'retry-after': '45' }), undefined, mid).kind, 'fail', 'nor makes a 400 retryable')
})

t.test('retryAfterMs parses delta seconds and HTTP dates', async (t) => {
  const now = Date.UTC(2026, 10, 27, 10, 0, 0)
  t.equal(retryAfterMs(undefined, now), undefined)
  t.equal(retryAfterMs('30', now), 30_000)
  t.equal(retryAfterMs(' 7 ', now), 7_000)
  t.equal(retryAfterMs('Fri, 27 Nov 2026 10:01:00 GMT', now), 60_000)
  t.equal(retryAfterMs('Fri, 27 Nov 2026 09:00:00 GMT', now), 0)
  t.equal(retryAfterMs('Fri, 32 Nov 2026 09:00:00 GMT', now), undefined)
  t.equal(retryAfterMs('2026-11-27T10:01:00Z', now), undefined)
  t.equal(retryAfterMs('', now), undefined)
})

t.test('success, gone and fail need no schedule and say what to do', async (t) => {
  t.same(nextAttempt(1, status(200), undefined, mid), { kind: 'success' })
  t.same(nextAttempt(7, status(204), { maxAttempts: 3 }, mid), { kind: 'success' })
  t.same(nextAttempt(1, status(410), undefined, mid), {
    kind: 'gone',
    reason: 'the receiver answered 410 Gone; fix or re-create the Webhook to resume deliveries',
  })
  t.same(nextAttempt(1, status(404), undefined, mid), {
    kind: 'fail',
    reason: 'the receiver answered 404, which is not retried; fix the request (URL, token, signature, payload) and redeliver',
  })
  t.same(nextAttempt(1, status(302), undefined, mid), {
    kind: 'fail',
    reason: 'the receiver answered 302; redirects are not followed: set the webhook URL to the final address',
  })
  t.same(nextAttempt(1, error('EGRESS_DENIED', 'address 10.0.0.1 is private'), undefined, mid), {
    kind: 'fail',
    reason: 'address 10.0.0.1 is private (not retried: change the webhook URL or the egress policy)',
  })
  // A request that cannot be sent as built fails on its first attempt whatever the retry budget; its message says what to fix.
  t.same(
    nextAttempt(
      1,
      error('INVALID_REQUEST', 'header X-Team holds U+000A (line feed) at its end, which HTTP does not allow; fix it'),
      { maxAttempts: 10 },
      mid,
    ),
    {
      kind: 'fail',
      reason: 'header X-Team holds U+000A (line feed) at its end, which HTTP does not allow; fix it (not retried)',
    },
  )
})

t.test("createRetryDecider: the controller-wide fallback bounds Webhooks without spec.retry; a Webhook's own retry wins", async (t) => {
  const decider = createRetryDecider(() => 0.5, { maxAttempts: 3, maxBackoffSeconds: 60 })
  t.same(decider.decide(2, status(500), undefined, mid.now), { kind: 'retry', delayMs: 30_000 })
  t.same(decider.decide(3, status(500), undefined, mid.now), {
    kind: 'fail',
    reason: 'gave up after 3 attempts (spec.retry.maxAttempts 3); raise it or use hookwise redeliver',
  })
  t.same(
    decider.decide(3, status(500), { maxAttempts: 5 }, mid.now),
    { kind: 'retry', delayMs: 60_000 },
    "2 min capped by the fallback's 60 s",
  )
  t.same(decider.decide(3, status(500), { maxAttempts: 5, maxBackoffSeconds: 43_200 }, mid.now), { kind: 'retry', delayMs: 120_000 })
  t.same(
    createRetryDecider(() => 0.5).decide(8, status(500), undefined, mid.now),
    { kind: 'retry', delayMs: 6 * 3600_000 },
    'without a fallback: RETRY_DEFAULTS',
  )
})

t.test('hookwise run --retry-max-attempts and --retry-max-backoff keep the bounds of spec.retry', async (t) => {
  const { hookwise } = await import('./helpers/cli.js')
  const cases: Array<[string[], string]> = [
    [
      ['--retry-max-attempts', '21'],
      "error: option '--retry-max-attempts <n>' argument '21' is invalid. expected 1 to 20 (the bounds of spec.retry.maxAttempts)",
    ],
    [['--retry-max-attempts', '0'], "error: option '--retry-max-attempts <n>' argument '0' is invalid. expected a positive whole number"],
    [
      ['--retry-max-backoff', '25h'],
      "error: option '--retry-max-backoff <duration>' argument '25h' is invalid. expected at most 24h (the bound of spec.retry.maxBackoffSeconds)",
    ],
  ]
  for (const [args, message] of cases) {
    const res = await hookwise(['run', '--dir', 'examples', ...args])
    t.equal(res.status, 2, args.join(' '))
    t.equal(res.stderr.trim().split('\n')[0], message)
  }
})
