// The engine's outbox scheduler: reads due deliveries from the store, keeps them in a cache, and starts
// attempts as slots free up, within the limits in flight (per webhook, adaptive: concurrency-limit.ts;
// and in all). Woken at once when there may be work (an event stored, a slot freed, an outside
// change), and on a timer otherwise.
import type { DeliveryRow } from '../model/delivery.js'
import type { AttemptRunner } from './attempt.js'
import { ConcurrencyLimit } from './concurrency-limit.js'
import type { EngineSettings } from './engine-options.js'
import { StoreUnavailableError } from '../errors.js'
import type { SendResult } from './send-result.js'
import type { StoreHealth } from './store-health.js'
import { isPromise } from './store.js'

export class OutboxScheduler {
  private readonly inFlight = new Set<string>()
  private readonly inFlightPerWebhook = new Map<string, number>()
  /** Each webhook's adaptive in-flight limit, created at its first attempt. */
  private readonly limits = new Map<string, ConcurrencyLimit>()
  private readonly running = new Set<Promise<void>>()
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
  /** A read from a store that answers with promises is on its way (see read). */
  private reading = false
  private kickedDuringRead = false
  /** Deliveries that finished while that read was on its way: its rows may show them still pending. */
  private readonly finishedDuringRead = new Set<string>()

  constructor(
    private readonly o: EngineSettings,
    private readonly attempts: AttemptRunner,
    private readonly health: StoreHealth,
  ) {
    this.readEvery = o.pollIntervalMs
  }

  /**
   * Adds a delivery just stored (due now) to the cached due rows, so it can start without reading
   * the outbox again. Only while the cache holds every due row (the last read did not fill its
   * limit) and is under that limit: new rows are then the newest, so the order stays oldest first.
   * Otherwise the row waits in the outbox for the next read, as before.
   */
  cacheNew(row: DeliveryRow): void {
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
  async stop(graceMs: number): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (this.immediate) clearImmediate(this.immediate)
    this.immediate = undefined
    let timeout: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.allSettled([...this.running]),
      new Promise((r) => {
        timeout = setTimeout(r, graceMs)
      }),
    ])
    clearTimeout(timeout)
  }

  /** Looks for due work now, reading the outbox again (after a change made outside the engine). */
  kick(): void {
    this.readAt = 0
    if (this.reading) this.kickedDuringRead = true
    this.wake()
  }

  wake(): void {
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
    if (this.stopped || !this.attempts.ready) return
    this.ticking = true
    try {
      do {
        this.again = false
        this.dispatchDue()
      } while (this.again && !this.stopped)
    } catch (err) {
      if (!this.health.failed(err)) this.o.onError?.(err)
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
    // While the store cannot be written nothing is sent: an attempt that cannot be recorded would
    // be due again at once. The deliveries wait in the outbox, read again once it can (kick).
    if (this.inFlight.size >= this.o.concurrency || !this.attempts.ready || !this.health.writable) return
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
    const now = this.o.now()
    for (const w of this.fresh) if ((this.inFlightPerWebhook.get(w) ?? 0) < this.limitOf(w).current(now)) return true
    return false
  }

  /** The webhook's adaptive limit, capped by its spec.maxConcurrency or else the engine's perWebhookConcurrency. */
  private limitOf(webhook: string): ConcurrencyLimit {
    const max = this.attempts.maxConcurrency(webhook) ?? this.o.perWebhookConcurrency
    let limit = this.limits.get(webhook)
    if (!limit) {
      limit = new ConcurrencyLimit(max)
      this.limits.set(webhook, limit)
    } else limit.setMax(max)
    return limit
  }

  /** Each webhook's current in-flight limit (for metrics and tests). */
  limitsNow(): Map<string, number> {
    const now = this.o.now()
    return new Map([...this.limits].map(([webhook, limit]) => [webhook, limit.current(now)]))
  }

  private read(now: number): void {
    if (this.reading) return
    // Read more than we can start: rows of a saturated webhook must not hide others.
    const limit = this.o.concurrency * 4 + this.inFlight.size
    const started = performance.now()
    // Rows in flight are left out (not built); they still count toward whether the read was full.
    const left = { out: 0 }
    const rows = this.o.store.due(now, limit, (id) => {
      if (!this.inFlight.has(id) && !this.finishedDuringRead.has(id)) return false
      left.out++
      return true
    })
    if (!isPromise(rows)) {
      this.fill(rows, left.out, limit, now, started)
      return
    }
    // A database server answers later: the cache is filled then, and the scheduler woken.
    this.reading = true
    rows
      .then(
        (read) => this.fill(read, left.out, limit, now, started),
        (err) => {
          if (!this.health.failed(err)) this.o.onError?.(err)
        },
      )
      .finally(() => {
        this.reading = false
        this.finishedDuringRead.clear()
        // A kick while the read was on its way: the outbox changed after the read began.
        if (this.kickedDuringRead) this.readAt = 0
        this.kickedDuringRead = false
        this.wake()
      })
  }

  private fill(rows: DeliveryRow[], inFlight: number, limit: number, now: number, started: number): void {
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
      const limit = this.limitOf(webhook).current(now)
      while (rows.length > 0 && busy < limit) {
        if (this.inFlight.size >= this.o.concurrency) return
        const row = rows.pop()!
        this.cachedCount--
        const ready = this.attempts.prepare(row, now)
        if (ready === true) {
          this.launch(row)
          busy++
        } else if (ready !== false) this.hold(row.id, ready)
      }
      if (rows.length === 0) this.cached.delete(webhook)
    }
  }

  /** Keeps a delivery from being started again while its reschedule (or cancellation) is being stored. */
  private hold(id: string, written: Promise<void>): void {
    this.inFlight.add(id)
    const p = written
      .catch((err) => {
        if (!this.health.failed(err)) this.o.onError?.(err)
      })
      .finally(() => {
        this.inFlight.delete(id)
        if (this.reading) this.finishedDuringRead.add(id)
        this.running.delete(p)
        this.wake()
      })
    this.running.add(p)
  }

  private launch(row: DeliveryRow): void {
    this.inFlight.add(row.id)
    const inFlightAtSend = (this.inFlightPerWebhook.get(row.webhook) ?? 0) + 1
    this.inFlightPerWebhook.set(row.webhook, inFlightAtSend)
    // The webhook's slot is freed as soon as its request is answered (release), so the next
    // request can go while this attempt is being recorded; the delivery itself stays in flight
    // (never started again) until its attempt is committed.
    let released = false
    const release = (result?: SendResult): void => {
      if (released) return
      released = true
      // The answer (when a request was sent) tells the webhook's limit how the receiver copes. The
      // number in flight when it was sent is at least what the receiver had when it arrived.
      if (result) this.limits.get(row.webhook)?.record(result, inFlightAtSend, this.o.now())
      this.inFlightPerWebhook.set(row.webhook, (this.inFlightPerWebhook.get(row.webhook) ?? 1) - 1)
      this.wake()
    }
    const p = this.attempts
      .run(row, release)
      .catch((err) => {
        // An attempt that could not be recorded stays pending; the store health says why, once.
        if (!(err instanceof StoreUnavailableError) && !this.health.failed(err)) this.o.onError?.(err)
      })
      .finally(() => {
        this.inFlight.delete(row.id)
        if (this.reading) this.finishedDuringRead.add(row.id)
        release()
        this.running.delete(p)
        this.wake()
      })
    this.running.add(p)
  }
}
