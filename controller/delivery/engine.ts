// The delivery engine: accepts events (matched and persisted before anyone is told "accepted"),
// and works the outbox: due deliveries are rendered with the current secrets, sent, judged by the
// retry policy and recorded, attempt by attempt. Time, randomness, the sender, the retry policy
// and the circuit breaker are injected.
import { randomUUID } from 'node:crypto'
import type { ArtifactEvent, WebhookSpec } from '../api/types.generated.js'
import { HookwiseError, QueueFullError } from '../errors.js'
import { AutomationIndex } from '../match/automation-index.js'
import type { CompiledAutomation, DesiredState, WebhookEntry } from '../model/desired-state.js'
import { mapLookup, resolveWebhookSecrets, type SecretLookup } from '../model/secrets.js'
import { buildRequest, maskedHeaders } from './request.js'
import { deliveryId } from './delivery-id.js'
import { StatusTracker } from './status-tracker.js'
import type { Sender, SendResult } from './send-result.js'
import { endpointOk, originOf } from './circuit-breaker.js'
import type { Decision } from './retry-policy.js'
import type { AttemptRow, DeliveryRow, DeliveryStatus } from '../model/delivery.js'
import type { NewDelivery, NextState, Store } from './store.js'

/** What to do after an attempt (the retry policy's decision). */
export type Verdict = Decision

export interface RetryDecider {
  /** `attempt` is the number of the attempt just made (1-based). */
  decide(attempt: number, result: SendResult, retry: WebhookSpec['retry'], now: number): Verdict
}

export interface Breaker {
  /** Undefined when a request may go to `origin` now; otherwise when to try again. */
  blockedUntil(origin: string, now: number): number | undefined
  record(origin: string, ok: boolean, now: number): void
}

/** What an attempt did, for status, metrics and logs. */
export interface AttemptReport {
  delivery: DeliveryRow
  /** The spec of the webhook the attempt went to. */
  webhookSpec: WebhookSpec
  attempt: number
  result: SendResult
  status: DeliveryStatus
  verdict: Verdict['kind']
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
  /** Attempts in flight per webhook. Default 8. */
  perWebhookConcurrency?: number
  /** Attempts in flight in all. Default 128. */
  concurrency?: number
  /** How often the outbox is polled for due work when nothing wakes it. Default 200 ms. */
  pollIntervalMs?: number
  onAccepted?: (events: AcceptedEvent[]) => void
  onAttempt?: (report: AttemptReport) => void
  onError?: (err: unknown) => void
}

export interface AcceptedEvent {
  id: string
  duplicate: boolean
  deliveries: Array<{ id: string; automation: string; webhook: string }>
}

const WAIT_FOR_WEBHOOK_MS = 30_000
/** Bounds of the in-memory copy of accepted events (see `events`): entries, and bytes of their JSON. */
const EVENT_CACHE_ENTRIES = 50_000
const EVENT_CACHE_BYTES = 64 * 1024 * 1024

export class DeliveryEngine {
  private readonly o: Required<Omit<EngineOptions, 'onAccepted' | 'onAttempt' | 'onError' | 'facts'>> & Pick<EngineOptions, 'onAccepted' | 'onAttempt' | 'onError'>
  readonly facts: StatusTracker
  private state: DesiredState | undefined
  private index = new AutomationIndex([])
  private automations = new Map<string, CompiledAutomation>()
  private secrets: SecretLookup = () => undefined
  private readonly inFlight = new Set<string>()
  private readonly inFlightPerWebhook = new Map<string, number>()
  private readonly running = new Set<Promise<void>>()
  private pending: number
  private timer: NodeJS.Timeout | undefined
  private immediate: NodeJS.Immediate | undefined
  private ticking = false
  private again = false
  private stopped = true
  /** Due rows read from the outbox and not started yet, per webhook, oldest last (see dispatchDue). */
  private cached = new Map<string, DeliveryRow[]>()
  private cachedCount = 0
  /** When the outbox was last read; 0 forces a read (an outside change, a new state). */
  private readAt = 0
  /** How often the timer reads the outbox again: pollIntervalMs, up to 10 times that under a backlog when reads are slow (see read). */
  private readEvery: number
  /** The last read filled its limit: more due rows may wait behind the cached ones. */
  private more = false
  /** Webhooks that got new deliveries since the last read. */
  private readonly fresh = new Set<string>()
  /** Intake calls waiting to be stored together (see acceptGrouped). */
  private toAccept: Array<{ events: readonly ArtifactEvent[]; resolve: (accepted: AcceptedEvent[]) => void; reject: (err: unknown) => void }> = []
  /**
   * The parsed event of each pending delivery accepted by this process, so an attempt need not
   * read and parse it from the store. Bounded; a delivery missing here (accepted before a restart,
   * redelivered, or over the bound) reads its event from the store. Entries go when the delivery
   * finishes; the whole map is dropped when deliveries are cancelled in bulk.
   */
  private readonly events = new Map<string, { event: ArtifactEvent; bytes: number }>()
  private eventBytes = 0
  /** Finished attempts waiting to be recorded together (see record). */
  private toRecord: Array<{ attempt: AttemptRow; next: NextState; resolve: () => void; reject: (err: unknown) => void }> = []
  /** A flush of toAccept and toRecord is scheduled for this turn's check phase. */
  private flushing = false

