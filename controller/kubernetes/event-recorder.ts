// Kubernetes Events (events.k8s.io/v1) about hookwise's objects, as client-go's event recorder and
// broadcaster write them: an event that repeats (same object, type, reason, action and note) within
// SERIES_WINDOW_MS of its last occurrence updates the `series` of the Event already written instead
// of adding one; a global token bucket drops what exceeds it; writes happen in the background and a
// failure is logged, never thrown.
//
// RBAC: create and patch on events (events.k8s.io) in the namespaces of the objects.
import { EventsV1Api, V1MicroTime, type EventsV1Event, type KubeConfig } from '@kubernetes/client-node'
import type { Logger } from '../log.js'
import { apiErrorMessage, apiStatusCode } from './api-error.js'

export interface EventTarget {
  apiVersion: string
  kind: string
  namespace: string
  name: string
  uid?: string
  resourceVersion?: string
}

export interface EventRecorderOptions {
  kubeConfig: KubeConfig
  /** reportingController, e.g. `hookwise.dev/controller`. */
  controller: string
  /** reportingInstance: this replica. */
  instance: string
  log: Logger
  /** Events written per second once the burst is spent. Default 5. */
  ratePerSecond?: number
  /** Events written at once before the rate applies. Default 20. */
  burst?: number
  now?: () => number
}

/** The API server rejects longer notes. */
export const NOTE_LIMIT_BYTES = 1024
/** A repeat this soon after the last occurrence counts in the existing Event's series. */
export const SERIES_WINDOW_MS = 10 * 60_000
/** After the first repeat (written at once), a series' count is written at most this often; flush() writes it at once. */
export const SERIES_WRITE_INTERVAL_MS = 30_000
/** Events remembered for series; the oldest are forgotten first. */
const MAX_REMEMBERED = 4096
/** Drops within this long after the first one are reported in one log line. */
const DROP_REPORT_DELAY_MS = 5_000
const RELOG_MS = 60_000

/** One distinct event: the Event object written for it and its count so far. */
interface Series {
  body: EventsV1Event
  namespace: string
  /** Set once the Event exists. */
  name: string | undefined
  count: number
  written: number
  lastObserved: number
  patchedAt: number | undefined
  timer: NodeJS.Timeout | undefined
  /** Writes of one series never overlap. */
  chain: Promise<void>
}

export class EventRecorder {
  private readonly api: EventsV1Api
  private readonly log: Logger
  private readonly now: () => number
  private readonly rate: number
  private readonly burst: number
  private tokens: number
  private refilledAt: number
  /** By key, in order of last occurrence (re-inserted on each), so the stalest come first. */
  private readonly series = new Map<string, Series>()
  private readonly pending = new Set<Promise<void>>()
  private dropped = 0
  private dropTimer: NodeJS.Timeout | undefined
  private lastStamp = 0n
  private lastFailure: { message: string; at: number } | undefined

  constructor(private readonly o: EventRecorderOptions) {
    this.api = o.kubeConfig.makeApiClient(EventsV1Api)
    this.log = o.log
    this.now = o.now ?? Date.now
    this.rate = o.ratePerSecond ?? 5
    this.burst = o.burst ?? 20
    this.tokens = this.burst
    this.refilledAt = this.now()
  }

