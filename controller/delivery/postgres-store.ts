// The Store (store.ts) in a PostgreSQL database, for several replicas of hookwise on one database
// (docs/postgres.md). The client is `pg` (node-postgres): the most used PostgreSQL client for Node,
// with a connection pool, libpq's connection-string options (sslmode, sslrootcert, sslcert, sslkey)
// and no native code; postgres.js is faster at pipelining but its tagged-template API would have
// meant a second way to write queries beside SQLite's prepared statements. Every method answers
// with a promise. Writes batch their rows through unnest() arrays, so a group commit of N events
// and M attempts costs a fixed handful of round trips, not one per row.
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import type { AttemptRow, DeliveryRow, DeliveryStatus } from '../model/delivery.js'
import { migrate } from './postgres-migrations.js'
import type { AttemptBucket, DeliveryFilter, FinishedAttempt, GoneMark, NewDelivery, NewEvents, Store } from './store.js'

/** The channel replicas NOTIFY on when they store deliveries that are due (LISTEN/NOTIFY). */
const CHANNEL = 'hookwise_due'

/** The database's clock in ms: claim leases compare times of one clock, whatever the replicas' clocks say. */
const DB_NOW = '(extract(epoch from clock_timestamp()) * 1000)::bigint'

export interface PostgresStoreOptions {
  /**
   * How long a replica's claim on a due delivery holds (default 30 s). A replica renews its claims
   * each time it reads the outbox; the claims of one that died come back to the others after this.
   */
  claimLeaseMs?: number
  /** Connections in the pool (default 10). */
  maxConnections?: number
  /** Name of the application in pg_stat_activity (default hookwise). */
  applicationName?: string
}

// BIGINT (oid 20) columns hold milliseconds and counts well inside 2^53: read them as numbers.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
}

const DELIVERY_COLUMNS =
  'd.id, d.event_seq, e.id AS event_id, d.automation, d.webhook, d.status, d.attempts, d.next_attempt_at, d.created_at, d.updated_at, d.last_status_code, d.last_error'

interface DeliveryRecord {
  id: string
  event_seq: number
  event_id: string
  automation: string
  webhook: string
  status: DeliveryStatus
  attempts: number
  next_attempt_at: number
  created_at: number
  updated_at: number
  last_status_code: number | null
  last_error: string | null
}

const toDelivery = (r: DeliveryRecord): DeliveryRow => ({
  id: r.id,
  eventSeq: r.event_seq,
  eventId: r.event_id,
  automation: r.automation,
  webhook: r.webhook,
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  lastStatusCode: r.last_status_code,
  lastError: r.last_error,
})

export class PostgresStore implements Store {
  /** This store's name in claims: one per process (per open). */
  readonly replica = randomUUID()
  private readonly leaseMs: number
  private listener: pg.Client | undefined