  constructor(options: EngineOptions) {
    this.o = {
      now: Date.now,
      dedupWindowMs: 24 * 3600_000,
      maxPending: 100_000,
      perWebhookConcurrency: 8,
      concurrency: 128,
      pollIntervalMs: 200,
      ...options,
    }
    this.facts = options.facts ?? new StatusTracker()
    this.pending = this.o.store.pendingCount()
    this.readEvery = this.o.pollIntervalMs
  }

  /** Applies a new desired state: new matches use it at once; pending deliveries of removed automations are cancelled. */
  setState(state: DesiredState): { cancelled: number } {
    this.state = state
    this.index = new AutomationIndex(state.automations, state.namespaceEntities)
    this.automations = new Map(state.automations.map((a) => [a.key, a]))
    this.secrets = mapLookup(state.secrets)
    this.facts.applyState(state)
    let cancelled = 0
    const now = this.o.now()
    for (const key of this.o.store.automationsWithPending()) {
      if (!this.automations.has(key)) cancelled += this.o.store.cancelAutomation(key, 'automation removed', now)
    }
    this.pending -= cancelled
    if (cancelled > 0) this.forgetAllEvents()
    this.kick()
    return { cancelled }
  }

  /** Replaces where Secret values come from (Kubernetes mode reads them from the cluster). */
  setSecretLookup(lookup: SecretLookup): void {
    this.secrets = lookup
  }

  get pendingCount(): number {
    return this.pending
  }

  get ready(): boolean {
    return this.state !== undefined
  }

  /**
   * Matches and durably records events; returns once they and their deliveries are stored.
   * Throws QueueFullError when the queue is over its bound (nothing is stored then).
   */
  accept(events: readonly ArtifactEvent[]): AcceptedEvent[] {
    const now = this.o.now()
    const items = this.matchEvents(events, now)
    const adding = items.reduce((n, i) => n + i.deliveries.length, 0)
    if (adding > 0 && this.pending + adding > this.o.maxPending) throw new QueueFullError(this.pending, this.o.maxPending)
    return this.persist(items, now)
  }

  /**
   * Like accept, but the events of every call made in the same turn of the event loop are stored
   * in one transaction (group commit: the intake's concurrent requests share one commit). Resolves
   * once this call's events and deliveries are stored; rejects with QueueFullError, storing
   * nothing of this call, when they would take the queue over its bound.
   */
  acceptGrouped(events: readonly ArtifactEvent[]): Promise<AcceptedEvent[]> {
    return new Promise((resolve, reject) => {
      this.toAccept.push({ events, resolve, reject })
      this.scheduleFlush()
    })
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
    const calls = this.toAccept
    const records = this.toRecord
    this.toAccept = []
    this.toRecord = []
    const now = this.o.now()
    const taken: Array<{ call: (typeof calls)[number]; from: number; to: number }> = []
    const items: ReturnType<DeliveryEngine['matchEvents']> = []
    let adding = 0
    for (const call of calls) {
      let mine
      try {
        mine = this.matchEvents(call.events, now)
      } catch (err) {
        call.reject(err)
        continue
      }
      const n = mine.reduce((k, i) => k + i.deliveries.length, 0)
      if (n > 0 && this.pending + adding + n > this.o.maxPending) {
        call.reject(new QueueFullError(this.pending + adding, this.o.maxPending))
        continue
      }
      adding += n
      taken.push({ call, from: items.length, to: items.length + mine.length })
      items.push(...mine)
    }
    if (taken.length === 0 && records.length === 0) return
    const seqs: number[] = []
    let stored: Array<NewDelivery[] | null>
    try {
      stored = this.o.store.write({ items, now, dedupSince: now - this.o.dedupWindowMs, seqs }, records)
    } catch (err) {
      for (const t of taken) t.call.reject(err)
      for (const r of records) r.reject(err)
      return
    }
    for (const r of records) r.resolve()
    if (taken.length === 0) return
    const accepted = this.stored(items, stored, seqs, now)
    for (const t of taken) t.call.resolve(accepted.slice(t.from, t.to))
  }

