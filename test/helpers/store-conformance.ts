// The Store's contract (controller/delivery/store.ts) as tests every implementation runs unchanged:
// `storeConformance(t, name, open)` with `open` making a store whose files live in the given folder.
// Every call is awaited, so an implementation whose methods return promises (a client that talks
// to a database server) runs the same suite as the synchronous SqliteStore.
import { readdirSync } from 'node:fs'
import type { AttemptRow, DeliveryRow } from '../../controller/model/delivery.js'
import type { FinishedAttempt, NewDelivery, NewEvent, NewEvents, NextState, Store } from '../../controller/delivery/store.js'
import type { TapTest } from './cli.js'

/** S with each method's result allowed to be a promise of it. */
export type Awaitable<S> = { [K in keyof S]: S[K] extends (...a: infer A) => infer R ? (...a: A) => R | Promise<R> : S[K] }

export type OpenStore = (dir: string) => Promise<Awaitable<Store>>

const T0 = Date.parse('2026-11-27T10:00:00Z')
const HOUR = 3600_000
const DAY = 24 * HOUR

const delivery = (id: string, automation = 'default/a', webhook = 'default/w'): NewDelivery => ({ id, automation, webhook })
const newEvent = (eventId: string, deliveries: NewDelivery[], body = `{"id":"${eventId}"}`): NewEvent => ({ eventId, body, deliveries })
const events = (items: NewEvent[], now: number, seqs?: number[]): NewEvents => ({
  items,
  now,
  dedupSince: now - DAY,
  ...(seqs ? { seqs } : {}),
})

function attempt(deliveryId: string, n: number, startedAt: number, statusCode: number | null, error: string | null = null): AttemptRow {
  return {
    deliveryId,
    n,
    startedAt,
    latencyMs: 12,
    url: 'https://example.com/h',
    requestHeaders: { 'Content-Type': 'application/json', 'webhook-id': deliveryId, Authorization: 'Bearer ****' },
    body: '{"key":"****"}',
    statusCode,
    responseHead: statusCode === null ? null : `answer ${statusCode}`,
    error,
  }
}

/** A delivery as stored when new: pending, due at once, no attempts. */
function fresh(id: string, eventId: string, eventSeq: number, now: number, automation = 'default/a', webhook = 'default/w'): DeliveryRow {
  return {
    id,
    eventSeq,
    eventId,
    automation,
    webhook,
    status: 'pending',
    attempts: 0,
    nextAttemptAt: now,
    createdAt: now,
    updatedAt: now,
    lastStatusCode: null,
    lastError: null,
  }
}

