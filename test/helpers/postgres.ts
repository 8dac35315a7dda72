// A real PostgreSQL server for tests: Debian's `postgresql` binaries (/usr/lib/postgresql/<major>/bin,
// installed by `pretest` with apt-get when missing: ensurePostgresBinaries), a fresh cluster made by
// initdb in a temporary folder, listening on 127.0.0.1 on a free port with password (SCRAM) logins.
// PostgreSQL refuses to run as root, so as root the cluster belongs to Debian's `postgres` user and
// the server runs under its uid. test/k8s/reaper.mjs stops it and removes the folder if the test
// process dies before its teardown.
//
//   const pg = await usePostgres(t)        // undefined: skipped (no binaries); fails in CI
//   const url = await pg.database('x')     // postgres://hookwise:<password>@127.0.0.1:<port>/x
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import type { TAP } from 'tap'
import { harnessConfig } from '../tools/go-build.js'
import { freePort } from './ports.js'

const reaperPath = join(dirname(fileURLToPath(import.meta.url)), '..', 'k8s', 'reaper.mjs')

/** The folder of initdb and postgres: $HOOKWISE_PG_BIN, else Debian's newest /usr/lib/postgresql/<major>/bin. */
export function postgresBinaries(): string | undefined {
  const fromEnv = process.env.HOOKWISE_PG_BIN
  if (fromEnv) return existsSync(join(fromEnv, 'postgres')) ? fromEnv : undefined
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const majors = readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
  return majors[0] ? join(root, majors[0], 'bin') : undefined
}

/** Why no server can be started here, or undefined. */
export function postgresSkipReason(): string | undefined {
  if (postgresBinaries()) return undefined
  return process.getuid?.() === 0
    ? 'PostgreSQL is not installed (npm run pretest installs it: apt-get install postgresql)'
    : 'PostgreSQL is not installed and only root may install it (sudo apt-get install -y --no-install-recommends postgresql)'
}

/** `pretest`: installs Debian's postgresql when its binaries are missing (root on Debian only); returns the bin folder. */
export function ensurePostgresBinaries(log: (line: string) => void): string {
  const found = postgresBinaries()
  if (found) return found
  if (process.getuid?.() !== 0 || spawnSync('dpkg-query', ['--version']).status !== 0) throw new Error(postgresSkipReason()!)
  log('postgres: installing the Debian package postgresql')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const install = () => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'postgresql'], { stdio: 'inherit', env })
  if (install().status !== 0 && (spawnSync('apt-get', ['update'], { stdio: 'inherit', env }).status !== 0 || install().status !== 0))
    throw new Error('apt-get install postgresql failed (see above)')
  const bin = postgresBinaries()
  if (!bin) throw new Error('apt-get installed postgresql, but no /usr/lib/postgresql/<major>/bin/initdb is there')
  return bin
}

export interface PostgresServer {
  host: string
  port: number
  user: string
  password: string
  /** postgres://user:password@127.0.0.1:port/name */
  url(database: string): string
  /** Creates a database (once per name) and returns its URL. */
  database(name: string): Promise<string>
  stop(): Promise<void>
}

export interface PostgresOptions {
  /** Turn fsync off (default true): tests need no crash safety of the server's own files. */
  fast?: boolean
  maxConnections?: number
}

