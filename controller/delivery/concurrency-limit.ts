// The adaptive in-flight limit of one webhook, in the spirit of TCP congestion control, Envoy's
// adaptive concurrency filter and Netflix's concurrency-limits (its gradient of a short against a
// long latency average): the limit grows while responses succeed and latency holds its level
// (doubling per round trip until the first sign of overload, then by one per round trip), and
// shrinks when the receiver says it is overloaded (429, 503, 504, a timeout) or its latency rises
// to twice its longer-run level. A receiver that refused at N requests in
// flight gets at most N - 1 for CEILING_HOLD_MS; a Retry-After on 429/503 pauses new requests for
// that long. Never below 1, never above `max` (spec.maxConcurrency, else the engine's bound).
// Pure: time comes in with every call.
import { retryAfterMs } from './retry-policy.js'
import type { SendResult } from './send-result.js'

/** Where a new webhook starts (the fixed default before the limit adapted). */
export const INITIAL_LIMIT = 8
/** How long the in-flight count at which a receiver refused stays out of reach. */
export const CEILING_HOLD_MS = 30_000
/** Latency is rising when its short average exceeds TOLERANCE × its long average + SLACK_MS. */
const TOLERANCE = 2
const SLACK_MS = 5
/** Weights of a new answer in the short (about the last 10 answers) and long (about the last 500) averages. */
const SHORT_WEIGHT = 0.1
const LONG_WEIGHT = 0.002
/** After overload the limit is multiplied by this (CUBIC's beta). */
const BACKOFF = 0.7
/** A rising latency takes this off the limit, at most once per round trip. */
const EASE = 0.9
/** The longest Retry-After pause honoured. */
const MAX_PAUSE_MS = 60_000

/** What one answered request says about the receiver's load. */
export type LoadSignal = 'ok' | 'overload' | 'none'

/** 429, 503 and 504 and timeouts are overload; other answers (2xx-4xx) are fine; other failures say nothing about load. */
export function loadSignal(result: SendResult): LoadSignal {
  if (result.error) return result.error.code === 'TIMEOUT' ? 'overload' : 'none'
  const s = result.statusCode ?? 0
  if (s === 429 || s === 503 || s === 504) return 'overload'
  return s >= 200 && s < 500 ? 'ok' : 'none'
}

export class ConcurrencyLimit {
  private limit = INITIAL_LIMIT
  /** Below it the limit doubles per round trip (slow start); set at the first overload. */
  private threshold = Number.POSITIVE_INFINITY
  private ceiling = Number.POSITIVE_INFINITY
  private ceilingUntil = 0
  private lastCeilingAt = Number.NEGATIVE_INFINITY
  private pausedUntil = 0
  private shortMs: number | undefined
  private longMs: number | undefined
  private lastDecreaseAt = Number.NEGATIVE_INFINITY

  constructor(private max: number) {
    this.limit = Math.min(INITIAL_LIMIT, max)
  }

  /** Sets the cap (spec.maxConcurrency changed). */
  setMax(max: number): void {
    this.max = Math.max(1, max)
    this.limit = Math.min(this.limit, this.max)
  }

  /** How many requests may be in flight now (0 while paused by a Retry-After). */
  current(now: number): number {
    if (now < this.pausedUntil) return 0
    const ceiling = now < this.ceilingUntil ? this.ceiling : Number.POSITIVE_INFINITY
    return Math.max(1, Math.min(Math.floor(this.limit), this.max, ceiling))
  }

  /** When a Retry-After pause ends; undefined when not paused. */
  pausedTill(now: number): number | undefined {
    return now < this.pausedUntil ? this.pausedUntil : undefined
  }

  /** Records an answered request that was sent with `inFlight` requests in flight (itself included). */
  record(result: SendResult, inFlight: number, now: number): void {
    const signal = loadSignal(result)
    if (signal === 'ok') this.ok(result.latencyMs, inFlight, now)
    else if (signal === 'overload') this.overload(result, inFlight, now)
  }

  private ok(latencyMs: number, inFlight: number, now: number): void {
    // Latency is judged against its own recent past, not an absolute floor: on a busy machine every
    // answer is slow (our own turns are late), which says nothing about the receiver. A short
    // average well above the long one is latency rising, the receiver queueing.
    this.shortMs = this.shortMs === undefined ? latencyMs : this.shortMs + (latencyMs - this.shortMs) * SHORT_WEIGHT
    this.longMs = this.longMs === undefined ? latencyMs : this.longMs + (latencyMs - this.longMs) * LONG_WEIGHT
    if (this.shortMs > this.longMs * TOLERANCE + SLACK_MS) {
      // Ease off, once per round trip; the long average moves towards the new level meanwhile.
      if (now - this.lastDecreaseAt >= latencyMs) {
        this.limit = Math.max(1, this.limit * EASE)
        this.threshold = this.limit
        this.lastDecreaseAt = now
      }
      return
    }
    // Grow only while the limit is what holds requests back, not when there is little to send.
    if (inFlight < this.limit / 2) return
    const room = Math.min(this.max, now < this.ceilingUntil ? this.ceiling : Number.POSITIVE_INFINITY)
    this.limit = Math.min(room, this.limit + (this.limit < this.threshold ? 1 : 1 / this.limit))
  }

  private overload(result: SendResult, inFlight: number, now: number): void {
    // Our count in flight can exceed the receiver's (answers not read yet, on a busy machine): a
    // refusal while the ceiling holds lowers it by one more, once per round trip.
    const holding = now < this.ceilingUntil
    const again = holding && now - this.lastCeilingAt >= (this.shortMs ?? result.latencyMs)
    this.ceiling = Math.max(1, Math.min(holding ? this.ceiling - (again ? 1 : 0) : Number.POSITIVE_INFINITY, inFlight - 1))
    if (!holding || again) this.lastCeilingAt = now
    this.ceilingUntil = now + CEILING_HOLD_MS
    const retryAfter =
      result.statusCode === 429 || result.statusCode === 503 ? retryAfterMs(result.headers?.['retry-after'], now) : undefined
    if (retryAfter) this.pausedUntil = Math.max(this.pausedUntil, now + Math.min(retryAfter, MAX_PAUSE_MS))
    // Answers to requests sent before the last decrease describe the old limit: one decrease per round trip.
    if (now - this.lastDecreaseAt < Math.max(result.latencyMs, 1)) return
    this.limit = Math.max(1, Math.min(this.limit, inFlight) * BACKOFF)
    this.threshold = this.limit
    this.lastDecreaseAt = now
  }
}
