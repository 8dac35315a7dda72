// The state folder and its SQLite files are private to the user running hookwise: they hold
// events, request bodies and answers. The folder is created 0700 and hookwise.db 0600 before SQLite
// opens it; SQLite creates hookwise.db-wal and -shm with the database file's permissions. Files an
// older version left wider are narrowed where this user may; a folder the user made is left as it is.
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs'
import { join } from 'node:path'

const PRIVATE_FILE = 0o600

/** Creates the state folder (0700) and the database file (0600) if missing; returns the database's path. */
export function prepareStateFiles(stateDir: string, file = 'hookwise.db'): string {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 })
  const path = join(stateDir, file)
  if (!existsSync(path)) closeSync(openSync(path, 'a', PRIVATE_FILE))
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      chmodSync(f, PRIVATE_FILE)
    } catch {
      // Missing, or another user's (a read-only look at someone else's state): nothing to narrow here.
    }
  }
  return path
}
