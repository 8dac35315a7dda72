// The engine's intake and its group commit: events are matched with the automations and stored with
// their deliveries before anyone is told "accepted". Everything the engine stores in one turn of the
// event loop (the intake's concurrent events and the attempts that finished) goes in one transaction.
// Also holds what the engine knows of the queue without asking the store: how many deliveries are
// pending, and the parsed event of each delivery it accepted.
import { randomUUID } from 'node:crypto'
import type { ArtifactEvent } from '../api/types.generated.js'
import type { HookwiseEvent } from '../model/hookwise-event.js'
import { AutomationIndex } from '../match/automation-index.js'
import type { AttemptRow, DeliveryRow } from '../model/delivery.js'
import { QueueFullError, StoreUnavailableError } from '../errors.js'
import type { CompiledAutomation, DesiredState } from '../model/desired-state.js'
import { deliveryId } from './delivery-id.js'
import type { EngineSettings } from './engine-options.js'
import type { AcceptedEvent } from './outcomes.js'
import type { StatusTracker } from './status-tracker.js'
import type { StoreHealth } from './store-health.js'
import { isPromise, NOOP_WEBHOOK, type GoneMark, type NewDelivery, type NextState } from './store.js'

/** Where deliveries just stored go, to start without reading the outbox again (the outbox scheduler). */
export interface DueQueue {
  cacheNew(row: DeliveryRow): void
  wake(): void
}

interface MatchedEvent {
  eventId: string
  event: HookwiseEvent
  body: string
  deliveries: NewDelivery[]
}

/** Bounds of the in-memory copy of accepted events (see `events`): entries, and bytes of their JSON. */
const EVENT_CACHE_ENTRIES = 50_000
const EVENT_CACHE_BYTES = 64 * 1024 * 1024

export class Intake {
  /** Set by the engine once its outbox scheduler exists (the scheduler's attempts record through the intake). */
  due!: DueQueue
  private index = new AutomationIndex([])
  private pending: number
  /** Pending deliveries per webhook, for the per-webhook bound (see flush). */
  private pendingPerWebhook: Map<string, number>
  /** Gone marks waiting to be stored with the next write (see markGone). */
  private toMark: GoneMark[] = []
  /** Intake calls waiting to be stored together (see acceptGrouped). */
  private toAccept: Array<{
    events: readonly HookwiseEvent[]
    /** Run events come matched already (run-intake.ts): the automations each one fires. */
    targets?: ReadonlyArray<readonly CompiledAutomation[]>
    resolve: (accepted: AcceptedEvent[]) => void
    reject: (err: unknown) => void
  }> = []
  /**
   * The parsed event of each pending delivery accepted by this process, so an attempt need not
   * read and parse it from the store. Bounded; a delivery missing here (accepted before a restart,
   * redelivered, or over the bound) reads its event from the store. Entries go when the delivery
   * finishes; the whole map is dropped when deliveries are cancelled in bulk.
   */
  private readonly events = new Map<string, { event: HookwiseEvent; bytes: number }>()
  private eventBytes = 0
  /** Finished attempts waiting to be recorded together (see record). */
  private toRecord: Array<{ attempt: AttemptRow; next: NextState; resolve: () => void; reject: (err: unknown) => void }> = []
  /** A flush of toAccept and toRecord is scheduled for this turn's check phase. */
  private flushing = false

  constructor(
    private readonly o: EngineSettings,
    private readonly facts: StatusTracker,
    private readonly health: StoreHealth,
  ) {
    this.pending = 0
    this.pendingPerWebhook = new Map()
  }

  /** The queue's counts as the store has them (the engine reads them before it starts; see DeliveryEngine.opened). */
  loaded(pending: number, perWebhook: Map<string, number>): void {
    this.pending += pending
    for (const [webhook, n] of perWebhook) this.pendingPerWebhook.set(webhook, (this.pendingPerWebhook.get(webhook) ?? 0) + n)
  }

  /** Reads the pending deliveries per webhook from the store again (after changes the intake does not see). */
  recount(): void {
    const counts = this.o.store.pendingByWebhook()
    if (!isPromise(counts)) this.pendingPerWebhook = counts
    else counts.then((c) => (this.pendingPerWebhook = c)).catch((err) => this.o.onError?.(err))
  }

  /**
   * Keeps a webhook's 410 hold (or its end) in the store, in the next write: with the attempt that
   * got the 410 when it is recorded in the same turn of the event loop.
   */
  markGone(webhook: string, specHash: string | null): void {
    this.toMark.push({ webhook, specHash })
    this.scheduleFlush()
  }

