// A circuit breaker per endpoint (URL origin). After consecutive failures it opens: nothing is
// sent to the origin for a cool-down, then one probe goes through (half-open); its success closes
// the circuit, its failure opens it again for twice as long, up to a cap. The breaker never drops
// work: callers ask canSend/blockedUntil and reschedule blocked jobs. Time is passed in.
import { classify } from './retry-policy.js'
import type { SendResult } from './send-result.js'

export type CircuitState = 'closed' | 'open' | 'half-open'

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. Default 5. */
  failureThreshold?: number
  /** First cool-down once open, in ms. Default 30 s. */
  cooldownMs?: number
  /** Longest cool-down after repeated failed probes, in ms. Default 5 min. */
  maxCooldownMs?: number
  /** A probe that reports nothing for this long is presumed lost and another is let through. Default 330 s (the longest timeoutSeconds, 300 s, plus margin). */
  probeLeaseMs?: number
  /** While a probe is in flight, blocked jobs are told to come back after this long. Default 2 s. */
  probeWaitMs?: number
}

/** The breaker's defaults, in one place. */
export const BREAKER_DEFAULTS: Readonly<Required<CircuitBreakerOptions>> = Object.freeze({
  failureThreshold: 5,
  cooldownMs: 30_000,
  maxCooldownMs: 300_000,
  probeLeaseMs: 330_000,
  probeWaitMs: 2_000,
})

interface Circuit {
  state: CircuitState
  failures: number
  /** Cool-down of the current or last opening. */
  cooldownMs: number
  openUntil: number
  /** When the half-open probe was let through; undefined when none is in flight. */
  probeSince: number | undefined
}

/** One circuit's state, for status and metrics. */
export interface CircuitSnapshot {
  origin: string
  state: CircuitState
  consecutiveFailures: number
  /** When an open circuit lets a probe through (epoch ms). */
  openUntil?: number
}

/** Per-origin circuit breakers. Origins never seen, or last seen succeeding, are closed and take no memory. */
export class CircuitBreaker {
  private readonly o: Required<CircuitBreakerOptions>
  private readonly circuits = new Map<string, Circuit>()

  constructor(options: CircuitBreakerOptions = {}) {
    this.o = { ...BREAKER_DEFAULTS, ...options }
  }

  /**
   * Whether a request may go to `origin` now. When an open circuit's cool-down is over, the
   * first caller gets true and its request is the probe (the circuit turns half-open); everyone
   * else gets false until that probe is recorded.
   */
  canSend(origin: string, now: number): boolean {
    return this.blockedUntil(origin, now) === undefined
  }

  /** Undefined when a request may go to `origin` now (see canSend); otherwise when to ask again. */
  blockedUntil(origin: string, now: number): number | undefined {
    const c = this.circuits.get(origin)
    if (!c || c.state === 'closed') return undefined
    if (c.state === 'open') {
      if (now < c.openUntil) return c.openUntil
      c.state = 'half-open'
      c.probeSince = now
      return undefined
    }
    if (c.probeSince === undefined || now - c.probeSince >= this.o.probeLeaseMs) {
      c.probeSince = now
      return undefined
    }
    return Math.min(now + this.o.probeWaitMs, c.probeSince + this.o.probeLeaseMs)
  }

  /**
   * A request `blockedUntil` let through will not reach the receiver (its Secret is missing, its
   * request is invalid, the egress policy refuses it): if it was the half-open circuit's probe, the
   * slot is handed back at once, so the next request to the origin is the probe, instead of every
   * webhook on the origin waiting out the probe's lease. (Were the slot another request's, a second
   * probe goes: one more request to an origin that may have recovered, which is harmless.)
   */
  release(origin: string): void {
    const c = this.circuits.get(origin)
    if (c?.state === 'half-open') c.probeSince = undefined
  }

  /** Records the outcome of a request to `origin`: `ok` false for network errors, timeouts, 5xx, 408, 425, 429 (see endpointOk). */
  record(origin: string, ok: boolean, now: number): void {
    if (ok) {
      this.circuits.delete(origin)
      return
    }
    let c = this.circuits.get(origin)
    if (!c) {
      c = { state: 'closed', failures: 0, cooldownMs: this.o.cooldownMs, openUntil: 0, probeSince: undefined }
      this.circuits.set(origin, c)
    }
    c.failures++
    if (c.state === 'half-open') {
      // The probe (or a request sent before the circuit opened) failed: open again, longer.
      c.cooldownMs = Math.min(c.cooldownMs * 2, this.o.maxCooldownMs)
      this.open(c, now)
    } else if (c.state === 'closed' && c.failures >= this.o.failureThreshold) {
      c.cooldownMs = this.o.cooldownMs
      this.open(c, now)
    }
    // Open: a late failure of a request sent before opening changes nothing.
  }

  /** The circuit's state. With `now`, an open circuit whose cool-down is over reads half-open (its next request is the probe). */
  state(origin: string, now?: number): CircuitState {
    const c = this.circuits.get(origin)
    if (!c) return 'closed'
    if (c.state === 'open' && now !== undefined && now >= c.openUntil) return 'half-open'
    return c.state
  }

  /** When an open circuit lets a probe through; undefined unless open. */
  openUntil(origin: string): number | undefined {
    const c = this.circuits.get(origin)
    return c?.state === 'open' ? c.openUntil : undefined
  }

  /** Every origin with failures on record, for status and metrics. */
  snapshot(): CircuitSnapshot[] {
    return [...this.circuits].map(([origin, c]) => ({
      origin,
      state: c.state,
      consecutiveFailures: c.failures,
      ...(c.state === 'open' ? { openUntil: c.openUntil } : {}),
    }))
  }

  private open(c: Circuit, now: number): void {
    c.state = 'open'
    c.openUntil = now + c.cooldownMs
    c.probeSince = undefined
  }
}

/**
 * What a result says about the endpoint's health: false when it is failing (network errors,
 * timeouts and the statuses the retry policy retries), true when it answered (even 4xx), and
 * undefined when nothing was sent (a refused egress, a request undici refused as built), which the
 * breaker should not record: neither says anything about the receiver's host.
 */
export function endpointOk(result: SendResult): boolean | undefined {
  if (result.error?.code === 'EGRESS_DENIED' || result.error?.code === 'INVALID_REQUEST') return undefined
  return classify(result) !== 'retry'
}

/** Origins by URL, so a busy webhook's URL is not parsed for every attempt. */
const origins = new Map<string, string>()
const ORIGIN_CACHE_ENTRIES = 1024

/** The breaker key of a URL: its origin (scheme, host and port). */
export function originOf(url: string): string {
  let origin = origins.get(url)
  if (origin !== undefined) return origin
  try {
    origin = new URL(url).origin
  } catch {
    origin = url
  }
  if (origins.size >= ORIGIN_CACHE_ENTRIES) origins.clear()
  origins.set(url, origin)
  return origin
}
