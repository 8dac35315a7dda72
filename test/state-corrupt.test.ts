// A damaged state database: hookwise refuses to start with HW_STATE_CORRUPT, the file's path and
// what to do — never a stack trace, never a silent start on a file with broken pages. Real SQLite
// files written by SqliteStore, damaged on disk, and the real hookwise binary.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { closeSync, openSync, readSync, statSync, writeSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { SqliteStore } from '../controller/delivery/sqlite-store.js'
import type { TapTest } from './helpers/cli.js'

const tsx = pathToFileURL(resolve('node_modules/tsx/dist/loader.mjs')).href
const main = resolve('controller/cli/main.ts')

/** The hookwise binary; a run that does not exit by itself within 60 s is killed (status null). */
const hookwise = (...args: string[]) =>
  spawnSync(process.execPath, [`--import=${tsx}`, main, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, HOOKWISE_INTAKE_TOKEN: '' },
  })

/** A state folder whose hookwise.db holds `n` events with a delivery each, closed (WAL checkpointed into the file). */
async function stateWithRows(t: TapTest, n: number): Promise<{ root: string; state: string; db: string }> {
  const root = t.testdir({
    m: {
      'hook.yaml': 'apiVersion: hookwise.dev/v1alpha1\nkind: Webhook\nmetadata: {name: hook}\nspec: {url: "https://hooks.example.com/x"}\n',
    },
  })
  const state = join(root, 's')
  const store = new SqliteStore(state)
  const now = Date.now()
  store.write(
    {
      items: Array.from({ length: n }, (_, i) => ({
        eventId: `e-${i}`,
        body: JSON.stringify({ id: `e-${i}`, padding: 'x'.repeat(200) }),
        deliveries: [{ id: `d-${i}`, automation: 'default/a', webhook: 'default/hook' }],
      })),
      now,
      dedupSince: 0,
    },
    [],
  )
  await store.close()
  return { root, state, db: join(state, 'hookwise.db') }
}

const hint = (db: string): string =>
  `stop hookwise, move ${db} (and ${db}-wal, ${db}-shm if present) aside, and start again: hookwise starts with an empty outbox (the pending deliveries and history in the damaged file are lost); or restore the file from a backup`

t.test('garbage in the header of a real hookwise.db: HW_STATE_CORRUPT with the path and the fix, no stack trace', async (t) => {
  const { root, state, db } = await stateWithRows(t, 20)
  const fd = openSync(db, 'r+')
  writeSync(fd, Buffer.from('this is not an SQLite database header, just garbage bytes'.padEnd(100, '!')), 0, 100, 0)
  closeSync(fd)
  const run = hookwise('run', '--dir', join(root, 'm'), '--state', state, '--listen', '127.0.0.1:0')
  t.notOk(run.error, 'exits by itself')
  t.equal(run.status, 1, 'exits 1')
  t.equal(run.stderr, `error HW_STATE_CORRUPT: the state database ${db} is damaged: file is not a database\n  hint: ${hint(db)}\n`)
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace')
  const list = hookwise('deliveries', '--state', state)
  t.equal(list.status, 1)
  t.equal(list.stderr, run.stderr, 'the history commands say the same')
})

t.test('flipped bytes in pages of a real database with rows: quick_check at start refuses it', async (t) => {
  const { root, state, db } = await stateWithRows(t, 2000)
  const pageSize = 4096
  const pages = statSync(db).size / pageSize
  t.ok(pages > 20, `${pages} pages`)
  // The header and cell pointers of a few b-tree pages in the middle: the file still opens.
  const fd = openSync(db, 'r+')
  for (const page of [Math.floor(pages / 3), Math.floor(pages / 2), Math.floor((2 * pages) / 3)]) {
    const bytes = Buffer.alloc(24)
    readSync(fd, bytes, 0, 24, page * pageSize)
    for (let i = 0; i < bytes.length; i++) bytes[i] = bytes[i]! ^ 0x5a
    writeSync(fd, bytes, 0, bytes.length, page * pageSize)
  }
  closeSync(fd)
  const run = hookwise('run', '--dir', join(root, 'm'), '--state', state, '--listen', '127.0.0.1:0')
  t.notOk(run.error, 'exits by itself (before: it started and ran until killed)')
  t.equal(run.status, 1, 'refuses to start')
  t.match(run.stderr, new RegExp(`^error HW_STATE_CORRUPT: the state database ${db.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is damaged: `))
  t.ok(run.stderr.endsWith(`\n  hint: ${hint(db)}\n`), run.stderr)
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace')
})

t.test('an intact database with rows opens as before', async (t) => {
  const { state } = await stateWithRows(t, 50)
  const list = hookwise('deliveries', '--state', state, '--limit', '3')
  t.equal(list.status, 0, list.stderr)
  t.equal(list.stdout.split('\n').filter(Boolean).length, 4, 'a header and 3 deliveries')
})