  private constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
    options: PostgresStoreOptions,
  ) {
    this.leaseMs = options.claimLeaseMs ?? 30_000
  }

  /** Connects and brings the schema up to date (once, under an advisory lock, however many replicas start together). */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 10,
      application_name: options.applicationName ?? 'hookwise',
      types,
    })
    // An idle connection the server drops (restart, failover) is replaced on the next query; without a
    // listener the pool's 'error' event would end the process.
    pool.on('error', () => {})
    try {
      const client = await pool.connect()
      try {
        await migrate(client)
      } finally {
        client.release()
      }
    } catch (err) {
      await pool.end()
      throw err
    }
    return new PostgresStore(pool, url, options)
  }

  /**
   * Calls `wake` when another replica stored deliveries that are due now (NOTIFY at its commit), so
   * an idle replica starts on them at once instead of at its next poll. A lost listening connection
   * is opened again; meanwhile polling still finds the work.
   */
  watch(wake: () => void): void {
    let timer: NodeJS.Timeout | undefined
    const listen = async (): Promise<void> => {
      const client = new pg.Client({ connectionString: this.url, types })
      this.listener = client
      client.on('error', () => {})
      client.on('end', () => {
        if (this.listener === client) setTimeout(() => void listen().catch(() => {}), 1000).unref()
      })
      client.on('notification', (n) => {
        if (n.payload === this.replica || timer) return
        // Many commits in a burst wake the scheduler once.
        timer = setTimeout(() => {
          timer = undefined
          wake()
        }, 5)
      })
      await client.connect()
      await client.query(`LISTEN ${CHANNEL}`)
    }
    void listen().catch(() => {})
  }

  /** Runs `work` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  private async transaction<T>(work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect()
    try {
      await c.query('BEGIN')
      const out = await work(c)
      await c.query('COMMIT')
      return out
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      c.release()
    }
  }

  write(events: NewEvents, attempts: readonly FinishedAttempt[], gone: readonly GoneMark[] = []): Promise<Array<NewDelivery[] | null>> {
    return this.transaction(async (c) => {
      await insertAttempts(c, attempts)
      for (const g of gone) {
        if (g.specHash === null) await c.query('DELETE FROM gone_webhooks WHERE webhook = $1', [g.webhook])
        else
          await c.query(
            'INSERT INTO gone_webhooks (webhook, spec_hash) VALUES ($1, $2) ON CONFLICT (webhook) DO UPDATE SET spec_hash = EXCLUDED.spec_hash',
            [g.webhook, g.specHash],
          )
      }
      const stored = await insertEvents(c, events, this.replica, this.leaseMs)
      if (stored.some((d) => d && d.length > 0)) await c.query('SELECT pg_notify($1, $2)', [CHANNEL, this.replica])
      return stored
    })
  }

  async goneWebhooks(): Promise<Map<string, string>> {
    const r = await this.pool.query<{ webhook: string; spec_hash: string }>('SELECT webhook, spec_hash FROM gone_webhooks')
    return new Map(r.rows.map((g) => [g.webhook, g.spec_hash]))
  }

  // Reading the due deliveries claims them for this replica: rows no other live replica claimed are
  // locked without waiting (FOR UPDATE SKIP LOCKED: a row another replica is claiming right now is
  // passed over, not waited for) and marked claimed until now + the lease. Rows this replica claimed
  // before come back too (its cache is rebuilt from each read), with their lease renewed. `skip` is
  // asked when the rows arrive, so it sees what is in flight then.
  async due(now: number, limit: number, skip?: (id: string) => boolean): Promise<DeliveryRow[]> {
    const r = await this.pool.query<DeliveryRecord & { seq: number }>(
      `WITH c AS (
         SELECT id FROM deliveries
         WHERE status = 'pending' AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until < ${DB_NOW} OR claimed_by = $3)
         ORDER BY next_attempt_at, seq LIMIT $2
         FOR UPDATE SKIP LOCKED
       )
       UPDATE deliveries d SET claimed_by = $3, claimed_until = ${DB_NOW} + $4::bigint
       FROM c, events e WHERE d.id = c.id AND e.seq = d.event_seq
       RETURNING ${DELIVERY_COLUMNS}, d.seq`,
      [now, limit, this.replica, this.leaseMs],
    )
    r.rows.sort((a, b) => a.next_attempt_at - b.next_attempt_at || a.seq - b.seq)
    const rows: DeliveryRow[] = []
    for (const row of r.rows) if (!skip?.(row.id)) rows.push(toDelivery(row))
    return rows
  }

  async pendingCount(): Promise<number> {
    return (await this.pool.query<{ n: number }>("SELECT COUNT(*) AS n FROM deliveries WHERE status = 'pending'")).rows[0]!.n
  }

  async pendingByWebhook(): Promise<Map<string, number>> {
    const r = await this.pool.query<{ webhook: string; n: number }>(
      "SELECT webhook, COUNT(*) AS n FROM deliveries WHERE status = 'pending' GROUP BY webhook",
    )
    return new Map(r.rows.map((w) => [w.webhook, w.n]))
  }

  async oldestPendingCreatedAt(): Promise<number | undefined> {
    const r = await this.pool.query<{ t: number | null }>("SELECT MIN(created_at) AS t FROM deliveries WHERE status = 'pending'")
    return r.rows[0]!.t ?? undefined
  }

  async eventBody(seq: number): Promise<string | undefined> {
    return (await this.pool.query<{ body: string }>('SELECT body FROM events WHERE seq = $1', [seq])).rows[0]?.body
  }

  async get(id: string): Promise<DeliveryRow | undefined> {
    const r = await this.pool.query<DeliveryRecord>(
      `SELECT ${DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.id = $1`,
      [id],
    )
    return r.rows[0] ? toDelivery(r.rows[0]) : undefined
  }

  async reschedule(id: string, nextAttemptAt: number, now: number, reason?: string): Promise<void> {
    await this.pool.query(
      "UPDATE deliveries SET next_attempt_at = $1, last_error = COALESCE($2, last_error), updated_at = $3, claimed_until = NULL WHERE id = $4 AND status = 'pending'",
      [nextAttemptAt, reason ?? null, now, id],
    )
  }

  async cancelAutomation(automation: string, reason: string, now: number): Promise<number> {
    const r = await this.pool.query(
      "UPDATE deliveries SET status = 'cancelled', last_error = $1, updated_at = $2 WHERE automation = $3 AND status = 'pending'",
      [reason, now, automation],
    )
    return r.rowCount ?? 0
  }

  async automationsWithPending(): Promise<string[]> {
    const r = await this.pool.query<{ automation: string }>("SELECT DISTINCT automation FROM deliveries WHERE status = 'pending'")
    return r.rows.map((a) => a.automation)
  }

  async redeliver(id: string, now: number): Promise<boolean> {
    const r = await this.pool.query(
      "UPDATE deliveries SET status = 'pending', next_attempt_at = $1, updated_at = $1, claimed_until = NULL WHERE id = $2 AND status != 'pending'",
      [now, id],
    )
    return r.rowCount === 1
  }

  async attempts(id: string): Promise<AttemptRow[]> {
    const r = await this.pool.query<Record<string, unknown>>('SELECT * FROM attempts WHERE delivery_id = $1 ORDER BY n', [id])
    return r.rows.map((a) => ({
      deliveryId: a.delivery_id as string,
      n: a.n as number,
      startedAt: a.started_at as number,
      latencyMs: a.latency_ms as number,
      url: a.url as string,
      requestHeaders: JSON.parse(a.request_headers as string) as Record<string, string>,
      body: a.body as string,
      statusCode: a.status_code as number | null,
      responseHead: a.response_head as string | null,
      error: a.error as string | null,
    }))
  }

  async list(filter: DeliveryFilter = {}): Promise<DeliveryRow[]> {
    const where: string[] = []
    const params: Array<string | number> = []
    const clauses: Array<[keyof DeliveryFilter, string]> = [
      ['automation', 'd.automation ='],
      ['webhook', 'd.webhook ='],
      ['eventId', 'e.id ='],
      ['status', 'd.status ='],
      ['since', 'd.created_at >='],
      ['until', 'd.created_at <'],
    ]
    for (const [key, clause] of clauses) {
      const value = filter[key]
      if (value === undefined || value === '') continue
      params.push(value)
      where.push(`${clause} $${params.length}`)
    }
    params.push(filter.limit ?? 100, filter.offset ?? 0)
    const r = await this.pool.query<DeliveryRecord>(
      `SELECT ${DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY d.created_at DESC, d.seq DESC LIMIT $${params.length - 1} OFFSET $${params.length}`,
      params,
    )
    return r.rows.map(toDelivery)
  }

  async attemptBuckets(since: number, bucketMs: number): Promise<AttemptBucket[]> {
    const size = Math.max(1, Math.trunc(bucketMs))
    const r = await this.pool.query<{ webhook: string; start: number; attempts: number; succeeded: number; mean: number; max: number }>(
      `SELECT d.webhook AS webhook, (a.started_at / $1::bigint) * $1::bigint AS start, COUNT(*)::int AS attempts,
         COUNT(*) FILTER (WHERE a.status_code BETWEEN 200 AND 299)::int AS succeeded,
         AVG(a.latency_ms)::float8 AS mean, MAX(a.latency_ms)::int AS max
       FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
       WHERE a.started_at >= $2 GROUP BY d.webhook, start ORDER BY d.webhook, start`,
      [size, since],
    )
    return r.rows.map((row) => ({
      webhook: row.webhook,
      start: row.start,
      attempts: row.attempts,
      succeeded: row.succeeded,
      meanLatencyMs: Math.round(row.mean),
      maxLatencyMs: row.max,
    }))
  }

  async countsByAutomation(): Promise<Map<string, Record<DeliveryStatus, number>>> {
    const r = await this.pool.query<{ automation: string; status: DeliveryStatus; n: number }>(
      'SELECT automation, status, COUNT(*) AS n FROM deliveries GROUP BY automation, status',
    )
    const out = new Map<string, Record<DeliveryStatus, number>>()
    for (const row of r.rows) {
      const c = out.get(row.automation) ?? { pending: 0, succeeded: 0, failed: 0, cancelled: 0 }
      c[row.status] = row.n
      out.set(row.automation, c)
    }
    return out
  }

  prune(before: number, eventsBefore: number): Promise<{ deliveries: number; events: number }> {
    return this.transaction(async (c) => {
      await c.query("DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE status != 'pending' AND updated_at < $1)", [
        before,
      ])
      const deliveries = (await c.query("DELETE FROM deliveries WHERE status != 'pending' AND updated_at < $1", [before])).rowCount ?? 0
      const events =
        (
          await c.query(
            'DELETE FROM events WHERE received_at < $1 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = events.seq)',
            [eventsBefore],
          )
        ).rowCount ?? 0
      return { deliveries, events }
    })
  }

  // The server owns its disk: a write that commits says there is room (and a connection) again.
  async probeWrite(): Promise<void> {
    await this.pool.query('INSERT INTO store_probe (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = EXCLUDED.at', [Date.now()])
  }

  async close(): Promise<void> {
    const listener = this.listener
    this.listener = undefined
    await listener?.end().catch(() => {})
    // A replica stopping gracefully (a rolling upgrade) hands its claims back at once, not after the lease.
    await this.pool
      .query("UPDATE deliveries SET claimed_until = NULL WHERE claimed_by = $1 AND status = 'pending'", [this.replica])
      .catch(() => {})
    await this.pool.end()
  }
}

async function insertAttempts(c: pg.PoolClient, items: readonly FinishedAttempt[]): Promise<void> {
  if (items.length === 0) return
  const col = <T>(f: (i: FinishedAttempt) => T): T[] => items.map(f)
  // The attempts' foreign key fails the write for an unknown delivery, as the contract asks.
  await c.query(
    `INSERT INTO attempts (delivery_id, n, started_at, latency_ms, url, request_headers, body, status_code, response_head, error)
     SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::int[], $5::text[], $6::text[], $7::text[], $8::int[], $9::text[], $10::text[])`,
    [
      col((i) => i.attempt.deliveryId),
      col((i) => i.attempt.n),
      col((i) => i.attempt.startedAt),
      col((i) => i.attempt.latencyMs),
      col((i) => i.attempt.url),
      col((i) => JSON.stringify(i.attempt.requestHeaders)),
      col((i) => i.attempt.body),
      col((i) => i.attempt.statusCode),
      col((i) => i.attempt.responseHead),
      col((i) => i.attempt.error),
    ],
  )
  await c.query(
    `UPDATE deliveries d SET status = u.status, attempts = u.n, next_attempt_at = u.next_at, last_status_code = u.code, last_error = u.err, updated_at = u.now, claimed_until = NULL
     FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::int[], $6::text[], $7::bigint[]) AS u(id, status, n, next_at, code, err, now)
     WHERE d.id = u.id`,
    [
      col((i) => i.attempt.deliveryId),
      col((i) => i.next.status),
      col((i) => i.attempt.n),
      col((i) => i.next.nextAttemptAt),
      col((i) => i.attempt.statusCode),
      col((i) => i.next.lastError ?? i.attempt.error),
      col((i) => i.next.now),
    ],
  )
}

/**
 * Stores the events that are not duplicates, with their deliveries. Replicas writing the same event
 * id at once are serialised by a transaction-scoped advisory lock on the id's hash (taken in hash
 * order, so two writes never wait on each other crosswise): the second sees the first's row.
 */