  private matchEvents(events: readonly ArtifactEvent[], now: number): Array<{ eventId: string; event: ArtifactEvent; body: string; deliveries: Array<{ id: string; automation: string; webhook: string }> }> {
    return events.map((e) => {
      const event: ArtifactEvent = { ...e, id: e.id ?? `evt_${randomUUID()}`, time: e.time ?? new Date(now).toISOString() }
      const deliveries = this.index.match(event).map((a) => ({ id: deliveryId(now), automation: a.key, webhook: `${a.namespace}/${a.spec.action.webhook}` }))
      return { eventId: event.id!, event, body: JSON.stringify(event), deliveries }
    })
  }

  private rememberEvent(deliveryId: string, event: ArtifactEvent, bytes: number): void {
    if (this.events.size >= EVENT_CACHE_ENTRIES || this.eventBytes + bytes > EVENT_CACHE_BYTES) return
    this.events.set(deliveryId, { event, bytes })
    this.eventBytes += bytes
  }

  private forgetEvent(deliveryId: string): void {
    const e = this.events.get(deliveryId)
    if (!e) return
    this.events.delete(deliveryId)
    this.eventBytes -= e.bytes
  }

  private forgetAllEvents(): void {
    this.events.clear()
    this.eventBytes = 0
  }

  private persist(items: ReturnType<DeliveryEngine['matchEvents']>, now: number): AcceptedEvent[] {
    const seqs: number[] = []
    return this.stored(items, this.o.store.enqueue(items, now, now - this.o.dedupWindowMs, seqs), seqs, now)
  }

  /** Counts, caches and announces events just stored. */
  private stored(items: ReturnType<DeliveryEngine['matchEvents']>, stored: Array<NewDelivery[] | null>, seqs: readonly number[], now: number): AcceptedEvent[] {
    const accepted = items.map((item, i) => {
      const deliveries = stored[i]
      if (deliveries) for (const d of deliveries) this.rememberEvent(d.id, item.event, item.body.length)
      return { id: item.eventId, duplicate: deliveries === null, deliveries: deliveries ?? [] }
    })
    const added = accepted.reduce((n, a) => n + a.deliveries.length, 0)
    this.pending += added
    this.facts.accepted(accepted, now)
    this.o.onAccepted?.(accepted)
    if (added > 0) {
      accepted.forEach((a, i) => {
        for (const d of a.deliveries) this.cacheNew({ id: d.id, eventSeq: seqs[i]!, eventId: a.id, automation: d.automation, webhook: d.webhook, status: 'pending', attempts: 0, nextAttemptAt: now, createdAt: now, updatedAt: now, lastStatusCode: null, lastError: null })
      })
      this.wake()
    }
    return accepted
  }

  /**
   * Adds a delivery just stored (due now) to the cached due rows, so it can start without reading
   * the outbox again. Only while the cache holds every due row (the last read did not fill its
   * limit) and is under that limit: new rows are then the newest, so the order stays oldest first.
   * Otherwise the row waits in the outbox for the next read, as before.
   */
  private cacheNew(row: DeliveryRow): void {
    if (this.readAt === 0) return // a read is due anyway
    if (this.more || this.cachedCount >= this.o.concurrency * 4) {
      this.more = true
      this.fresh.add(row.webhook)
      return
    }
    const list = this.cached.get(row.webhook)
    if (list) list.unshift(row)
    else this.cached.set(row.webhook, [row])
    this.cachedCount++
  }

  start(): void {
    this.stopped = false
    this.kick()
  }

  /** Stops taking new work and waits for attempts in flight (up to `graceMs`); unfinished ones stay pending. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (this.immediate) clearImmediate(this.immediate)
    this.immediate = undefined
    let timeout: NodeJS.Timeout | undefined
    await Promise.race([Promise.allSettled([...this.running]), new Promise((r) => { timeout = setTimeout(r, graceMs) })])
    clearTimeout(timeout)
  }

  /** Looks for due work now, reading the outbox again (call after changing it from outside the engine). */
  kick(): void {
    this.readAt = 0
    this.wake()
  }

  private wake(): void {
    if (this.stopped) return
    if (this.ticking) {
      this.again = true
      return
    }
    // setImmediate, not setTimeout(0): a timer waits at least 1 ms, and a slot freed by a
    // finished attempt should be refilled in the next turn of the event loop.
    if (this.immediate) return
    this.immediate = setImmediate(() => {
      this.immediate = undefined
      this.tick()
    })
  }

