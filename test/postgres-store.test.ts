// PostgresStore keeps the Store's contract (test/helpers/store-conformance.ts) against a real
// PostgreSQL server on loopback (test/helpers/postgres.ts): one database per folder the suite asks
// for, so reopening a folder reopens its database. And its migrations run once however many
// replicas start together.
import t from 'tap'
import { createHash } from 'node:crypto'
import pg from 'pg'
import { PostgresStore } from '../controller/delivery/postgres-store.js'
import { MIGRATIONS } from '../controller/delivery/postgres-migrations.js'
import { usePostgres } from './helpers/postgres.js'
import { storeConformance } from './helpers/store-conformance.js'

const server = await usePostgres(t)
if (server) {
  const databaseOf = (dir: string) => `c_${createHash('sha256').update(dir).digest('hex').slice(0, 16)}`
  await storeConformance(t, 'PostgresStore', async (dir) => PostgresStore.open(await server.database(databaseOf(dir))))

  t.test('replicas starting together migrate once, under the advisory lock', async (t) => {
    const url = await server.database('migrate_once')
    const stores = await Promise.all([1, 2, 3, 4].map(() => PostgresStore.open(url)))
    t.teardown(() => Promise.all(stores.map((s) => s.close())))
    const c = new pg.Client({ connectionString: url })
    await c.connect()
    t.teardown(() => c.end())
    const rows = (await c.query('SELECT version, name FROM hookwise_migrations ORDER BY version')).rows
    t.same(
      rows,
      MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
      'each migration recorded once',
    )
    t.equal(await stores[3]!.pendingCount(), 0, 'every replica works on the migrated schema')
  })

  t.test('the same event accepted by two replicas at once is stored once', async (t) => {
    const url = await server.database('dedup_replicas')
    const [a, b] = await Promise.all([PostgresStore.open(url), PostgresStore.open(url)])
    t.teardown(() => Promise.all([a!.close(), b!.close()]))
    const now = Date.parse('2026-11-27T10:00:00Z')
    const write = (s: PostgresStore, k: number, d: string) =>
      s.write(
        {
          items: [{ eventId: `e-${k}`, body: '{}', deliveries: [{ id: `${d}-${k}`, automation: 'default/a', webhook: 'default/w' }] }],
          now,
          dedupSince: now - 3600_000,
        },
        [],
      )
    const results = await Promise.all(Array.from({ length: 50 }, (_, k) => [write(a!, k, 'a'), write(b!, k, 'b')]).flat())
    const stored = results.filter((r) => r[0] !== null).length
    t.equal(stored, 50, 'one of each pair stored, the other a duplicate')
    t.equal(await a!.pendingCount(), 50)
  })

  t.test(
    'claims: a replica reading due rows claims them; the others skip them until the lease runs out; NOTIFY wakes the others',
    async (t) => {
      const url = await server.database('claims')
      const a = await PostgresStore.open(url, { claimLeaseMs: 5000 })
      const b = await PostgresStore.open(url, { claimLeaseMs: 5000 })
      t.teardown(() => Promise.all([a.close(), b.close()]))
      let woken = 0
      b.watch(() => woken++)
      await new Promise((r) => setTimeout(r, 300)) // b's LISTEN is in place
      const now = Date.parse('2026-11-27T10:00:00Z')
      const deliveries = ['d-1', 'd-2', 'd-3'].map((id) => ({ id, automation: 'default/a', webhook: 'default/w' }))
      await a.write({ items: [{ eventId: 'e-1', body: '{}', deliveries }], now, dedupSince: 0 }, [])
      for (let i = 0; i < 50 && woken === 0; i++) await new Promise((r) => setTimeout(r, 100))
      t.equal(woken, 1, "b is woken by a's commit")
      t.same(await b.due(now, 10), [], "a's new deliveries are claimed by a")
      t.same(
        (await a.due(now, 10)).map((d) => d.id),
        ['d-1', 'd-2', 'd-3'],
        'a reads its own claims again',
      )
      t.same(await b.due(now, 10), [], 'renewed by the read')
      await new Promise((r) => setTimeout(r, 5200))
      t.same(
        (await b.due(now, 10)).map((d) => d.id),
        ['d-1', 'd-2', 'd-3'],
        "after the lease a's claims go to b",
      )
      t.same(await a.due(now, 10), [], 'and are b’s now')
    },
  )
}
