// The production retry decider and circuit breaker the engine is built with.
import { CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.js'
import type { RetryDecider } from './engine.js'
import { nextAttempt } from './retry-policy.js'

/** The retry policy of retry-policy.ts with Math.random jitter (tests pass their own random). */
export function createRetryDecider(random: () => number = Math.random): RetryDecider {
  return { decide: (attempt, result, retry, now) => nextAttempt(attempt, result, retry, { now, random }) }
}

export function createBreaker(options: CircuitBreakerOptions = {}): CircuitBreaker {
  return new CircuitBreaker(options)
}
