// The PostgreSQL store's schema as numbered migrations, applied in order at start. Replicas starting
// together take one session-level advisory lock first, so exactly one applies each migration and
// the others find it recorded in hookwise_migrations. A migration is never edited once released:
// a change is a new entry at the end.
import type pg from 'pg'

/** pg_advisory_lock key of the migrations: the ASCII of "hookwise" as a 64-bit integer. */
const MIGRATION_LOCK = '7525356009714971493'

export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'outbox and history',
    sql: `
CREATE TABLE events (
  seq BIGSERIAL PRIMARY KEY,
  id TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX events_id ON events (id, received_at);
CREATE TABLE deliveries (
  id TEXT PRIMARY KEY,
  seq BIGSERIAL NOT NULL,
  event_seq BIGINT NOT NULL REFERENCES events (seq),
  automation TEXT NOT NULL,
  webhook TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  last_status_code INTEGER,
  last_error TEXT
);
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at, seq) WHERE status = 'pending';
CREATE INDEX deliveries_automation ON deliveries (automation, created_at);
CREATE INDEX deliveries_event ON deliveries (event_seq);
CREATE TABLE attempts (
  delivery_id TEXT NOT NULL REFERENCES deliveries (id),
  n INTEGER NOT NULL,
  started_at BIGINT NOT NULL,
  latency_ms INTEGER NOT NULL,
  url TEXT NOT NULL,
  request_headers TEXT NOT NULL,
  body TEXT NOT NULL,
  status_code INTEGER,
  response_head TEXT,
  error TEXT,
  PRIMARY KEY (delivery_id, n)
);
CREATE TABLE gone_webhooks (
  webhook TEXT PRIMARY KEY,
  spec_hash TEXT NOT NULL
);
CREATE TABLE store_probe (id INTEGER PRIMARY KEY, at BIGINT NOT NULL);
`,
  },
  {
    version: 2,
    name: 'delivery claims of replicas',
    sql: `
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT, ADD COLUMN claimed_until BIGINT;
`,
  },
]

/** Applies the migrations this database lacks, under the advisory lock; returns the versions applied. */
export async function migrate(client: pg.ClientBase): Promise<number[]> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK])
  try {
    await client.query(
      'CREATE TABLE IF NOT EXISTS hookwise_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
    )
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM hookwise_migrations')).rows.map((r) => r.version))
    const applied: number[] = []
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue
      await client.query('BEGIN')
      try {
        await client.query(m.sql)
        await client.query('INSERT INTO hookwise_migrations (version, name) VALUES ($1, $2)', [m.version, m.name])
        await client.query('COMMIT')
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {})
        throw err
      }
      applied.push(m.version)
    }
    return applied
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK])
  }
}