  private tick(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (this.stopped || !this.state) return
    this.ticking = true
    try {
      do {
        this.again = false
        this.dispatchDue()
      } while (this.again && !this.stopped)
    } catch (err) {
      this.o.onError?.(err)
    } finally {
      this.ticking = false
    }
    if (!this.stopped) this.timer = setTimeout(() => this.tick(), this.o.pollIntervalMs)
  }

  // Reading the outbox costs time per row, so rows read once are kept and started as slots free
  // up. The outbox is read again when it may hold due work the cache lacks: after pollIntervalMs
  // (retries coming due; up to 10 times that under a backlog, see read), after an outside change
  // (kick, a new state), when the cache ran dry after a read that filled its limit, or when a
  // webhook with a free slot got new deliveries.
  private dispatchDue(): void {
    if (this.inFlight.size >= this.o.concurrency || !this.ready) return
    const now = this.o.now()
    if (this.readAt === 0 || now - this.readAt >= this.readEvery || now < this.readAt) this.read(now)
    this.startCached(now)
    if (this.inFlight.size < this.o.concurrency && this.mayMissWork()) {
      this.read(now)
      this.startCached(now)
    }
  }

  private mayMissWork(): boolean {
    if (this.cachedCount === 0 && this.more) return true
    for (const w of this.fresh) if ((this.inFlightPerWebhook.get(w) ?? 0) < this.o.perWebhookConcurrency) return true
    return false
  }

  private read(now: number): void {
    // Read more than we can start: rows of a saturated webhook must not hide others.
    const limit = this.o.concurrency * 4 + this.inFlight.size
    const started = performance.now()
    // Rows in flight are left out (not built); they still count toward whether the read was full.
    let inFlight = 0
    const rows = this.o.store.due(now, limit, (id) => {
      if (!this.inFlight.has(id)) return false
      inFlight++
      return true
    })
    this.cached = new Map()
    this.cachedCount = 0
    for (let i = rows.length - 1; i >= 0; i--) {
      const row = rows[i]!
      const list = this.cached.get(row.webhook)
      if (list) list.push(row)
      else this.cached.set(row.webhook, [row])
      this.cachedCount++
    }
    this.more = rows.length + inFlight === limit
    // Under a backlog (the read filled its window) a read returns thousands of rows and takes
    // milliseconds: read again on the timer at most 2 % of the time, and at least every 10 poll
    // intervals. Retries coming due and outside changes (a redelivery from the CLI) then wait up to
    // that long (2 s with the default 200 ms); kick() and a cache run dry still read at once.
    const tookMs = performance.now() - started
    this.readEvery = this.more ? Math.min(this.o.pollIntervalMs * 10, Math.max(this.o.pollIntervalMs, tookMs * 50)) : this.o.pollIntervalMs
    this.readAt = Math.max(now, 1)
    this.fresh.clear()
  }

  private startCached(now: number): void {
    for (const [webhook, rows] of this.cached) {
      let busy = this.inFlightPerWebhook.get(webhook) ?? 0
      while (rows.length > 0 && busy < this.o.perWebhookConcurrency) {
        if (this.inFlight.size >= this.o.concurrency) return
        const row = rows.pop()!
        this.cachedCount--
        if (!this.prepare(row, now)) continue
        this.launch(row)
        busy++
      }
      if (rows.length === 0) this.cached.delete(webhook)
    }
  }

  private launch(row: DeliveryRow): void {
    this.inFlight.add(row.id)
    this.inFlightPerWebhook.set(row.webhook, (this.inFlightPerWebhook.get(row.webhook) ?? 0) + 1)
    // The webhook's slot is freed as soon as its request is answered (release), so the next
    // request can go while this attempt is being recorded; the delivery itself stays in flight
    // (never started again) until its attempt is committed.
    let released = false
    const release = (): void => {
      if (released) return
      released = true
      this.inFlightPerWebhook.set(row.webhook, (this.inFlightPerWebhook.get(row.webhook) ?? 1) - 1)
      this.wake()
    }
    const p = this.attempt(row, release)
      .catch((err) => this.o.onError?.(err))
      .finally(() => {
        this.inFlight.delete(row.id)
        release()
        this.running.delete(p)
        this.wake()
      })
    this.running.add(p)
  }