export function storeConformance(t: TapTest, name: string, open: OpenStore): Promise<unknown> {
  return t.test(`${name} keeps the Store's contract`, async (t) => {
    async function opened(t: TapTest, dir = t.testdir({})): Promise<Awaitable<Store>> {
      const store = await open(dir)
      t.teardown(() => store.close())
      return store
    }
    /** Records finished attempts alone (no events), as the engine does in a turn without intake. */
    const finish = (store: Awaitable<Store>, ...done: FinishedAttempt[]) =>
      store.write({ items: [], now: done[0]!.next.now, dedupSince: 0 }, done)
    const next = (status: NextState['status'], nextAttemptAt: number, now: number, lastError?: string): NextState => ({
      status,
      nextAttemptAt,
      now,
      ...(lastError ? { lastError } : {}),
    })

    t.test('write stores each event with its deliveries; a new delivery is pending and due at once', async (t) => {
      const store = await opened(t)
      t.equal(await store.pendingCount(), 0)
      t.equal(await store.oldestPendingCreatedAt(), undefined)
      const seqs: number[] = []
      const items = [
        newEvent('e-1', [delivery('d-1'), delivery('d-2', 'team/b', 'team/w')]),
        newEvent('e-none', []),
        newEvent('e-3', [delivery('d-3')]),
      ]
      t.same(await store.write(events(items, T0, seqs), []), [items[0]!.deliveries, [], items[2]!.deliveries], 'per event, its deliveries')
      t.equal(seqs.length, 3, 'one seq per event')
      t.equal(new Set(seqs).size, 3, 'distinct seqs')
      t.ok(
        seqs.every((s) => Number.isInteger(s) && s > 0),
        `positive whole seqs: ${seqs.join(', ')}`,
      )
      t.same(
        await Promise.all(seqs.map((s) => store.eventBody(s))),
        ['{"id":"e-1"}', '{"id":"e-none"}', '{"id":"e-3"}'],
        'an event that matched nothing is stored too',
      )
      t.equal(await store.eventBody(Math.max(...seqs) + 1000), undefined)
      t.same(await store.get('d-1'), fresh('d-1', 'e-1', seqs[0]!, T0))
      t.same(await store.get('d-2'), fresh('d-2', 'e-1', seqs[0]!, T0, 'team/b', 'team/w'))
      t.same(await store.get('d-3'), fresh('d-3', 'e-3', seqs[2]!, T0))
      t.equal(await store.get('nope'), undefined)
      t.equal(await store.pendingCount(), 3)
      t.equal(await store.oldestPendingCreatedAt(), T0)
      t.same(await store.attempts('d-1'), [])
    })

    t.test('a noop delivery is stored already succeeded, with no attempt, and is never due', async (t) => {
      const store = await opened(t)
      const seqs: number[] = []
      const noop: NewDelivery = { id: 'd-noop', automation: 'default/try', webhook: '(noop)', noop: true }
      await store.write(events([newEvent('e-1', [noop, delivery('d-1')])], T0, seqs), [])
      t.same(await store.get('d-noop'), { ...fresh('d-noop', 'e-1', seqs[0]!, T0, 'default/try', '(noop)'), status: 'succeeded' })
      t.same(await store.attempts('d-noop'), [])
      t.same(
        (await store.due(T0 + DAY, 10)).map((d) => d.id),
        ['d-1'],
      )
      t.equal(await store.pendingCount(), 1)
      t.same(await store.pendingByWebhook(), new Map([['default/w', 1]]))
    })

    t.test('dedup window: the same event id is a duplicate inside it and new after it', async (t) => {
      const store = await opened(t)
      const item = { eventId: 'e-1', body: '{}', deliveries: [{ id: 'd-1', automation: 'default/a', webhook: 'default/w' }] }
      t.same(await store.write({ items: [item], now: T0, dedupSince: T0 - 24 * HOUR }, []), [item.deliveries])
      t.same(
        await store.write(
          { items: [{ ...item, deliveries: [{ ...item.deliveries[0]!, id: 'd-2' }] }], now: T0 + HOUR, dedupSince: T0 + HOUR - 24 * HOUR },
          [],
        ),
        [null],
      )
      t.same(
        await store.write(
          { items: [{ ...item, deliveries: [{ ...item.deliveries[0]!, id: 'd-3' }] }], now: T0 + 25 * HOUR, dedupSince: T0 + HOUR },
          [],
        ),
        [[{ id: 'd-3', automation: 'default/a', webhook: 'default/w' }]],
      )
      t.equal(await store.pendingCount(), 2)
      t.equal(await store.get('d-2'), undefined, 'a duplicate stores none of its deliveries')
    })

    t.test('dedup: the window includes its start; ids repeated in one write; events that matched nothing', async (t) => {
      const store = await opened(t)
      await store.write(events([newEvent('e-1', [delivery('d-1')]), newEvent('e-none', [])], T0), [])
      t.same(
        await store.write({ items: [newEvent('e-1', [delivery('d-2')])], now: T0 + HOUR, dedupSince: T0 }, []),
        [null],
        'received exactly at dedupSince: a duplicate',
      )
      t.same(
        await store.write({ items: [newEvent('e-none', [delivery('d-3')])], now: T0 + HOUR, dedupSince: T0 - 1 }, []),
        [null],
        'an event that matched nothing counts',
      )
      const seqs: number[] = []
      t.same(
        await store.write(events([newEvent('e-2', [delivery('d-4')]), newEvent('e-2', [delivery('d-5')])], T0 + HOUR, seqs), []),
        [[delivery('d-4')], null],
        'the second of one write is a duplicate',
      )
      t.equal(seqs[1], 0, "a duplicate's seq is 0")
      t.ok(seqs[0]! > 0)
      t.same(
        (await store.list()).map((d) => d.id),
        ['d-4', 'd-1'],
      )
    })

    t.test('due: pending rows due at now, by next attempt then as stored, at most limit read, skip leaves rows out', async (t) => {
      const store = await opened(t)
      const seqs: number[] = []
      await store.write(events([newEvent('e-1', [delivery('d-1'), delivery('d-2', 'team/b', 'team/w')])], T0, seqs), [])
      await store.write(events([newEvent('e-2', [delivery('d-3')])], T0 + 1, seqs), [])
      await store.write(events([newEvent('e-3', [delivery('d-4'), delivery('d-5'), delivery('d-6')])], T0 + 2, seqs), [])
      await store.reschedule('d-1', T0 + 10, T0 + 2)
      await store.reschedule('d-4', T0 + 1, T0 + 2) // the same next attempt as d-3, stored after it
      await store.reschedule('d-6', T0 + 100, T0 + 2)
      await finish(store, { attempt: attempt('d-5', 1, T0 + 2, 200), next: next('succeeded', T0 + 2, T0 + 3) })

      t.same(
        (await store.due(T0, 100)).map((d) => d.id),
        ['d-2'],
      )
      t.same(
        (await store.due(T0 + 10, 100)).map((d) => d.id),
        ['d-2', 'd-3', 'd-4', 'd-1'],
        'finished and not yet due rows are left out',
      )
      t.same(
        (await store.due(T0 + 100, 100)).map((d) => d.id),
        ['d-2', 'd-3', 'd-4', 'd-1', 'd-6'],
        'due at exactly now',
      )
      t.same(
        (await store.due(T0 + 10, 2)).map((d) => d.id),
        ['d-2', 'd-3'],
      )
      const asked: string[] = []
      const skipped = await store.due(T0 + 10, 3, (id) => {
        asked.push(id)
        return id === 'd-3'
      })
      t.same(
        skipped.map((d) => d.id),
        ['d-2', 'd-4'],
        'a skipped row counts toward limit',
      )
      t.same(asked, ['d-2', 'd-3', 'd-4'], 'skip is asked about each row read, in order')
      t.same(skipped[0], fresh('d-2', 'e-1', seqs[0]!, T0, 'team/b', 'team/w'), 'whole rows')
      t.same(await store.due(T0 - 1, 100), [])
    })

    t.test('reschedule moves a pending delivery only; its last error stays unless a reason is given', async (t) => {
      const store = await opened(t)
      await store.write(events([newEvent('e-1', [delivery('d-1'), delivery('d-2')])], T0), [])
      await store.reschedule('d-1', T0 + 5000, T0 + 1, 'circuit open for https://example.com')
      t.match(await store.get('d-1'), {
        status: 'pending',
        attempts: 0,
        nextAttemptAt: T0 + 5000,
        updatedAt: T0 + 1,
        createdAt: T0,
        lastError: 'circuit open for https://example.com',
      })
      await store.reschedule('d-1', T0 + 9000, T0 + 2)
      t.match(await store.get('d-1'), {
        status: 'pending',
        attempts: 0,
        nextAttemptAt: T0 + 9000,
        updatedAt: T0 + 2,
        lastError: 'circuit open for https://example.com',
      })
      await finish(store, { attempt: attempt('d-2', 1, T0, 404), next: next('failed', T0 + 3, T0 + 3, 'the receiver answered 404') })
      const finished = await store.get('d-2')
      await store.reschedule('d-2', T0 + 9999, T0 + 4, 'webhook default/w is suspended')
      t.same(await store.get('d-2'), finished, 'a finished delivery is left as it is')
      await store.reschedule('nope', T0 + 9999, T0 + 4, 'no such delivery')
      t.equal(await store.get('nope'), undefined)
    })

    t.test("an attempt sets its delivery's state; attempts() returns the history as recorded", async (t) => {
      const store = await opened(t)
      await store.write(events([newEvent('e-1', [delivery('d-1'), delivery('d-2')])], T0), [])
      const first = attempt('d-1', 1, T0, 503)
      await finish(store, { attempt: first, next: next('pending', T0 + 5000, T0 + 100) })
      t.match(await store.get('d-1'), {
        status: 'pending',
        attempts: 1,
        nextAttemptAt: T0 + 5000,
        updatedAt: T0 + 100,
        lastStatusCode: 503,
        lastError: null,
      })
      const second = attempt('d-1', 2, T0 + 5000, null, 'NETWORK: connection refused')
      await finish(store, { attempt: second, next: next('pending', T0 + 35_000, T0 + 5100) })
      t.match(
        await store.get('d-1'),
        {
          status: 'pending',
          attempts: 2,
          nextAttemptAt: T0 + 35_000,
          updatedAt: T0 + 5100,
          lastStatusCode: null,
          lastError: 'NETWORK: connection refused',
        },
        "the attempt's error",
      )
      const third = attempt('d-1', 3, T0 + 35_000, 404)
      await finish(store, {
        attempt: third,
        next: next('failed', T0 + 35_100, T0 + 35_100, 'the receiver answered 404, which is not retried'),
      })
      t.same(
        await store.get('d-1'),
        {
          ...fresh('d-1', 'e-1', (await store.get('d-1'))!.eventSeq, T0),
          status: 'failed',
          attempts: 3,
          nextAttemptAt: T0 + 35_100,
          updatedAt: T0 + 35_100,
          lastStatusCode: 404,
          lastError: 'the receiver answered 404, which is not retried',
        },
        "the reason given wins over the attempt's",
      )
      t.same(await store.attempts('d-1'), [first, second, third], 'masked headers and body, as recorded, by n')
      t.same(await store.attempts('d-2'), [])
      t.same(await store.attempts('nope'), [])

      await finish(store, {
        attempt: attempt('d-2', 1, T0, null, 'TIMEOUT: no response within 15 s'),
        next: next('pending', T0 + 5000, T0 + 200),
      })
      await finish(store, { attempt: attempt('d-2', 2, T0 + 5000, 200), next: next('succeeded', T0 + 5200, T0 + 5200) })
      t.match(
        await store.get('d-2'),
        { status: 'succeeded', attempts: 2, lastStatusCode: 200, lastError: null },
        'a success clears the last error',
      )
      t.equal(await store.pendingCount(), 0)
    })

    t.test('attempts finishing together: one write records all of them with the events', async (t) => {
      const store = await opened(t)
      await store.write(events([newEvent('e-1', [delivery('d-1'), delivery('d-2')])], T0), [])
      const stored = await store.write(events([newEvent('e-2', [delivery('d-3')])], T0 + 100), [
        { attempt: attempt('d-1', 1, T0, 200), next: next('succeeded', T0 + 100, T0 + 100) },
        { attempt: attempt('d-2', 1, T0, 500), next: next('pending', T0 + 5100, T0 + 100) },
      ])
      t.same(stored, [[delivery('d-3')]])
      t.same(
        (await store.list()).map((d) => [d.id, d.status, d.attempts]),
        [
          ['d-3', 'pending', 0],
          ['d-2', 'pending', 1],
          ['d-1', 'succeeded', 1],
        ],
      )
    })

    t.test('write is one transaction: if a part fails, nothing of the call is stored', async (t) => {
      const store = await opened(t)
      await store.write(events([newEvent('e-1', [delivery('d-1')])], T0), [])
      const before = await store.get('d-1')
      await t.rejects(
        Promise.resolve().then(() =>
          store.write(events([newEvent('e-2', [delivery('d-2')])], T0 + 1), [
            { attempt: attempt('d-1', 1, T0, 200), next: next('succeeded', T0 + 1, T0 + 1) },
            { attempt: attempt('d-unknown', 1, T0, 200), next: next('succeeded', T0 + 1, T0 + 1) },
          ]),
        ),
        'an attempt of an unknown delivery fails the write',
      )
      t.same(await store.get('d-1'), before, 'the other attempt is not recorded')
      t.same(await store.attempts('d-1'), [])
      t.equal(await store.get('d-2'), undefined, "the event's delivery is not stored")

      await t.rejects(
        Promise.resolve().then(() =>
          store.write(events([newEvent('e-3', [delivery('d-3')]), newEvent('e-4', [delivery('d-1')])], T0 + 2), [
            { attempt: attempt('d-1', 1, T0, 200), next: next('succeeded', T0 + 2, T0 + 2) },
          ]),
        ),
        'a delivery id stored already fails the write',
      )
      t.same(await store.get('d-1'), before, 'the attempt is not recorded')
      t.same(await store.attempts('d-1'), [])
      t.equal(await store.get('d-3'), undefined, 'the event before it is not stored')
      t.equal(await store.pendingCount(), 1)
      t.same(
        await store.write(events([newEvent('e-2', [delivery('d-2')]), newEvent('e-3', [delivery('d-3')])], T0 + 3), []),
        [[delivery('d-2')], [delivery('d-3')]],
        'neither event was stored: not duplicates',
      )
    })

    t.test("cancelAutomation cancels the automation's pending deliveries only; automationsWithPending", async (t) => {
      const store = await opened(t)
      t.same(await store.automationsWithPending(), [])
      await store.write(
        events(
          [newEvent('e-1', [delivery('d-1', 'team/a'), delivery('d-2', 'team/a'), delivery('d-3', 'team/b'), delivery('d-4', 'team/a')])],
          T0,
        ),
        [],
      )
      await finish(store, { attempt: attempt('d-4', 1, T0, 200), next: next('succeeded', T0 + 1, T0 + 1) })
      t.same((await store.automationsWithPending()).sort(), ['team/a', 'team/b'])
      const done = await store.get('d-4')
      t.equal(await store.cancelAutomation('team/a', 'automation removed', T0 + 10), 2)
      t.match(await store.get('d-1'), { status: 'cancelled', attempts: 0, updatedAt: T0 + 10, lastError: 'automation removed' })
      t.match(await store.get('d-2'), { status: 'cancelled', lastError: 'automation removed' })
      t.same(await store.get('d-4'), done, 'a finished delivery stays as it was')
      t.match(await store.get('d-3'), { status: 'pending', lastError: null }, "another automation's stay pending")
      t.equal(await store.cancelAutomation('team/a', 'automation removed', T0 + 20), 0, 'nothing left to cancel')
      t.equal(await store.cancelAutomation('team/none', 'automation removed', T0 + 20), 0)
      t.same(await store.automationsWithPending(), ['team/b'])
      t.equal(await store.pendingCount(), 1)
      t.same(
        (await store.due(T0 + 100, 100)).map((d) => d.id),
        ['d-3'],
      )
    })

    t.test('redeliver puts a finished delivery back with the same id; never a pending or unknown one', async (t) => {
      const store = await opened(t)
      await store.write(events([newEvent('e-1', [delivery('d-1'), delivery('d-2'), delivery('d-3', 'team/x')])], T0), [])
      const pending = await store.get('d-1')
      t.equal(await store.redeliver('d-1', T0 + 500), false, 'pending')
      t.same(await store.get('d-1'), pending)
      t.equal(await store.redeliver('nope', T0 + 500), false, 'unknown')
      const failed = attempt('d-2', 1, T0, 404)
      await finish(store, { attempt: failed, next: next('failed', T0 + 100, T0 + 100, 'the receiver answered 404, which is not retried') })
      t.equal(await store.redeliver('d-2', T0 + 1000), true)
      t.same(
        await store.get('d-2'),
        {
          ...fresh('d-2', 'e-1', pending!.eventSeq, T0),
          attempts: 1,
          nextAttemptAt: T0 + 1000,
          updatedAt: T0 + 1000,
          lastStatusCode: 404,
          lastError: 'the receiver answered 404, which is not retried',
        },
        'pending and due now; attempts, code and error stay',
      )
      t.same(await store.attempts('d-2'), [failed], 'its history stays')
      t.same(
        (await store.due(T0 + 1000, 100)).map((d) => d.id),
        ['d-1', 'd-3', 'd-2'],
      )
      t.equal(await store.redeliver('d-2', T0 + 1001), false, 'pending again')
      await finish(store, { attempt: attempt('d-2', 2, T0 + 1000, 200), next: next('succeeded', T0 + 1100, T0 + 1100) })
      t.equal((await store.attempts('d-2')).length, 2, 'the next attempt counts on')
      t.equal(await store.cancelAutomation('team/x', 'automation removed', T0 + 2000), 1)
      t.equal(await store.redeliver('d-3', T0 + 3000), true, 'a cancelled delivery can be redelivered')
      t.match(await store.get('d-3'), { status: 'pending', nextAttemptAt: T0 + 3000 })
    })

    t.test('list filters by automation and status, newest first, at most limit (100 by default)', async (t) => {
      const store = await opened(t)
      const seqs: number[] = []
      await store.write(events([newEvent('e-1', [delivery('d-1', 'team/a'), delivery('d-2', 'team/b')])], T0, seqs), [])
      await store.write(events([newEvent('e-2', [delivery('d-3', 'team/a')])], T0 + 1000, seqs), [])
      await store.write(events([newEvent('e-3', [delivery('d-4', 'team/a')])], T0 + 2000, seqs), [])
      await finish(store, {
        attempt: attempt('d-3', 1, T0 + 1000, 400),
        next: next('failed', T0 + 1100, T0 + 1100, 'the receiver answered 400'),
      })
      const ids = async (filter?: Parameters<Store['list']>[0]) => (await store.list(filter)).map((d) => d.id)
      t.same(await ids(), ['d-4', 'd-3', 'd-2', 'd-1'], 'by created time; the last stored first on a tie')
      t.same(await ids({}), ['d-4', 'd-3', 'd-2', 'd-1'])
      t.same(await ids({ automation: 'team/a' }), ['d-4', 'd-3', 'd-1'])
      t.same(await ids({ status: 'failed' }), ['d-3'])
      t.same(await ids({ automation: 'team/a', status: 'pending' }), ['d-4', 'd-1'])
      t.same(await ids({ limit: 2 }), ['d-4', 'd-3'])
      t.same(await ids({ automation: 'team/none' }), [])
      t.same((await store.list({ limit: 1 }))[0], fresh('d-4', 'e-3', seqs[2]!, T0 + 2000, 'team/a'), 'whole rows')

      const many = Array.from({ length: 105 }, (_, i) => delivery(`m-${String(i).padStart(3, '0')}`, 'team/many'))
      await store.write(events([newEvent('e-many', many)], T0 + 3000), [])
      const listed = await store.list()
      t.equal(listed.length, 100)
      t.equal(listed[0]!.id, 'm-104')
      t.equal((await store.list({ automation: 'team/many', limit: 500 })).length, 105)
    })

    t.test('list filters by webhook, event, created time, and pages with offset', async (t) => {
      const store = await opened(t)
      await store.write(events([newEvent('e-1', [delivery('d-1', 'team/a', 'team/w1'), delivery('d-2', 'team/b', 'team/w2')])], T0), [])
      await store.write(events([newEvent('e-2', [delivery('d-3', 'team/a', 'team/w2')])], T0 + 1000), [])
      await store.write(events([newEvent('e-3', [delivery('d-4', 'team/a', 'team/w1')])], T0 + 2000), [])
      const ids = async (filter?: Parameters<Store['list']>[0]) => (await store.list(filter)).map((d) => d.id)
      t.same(await ids({ webhook: 'team/w2' }), ['d-3', 'd-2'])
      t.same(await ids({ eventId: 'e-1' }), ['d-2', 'd-1'])
      t.same(await ids({ eventId: 'e-1', webhook: 'team/w1' }), ['d-1'])
      t.same(await ids({ since: T0 + 1000 }), ['d-4', 'd-3'], 'since is inclusive')
      t.same(await ids({ until: T0 + 1000 }), ['d-2', 'd-1'], 'until is exclusive')
      t.same(await ids({ since: T0 + 500, until: T0 + 1500 }), ['d-3'])
      t.same(await ids({ limit: 2, offset: 0 }), ['d-4', 'd-3'])
      t.same(await ids({ limit: 2, offset: 2 }), ['d-2', 'd-1'], 'the second page')
      t.same(await ids({ limit: 2, offset: 4 }), [], 'past the end')
      t.same(await ids({ automation: 'team/a', offset: 1 }), ['d-3', 'd-1'])
    })

    t.test('attemptBuckets counts attempts, 2xx answers and latency per webhook and time bucket', async (t) => {
      const store = await opened(t)
      const MIN = 60_000
      await store.write(
        events(
          [
            newEvent('e-1', [
              delivery('d-1', 'team/a', 'team/w1'),
              delivery('d-2', 'team/a', 'team/w2'),
              delivery('d-3', 'team/a', 'team/w1'),
            ]),
          ],
          T0,
        ),
        [],
      )
      const slow = (a: AttemptRow, latencyMs: number): AttemptRow => ({ ...a, latencyMs })
      await finish(store, { attempt: slow(attempt('d-1', 1, T0 + 10, 500), 30), next: next('pending', T0 + MIN, T0 + 100) })
      await finish(store, { attempt: slow(attempt('d-1', 2, T0 + MIN + 5, 200), 10), next: next('succeeded', T0 + MIN, T0 + MIN + 20) })
      await finish(store, { attempt: slow(attempt('d-3', 1, T0 + 20, 204), 50), next: next('succeeded', T0, T0 + 100) })
      await finish(store, {
        attempt: slow(attempt('d-2', 1, T0 + 30, null, 'connect ECONNREFUSED'), 4),
        next: next('failed', T0, T0 + 100),
      })
      t.same(await store.attemptBuckets(T0, MIN), [
        { webhook: 'team/w1', start: T0, attempts: 2, succeeded: 1, meanLatencyMs: 40, maxLatencyMs: 50 },
        { webhook: 'team/w1', start: T0 + MIN, attempts: 1, succeeded: 1, meanLatencyMs: 10, maxLatencyMs: 10 },
        { webhook: 'team/w2', start: T0, attempts: 1, succeeded: 0, meanLatencyMs: 4, maxLatencyMs: 4 },
      ])
      t.same(
        await store.attemptBuckets(T0 + MIN, MIN),
        [{ webhook: 'team/w1', start: T0 + MIN, attempts: 1, succeeded: 1, meanLatencyMs: 10, maxLatencyMs: 10 }],
        'since leaves out older attempts',
      )
    })

    t.test("countsByAutomation counts each automation's deliveries per status", async (t) => {
      const store = await opened(t)
      t.equal((await store.countsByAutomation()).size, 0)
      await store.write(
        events(
          [newEvent('e-1', [delivery('d-1', 'team/a'), delivery('d-2', 'team/a'), delivery('d-3', 'team/a'), delivery('d-4', 'team/b')])],
          T0,
        ),
        [],
      )
      await finish(
        store,
        { attempt: attempt('d-2', 1, T0, 200), next: next('succeeded', T0 + 1, T0 + 1) },
        { attempt: attempt('d-3', 1, T0, 404), next: next('failed', T0 + 1, T0 + 1, 'the receiver answered 404') },
      )
      await store.cancelAutomation('team/b', 'automation removed', T0 + 2)
      t.same(Object.fromEntries(await store.countsByAutomation()), {
        'team/a': { pending: 1, succeeded: 1, failed: 1, cancelled: 0 },
        'team/b': { pending: 0, succeeded: 0, failed: 0, cancelled: 1 },
      })
    })

    t.test('retention prunes finished deliveries, their attempts and unneeded events; pending ones stay', async (t) => {
      const store = await opened(t)
      await store.write(
        {
          items: [
            { eventId: 'old', body: '{}', deliveries: [{ id: 'd-old', automation: 'default/a', webhook: 'default/w' }] },
            { eventId: 'waiting', body: '{}', deliveries: [{ id: 'd-wait', automation: 'default/a', webhook: 'default/w' }] },
          ],
          now: T0,
          dedupSince: T0 - 24 * HOUR,
        },
        [],
      )
      await finish(store, { attempt: attempt('d-old', 1, T0, 200), next: { status: 'succeeded', nextAttemptAt: T0, now: T0 } })
      t.same(await store.prune(T0 - HOUR, T0 - HOUR), { deliveries: 0, events: 0 }, 'nothing is old enough yet')
      t.same(await store.prune(T0 + HOUR, T0 + HOUR), { deliveries: 1, events: 1 })
      t.equal(await store.get('d-old'), undefined)
      t.same(await store.attempts('d-old'), [])
      t.match(await store.get('d-wait'), { status: 'pending', eventId: 'waiting' }, 'a pending delivery and its event are kept')
    })

    t.test('prune: the two cut-offs are separate and strict; events no delivery refers to go', async (t) => {
      const store = await opened(t)
      const seqs: number[] = []
      await store.write(
        events([newEvent('e-none', []), newEvent('e-fin', [delivery('d-fin')]), newEvent('e-pend', [delivery('d-pend')])], T0, seqs),
        [],
      )
      await store.write(events([newEvent('e-later', [])], T0 + 2 * HOUR, seqs), [])
      await finish(store, { attempt: attempt('d-fin', 1, T0, 404), next: next('failed', T0, T0, 'the receiver answered 404') })
      t.same(await store.prune(T0, T0), { deliveries: 0, events: 0 }, 'updated and received exactly at the cut-offs: kept')
      t.same(await store.prune(T0 + HOUR, T0), { deliveries: 1, events: 0 }, 'the finished delivery goes; its event is not old enough')
      t.equal(await store.eventBody(seqs[1]!), '{"id":"e-fin"}')
      t.same(await store.prune(T0 + HOUR, T0 + HOUR), { deliveries: 0, events: 2 })
      t.same(await Promise.all(seqs.map((s) => store.eventBody(s))), [undefined, undefined, '{"id":"e-pend"}', '{"id":"e-later"}'])
      t.match(await store.get('d-pend'), { status: 'pending', eventId: 'e-pend' })
      t.same(
        await store.prune(T0 + 100 * DAY, T0 + 100 * DAY),
        { deliveries: 0, events: 1 },
        'a pending delivery and its event stay however old',
      )
      t.equal(await store.pendingCount(), 1)
    })

    t.test('pendingCount and oldestPendingCreatedAt follow the pending deliveries', async (t) => {
      const store = await opened(t)
      await store.write(events([newEvent('e-1', [delivery('d-1', 'team/a')])], T0), [])
      await store.write(events([newEvent('e-2', [delivery('d-2', 'team/b'), delivery('d-3', 'team/b')])], T0 + 1000), [])
      t.equal(await store.pendingCount(), 3)
      t.equal(await store.oldestPendingCreatedAt(), T0)
      await finish(store, { attempt: attempt('d-1', 1, T0, 200), next: next('succeeded', T0 + 2000, T0 + 2000) })
      t.equal(await store.pendingCount(), 2)
      t.equal(await store.oldestPendingCreatedAt(), T0 + 1000)
      await store.cancelAutomation('team/b', 'automation removed', T0 + 3000)
      t.equal(await store.pendingCount(), 0)
      t.equal(await store.oldestPendingCreatedAt(), undefined)
    })

    t.test('pendingByWebhook counts the pending deliveries of each webhook', async (t) => {
      const store = await opened(t)
      t.same([...(await store.pendingByWebhook())], [])
      await store.write(events([newEvent('e-1', [delivery('d-1', 'team/a', 'team/w1'), delivery('d-2', 'team/b', 'team/w2')])], T0), [])
      await store.write(events([newEvent('e-2', [delivery('d-3', 'team/a', 'team/w1')])], T0 + 1), [])
      const sorted = async () => [...(await store.pendingByWebhook())].sort()
      t.same(await sorted(), [
        ['team/w1', 2],
        ['team/w2', 1],
      ])
      await finish(store, { attempt: attempt('d-1', 1, T0, 200), next: next('succeeded', T0 + 2, T0 + 2) })
      await store.cancelAutomation('team/b', 'automation removed', T0 + 3)
      t.same(await sorted(), [['team/w1', 1]], 'finished and cancelled ones are not pending')
    })

    t.test('gone marks: written with the attempts in one transaction, replaced, forgotten, kept across reopening', async (t) => {
      const dir = t.testdir({})
      const store = await open(dir)
      t.same([...(await store.goneWebhooks())], [])
      await store.write(events([newEvent('e-1', [delivery('d-1')])], T0), [])
      await store.write(
        { items: [], now: T0 + 1, dedupSince: 0 },
        [{ attempt: attempt('d-1', 1, T0, 410), next: next('failed', T0 + 1, T0 + 1) }],
        [
          { webhook: 'default/w', specHash: 'h1' },
          { webhook: 'team/x', specHash: 'h2' },
        ],
      )
      await store.write({ items: [], now: T0 + 2, dedupSince: 0 }, [], [{ webhook: 'team/x', specHash: 'h3' }])
      const sorted = async (s: Awaitable<Store>) => [...(await s.goneWebhooks())].sort()
      t.same(await sorted(store), [
        ['default/w', 'h1'],
        ['team/x', 'h3'],
      ])
      await t.rejects(
        Promise.resolve().then(() =>
          store.write(
            { items: [], now: T0 + 3, dedupSince: 0 },
            [{ attempt: attempt('d-unknown', 1, T0, 410), next: next('failed', T0 + 3, T0 + 3) }],
            [{ webhook: 'team/y', specHash: 'h4' }],
          ),
        ),
        'a failing write stores no gone mark',
      )
      await store.write({ items: [], now: T0 + 4, dedupSince: 0 }, [], [{ webhook: 'default/w', specHash: null }])
      await store.close()
      const again = await opened(t, dir)
      t.same(await sorted(again), [['team/x', 'h3']], 'null forgets a mark; the others survive reopening')
    })

    t.test('probeWrite succeeds on a writable store and changes nothing of it', async (t) => {
      const dir = t.testdir({})
      const store = await opened(t, dir)
      await store.write(events([newEvent('e-1', [delivery('d-1')])], T0), [])
      const before = { rows: await store.list(), files: readdirSync(dir).sort() }
      await store.probeWrite()
      t.same(await store.list(), before.rows)
      t.equal(await store.pendingCount(), 1)
      t.same(readdirSync(dir).sort(), before.files, 'no file is left behind')
    })

    t.test('everything written survives close and reopening', async (t) => {
      const dir = t.testdir({})
      const first = await open(dir)
      const seqs: number[] = []
      await first.write(events([newEvent('e-1', [delivery('d-1'), delivery('d-2')])], T0, seqs), [])
      const recorded = attempt('d-1', 1, T0, 503)
      await first.write(events([newEvent('e-2', [delivery('d-3')])], T0 + 100, seqs), [
        { attempt: recorded, next: next('pending', T0 + 5100, T0 + 100) },
      ])
      const rows = await first.list()
      await first.close()

      const again = await opened(t, dir)
      t.same(await again.list(), rows)
      t.same(await again.attempts('d-1'), [recorded])
      t.equal(await again.pendingCount(), 3)
      t.equal(await again.eventBody(seqs[1]!), '{"id":"e-2"}')
      t.same(
        (await again.due(T0 + 100, 100)).map((d) => d.id),
        ['d-2', 'd-3'],
      )
      t.same(await again.write(events([newEvent('e-1', [delivery('d-9')])], T0 + 200), []), [null], 'dedup remembers events from before')
    })
  })
}
