// The retry policy: how an attempt's result is judged and when the next attempt is due. Pure:
// the clock and the random source are passed in. Every default lives in RETRY_DEFAULTS.
import type { WebhookSpec } from '../api/types.generated.js'
import { ATTEMPT_ERROR_CODES } from '../errors.js'
import type { SendResult } from './send-result.js'

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE

/** The one table of retry defaults. */
export const RETRY_DEFAULTS = Object.freeze({
  /** Attempts before a delivery fails (the Webhook schema's default of spec.retry.maxAttempts). */
  maxAttempts: 10,
  /** Longest wait between attempts (the Webhook schema's default of spec.retry.maxBackoffSeconds, 12 h). */
  maxBackoffSeconds: 43_200,
  /**
   * Wait before attempt n+1 is scheduleMs[n]: the first attempt is immediate, then ~5 s, 30 s,
   * 2 min, 10 min, 30 min, 1 h, 3 h, 6 h, 12 h. Attempts beyond the table wait its last entry.
   */
  scheduleMs: Object.freeze([0, 5 * SECOND, 30 * SECOND, 2 * MINUTE, 10 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR]),
  /** Each wait is scaled by a factor in [1 - jitter, 1 + jitter) so retries of many deliveries spread out. */
  jitter: 0.2,
  /** Statuses below 500 that are retried: request timeout, too early, too many requests. */
  retryableStatuses: Object.freeze([408, 425, 429]),
  /** The status that marks the webhook gone: it is not sent to again until its spec changes. */
  goneStatus: 410,
})

/** How one attempt ended. */
export type Outcome = 'success' | 'retry' | 'fail' | 'gone'

/**
 * Judges one result: 2xx succeed; network errors, timeouts, 408, 425, 429 and 5xx are retried; 410 is gone; anything else
 * (other 4xx, 1xx, 3xx, a refused egress, a request that cannot be sent as built) fails at once. An attempt error is
 * retried when its code is transient in ATTEMPT_ERROR_CODES.
 */
export function classify(result: SendResult): Outcome {
  if (result.error) return ATTEMPT_ERROR_CODES[result.error.code].disposition === 'terminal' ? 'fail' : 'retry'
  const status = result.statusCode
  // A result with neither a status nor an error is a sender bug; retrying keeps the delivery.
  if (status === undefined) return 'retry'
  if (status >= 200 && status < 300) return 'success'
  if (status === RETRY_DEFAULTS.goneStatus) return 'gone'
  if (status >= 500 || RETRY_DEFAULTS.retryableStatuses.includes(status)) return 'retry'
  return 'fail'
}

/** What to do after an attempt. `retry` says how long to wait; `fail` says why it will not be retried. */
export type Decision =
  | { kind: 'success' }
  | { kind: 'retry'; delayMs: number }
  | { kind: 'fail'; reason: string }
  | { kind: 'gone'; reason: string }

export interface DecisionContext {
  /** Epoch ms now, for Retry-After dates. */
  now: number
  /** A number in [0, 1), Math.random in production. */
  random: () => number
}

/**
 * Decides what follows attempt number `attempt` (1-based) that produced `result`, bounded by the
 * webhook's spec.retry (schema defaults when absent).
 *
 * Retry-After (delta seconds or an HTTP date) is honoured as a floor: the wait is the larger of
 * the jittered schedule and Retry-After, then capped at maxBackoffSeconds. So a server can ask
 * for more time but cannot make hookwise retry sooner than the schedule (which would spend the
 * attempt budget in seconds: `Retry-After: 1` ten times in a row), and a Retry-After far in the
 * future (or a year-2100 date) does not park a delivery beyond the webhook's own bound.
 */
export function nextAttempt(attempt: number, result: SendResult, retry: WebhookSpec['retry'], ctx: DecisionContext): Decision {
  const outcome = classify(result)
  if (outcome === 'success') return { kind: 'success' }
  if (outcome === 'gone')
    return { kind: 'gone', reason: 'the receiver answered 410 Gone; fix or re-create the Webhook to resume deliveries' }
  if (outcome === 'fail') return { kind: 'fail', reason: failReason(result) }
  const maxAttempts = retry?.maxAttempts ?? RETRY_DEFAULTS.maxAttempts
  if (attempt >= maxAttempts) {
    return {
      kind: 'fail',
      reason: `gave up after ${attempt} attempt${attempt === 1 ? '' : 's'} (spec.retry.maxAttempts ${maxAttempts}); raise it or use hookwise redeliver`,
    }
  }
  return { kind: 'retry', delayMs: backoffMs(attempt, retry, ctx, retryAfterMs(result.headers?.['retry-after'], ctx.now)) }
}

/** The wait after attempt `attempt` fails: jittered schedule, Retry-After as a floor, maxBackoffSeconds as the cap. */
export function backoffMs(attempt: number, retry: WebhookSpec['retry'], ctx: Pick<DecisionContext, 'random'>, retryAfter?: number): number {
  const table = RETRY_DEFAULTS.scheduleMs
  const base = table[Math.min(Math.max(attempt, 0), table.length - 1)]!
  const factor = 1 + (ctx.random() * 2 - 1) * RETRY_DEFAULTS.jitter
  const capMs = (retry?.maxBackoffSeconds ?? RETRY_DEFAULTS.maxBackoffSeconds) * SECOND
  return Math.min(Math.max(Math.round(base * factor), retryAfter ?? 0), capMs)
}

/** Parses a Retry-After value into ms from `now`: delta seconds or an HTTP date; undefined when absent or malformed. A past date is 0. */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * SECOND
  // HTTP dates always name the weekday and GMT; requiring letters keeps numbers like "1.5" out.
  if (!/^[A-Za-z]{3},/.test(text)) return undefined
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(at - now, 0)
}

function failReason(result: SendResult): string {
  // INVALID_REQUEST's and SLACK_REFUSED's messages say what to fix themselves (it is also what `hookwise test webhook` prints).
  if (result.error?.code === 'INVALID_REQUEST' || result.error?.code === 'SLACK_REFUSED') return `${result.error.message} (not retried)`
  if (result.error) return `${result.error.message} (not retried: change the webhook URL or the egress policy)`
  const status = result.statusCode!
  if (status >= 300 && status < 400)
    return `the receiver answered ${status}; redirects are not followed: set the webhook URL to the final address`
  return `the receiver answered ${status}, which is not retried; fix the request (URL, token, signature, payload) and redeliver`
}
