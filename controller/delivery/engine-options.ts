// How a DeliveryEngine is built: what it is given (store, sender, policies, clock, limits, callbacks)
// and the defaults of its limits. Its parts (intake, outbox scheduler, attempt) read the same settings.
import type { WebhookSpec } from '../api/types.generated.js'
import type { AcceptedEvent, AttemptReport, Verdict } from './outcomes.js'
import type { SendResult, Sender } from './send-result.js'
import type { StatusTracker } from './status-tracker.js'
import type { Store } from './store.js'

export interface RetryDecider {
  /** `attempt` is the number of the attempt just made (1-based). */
  decide(attempt: number, result: SendResult, retry: WebhookSpec['retry'], now: number): Verdict
}

export interface Breaker {
  /** Undefined when a request may go to `origin` now; otherwise when to try again. */
  blockedUntil(origin: string, now: number): number | undefined
  record(origin: string, ok: boolean, now: number): void
  /** A request let through will not reach the receiver: a probe slot it held is handed back. */
  release(origin: string): void
}

export interface EngineOptions {
  store: Store
  sender: Sender
  retry: RetryDecider
  breaker: Breaker
  /** What happened lately (status facts): the engine records every acceptance and attempt here. */
  facts?: StatusTracker
  now?: () => number
  /** A re-sent event id within this window is not delivered again. Default 24 h. */
  dedupWindowMs?: number
  /** Pending deliveries beyond which the intake refuses new events. Default 100,000. */
  maxPending?: number
  /**
   * Pending deliveries of one webhook beyond which the intake refuses the events that match its
   * automations (and only those). Default: maxPending (no bound of its own); hookwise run's default
   * is half of maxPending.
   */
  maxPendingPerWebhook?: number
  /**
   * Most attempts in flight per webhook. Each webhook's limit adapts below it (concurrency-limit.ts:
   * from 8, up while the receiver answers quickly, down on overload), and a Webhook's
   * spec.maxConcurrency caps it instead. Default: concurrency.
   */
  perWebhookConcurrency?: number
  /** Attempts in flight in all. Default 1,024. */
  concurrency?: number
  /** How often the outbox is polled for due work when nothing wakes it. Default 200 ms. */
  pollIntervalMs?: number
  onAccepted?: (events: AcceptedEvent[]) => void
  onAttempt?: (report: AttemptReport) => void
  onError?: (err: unknown) => void
  /** Told when the store stops being writable (why) and when it can be written again (undefined); once per change. */
  onStoreProblem?: (reason: string | undefined) => void
}

/** The options with every default filled in (the status tracker is passed on its own). */
export type EngineSettings = Required<Omit<EngineOptions, 'onAccepted' | 'onAttempt' | 'onError' | 'onStoreProblem' | 'facts'>> &
  Pick<EngineOptions, 'onAccepted' | 'onAttempt' | 'onError' | 'onStoreProblem'>

export function engineSettings(options: EngineOptions): EngineSettings {
  return {
    now: Date.now,
    dedupWindowMs: 24 * 3600_000,
    maxPending: 100_000,
    pollIntervalMs: 200,
    ...options,
    concurrency: options.concurrency ?? 1024,
    perWebhookConcurrency: options.perWebhookConcurrency ?? options.concurrency ?? 1024,
    maxPendingPerWebhook: options.maxPendingPerWebhook ?? options.maxPending ?? 100_000,
  }
}