async function insertEvents(c: pg.PoolClient, events: NewEvents, replica: string, leaseMs: number): Promise<Array<NewDelivery[] | null>> {
  const { items, now, dedupSince, seqs } = events
  if (items.length === 0) return []
  const ids = items.map((i) => i.eventId)
  await c.query('SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtext(x) AS h FROM unnest($1::text[]) AS x ORDER BY h) AS l', [
    ids,
  ])
  const known = new Set(
    (
      await c.query<{ id: string }>('SELECT DISTINCT id FROM events WHERE id = ANY($1::text[]) AND received_at >= $2', [ids, dedupSince])
    ).rows.map((r) => r.id),
  )
  const isNew = items.map((i) => {
    if (known.has(i.eventId)) return false
    known.add(i.eventId) // the second of one write is a duplicate too
    return true
  })
  const fresh = items.filter((_, k) => isNew[k])
  const seqOf = new Map<string, number>()
  if (fresh.length > 0) {
    const inserted = await c.query<{ seq: number; id: string }>(
      'INSERT INTO events (id, received_at, body) SELECT id, $2, body FROM unnest($1::text[], $3::text[]) WITH ORDINALITY AS e(id, body, k) ORDER BY k RETURNING seq, id',
      [fresh.map((i) => i.eventId), now, fresh.map((i) => i.body)],
    )
    for (const r of inserted.rows) seqOf.set(r.id, r.seq)
    const deliveries = fresh.flatMap((i) => i.deliveries.map((d) => ({ ...d, seq: seqOf.get(i.eventId)! })))
    if (deliveries.length > 0)
      await c.query(
        // Claimed by the replica that took the event: it starts them from its cache, without a read.
        `INSERT INTO deliveries (id, event_seq, automation, webhook, status, next_attempt_at, created_at, updated_at, claimed_by, claimed_until)
         SELECT id, event_seq, automation, webhook, status, $5, $5, $5, $6, ${DB_NOW} + $7::bigint
         FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $8::text[]) WITH ORDINALITY AS d(id, event_seq, automation, webhook, status, k) ORDER BY k`,
        [
          deliveries.map((d) => d.id),
          deliveries.map((d) => d.seq),
          deliveries.map((d) => d.automation),
          deliveries.map((d) => d.webhook),
          now,
          replica,
          leaseMs,
          deliveries.map((d) => (d.noop ? 'succeeded' : 'pending')),
        ],
      )
  }
  return items.map((item, k) => {
    if (!isNew[k]) {
      seqs?.push(0)
      return null
    }
    seqs?.push(seqOf.get(item.eventId)!)
    return item.deliveries
  })
}
