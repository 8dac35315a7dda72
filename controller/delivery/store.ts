// The durable outbox and history, as the engine, the API and the CLI use it. Every event and the
// deliveries it matched are stored before the intake answers 202; a delivery stays `pending` until
// an attempt succeeds, fails for good, or its automation is removed, so a crash loses nothing:
// pending work is picked up again. SqliteStore (sqlite-store.ts) and PostgresStore (postgres-store.ts)
// implement it; the conformance suite (test/helpers/store-conformance.ts) fixes this contract for both.
// A method may answer at once or with a promise: SqliteStore answers synchronously (a commit in WAL
// mode takes microseconds, and an await per call would cost the engine a turn), PostgresStore with
// promises (a round trip to the server). Callers handle both: `await`, or isPromise where a
// synchronous answer must stay synchronous (the engine's hot paths).
import type { AttemptRow, DeliveryRow, DeliveryStatus } from '../model/delivery.js'

/** A value now, or a promise of it. */
export type Awaitable<T> = T | Promise<T>

/** Whether a store's answer is a promise (PostgresStore) rather than the value itself (SqliteStore). */
export const isPromise = <T>(v: Awaitable<T>): v is Promise<T> =>
  typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function'

/** A delivery to store: pending and due at once. */
export interface NewDelivery {
  id: string
  automation: string
  webhook: string
  /** A noop action's delivery: stored already succeeded, with no attempt (nothing is sent). */
  noop?: true
}

/** The webhook column of a noop action's delivery: no Webhook key has no slash, so it names none. */
export const NOOP_WEBHOOK = '(noop)'

/** An event to store, with the deliveries it matched (none is fine: the event is stored for dedup). */
export interface NewEvent {
  eventId: string
  body: string
  deliveries: NewDelivery[]
}

/** The events of one write, received at `now`. */
export interface NewEvents {
  items: readonly NewEvent[]
  now: number
  /** An event whose id was stored at or after this time (by this write or an earlier one) is a duplicate. */
  dedupSince: number
  /** When given, receives each item's event seq, in order (0 for a duplicate). */
  seqs?: number[]
}

/** A delivery's state after an attempt. */
export interface NextState {
  status: DeliveryStatus
  nextAttemptAt: number
  now: number
  /** Why the delivery failed; the attempt's own error when absent. */
  lastError?: string
}

/** A webhook that answered 410 Gone, with the hash of its spec then (see specHash); null: it is not gone (any more). */
export interface GoneMark {
  webhook: string
  specHash: string | null
}

/** Which deliveries list returns; every field given must match. */
export interface DeliveryFilter {
  automation?: string
  webhook?: string
  /** The id of the event the deliveries were made for. */
  eventId?: string
  status?: DeliveryStatus
  /** Created at or after this time (ms). */
  since?: number
  /** Created before this time (ms). */
  until?: number
  /** Rows to skip before the first returned (paging). */
  offset?: number
  /** At most this many rows (default 100). */
  limit?: number
}

/** Attempts to one webhook that started in one time bucket (the dashboard's charts). */
export interface AttemptBucket {
  webhook: string
  /** Start of the bucket (ms): a multiple of the bucket size. */
  start: number
  attempts: number
  /** Attempts answered with a 2xx status. */
  succeeded: number
  /** Mean and largest latency of the bucket's attempts (ms). */
  meanLatencyMs: number
  maxLatencyMs: number
}

/** A finished attempt and its delivery's new state. */
export interface FinishedAttempt {
  attempt: AttemptRow
  next: NextState
}

export interface Store {
  /**
   * Stores events with their deliveries, and finished attempts with their deliveries' new states, in
   * one transaction (one commit): if any part fails, nothing of the call is stored and it throws.
   * A duplicate event (see NewEvents.dedupSince) stores nothing. Returns, per event, its deliveries
   * as stored, or null for a duplicate. A new delivery is pending, 0 attempts, due, created and
   * updated at `now`, without status code or error. An attempt sets its delivery's status,
   * attempts (the attempt's n), next attempt, last status code (the attempt's, null without a
   * response), last error (next.lastError, else the attempt's error, else null) and updated time
   * (next.now); it must name a stored delivery. A gone mark with a spec hash marks its webhook
   * gone (replacing an earlier mark); one with null forgets it.
   */
  write(events: NewEvents, attempts: readonly FinishedAttempt[], gone?: readonly GoneMark[]): Awaitable<Array<NewDelivery[] | null>>

