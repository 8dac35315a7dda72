// The SQLite outbox on a state folder: the history CLI over it, and closing it. Its Store contract
// (dedup, retention, redelivery, ...) is tested by sqlite-store.test.ts.
import t from 'tap'
import { readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { SqliteStore } from '../controller/delivery/sqlite-store.js'
import { hookwise } from './helpers/cli.js'

const T0 = Date.parse('2026-11-27T10:00:00Z')
const HOUR = 3600_000

function attempt(id: string, n: number, at: number, statusCode: number) {
  return {
    deliveryId: id,
    n,
    startedAt: at,
    latencyMs: 12,
    url: 'https://example.com/h',
    requestHeaders: { 'webhook-id': id },
    body: '{}',
    statusCode,
    responseHead: 'ok',
    error: null,
  }
}

t.test('the history CLI on a state folder: list, one delivery, redeliver', async (t) => {
  const dir = t.testdir({})
  const store = new SqliteStore(dir)
  store.write(
    {
      items: [{ eventId: 'e-9', body: '{}', deliveries: [{ id: 'd-9', automation: 'team/a', webhook: 'team/w' }] }],
      now: T0,
      dedupSince: T0 - HOUR,
    },
    [],
  )
  store.write({ items: [], now: T0, dedupSince: T0 - HOUR }, [
    { attempt: attempt('d-9', 1, T0, 500), next: { status: 'pending', nextAttemptAt: T0 + 5000, now: T0 } },
  ])
  store.write({ items: [], now: T0 + 5000, dedupSince: T0 - HOUR }, [
    {
      attempt: attempt('d-9', 2, T0 + 5000, 404),
      next: { status: 'failed', nextAttemptAt: T0 + 5000, now: T0 + 5000, lastError: 'the receiver answered 404, which is not retried' },
    },
  ])
  store.close()

  const list = await hookwise(['deliveries', '--state', dir, '--status', 'failed'])
  t.equal(
    list.stdout,
    [
      'ID    AUTOMATION   STATUS   ATTEMPTS   CODE   CREATED                LAST ERROR',
      'd-9   team/a       FAILED   2          404    2026-11-27T10:00:00Z   the receiver answered 404, which is not retried',
      '',
    ].join('\n'),
  )
  t.equal((await hookwise(['deliveries', '--state', dir, '--automation', 'other'])).stdout, 'no deliveries\n')
  const one = await hookwise(['delivery', 'd-9', '--state', dir])
  t.match(
    one.stdout,
    'Attempt 1 at 2026-11-27T10:00:00Z: 500 in 12 ms\n  POST https://example.com/h\n  webhook-id: d-9\n  body: {}\n  response: ok\n',
  )
  t.match(one.stdout, 'Attempt 2 at 2026-11-27T10:00:05Z: 404 in 12 ms')
  t.same(await hookwise(['redeliver', 'd-9', '--state', dir]), {
    status: 0,
    stdout: 'delivery d-9 queued again (same webhook-id)\n',
    stderr: '',
  })
  t.same(await hookwise(['redeliver', 'd-9', '--state', dir]), {
    status: 1,
    stdout: '',
    stderr: 'delivery d-9 is still pending; it will be attempted again by itself\n',
  })
  t.match(await hookwise(['delivery', 'nope', '--state', dir]), {
    status: 1,
    stderr: 'error HW_PATH_NOT_FOUND: no delivery nope\n  hint: list them with hookwise deliveries\n',
  })
  t.match(await hookwise(['deliveries', '--state', t.testdir({})]), {
    status: 1,
    stderr: /^error HW_PATH_NOT_FOUND: no hookwise state in /,
  })
})

t.test('close() resolves once the checkpointing worker has exited: nothing re-creates the database afterwards', async (t) => {
  const dir = t.testdir({})
  const store = new SqliteStore(dir, { checkpointIntervalMs: 1000 })
  // Closed at once, while the worker thread is still starting: it used to open (and so create)
  // hookwise.db after close() returned, racing whoever deletes the state folder.
  await store.close()
  for (const f of readdirSync(dir)) rmSync(join(dir, f))
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same(readdirSync(dir), [])
})
