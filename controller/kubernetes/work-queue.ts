// A queue of object keys to reconcile, like client-go's rate-limited work queue: a key is queued
// at most once however often it is added; a key being worked on is not worked on twice at once (an
// add meanwhile runs it again afterwards); a failed key comes back after an exponential backoff,
// and a later success forgets its failures. Reconciles are level-based: they read the current
// state, so running one key once for many adds loses nothing.

export interface WorkQueueOptions {
  /** Keys worked on at once. Default 4. */
  concurrency?: number
  /** Backoff after the first failure of a key, doubled per failure. Default 500 ms. */
  baseDelayMs?: number
  /** Longest backoff. Default 5 min. */
  maxDelayMs?: number
  onError?: (key: string, err: unknown, retryInMs: number) => void
}

export class WorkQueue {
  private readonly queue: string[] = []
  private readonly queued = new Set<string>()
  private readonly active = new Set<string>()
  /** Keys added while being worked on: queued again when that work ends. */
  private readonly dirty = new Set<string>()
  private readonly failures = new Map<string, number>()
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>()
  private readonly o: Required<Omit<WorkQueueOptions, 'onError'>> & Pick<WorkQueueOptions, 'onError'>
  private stopped = false
  private idle: Array<() => void> = []

  constructor(
    private readonly handle: (key: string) => Promise<void>,
    options: WorkQueueOptions = {},
  ) {
    this.o = { concurrency: 4, baseDelayMs: 500, maxDelayMs: 300_000, ...options }
  }

  add(key: string): void {
    if (this.stopped) return
    if (this.active.has(key)) {
      this.dirty.add(key)
      return
    }
    if (this.queued.has(key)) return
    this.queued.add(key)
    this.queue.push(key)
    this.pump()
  }

  /** Adds the key after `ms`; an earlier pending addAfter of the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return
    if (ms <= 0) {
      this.add(key)
      return
    }
    const at = Date.now() + ms
    const existing = this.timers.get(key)
    if (existing && existing.at <= at) return
    if (existing) clearTimeout(existing.timer)
    const timer = setTimeout(() => {
      this.timers.delete(key)
      this.add(key)
    }, ms)
    timer.unref()
    this.timers.set(key, { at, timer })
  }

  get length(): number {
    return this.queue.length
  }

  /** Resolves when nothing is queued or being worked on (timers aside). */
  drained(): Promise<void> {
    if (this.queue.length === 0 && this.active.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.idle.push(resolve))
  }

  /** Stops taking keys; resolves when the work in progress has ended. */
  async stop(): Promise<void> {
    this.stopped = true
    for (const { timer } of this.timers.values()) clearTimeout(timer)
    this.timers.clear()
    this.queue.length = 0
    this.queued.clear()
    this.dirty.clear()
    await this.drained()
  }

  private pump(): void {
    while (!this.stopped && this.active.size < this.o.concurrency && this.queue.length > 0) {
      const key = this.queue.shift()!
      this.queued.delete(key)
      this.active.add(key)
      void this.work(key)
    }
    if (this.queue.length === 0 && this.active.size === 0) {
      const waiting = this.idle
      this.idle = []
      for (const resolve of waiting) resolve()
    }
  }

  private async work(key: string): Promise<void> {
    try {
      await this.handle(key)
      this.failures.delete(key)
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1
      this.failures.set(key, n)
      const delay = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** (n - 1))
      this.o.onError?.(key, err, delay)
      this.addAfter(key, delay)
    } finally {
      this.active.delete(key)
      if (this.dirty.delete(key)) this.add(key)
      this.pump()
    }
  }
}
