// The production retry decider and circuit breaker the engine is built with.
import { CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.js'
import type { WebhookSpec } from '../api/types.generated.js'
import type { RetryDecider } from './engine-options.js'
import { nextAttempt } from './retry-policy.js'

/**
 * The retry policy of retry-policy.ts with Math.random jitter (tests pass their own random).
 * `fallback` (hookwise run --retry-max-attempts, --retry-max-backoff) bounds Webhooks whose spec
 * has no retry; a field the Webhook sets wins.
 */
export function createRetryDecider(random: () => number = Math.random, fallback?: NonNullable<WebhookSpec['retry']>): RetryDecider {
  return {
    decide: (attempt, result, retry, now) => nextAttempt(attempt, result, fallback ? { ...fallback, ...retry } : retry, { now, random }),
  }
}

export function createBreaker(options: CircuitBreakerOptions = {}): CircuitBreaker {
  return new CircuitBreaker(options)
}