  /**
   * Queues an Event about `target`; never throws. A repeat of an event seen in the last 10 minutes
   * raises the series count of the Event written for it. Beyond the rate limit events are dropped
   * (one warning says how many). `note` is cut to 1 KiB. Events are readable by anyone who may read
   * events in the namespace: the caller must never put secret values (Secret data, tokens,
   * signed URLs, request bodies) in `note`, `reason` or `action`.
   */
  record(target: EventTarget, type: 'Normal' | 'Warning', reason: string, action: string, note: string): void {
    try {
      const now = this.now()
      const text = truncateUtf8(note, NOTE_LIMIT_BYTES)
      const key = JSON.stringify([
        target.apiVersion,
        target.kind,
        target.namespace,
        target.name,
        target.uid ?? '',
        type,
        reason,
        action,
        text,
      ])
      this.forgetOld(now)
      const known = this.series.get(key)
      if (known) {
        known.count++
        known.lastObserved = now
        this.series.delete(key)
        this.series.set(key, known)
        this.scheduleSeriesWrite(known)
        return
      }
      if (!this.take(now)) {
        this.drop()
        return
      }
      const body: EventsV1Event = {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { namespace: target.namespace },
        eventTime: new V1MicroTime(now),
        reportingController: this.o.controller,
        reportingInstance: this.o.instance,
        action,
        reason,
        type,
        note: text,
        regarding: {
          apiVersion: target.apiVersion,
          kind: target.kind,
          namespace: target.namespace,
          name: target.name,
          ...(target.uid ? { uid: target.uid } : {}),
          ...(target.resourceVersion ? { resourceVersion: target.resourceVersion } : {}),
        },
      }
      const s: Series = {
        body,
        namespace: target.namespace,
        name: undefined,
        count: 1,
        written: 0,
        lastObserved: now,
        patchedAt: undefined,
        timer: undefined,
        chain: Promise.resolve(),
      }
      this.series.set(key, s)
      this.enqueue(s, () => this.create(s, key))
    } catch (err) {
      this.log.error({ err }, 'cannot record a Kubernetes Event')
    }
  }

  /** Writes every series count not yet written and waits for all queued writes (for shutdown and tests). */
  async flush(): Promise<void> {
    // A create that finishes may schedule a series write, so repeat until nothing is left.
    for (;;) {
      for (const s of this.series.values()) {
        if (!s.timer) continue
        clearTimeout(s.timer)
        s.timer = undefined
        this.enqueue(s, () => this.writeSeries(s))
      }
      if (!this.pending.size) break
      await Promise.all(this.pending)
    }
    this.reportDrops()
  }

  private enqueue(s: Series, write: () => Promise<void>): void {
    const p = s.chain.then(write).catch((err: unknown) => this.failed('write', s, err))
    s.chain = p
    this.pending.add(p)
    void p.finally(() => this.pending.delete(p))
  }

  private async create(s: Series, key: string): Promise<void> {
    const count = s.count
    const body: EventsV1Event = {
      ...s.body,
      metadata: { ...s.body.metadata, name: this.eventName(s.body.regarding?.name ?? 'hookwise', s.body.eventTime.getTime()) },
    }
    if (count > 1) body.series = { count, lastObservedTime: new V1MicroTime(s.lastObserved) }
    try {
      const created = await this.api.createNamespacedEvent({ namespace: s.namespace, body })
      s.name = created.metadata?.name
      s.written = count
    } catch (err) {
      // Not remembered, so the next occurrence tries to create it again.
      if (this.series.get(key) === s) this.series.delete(key)
      return this.failed('create', s, err)
    }
    if (s.count > s.written) this.scheduleSeriesWrite(s)
  }

  /** The first repeat is written at once; later ones together, at most every SERIES_WRITE_INTERVAL_MS. */
  private scheduleSeriesWrite(
    s: Series,
    delay = s.patchedAt === undefined ? 0 : Math.max(0, s.patchedAt + SERIES_WRITE_INTERVAL_MS - this.now()),
  ): void {
    if (s.timer || s.name === undefined) return
    s.timer = setTimeout(() => {
      s.timer = undefined
      // Series writes share the token bucket; without a token, wait for the next one.
      if (!this.take(this.now())) return this.scheduleSeriesWrite(s, Math.ceil(1000 / this.rate))
      this.enqueue(s, () => this.writeSeries(s))
    }, delay)
    s.timer.unref()
  }