  /** Checks what must hold before an attempt; reschedules (without counting an attempt) when it does not. */
  private prepare(row: DeliveryRow, now: number): boolean {
    const automation = this.automations.get(row.automation)
    if (!automation) {
      this.pending -= this.o.store.cancelAutomation(row.automation, 'automation removed', now)
      this.forgetAllEvents()
      return false
    }
    const webhook = this.state!.webhooks.get(row.webhook)
    const wait = (ms: number, reason: string): false => {
      this.o.store.reschedule(row.id, now + ms, now, reason)
      return false
    }
    if (!webhook || !webhook.valid) return wait(WAIT_FOR_WEBHOOK_MS, `webhook ${row.webhook} is not ready`)
    if (webhook.spec.suspend) return wait(WAIT_FOR_WEBHOOK_MS, `webhook ${row.webhook} is suspended`)
    if (this.facts.isGone(row.webhook)) return wait(WAIT_FOR_WEBHOOK_MS, `webhook ${row.webhook} answered 410 Gone; change the Webhook to resume`)
    const origin = originOf(webhook.spec.url)
    const blocked = this.o.breaker.blockedUntil(origin, now)
    if (blocked !== undefined) return wait(Math.max(blocked - now, 1), `circuit open for ${origin}`)
    return true
  }

  private async attempt(row: DeliveryRow, release: () => void): Promise<void> {
    const automation = this.automations.get(row.automation)!
    const webhook = this.state!.webhooks.get(row.webhook) as WebhookEntry
    const startedAt = this.o.now()
    let secrets: Record<string, string>
    try {
      secrets = resolveWebhookSecrets(webhook, this.secrets)
    } catch (err) {
      if (err instanceof HookwiseError) {
        this.o.store.reschedule(row.id, startedAt + WAIT_FOR_WEBHOOK_MS, startedAt, err.message)
        return
      }
      throw err
    }
    const event = this.events.get(row.id)?.event ?? (JSON.parse(this.o.store.eventBody(row.eventSeq)!) as ArtifactEvent)
    const body = automation.template.render({ event, secrets })
    const usesSecret = automation.template.placeholders.some((p) => Object.hasOwn(secrets, p.name))
    const maskedBody = usesSecret ? automation.template.render({ event, secrets: Object.fromEntries(Object.keys(secrets).map((k) => [k, '****'])) }) : body
    const request = buildRequest({ webhook: webhook.spec, secrets, body, deliveryId: row.id, timestamp: Math.floor(startedAt / 1000) })
    // The sender enforces the egress policy (URL and connected address) and reports EGRESS_DENIED.
    const result = await this.o.sender.send(request, { timeoutMs: (webhook.spec.timeoutSeconds ?? 15) * 1000 })
    release()
    const n = row.attempts + 1
    const now = this.o.now()
    const verdict = this.o.retry.decide(n, result, webhook.spec.retry, now)
    const healthy = endpointOk(result)
    if (healthy !== undefined) this.o.breaker.record(originOf(request.url), healthy, now)
    const status: DeliveryStatus = verdict.kind === 'success' ? 'succeeded' : verdict.kind === 'retry' ? 'pending' : 'failed'
    const report: AttemptReport = { delivery: { ...row, status, attempts: n }, webhookSpec: webhook.spec, attempt: n, result, status, verdict: verdict.kind }
    // Facts first: a 410 must hold the webhook's other deliveries while this attempt is recorded.
    this.facts.attempted(report, now)
    await this.record(
      {
        deliveryId: row.id,
        n,
        startedAt,
        latencyMs: Math.round(result.latencyMs),
        url: request.url,
        requestHeaders: maskedHeaders(request.headers),
        body: maskedBody,
        statusCode: result.statusCode ?? null,
        responseHead: result.bodyHead ?? null,
        error: result.error ? `${result.error.code}: ${result.error.message}` : null,
      },
      { status, nextAttemptAt: verdict.kind === 'retry' ? now + verdict.delayMs : now, now, ...(verdict.kind === 'fail' || verdict.kind === 'gone' ? { lastError: verdict.reason } : {}) },
    )
    if (status !== 'pending') {
      this.pending--
      this.forgetEvent(row.id)
    }
    this.o.onAttempt?.(report)
  }

  /**
   * Records an attempt; attempts finishing in the same turn of the event loop share one
   * transaction with each other and with the intake's events (see flush). Resolves once committed:
   * until then the delivery stays in flight, so it is never started again, and a crash leaves it
   * pending (sent again later with the same webhook-id, as after any crash mid-attempt).
   */
  private record(attempt: AttemptRow, next: NextState): Promise<void> {
    return new Promise((resolve, reject) => {
      this.toRecord.push({ attempt, next, resolve, reject })
      this.scheduleFlush()
    })
  }
}
