// The Store (store.ts) in one SQLite file under the state folder (better-sqlite3), synchronous:
// a commit in WAL mode takes microseconds, and a transaction never waits on the event loop.
import Database from 'better-sqlite3'
import { closeSync, fsyncSync, openSync, rmSync, writeSync } from 'node:fs'
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import type { AttemptRow, DeliveryRow, DeliveryStatus } from '../model/delivery.js'
import { StateCorruptError } from '../errors.js'
import { prepareStateFiles } from './state-files.js'
import type { AttemptBucket, DeliveryFilter, FinishedAttempt, GoneMark, NewDelivery, NewEvent, NewEvents, Store } from './store.js'

export interface SqliteStoreOptions {
  /** `full` fsyncs every commit (survives power loss); `normal` (default) survives process crashes. */
  durability?: 'normal' | 'full'
  /**
   * Checkpoint the WAL from a worker thread (its own connection) every this many ms, instead of
   * inside the commit that crosses SQLite's 1,000-page mark. A checkpoint fsyncs; on a slow or
   * shared disk that blocked the event loop for 50-230 ms and every request with it. Off (0) by
   * default: short-lived commands keep SQLite's automatic checkpoints; `hookwise run` turns it on.
   */
  checkpointIntervalMs?: number
}

// The checkpointing worker: its own connection to the same file; PASSIVE never blocks the writer.
const CHECKPOINTER = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.module)
const db = new Database(workerData.path, { fileMustExist: true })
db.pragma('busy_timeout = 5000')
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)') } catch (err) { parentPort.postMessage(String(err && err.message || err)) }
}, workerData.intervalMs)
parentPort.on('message', () => { clearInterval(timer); db.close(); process.exit(0) })
`

// Only pending deliveries are in the index the queue is read by (deliveries_pending): it stays as
// small as the queue, and recording an attempt that finishes a delivery removes one entry instead of
// moving it. It replaced deliveries_due (status, next_attempt_at), which is dropped where it exists.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_id ON events(id, received_at);
CREATE TABLE IF NOT EXISTS deliveries (
  id TEXT PRIMARY KEY,
  event_seq INTEGER NOT NULL REFERENCES events(seq),
  automation TEXT NOT NULL,
  webhook TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  last_status_code INTEGER,
  last_error TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries(next_attempt_at) WHERE status = 'pending';
DROP INDEX IF EXISTS deliveries_due;
CREATE INDEX IF NOT EXISTS deliveries_automation ON deliveries(automation, created_at);
CREATE TABLE IF NOT EXISTS attempts (
  delivery_id TEXT NOT NULL REFERENCES deliveries(id),
  n INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  latency_ms INTEGER NOT NULL,
  url TEXT NOT NULL,
  request_headers TEXT NOT NULL,
  body TEXT NOT NULL,
  status_code INTEGER,
  response_head TEXT,
  error TEXT,
  PRIMARY KEY (delivery_id, n)
);
CREATE TABLE IF NOT EXISTS store_probe (id INTEGER PRIMARY KEY, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS gone_webhooks (
  webhook TEXT PRIMARY KEY,
  spec_hash TEXT NOT NULL
);
`

/** What probeWrite writes to check there is room again. */
const PROBE_BYTES = 1024 * 1024

// Every query of whole deliveries selects these columns and reads its rows as arrays (raw):
// better-sqlite3 builds an array per row faster than an object with named keys, and under backlog
// the engine reads thousands of rows several times a second. toDelivery reads them by position.
const DELIVERY_COLUMNS =
  'd.id, d.event_seq, e.id AS event_id, d.automation, d.webhook, d.status, d.attempts, d.next_attempt_at, d.created_at, d.updated_at, d.last_status_code, d.last_error'

const toDelivery = (r: unknown[]): DeliveryRow => ({
  id: r[0] as string,
  eventSeq: r[1] as number,
  eventId: r[2] as string,
  automation: r[3] as string,
  webhook: r[4] as string,
  status: r[5] as DeliveryStatus,
  attempts: r[6] as number,
  nextAttemptAt: r[7] as number,
  createdAt: r[8] as number,
  updatedAt: r[9] as number,
  lastStatusCode: r[10] as number | null,
  lastError: r[11] as string | null,
})

/** Damage SQLite reports: not a database (a garbage header), or corrupt pages. */
const isCorruption = (err: unknown): err is Error => err instanceof Database.SqliteError && /^SQLITE_(NOTADB|CORRUPT)/.test(err.code)

/**
 * Refuses a file with damaged pages before anything is read or written: without this, hookwise
 * started on it and failed later, on whichever delivery touched a bad page. quick_check reads
 * every page (its time grows with the file) but skips the slower index-to-table cross-checks.
 */
