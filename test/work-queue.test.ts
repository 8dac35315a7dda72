// The reconcile work queue (controller/reconcile/work-queue.ts): per-key deduplication, no key
// worked on twice at once, a key added while worked on runs again, failures back off and retry.
import t from 'tap'
import { WorkQueue } from '../controller/kubernetes/work-queue.js'

const tick = () => new Promise((r) => setImmediate(r))

t.test('a key queued many times is worked on once', async (t) => {
  const seen: string[] = []
  let gate!: () => void
  const q = new WorkQueue(
    async (k) => {
      seen.push(k)
      if (k === 'busy') await new Promise<void>((r) => (gate = r))
    },
    { concurrency: 1 },
  )
  q.add('busy')
  for (let i = 0; i < 5; i++) q.add('a')
  q.add('b')
  q.add('a')
  t.equal(q.length, 2, 'a and b wait, once each')
  gate()
  await q.drained()
  t.same(seen, ['busy', 'a', 'b'])
})

t.test('a key added while it is worked on runs once more afterwards, never concurrently', async (t) => {
  let running = 0
  let most = 0
  let runs = 0
  const release: Array<() => void> = []
  const q = new WorkQueue(
    async () => {
      running++
      most = Math.max(most, running)
      runs++
      await new Promise<void>((r) => release.push(r))
      running--
    },
    { concurrency: 4 },
  )
  q.add('k')
  await tick()
  q.add('k')
  q.add('k')
  await tick()
  t.equal(runs, 1, 'not started again while running')
  release.shift()!()
  await tick()
  await tick()
  t.equal(runs, 2, 'the adds made meanwhile run it once more')
  release.shift()!()
  await q.drained()
  t.equal(most, 1)
  t.equal(runs, 2)
})

t.test('a failing key is retried with doubling backoff; success forgets its failures', async (t) => {
  const at: number[] = []
  const errors: Array<[string, number]> = []
  let fail = 3
  const q = new WorkQueue(
    async () => {
      at.push(Date.now())
      if (fail-- > 0) throw new Error('API down')
    },
    { baseDelayMs: 20, maxDelayMs: 1000, onError: (key, err, retryInMs) => errors.push([`${key}: ${(err as Error).message}`, retryInMs]) },
  )
  q.add('ns/a')
  while (at.length < 4) await new Promise((r) => setTimeout(r, 10))
  t.same(errors, [
    ['ns/a: API down', 20],
    ['ns/a: API down', 40],
    ['ns/a: API down', 80],
  ])
  t.ok(at[1]! - at[0]! >= 19 && at[2]! - at[1]! >= 39 && at[3]! - at[2]! >= 79, 'waits grow')
  fail = 1
  q.add('ns/a')
  await new Promise((r) => setTimeout(r, 60))
  t.same(errors.at(-1), ['ns/a: API down', 20], 'after a success the backoff starts over')
  await q.stop()
})

t.test('addAfter: the earliest pending time wins; stop() drops what is queued', async (t) => {
  const seen: string[] = []
  const q = new WorkQueue(async (k) => void seen.push(k))
  q.addAfter('x', 1000)
  q.addAfter('x', 10)
  q.addAfter('x', 500)
  await new Promise((r) => setTimeout(r, 60))
  t.same(seen, ['x'])
  q.addAfter('y', 10_000)
  await q.stop()
  q.add('z')
  await new Promise((r) => setTimeout(r, 20))
  t.same(seen, ['x'], 'nothing runs after stop')
})