  /**
   * The webhooks marked gone (410) by write's `gone` marks, with their spec hashes: kept across
   * restarts, so a gone endpoint gets nothing more until its Webhook changes.
   */
  goneWebhooks(): Awaitable<Map<string, string>>

  /**
   * Pending deliveries due at `now` (next attempt at or before it), by next attempt then in the
   * order they were stored; at most `limit` rows are read. `skip` is asked about each row read, in
   * that order, and leaves out those it returns true for (they still count toward `limit`).
   */
  due(now: number, limit: number, skip?: (id: string) => boolean): Awaitable<DeliveryRow[]>

  /** How many deliveries are pending. */
  pendingCount(): Awaitable<number>

  /** How many deliveries are pending per webhook (webhooks with none are absent). */
  pendingByWebhook(): Awaitable<Map<string, number>>

  /** When the oldest pending delivery was created; undefined when none is pending. */
  oldestPendingCreatedAt(): Awaitable<number | undefined>

  /** The body of the event stored with this seq (DeliveryRow.eventSeq); undefined when there is none. */
  eventBody(seq: number): Awaitable<string | undefined>

  /** One delivery; undefined when unknown. */
  get(id: string): Awaitable<DeliveryRow | undefined>

  /**
   * Moves a pending delivery's next attempt without counting an attempt (circuit open, secret
   * missing, suspended) and sets its updated time; `reason`, when given, becomes its last error
   * (else that stays). A delivery that is not pending (or unknown) is left as it is.
   */
  reschedule(id: string, nextAttemptAt: number, now: number, reason?: string): Awaitable<void>

  /** Cancels an automation's pending deliveries (last error `reason`, updated at `now`); returns how many. */
  cancelAutomation(automation: string, reason: string, now: number): Awaitable<number>

  /** The automations that have pending deliveries, each once, in no particular order. */
  automationsWithPending(): Awaitable<string[]>

  /**
   * Puts a finished delivery back in the queue with the same id: pending, due and updated at `now`;
   * its attempts, last status code and last error stay. False (nothing changed) when it is pending or unknown.
   */
  redeliver(id: string, now: number): Awaitable<boolean>

  /** A delivery's attempts as they were recorded (masked headers and body), by n; empty when none or unknown. */
  attempts(id: string): Awaitable<AttemptRow[]>

  /** Deliveries matching every field of the filter, newest first (by created time, then the last stored first); `offset` skips, at most `limit` (default 100). */
  list(filter?: DeliveryFilter): Awaitable<DeliveryRow[]>

  /** Attempts started at or after `since`, per webhook and bucket of `bucketMs`, by webhook then bucket. */
  attemptBuckets(since: number, bucketMs: number): Awaitable<AttemptBucket[]>

  /** Per automation with deliveries, how many are in each status (0 for a status with none). */
  countsByAutomation(): Awaitable<Map<string, Record<DeliveryStatus, number>>>

  /**
   * Deletes finished (not pending) deliveries last updated before `before`, with their attempts, and
   * then events received before `eventsBefore` that no delivery refers to; returns how many of each.
   */
  prune(before: number, eventsBefore: number): Awaitable<{ deliveries: number; events: number }>

  /**
   * Checks that the store can be written again after a write failed for want of space or an I/O
   * error: writes as much as a large transaction needs, somewhere that changes nothing of the
   * store's contents, and throws (as the failed write did) while it cannot.
   */
  probeWrite(): Awaitable<void>

  /**
   * Optional, for stores shared by several processes: calls `wake` when another process stored
   * deliveries that are due, so this one looks for work at once rather than at its next poll.
   */
  watch?(wake: () => void): void

  /** Closes the store; resolves once nothing of it runs any more. Everything written stays stored. */
  close(): Promise<void>
}