function quickCheck(db: Database.Database, path: string): void {
  // Reports what it finds as rows; a page too broken to read throws SQLITE_CORRUPT instead.
  const rows = db.pragma('quick_check') as Array<{ quick_check: string }>
  if (rows.length === 1 && rows[0]!.quick_check === 'ok') return
  const found = rows.slice(0, 3).map((r) => r.quick_check)
  throw new StateCorruptError(
    path,
    `PRAGMA quick_check found ${rows.length === 100 ? '100 or more' : rows.length} problem${rows.length === 1 ? '' : 's'}: ${found.join('; ')}`,
  )
}

export class SqliteStore implements Store {
  readonly path: string
  private readonly db: Database.Database
  private readonly stmt
  private readonly tx

  constructor(stateDir: string, options: SqliteStoreOptions = {}) {
    this.path = prepareStateFiles(stateDir)
    let opened: Database.Database | undefined
    try {
      opened = new Database(this.path)
      opened.pragma('journal_mode = WAL')
      opened.pragma(`synchronous = ${options.durability === 'full' ? 'FULL' : 'NORMAL'}`)
      opened.pragma('foreign_keys = ON')
      opened.pragma('busy_timeout = 5000')
      quickCheck(opened, this.path)
    } catch (err) {
      opened?.close() // it holds the file
      throw isCorruption(err) ? new StateCorruptError(this.path, err.message) : err
    }
    this.db = opened
    if (options.checkpointIntervalMs) this.startCheckpointer(options.checkpointIntervalMs)
    this.db.exec(SCHEMA)
    const db = this.db
    this.stmt = {
      recentEvent: db.prepare<[string, number], { seq: number }>('SELECT seq FROM events WHERE id = ? AND received_at >= ? LIMIT 1'),
      insertEvent: db.prepare<[string, number, string]>('INSERT INTO events (id, received_at, body) VALUES (?, ?, ?)'),
      insertDelivery: db.prepare<[string, number | bigint, string, string, string, number, number, number]>(
        'INSERT INTO deliveries (id, event_seq, automation, webhook, status, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      due: db
        .prepare<[number, number], unknown[]>(
          `SELECT ${DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.status = 'pending' AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.rowid LIMIT ?`,
        )
        .raw(),
      pendingCount: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM deliveries WHERE status = 'pending'"),
      pendingByWebhook: db.prepare<[], { webhook: string; n: number }>(
        "SELECT webhook, COUNT(*) AS n FROM deliveries WHERE status = 'pending' GROUP BY webhook",
      ),
      markGone: db.prepare<[string, string]>('INSERT OR REPLACE INTO gone_webhooks (webhook, spec_hash) VALUES (?, ?)'),
      forgetGone: db.prepare<[string]>('DELETE FROM gone_webhooks WHERE webhook = ?'),
      gone: db.prepare<[], { webhook: string; spec_hash: string }>('SELECT webhook, spec_hash FROM gone_webhooks'),
      oldestPending: db.prepare<[], { t: number | null }>("SELECT MIN(created_at) AS t FROM deliveries WHERE status = 'pending'"),
      eventBody: db.prepare<[number], { body: string }>('SELECT body FROM events WHERE seq = ?'),
      get: db
        .prepare<[string], unknown[]>(`SELECT ${DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.id = ?`)
        .raw(),
      insertAttempt: db.prepare<[string, number, number, number, string, string, string, number | null, string | null, string | null]>(
        'INSERT INTO attempts (delivery_id, n, started_at, latency_ms, url, request_headers, body, status_code, response_head, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      finishAttempt: db.prepare<[DeliveryStatus, number, number, number | null, string | null, number, string]>(
        'UPDATE deliveries SET status = ?, attempts = ?, next_attempt_at = ?, last_status_code = ?, last_error = ?, updated_at = ? WHERE id = ?',
      ),
      reschedule: db.prepare<[number, string | null, number, string]>(
        "UPDATE deliveries SET next_attempt_at = ?, last_error = COALESCE(?, last_error), updated_at = ? WHERE id = ? AND status = 'pending'",
      ),
      cancelAutomation: db.prepare<[string, number, string]>(
        "UPDATE deliveries SET status = 'cancelled', last_error = ?, updated_at = ? WHERE automation = ? AND status = 'pending'",
      ),
      pendingAutomations: db.prepare<[], { automation: string }>(
        "SELECT DISTINCT automation FROM deliveries INDEXED BY deliveries_pending WHERE status = 'pending'",
      ),
      redeliver: db.prepare<[number, number, string]>(
        "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, updated_at = ? WHERE id = ? AND status != 'pending'",
      ),
      attempts: db.prepare<[string], Record<string, unknown>>('SELECT * FROM attempts WHERE delivery_id = ? ORDER BY n'),
      pruneAttempts: db.prepare<[number]>(
        "DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE status != 'pending' AND updated_at < ?)",
      ),
      pruneDeliveries: db.prepare<[number]>("DELETE FROM deliveries WHERE status != 'pending' AND updated_at < ?"),
      pruneEvents: db.prepare<[number]>(
        'DELETE FROM events WHERE received_at < ? AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = events.seq)',
      ),
    }
    // Made once: better-sqlite3 builds a new wrapper each time db.transaction is called.
    this.tx = {
      write: db.transaction((events: NewEvents, attempts: readonly FinishedAttempt[], gone: readonly GoneMark[]) => {
        this.insertAttempts(attempts)
        for (const g of gone) {
          if (g.specHash === null) this.stmt.forgetGone.run(g.webhook)
          else this.stmt.markGone.run(g.webhook, g.specHash)
        }
        return this.insertEvents(events.items, events.now, events.dedupSince, events.seqs)
      }),
    }
  }

  write(events: NewEvents, attempts: readonly FinishedAttempt[], gone: readonly GoneMark[] = []): Array<NewDelivery[] | null> {
    return this.tx.write(events, attempts, gone)
  }

  goneWebhooks(): Map<string, string> {
    return new Map(this.stmt.gone.all().map((r) => [r.webhook, r.spec_hash]))
  }

  pendingByWebhook(): Map<string, number> {
    return new Map(this.stmt.pendingByWebhook.all().map((r) => [r.webhook, r.n]))
  }

  private insertEvents(items: readonly NewEvent[], now: number, dedupSince: number, seqs?: number[]): Array<NewDelivery[] | null> {
    return items.map((item) => {
      if (this.stmt.recentEvent.get(item.eventId, dedupSince)) {
        seqs?.push(0)
        return null
      }
      const seq = this.stmt.insertEvent.run(item.eventId, now, item.body).lastInsertRowid
      seqs?.push(Number(seq))
      for (const d of item.deliveries)
        this.stmt.insertDelivery.run(d.id, seq, d.automation, d.webhook, d.noop ? 'succeeded' : 'pending', now, now, now)
      return item.deliveries
    })
  }

  private insertAttempts(items: readonly FinishedAttempt[]): void {
    for (const { attempt: a, next } of items) {
      this.stmt.insertAttempt.run(
        a.deliveryId,
        a.n,
        a.startedAt,
        a.latencyMs,
        a.url,
        JSON.stringify(a.requestHeaders),
        a.body,
        a.statusCode,
        a.responseHead,
        a.error,
      )
      this.stmt.finishAttempt.run(next.status, a.n, next.nextAttemptAt, a.statusCode, next.lastError ?? a.error, next.now, a.deliveryId)
    }
  }

  // Rows `skip` leaves out are not built (the engine skips those in flight, under backlog thousands).
  due(now: number, limit: number, skip?: (id: string) => boolean): DeliveryRow[] {
    const rows: DeliveryRow[] = []
    for (const r of this.stmt.due.all(now, limit)) if (!skip?.(r[0] as string)) rows.push(toDelivery(r))
    return rows
  }

  pendingCount(): number {
    return this.stmt.pendingCount.get()!.n
  }

  oldestPendingCreatedAt(): number | undefined {
    return this.stmt.oldestPending.get()?.t ?? undefined
  }

  eventBody(seq: number): string | undefined {
    return this.stmt.eventBody.get(seq)?.body
  }

  get(id: string): DeliveryRow | undefined {
    const r = this.stmt.get.get(id)
    return r ? toDelivery(r) : undefined
  }

  reschedule(id: string, nextAttemptAt: number, now: number, reason?: string): void {
    this.stmt.reschedule.run(nextAttemptAt, reason ?? null, now, id)
  }

  cancelAutomation(automation: string, reason: string, now: number): number {
    return this.stmt.cancelAutomation.run(reason, now, automation).changes
  }

  automationsWithPending(): string[] {
    return this.stmt.pendingAutomations.all().map((r) => r.automation)
  }

  redeliver(id: string, now: number): boolean {
    return this.stmt.redeliver.run(now, now, id).changes === 1
  }

  attempts(id: string): AttemptRow[] {
    return this.stmt.attempts.all(id).map((r) => ({
      deliveryId: r.delivery_id as string,
      n: r.n as number,
      startedAt: r.started_at as number,
      latencyMs: r.latency_ms as number,
      url: r.url as string,
      requestHeaders: JSON.parse(r.request_headers as string) as Record<string, string>,
      body: r.body as string,
      statusCode: r.status_code as number | null,
      responseHead: r.response_head as string | null,
      error: r.error as string | null,
    }))
  }

  list(filter: DeliveryFilter = {}): DeliveryRow[] {
    const where: string[] = []
    const params: Array<string | number> = []
    const clauses: Array<[keyof DeliveryFilter, string]> = [
      ['automation', 'd.automation = ?'],
      ['webhook', 'd.webhook = ?'],
      ['eventId', 'e.id = ?'],
      ['status', 'd.status = ?'],
      ['since', 'd.created_at >= ?'],
      ['until', 'd.created_at < ?'],
    ]
    for (const [key, clause] of clauses) {
      const value = filter[key]
      if (value === undefined || value === '') continue
      where.push(clause)
      params.push(value)
    }
    params.push(filter.limit ?? 100, filter.offset ?? 0)
    const sql = `SELECT ${DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY d.created_at DESC, d.rowid DESC LIMIT ? OFFSET ?`
    return (
      this.db
        .prepare(sql)
        .raw()
        .all(...params) as unknown[][]
    ).map(toDelivery)
  }

  attemptBuckets(since: number, bucketMs: number): AttemptBucket[] {
    const rows = this.db
      .prepare(
        `SELECT d.webhook AS webhook, (a.started_at / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS start, COUNT(*) AS attempts,
          SUM(a.status_code BETWEEN 200 AND 299) AS succeeded, AVG(a.latency_ms) AS mean, MAX(a.latency_ms) AS max
        FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
        WHERE a.started_at >= ? GROUP BY d.webhook, start ORDER BY d.webhook, start`,
      )
      .all(Math.trunc(bucketMs), Math.trunc(bucketMs), since) as Array<{
      webhook: string
      start: number
      attempts: number
      succeeded: number | null
      mean: number
      max: number
    }>
    return rows.map((r) => ({
      webhook: r.webhook,
      start: r.start,
      attempts: r.attempts,
      succeeded: r.succeeded ?? 0,
      meanLatencyMs: Math.round(r.mean),
      maxLatencyMs: r.max,
    }))
  }

  countsByAutomation(): Map<string, Record<DeliveryStatus, number>> {
    const rows = this.db.prepare('SELECT automation, status, COUNT(*) AS n FROM deliveries GROUP BY automation, status').all() as Array<{
      automation: string
      status: DeliveryStatus
      n: number
    }>
    const out = new Map<string, Record<DeliveryStatus, number>>()
    for (const r of rows) {
      const c = out.get(r.automation) ?? { pending: 0, succeeded: 0, failed: 0, cancelled: 0 }
      c[r.status] = r.n
      out.set(r.automation, c)
    }
    return out
  }

  prune(before: number, eventsBefore: number): { deliveries: number; events: number } {
    return this.db.transaction(() => {
      this.stmt.pruneAttempts.run(before)
      const deliveries = this.stmt.pruneDeliveries.run(before).changes
      const events = this.stmt.pruneEvents.run(eventsBefore).changes
      return { deliveries, events }
    })()
  }

  // A write to the database alone can succeed on a full disk (the write-ahead log reuses its space
  // once checkpointed) while the next larger one fails: the probe writes 1 MiB to a file of its own
  // next to the database, then one row, so the engine resumes only when there is room.
  probeWrite(): void {
    const file = `${this.path}-probe`
    try {
      const fd = openSync(file, 'w')
      try {
        writeSync(fd, Buffer.alloc(PROBE_BYTES))
        fsyncSync(fd)
      } finally {
        closeSync(fd)
      }
    } finally {
      rmSync(file, { force: true })
    }
    this.db.prepare('INSERT OR REPLACE INTO store_probe (id, at) VALUES (1, ?)').run(Date.now())
  }

  private checkpointer: Worker | undefined

  private startCheckpointer(intervalMs: number): void {
    const worker = new Worker(CHECKPOINTER, {
      eval: true,
      workerData: { module: createRequire(import.meta.url).resolve('better-sqlite3'), path: this.path, intervalMs },
    })
    worker.unref()
    // If the worker cannot run, commits checkpoint again as SQLite does by default.
    const fallBack = (): void => {
      if (this.checkpointer !== worker) return
      this.checkpointer = undefined
      if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000')
    }
    worker.once('error', fallBack)
    worker.once('exit', fallBack)
    this.checkpointer = worker
    this.db.pragma('wal_autocheckpoint = 0')
  }

  /**
   * Closes the database; resolves once the checkpointing worker has exited too. A worker still
   * starting when close() is called would otherwise open (and re-create) the file afterwards.
   */
  close(): Promise<void> {
    const worker = this.checkpointer
    this.checkpointer = undefined
    this.db.close()
    if (!worker) return Promise.resolve()
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
    worker.ref() // unref'd while it runs; the process now waits for it to exit
    worker.postMessage('close')
    return exited
  }
}