/** The uid and gid the server runs as: ours, or Debian's `postgres` user when we are root. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim())
  const uid = id('-u')
  const gid = id('-g')
  if (!Number.isInteger(uid) || uid <= 0) throw new Error('running as root, but there is no `postgres` user to run PostgreSQL as')
  return { uid, gid }
}

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const bin = postgresBinaries()
  if (!bin) throw new Error(postgresSkipReason())
  const as = serverUser()
  const dir = mkdtempSync(join(tmpdir(), 'hookwise-pg-'))
  const reaper = spawn(process.execPath, [reaperPath], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] })
  reaper.unref()
  const reaperIn = reaper.stdin!
  ;(reaperIn as unknown as { unref?: () => void }).unref?.()
  reaperIn.on('error', () => {})
  reaperIn.write(`dir ${dir}\n`)
  const user = 'hookwise'
  const password = randomBytes(12).toString('hex')
  const data = join(dir, 'data')
  const pwfile = join(dir, 'pwfile')
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 })
  if (as) {
    chownSync(dir, as.uid, as.gid)
    chownSync(pwfile, as.uid, as.gid)
  }
  const ids = as ? { uid: as.uid, gid: as.gid } : {}
  const init = spawnSync(
    join(bin, 'initdb'),
    [
      '-D',
      data,
      '-U',
      user,
      '--pwfile',
      pwfile,
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '-E',
      'UTF8',
      '--no-sync',
      '--no-instructions',
    ],
    { encoding: 'utf8', cwd: dir, ...ids },
  )
  rmSync(pwfile, { force: true })
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true })
    reaperIn.end('done\n')
    throw new Error(`initdb failed: ${init.stderr || init.stdout}`)
  }
  let child: ChildProcess | undefined
  let port = 0
  for (let attempt = 0; attempt < 5 && !child; attempt++) {
    port = await freePort()
    const args = ['-D', data, '-h', '127.0.0.1', '-p', String(port), '-k', dir, '-c', `max_connections=${options.maxConnections ?? 100}`]
    if (options.fast !== false) args.push('-c', 'fsync=off', '-c', 'full_page_writes=off')
    const proc = spawn(join(bin, 'postgres'), args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], ...ids })
    let stderr = ''
    proc.stderr!.on('data', (b: Buffer) => {
      if (stderr.length < 20_000) stderr += b.toString()
    })
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
    if (proc.pid) reaperIn.write(`pid ${proc.pid}\n`)
    const ready = await Promise.race([waitReady(port, user, password), exited.then(() => false)])
    if (ready) child = proc
    else if (!/could not bind|Address already in use/.test(stderr)) {
      proc.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
      reaperIn.end('done\n')
      throw new Error(`postgres did not start: ${stderr}`)
    }
  }
  if (!child) throw new Error('postgres: no free port after 5 tries')
  const server = child
  const made = new Set<string>()
  const url = (database: string) => `postgres://${user}:${password}@127.0.0.1:${port}/${database}`
  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    url,
    async database(name) {
      if (!made.has(name)) {
        const c = new pg.Client({ connectionString: url('postgres') })
        await c.connect()
        try {
          await c.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`)
        } finally {
          await c.end()
        }
        made.add(name)
      }
      return url(name)
    },
    async stop() {
      if (server.exitCode === null && server.signalCode === null) {
        const gone = new Promise((resolve) => server.once('exit', resolve))
        server.kill('SIGINT') // fast shutdown: ends sessions, checkpoints, exits
        const timer = setTimeout(() => server.kill('SIGKILL'), 10_000)
        await gone
        clearTimeout(timer)
      }
      rmSync(dir, { recursive: true, force: true })
      reaperIn.end('done\n')
    },
  }
}

async function waitReady(port: number, user: string, password: string): Promise<boolean> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    const c = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'postgres' })
    c.on('error', () => {})
    try {
      await c.connect()
      await c.end()
      return true
    } catch {
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  return false
}

/** A server for this test file, stopped when it ends; undefined after skipping the file (failing it in CI). */
export async function usePostgres(t: TAP, options?: PostgresOptions): Promise<PostgresServer | undefined> {
  const skip = postgresSkipReason()
  if (skip) {
    if (harnessConfig().ci) t.fail(`the PostgreSQL tests must run in CI, but: ${skip}`)
    else t.plan(0, `PostgreSQL tests skipped: ${skip}`)
    return undefined
  }
  const server = await startPostgres(options)
  t.teardown(() => server.stop())
  return server
}