  /** New events are matched with this state's automations (the index changes only where they changed). */
  setState(state: DesiredState): void {
    this.index.update(state.automations, state.namespaceEntities)
  }

  get pendingCount(): number {
    return this.pending
  }

  /**
   * Matches and durably records events. The events of every call made in the same turn of the event
   * loop are stored in one transaction (group commit: the intake's concurrent requests share one
   * commit). Resolves once this call's events and deliveries are stored; rejects with
   * QueueFullError, storing nothing of this call, when they would take the queue over its bound.
   */
  acceptGrouped(events: readonly HookwiseEvent[], targets?: ReadonlyArray<readonly CompiledAutomation[]>): Promise<AcceptedEvent[]> {
    return new Promise((resolve, reject) => {
      this.toAccept.push({ events, ...(targets ? { targets } : {}), resolve, reject })
      this.scheduleFlush()
    })
  }

  /**
   * Records an attempt; attempts finishing in the same turn of the event loop share one
   * transaction with each other and with the intake's events (see flush). Resolves once committed:
   * until then the delivery stays in flight, so it is never started again, and a crash leaves it
   * pending (sent again later with the same webhook-id, as after any crash mid-attempt).
   */
  record(attempt: AttemptRow, next: NextState): Promise<void> {
    return new Promise((resolve, reject) => {
      this.toRecord.push({ attempt, next, resolve, reject })
      this.scheduleFlush()
    })
  }

  /** The event of a delivery this process accepted, while it is cached. */
  event(deliveryId: string): HookwiseEvent | undefined {
    return this.events.get(deliveryId)?.event
  }

  /** A delivery of `webhook` finished (succeeded or failed for good). */
  finished(deliveryId: string, webhook: string): void {
    this.pending--
    const n = this.pendingPerWebhook.get(webhook) ?? 0
    if (n > 1) this.pendingPerWebhook.set(webhook, n - 1)
    else this.pendingPerWebhook.delete(webhook)
    const e = this.events.get(deliveryId)
    if (!e) return
    this.events.delete(deliveryId)
    this.eventBytes -= e.bytes
  }

  /** Deliveries were cancelled in bulk (`count` of them). */
  cancelled(count: number): void {
    this.pending -= count
    this.recount()
    this.events.clear()
    this.eventBytes = 0
  }

  private scheduleFlush(): void {
    if (this.flushing) return
    this.flushing = true
    setImmediate(() => this.flush())
  }

  /**
   * Stores the events of the intake calls and the finished attempts gathered in this turn of the
   * event loop in one transaction: one commit for all, however busy both sides are.
   */
  private flush(): void {
    this.flushing = false
    let calls = this.toAccept
    const records = this.toRecord
    const marks = this.toMark
    this.toAccept = []
    this.toRecord = []
    this.toMark = []
    if (!this.health.writable) {
      // Refused without trying: a small write may still fit where the disk has no room for more.
      // Attempts already made are still recorded if they can be, so they are not sent again.
      for (const call of calls) call.reject(new StoreUnavailableError(this.health.problem!))
      calls = []
    }
    const now = this.o.now()
    const taken: Array<{ call: (typeof calls)[number]; from: number; to: number }> = []
    const items: MatchedEvent[] = []
    let adding = 0
    const addingPerWebhook = new Map<string, number>()
    for (const call of calls) {
      let mine: MatchedEvent[]
      try {
        mine = this.matchEvents(call.events, now, call.targets)
      } catch (err) {
        call.reject(err)
        continue
      }
      const n = mine.reduce((k, i) => k + i.deliveries.length, 0)
      if (n > 0 && this.pending + adding + n > this.o.maxPending) {
        call.reject(new QueueFullError(this.pending + adding, this.o.maxPending))
        continue
      }
      const full = this.overWebhookBound(mine, addingPerWebhook)
      if (full) {
        call.reject(full)
        continue
      }
      adding += n
      for (const item of mine) for (const d of item.deliveries) addingPerWebhook.set(d.webhook, (addingPerWebhook.get(d.webhook) ?? 0) + 1)
      taken.push({ call, from: items.length, to: items.length + mine.length })
      items.push(...mine)
    }
    if (taken.length === 0 && records.length === 0 && marks.length === 0) return
    const seqs: number[] = []
    const failed = (err: unknown): void => {
      // Out of space or failing: refused with 503 + Retry-After; the attempts stay pending.
      const why = this.health.failed(err) ? new StoreUnavailableError(this.health.problem!) : err
      for (const t of taken) t.call.reject(why)
      for (const r of records) r.reject(why)
    }
    const done = (stored: Array<NewDelivery[] | null>): void => {
      for (const r of records) r.resolve()
      if (taken.length === 0) return
      const accepted = this.stored(items, stored, seqs, now)
      for (const t of taken) t.call.resolve(accepted.slice(t.from, t.to))
    }
    // The pending counts move when the write is stored: while a write to a database server is on
    // its way, the next turn's group is bounded by the counts without it (slightly over at most).
    let result: ReturnType<typeof this.o.store.write>
    try {
      result = this.o.store.write({ items, now, dedupSince: now - this.o.dedupWindowMs, seqs }, records, marks)
    } catch (err) {
      failed(err)
      return
    }
    if (isPromise(result)) result.then(done, failed).catch((err) => this.o.onError?.(err))
    else done(result)
  }

