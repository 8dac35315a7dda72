// The EventSources' inbox, <state>/sources.db (SQLite): a request a registry sent is stored here,
// verified, before it is answered, and leaves once its event is enriched and accepted by the engine
// (or, for an event hookwise does not map, at once, kept as a record). A request that waits for
// enrichment survives a restart; the registry's delivery id is the key, so a delivery it sends again
// is a duplicate whenever it comes.
import Database from 'better-sqlite3'
import { prepareStateFiles } from './state-files.js'

export type InboxStatus = 'waiting' | 'accepted' | 'recorded'

export interface InboxRow {
  source: string
  deliveryId: string
  /** The registry's event name, e.g. `model_version_alias.created`. */
  name: string
  /** The request body as received. */
  body: string
  receivedAt: number
  status: InboxStatus
  attempts: number
  nextAt: number
  lastError: string | null
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS inbox (
  source TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  name TEXT NOT NULL,
  body TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL,
  last_error TEXT,
  PRIMARY KEY (source, delivery_id)
);
CREATE INDEX IF NOT EXISTS inbox_due ON inbox (status, next_at);
`

const COLUMNS =
  'source, delivery_id AS deliveryId, name, body, received_at AS receivedAt, status, attempts, next_at AS nextAt, last_error AS lastError'

export class SourceInbox {
  readonly path: string
  private readonly db: Database.Database
  private readonly stmt

  constructor(stateDir: string) {
    this.path = prepareStateFiles(stateDir, 'sources.db')
    this.db = new Database(this.path)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = NORMAL')
    this.db.pragma('busy_timeout = 5000')
    this.db.exec(SCHEMA)
    this.stmt = {
      insert: this.db.prepare(
        'INSERT OR IGNORE INTO inbox (source, delivery_id, name, body, received_at, status, next_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      due: this.db.prepare(`SELECT ${COLUMNS} FROM inbox WHERE status = 'waiting' AND next_at <= ? ORDER BY next_at LIMIT ?`),
      nextDue: this.db.prepare<[], { at: number | null }>("SELECT MIN(next_at) AS at FROM inbox WHERE status = 'waiting'"),
      done: this.db.prepare(
        "UPDATE inbox SET status = 'accepted', attempts = attempts + 1, last_error = NULL WHERE source = ? AND delivery_id = ?",
      ),
      retry: this.db.prepare(
        'UPDATE inbox SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE source = ? AND delivery_id = ? RETURNING attempts',
      ),
      waiting: this.db.prepare<[], { source: string; n: number }>(
        "SELECT source, COUNT(*) AS n FROM inbox WHERE status = 'waiting' GROUP BY source",
      ),
      prune: this.db.prepare("DELETE FROM inbox WHERE status != 'waiting' AND received_at < ?"),
    }
  }

  /** Stores a verified request; false when this source already has this delivery id (a duplicate). */
  add(row: { source: string; deliveryId: string; name: string; body: string; receivedAt: number; waiting: boolean }): boolean {
    const status: InboxStatus = row.waiting ? 'waiting' : 'recorded'
    return this.stmt.insert.run(row.source, row.deliveryId, row.name, row.body, row.receivedAt, status, row.receivedAt).changes === 1
  }

  /** Waiting rows due by `now`, oldest first. */
  due(now: number, limit = 100): InboxRow[] {
    return this.stmt.due.all(now, limit) as InboxRow[]
  }

  /** When the next waiting row is due; undefined when none waits. */
  nextDue(): number | undefined {
    return this.stmt.nextDue.get()?.at ?? undefined
  }

  accepted(source: string, deliveryId: string): void {
    this.stmt.done.run(source, deliveryId)
  }

  /** Records a failed try; returns how many tries the row has had. */
  retryAt(source: string, deliveryId: string, at: number, error: string): number {
    return (this.stmt.retry.get(at, error, source, deliveryId) as { attempts: number } | undefined)?.attempts ?? 0
  }

  /** Waiting rows per source. */
  waitingBySource(): Map<string, number> {
    return new Map(this.stmt.waiting.all().map((r) => [r.source, r.n]))
  }

  /** Forgets finished rows received before `before` (their delivery ids stop counting as duplicates). */
  prune(before: number): number {
    return this.stmt.prune.run(before).changes
  }

  close(): void {
    this.db.close()
  }
}
