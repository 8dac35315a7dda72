// Which store `hookwise run` and the history commands use: SQLite in the --state folder (the
// default, for one process), or PostgreSQL (several replicas) named by --store URL, by
// --store-url-file FILE or by $HOOKWISE_STORE_URL, in that order. A password belongs in the file or
// the environment (or PGPASSWORD): a --store URL holding one is refused, as every user of the
// machine can read a command line. TLS is set in the URL as libpq names it (sslmode, sslrootcert,
// sslcert, sslkey). The URL is only ever shown with its password masked.
import { readFileSync } from 'node:fs'
import { HookwiseError } from '../errors.js'
import { PostgresStore } from './postgres-store.js'
import { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js'
import type { Store } from './store.js'

export interface StoreChoice {
  /** The --state folder (SQLite). */
  state: string
  /** --store URL (no password). */
  store?: string
  /** --store-url-file FILE. */
  storeUrlFile?: string
  /** --claim-lease: how long a replica's claim on a due delivery holds (PostgreSQL). */
  claimLease?: number
}

export interface OpenedStore {
  store: Store
  /** Where it is, for logs and messages: the SQLite file, or the URL with its password masked. */
  where: string
  kind: 'sqlite' | 'postgres'
}

/** The URL with its password (if any) replaced by ****. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '****'
    return u.toString()
  } catch {
    return url.replace(/\/\/([^/@:]*):[^/@]*@/, '//$1:****@')
  }
}

/** The PostgreSQL URL chosen by the flags or the environment; undefined for SQLite. Throws HW_STORE_URL. */
export function storeUrl(choice: StoreChoice, env: NodeJS.ProcessEnv = process.env): string | undefined {
  let url: string | undefined
  let from: string
  if (choice.store !== undefined) {
    url = choice.store
    from = '--store'
  } else if (choice.storeUrlFile !== undefined) {
    from = `--store-url-file ${choice.storeUrlFile}`
    try {
      url = readFileSync(choice.storeUrlFile, 'utf8').trim()
    } catch (err) {
      throw new HookwiseError('HW_STORE_URL', `cannot read ${from}: ${(err as Error).message}`, {
        hint: 'give a file holding one postgres:// URL',
      })
    }
    if (!url) throw new HookwiseError('HW_STORE_URL', `${from} is empty`, { hint: 'give a file holding one postgres:// URL' })
  } else if (env.HOOKWISE_STORE_URL) {
    url = env.HOOKWISE_STORE_URL.trim()
    from = 'HOOKWISE_STORE_URL'
  } else return undefined
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new HookwiseError('HW_STORE_URL', `${from} is not a URL: ${maskUrl(url)}`, {
      hint: 'write it as postgres://USER@HOST:PORT/DATABASE?sslmode=verify-full',
    })
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')
    throw new HookwiseError(
      'HW_STORE_URL',
      `${from} must be a postgres:// or postgresql:// URL, not ${parsed.protocol}// (${maskUrl(url)})`,
      {
        hint: 'for SQLite, leave --store out and use --state DIR',
      },
    )
  if (from === '--store' && parsed.password)
    throw new HookwiseError(
      'HW_STORE_URL',
      `--store ${maskUrl(url)} holds a password, which every user of this machine can read on the command line`,
      {
        hint: 'put the URL in a file given with --store-url-file (mode 0600) or in HOOKWISE_STORE_URL, or set PGPASSWORD',
      },
    )
  return url
}

/** Opens the chosen store; PostgreSQL is connected and migrated before this resolves. Throws HW_STORE_URL or HW_STORE_CONNECT. */
export async function openStore(
  choice: StoreChoice,
  sqlite: SqliteStoreOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<OpenedStore> {
  const url = storeUrl(choice, env)
  if (url === undefined) {
    const store = new SqliteStore(choice.state, sqlite)
    return { store, where: store.path, kind: 'sqlite' }
  }
  const where = maskUrl(url)
  try {
    return { store: await PostgresStore.open(url, choice.claimLease ? { claimLeaseMs: choice.claimLease } : {}), where, kind: 'postgres' }
  } catch (err) {
    // The server's answer and the masked URL; a message of pg's never holds the password, but the
    // URL could reach it through a malformed option, so it is masked again to be sure.
    const password = decodeURIComponent(new URL(url).password)
    const message = (err as Error).message
    const said = password ? message.split(password).join('****') : message
    throw new HookwiseError('HW_STORE_CONNECT', `cannot open the PostgreSQL store ${where}: ${said}`, {
      hint: 'check the host, port, database, user and password (and sslmode/sslrootcert in the URL); the user must be able to create tables on the first start',
    })
  }
}