  /**
   * The per-webhook bound: a call whose events would take any webhook over maxPendingPerWebhook
   * pending deliveries is refused whole (an event is stored with all its deliveries or not at all),
   * so a dead webhook's backlog refuses only the events that match its automations.
   */
  private overWebhookBound(mine: readonly MatchedEvent[], adding: ReadonlyMap<string, number>): QueueFullError | undefined {
    const max = this.o.maxPendingPerWebhook
    const counts = new Map<string, number>()
    for (const item of mine) for (const d of item.deliveries) if (!d.noop) counts.set(d.webhook, (counts.get(d.webhook) ?? 0) + 1)
    for (const [webhook, n] of counts) {
      const pending = (this.pendingPerWebhook.get(webhook) ?? 0) + (adding.get(webhook) ?? 0)
      if (pending + n > max) return new QueueFullError(pending, max, webhook)
    }
    return undefined
  }

  private matchEvents(
    events: readonly HookwiseEvent[],
    now: number,
    targets?: ReadonlyArray<readonly CompiledAutomation[]>,
  ): MatchedEvent[] {
    return events.map((e, i) => {
      const event: HookwiseEvent = { ...e, id: e.id ?? `evt_${randomUUID()}`, time: e.time ?? new Date(now).toISOString() }
      const deliveries = (targets?.[i] ?? this.index.match(event as ArtifactEvent)).map(
        (a): NewDelivery =>
          a.spec.action.webhook === undefined
            ? { id: deliveryId(now), automation: a.key, webhook: NOOP_WEBHOOK, noop: true }
            : { id: deliveryId(now), automation: a.key, webhook: `${a.namespace}/${a.spec.action.webhook}` },
      )
      return { eventId: event.id!, event, body: JSON.stringify(event), deliveries }
    })
  }

  private rememberEvent(deliveryId: string, event: HookwiseEvent, bytes: number): void {
    if (this.events.size >= EVENT_CACHE_ENTRIES || this.eventBytes + bytes > EVENT_CACHE_BYTES) return
    this.events.set(deliveryId, { event, bytes })
    this.eventBytes += bytes
  }

  /** Counts, caches and announces events just stored, and hands their deliveries to the scheduler. */
  private stored(items: MatchedEvent[], stored: Array<NewDelivery[] | null>, seqs: readonly number[], now: number): AcceptedEvent[] {
    const accepted = items.map((item, i) => {
      const deliveries = stored[i]
      if (deliveries) for (const d of deliveries) this.rememberEvent(d.id, item.event, item.body.length)
      return { id: item.eventId, duplicate: deliveries === null, deliveries: deliveries ?? [] }
    })
    // A noop delivery is stored already succeeded: nothing pending, nothing to send.
    const added = accepted.reduce((n, a) => n + a.deliveries.filter((d) => !d.noop).length, 0)
    this.pending += added
    for (const a of accepted)
      for (const d of a.deliveries) if (!d.noop) this.pendingPerWebhook.set(d.webhook, (this.pendingPerWebhook.get(d.webhook) ?? 0) + 1)
    this.facts.accepted(accepted, now)
    this.o.onAccepted?.(accepted)
    if (added > 0) {
      accepted.forEach((a, i) => {
        for (const d of a.deliveries)
          if (!d.noop)
            this.due.cacheNew({
              id: d.id,
              eventSeq: seqs[i]!,
              eventId: a.id,
              automation: d.automation,
              webhook: d.webhook,
              status: 'pending',
              attempts: 0,
              nextAttemptAt: now,
              createdAt: now,
              updatedAt: now,
              lastStatusCode: null,
              lastError: null,
            })
      })
      this.due.wake()
    }
    return accepted
  }
}
