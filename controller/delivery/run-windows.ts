// What run events remember between points, in <state>/runs.db (SQLite), beside the delivery store
// and apart from it: the newest values of each (run, metric) an automation watches (bounded per
// series, dropped when the run ends), when each automation last fired for each run (the cooldown),
// and the cursors of the MLflow run pollers. All of it survives a restart.
import Database from 'better-sqlite3'
import type { Series } from '../match/metric-window.js'
import { prepareStateFiles } from './state-files.js'

const SCHEMA = `
CREATE TABLE IF NOT EXISTS run_points (
  run TEXT NOT NULL,
  metric TEXT NOT NULL,
  step INTEGER NOT NULL,
  value REAL NOT NULL,
  PRIMARY KEY (run, metric, step)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run_fired (
  automation TEXT NOT NULL,
  run TEXT NOT NULL,
  kind TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (automation, run, kind)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run_cursors (
  source TEXT PRIMARY KEY,
  cursor TEXT NOT NULL
) WITHOUT ROWID;
`

/** A logged value to keep: `value` is never NaN (metric-window.ts drops it). */
export interface PointWrite {
  run: string
  metric: string
  step: number
  value: number
}

/** What one batch of run messages changed, written in one transaction. */
export interface RunWrites {
  points: readonly PointWrite[]
  /** Series to cut down to their `bound` newest values, by run and metric. */
  trim: ReadonlyArray<{ run: string; metric: string }>
  /** Automation fired for a run: `kind` is `metric` or the state. */
  fired: ReadonlyArray<{ automation: string; run: string; kind: string; at: number }>
  /** Runs that ended: their points go. */
  ended: readonly string[]
}

// SQLite stores ±Infinity as REAL; better-sqlite3 reads them back as ±Infinity.
export class RunWindowStore {
  readonly path: string
  private readonly db: Database.Database
  private readonly stmt

  constructor(
    stateDir: string,
    private readonly bound: number,
  ) {
    this.path = prepareStateFiles(stateDir, 'runs.db')
    this.db = new Database(this.path)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = NORMAL')
    this.db.pragma('busy_timeout = 5000')
    this.db.exec(SCHEMA)
    this.stmt = {
      series: this.db.prepare<[string, string, number], { step: number; value: number }>(
        'SELECT step, value FROM run_points WHERE run = ? AND metric = ? ORDER BY step DESC LIMIT ?',
      ),
      point: this.db.prepare('INSERT OR REPLACE INTO run_points (run, metric, step, value) VALUES (?, ?, ?, ?)'),
      trim: this.db.prepare(
        'DELETE FROM run_points WHERE run = ? AND metric = ? AND step < (SELECT step FROM run_points WHERE run = ? AND metric = ? ORDER BY step DESC LIMIT 1 OFFSET ?)',
      ),
      fired: this.db.prepare<[string, string, string], { at: number }>(
        'SELECT at FROM run_fired WHERE automation = ? AND run = ? AND kind = ?',
      ),
      fire: this.db.prepare('INSERT OR REPLACE INTO run_fired (automation, run, kind, at) VALUES (?, ?, ?, ?)'),
      end: this.db.prepare('DELETE FROM run_points WHERE run = ?'),
      count: this.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM run_points'),
      cursor: this.db.prepare<[string], { cursor: string }>('SELECT cursor FROM run_cursors WHERE source = ?'),
      setCursor: this.db.prepare('INSERT OR REPLACE INTO run_cursors (source, cursor) VALUES (?, ?)'),
    }
  }

  /** The newest `bound` values of a series, oldest first. */
  series(run: string, metric: string): Series {
    const rows = this.stmt.series.all(run, metric, this.bound).reverse()
    return { steps: rows.map((r) => r.step), values: rows.map((r) => r.value) }
  }

  /** When the automation last fired for the run (`kind`: metric or a state); undefined when never. */
  firedAt(automation: string, run: string, kind: string): number | undefined {
    return this.stmt.fired.get(automation, run, kind)?.at
  }

  write(w: RunWrites): void {
    this.db.transaction(() => {
      for (const p of w.points) this.stmt.point.run(p.run, p.metric, p.step, p.value)
      for (const s of w.trim) this.stmt.trim.run(s.run, s.metric, s.run, s.metric, this.bound - 1)
      for (const f of w.fired) this.stmt.fire.run(f.automation, f.run, f.kind, f.at)
      for (const run of w.ended) this.stmt.end.run(run)
    })()
  }

  /** How many values are kept, over every series (for tests and the benchmark). */
  pointCount(): number {
    return this.stmt.count.get()!.n
  }

  /** A run poller's cursor (MLflow), as it stored it. */
  cursor(source: string): string | undefined {
    return this.stmt.cursor.get(source)?.cursor
  }

  setCursor(source: string, cursor: string): void {
    this.stmt.setCursor.run(source, cursor)
  }

  close(): void {
    this.db.close()
  }
}