  private async writeSeries(s: Series): Promise<void> {
    if (s.name === undefined || s.count <= s.written) return
    const count = s.count
    s.patchedAt = this.now()
    const series = { count, lastObservedTime: new V1MicroTime(s.lastObserved) }
    try {
      // A JSON patch (the client's default patch type) that sets series whether or not it exists.
      await this.api.patchNamespacedEvent({ namespace: s.namespace, name: s.name, body: [{ op: 'add', path: '/series', value: series }] })
      s.written = count
    } catch (err) {
      if (apiStatusCode(err) !== 404) return this.failed('patch', s, err)
      // The Event expired (the API server's --event-ttl) or was deleted: write it anew with its count.
      const created = await this.api.createNamespacedEvent({
        namespace: s.namespace,
        body: {
          ...s.body,
          metadata: { ...s.body.metadata, name: this.eventName(s.body.regarding?.name ?? 'hookwise', this.now()) },
          series,
        },
      })
      s.name = created.metadata?.name
      s.written = count
    }
    if (s.count > s.written) this.scheduleSeriesWrite(s)
  }

  /** `<object name>.<unix nanoseconds in hex>` as client-go names them, unique within this process. */
  private eventName(object: string, ms: number): string {
    const stamp = BigInt(ms) * 1_000_000n
    this.lastStamp = stamp > this.lastStamp ? stamp : this.lastStamp + 1n
    const suffix = `.${this.lastStamp.toString(16)}`
    return object.length + suffix.length <= 253 ? object + suffix : object.slice(0, 253 - suffix.length).replace(/[.-]+$/, '') + suffix
  }

  private take(now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.rate)
    this.refilledAt = now
    if (this.tokens < 1) return false
    this.tokens--
    return true
  }

  private drop(): void {
    this.dropped++
    if (this.dropTimer) return
    this.dropTimer = setTimeout(() => this.reportDrops(), DROP_REPORT_DELAY_MS)
    this.dropTimer.unref()
  }

  private reportDrops(): void {
    clearTimeout(this.dropTimer)
    this.dropTimer = undefined
    if (!this.dropped) return
    this.log.warn(
      { dropped: this.dropped, ratePerSecond: this.rate, burst: this.burst },
      `dropped ${this.dropped} Kubernetes Events: more than ${this.burst} at once or ${this.rate} per second`,
    )
    this.dropped = 0
  }

  private forgetOld(now: number): void {
    for (const [key, s] of this.series) {
      if (this.series.size <= MAX_REMEMBERED && now - s.lastObserved < SERIES_WINDOW_MS) break
      // A count not yet written goes out first; the write keeps its own reference.
      if (s.timer) {
        clearTimeout(s.timer)
        s.timer = undefined
        this.enqueue(s, () => this.writeSeries(s))
      }
      this.series.delete(key)
    }
  }

  /** Logs a failed write (a repeated message at most once a minute). */
  private failed(verb: string, s: Series, err: unknown): void {
    const code = apiStatusCode(err)
    const what = `${s.body.regarding?.kind} ${s.namespace}/${s.body.regarding?.name} (${s.body.reason})`
    const message = `cannot ${verb} a Kubernetes Event about ${what}: ${apiErrorMessage(err)}`
    const now = this.now()
    const key = message.replace(what, '')
    if (this.lastFailure?.message === key && now - this.lastFailure.at < RELOG_MS) return
    this.lastFailure = { message: key, at: now }
    this.log.warn(
      {
        code: 'HW_KUBERNETES_API',
        ...(code === 401 || code === 403 ? { hint: `grant create and patch on events.events.k8s.io in namespace ${s.namespace}` } : {}),
      },
      message,
    )
  }
}

/** `text` cut to at most `limit` UTF-8 bytes, never inside a character. */
export function truncateUtf8(text: string, limit: number): string {
  const bytes = Buffer.from(text, 'utf8')
  if (bytes.length <= limit) return text
  let end = limit
  // Back up over continuation bytes (10xxxxxx) to the start of the character that does not fit.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--
  return bytes.subarray(0, end).toString('utf8')
}
