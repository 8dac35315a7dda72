// The adaptive in-flight limit of one webhook, in the spirit of TCP congestion control, Envoy's
// adaptive concurrency filter and Netflix's concurrency-limits (its gradient of a short against a
// long latency average): the limit grows while responses succeed and latency holds its level
// (doubling per round trip until latency starts to rise or the first sign of overload, then by one
// per round trip), and
// shrinks when the receiver says it is overloaded (429, 503, 504, a timeout) or its latency rises
// to twice its longer-run level. A receiver that refused at N requests in
// flight gets at most N - 1 for CEILING_HOLD_MS (0.7 of that when it refuses again under it); a Retry-After on 429/503 pauses new requests for
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
/** HyStart++ (RFC 9406): answers per round before its fastest counts, and the bounds of the delay that ends slow start. */
const ROUND_SAMPLES = 8
const MIN_DELAY_RISE_MS = 4
const MAX_DELAY_RISE_MS = 16
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
  /** Slow start's rounds (HyStart++): when this one began, its answers so far and their fastest, the last round's fastest. */
  private roundSince = Number.NEGATIVE_INFINITY
  private roundSamples = 0
  private roundMinMs = Number.POSITIVE_INFINITY
  private lastRoundMinMs = Number.POSITIVE_INFINITY

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
    if (this.limit < this.threshold && this.roundShowsDelay(latencyMs, now)) this.threshold = this.limit
    const room = Math.min(this.max, now < this.ceilingUntil ? this.ceiling : Number.POSITIVE_INFINITY)
    this.limit = Math.min(room, this.limit + (this.limit < this.threshold ? 1 : 1 / this.limit))
  }

  /**
   * Slow start ends when latency starts to rise, before the first refusal (HyStart++, RFC 9406, as
   * TCP does it): a round lasts until a request sent after it began is answered; when the fastest of
   * a round's answers is slower than the last round's fastest by an eighth of it (4 to 16 ms), the
   * requests are queueing somewhere, so doubling stops and the limit grows by one per round trip.
   * Without it, on a starved machine answers came back seconds late and in bursts, each one a
   * slot more, and slow start reached 200 in flight while a receiver bounded at 16 had seen 6: the
   * surplus then arrived at the receiver all at once, long after the first refusal.
   */
  private roundShowsDelay(latencyMs: number, now: number): boolean {
    if (now - latencyMs >= this.roundSince) {
      // Sent after this round began: the round is over.
      this.lastRoundMinMs = this.roundSamples >= ROUND_SAMPLES ? this.roundMinMs : this.lastRoundMinMs
      this.roundSince = now
      this.roundSamples = 0
      this.roundMinMs = Number.POSITIVE_INFINITY
    }
    this.roundSamples++
    this.roundMinMs = Math.min(this.roundMinMs, latencyMs)
    if (this.roundSamples < ROUND_SAMPLES || this.lastRoundMinMs === Number.POSITIVE_INFINITY) return false
    const rise = Math.min(MAX_DELAY_RISE_MS, Math.max(MIN_DELAY_RISE_MS, this.lastRoundMinMs / 8))
    return this.roundMinMs >= this.lastRoundMinMs + rise
  }

  private overload(result: SendResult, inFlight: number, now: number): void {
    // A refusal of a request sent with `inFlight` in flight means the receiver holds fewer: the
    // ceiling drops to inFlight - 1 at once, at every refusal. Our count can exceed the receiver's
    // (answers not read yet, requests not arrived yet, on a busy machine), so the ceiling can stay
    // above its bound; a refusal of a request sent under the ceiling then shows it too high and
    // lowers it by one more, once per ceiling (requests sent before the last lowering say nothing
    // of the new one). The send time, not an average latency, says which: under load answers come
    // back late and in bursts.
    const holding = now < this.ceilingUntil
    const sentAt = now - result.latencyMs
    const underCeiling = holding && sentAt > this.lastCeilingAt
    const ceiling = Math.max(
      1,
      Math.min(holding ? (underCeiling ? Math.floor(this.ceiling * BACKOFF) : this.ceiling) : Number.POSITIVE_INFINITY, inFlight - 1),
    )
    if (!holding || ceiling < this.ceiling) this.lastCeilingAt = now
    this.ceiling = ceiling
    this.ceilingUntil = now + CEILING_HOLD_MS
    const retryAfter =
      result.statusCode === 429 || result.statusCode === 503 ? retryAfterMs(result.headers?.['retry-after'], now) : undefined
    if (retryAfter) this.pausedUntil = Math.max(this.pausedUntil, now + Math.min(retryAfter, MAX_PAUSE_MS))
    // Answers to requests sent before the last decrease describe the old limit: one decrease per
    // round trip, judged by when the refused request was sent.
    if (sentAt < this.lastDecreaseAt) return
    this.limit = Math.max(1, Math.min(this.limit, inFlight) * BACKOFF)
    this.threshold = this.limit
    this.lastDecreaseAt = now
  }
}
