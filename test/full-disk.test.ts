// `hookwise run` with its state on a real full filesystem: a tmpfs of 16 MiB mounted for the test
// (root only; skipped, saying why, where mount is refused), filled to ENOSPC with a file, then freed.
// While the state cannot be written, nothing is sent more than once, the intake answers 503 with
// Retry-After, /readyz and a metric say why; once space returns, hookwise resumes by itself.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { request } from 'undici'
import { startController } from '../controller/app/start-controller.js'
import { createLogger } from '../controller/log.js'
import { startReceiver } from './helpers/receiver.js'
import { until } from './helpers/until.js'

const mnt = mkdtempSync(join(tmpdir(), 'hookwise-full-'))
let mountError: string | undefined
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mnt], { stdio: 'pipe' })
} catch (err) {
  mountError = String((err as { stderr?: Buffer }).stderr ?? err).trim()
  rmSync(mnt, { recursive: true, force: true })
}

/** Writes zeros to `file` until the filesystem refuses (ENOSPC); returns the bytes written. */
function fill(file: string): number {
  const fd = openSync(file, 'w')
  const chunk = Buffer.alloc(64 * 1024)
  let written = 0
  try {
    for (let i = 0; i < 1024; i++) written += writeSync(fd, chunk)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  } finally {
    closeSync(fd)
  }
  return written
}

const webhook = (url: string) => `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: hook}
spec: {url: "${url}"}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: big}
spec:
  scope: {type: Registry, registry: model}
  event: {type: LINK_ARTIFACT}
  action:
    webhook: hook
    payload:
${['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((k) => `      ${k}: \${json:artifact_metadata}\n`).join('')}`

// Events of 50 KB, each rendered into a 400 KB body: recording an attempt needs more room in the
// write-ahead log than the events took, so on a full disk it fails.
const event = (id: string, blob = 'x'.repeat(50_000)) => ({
  id,
  type: 'LINK_ARTIFACT',
  author: 'alice',
  entity: 'acme',
  project: 'p',
  registry: 'model',
  collection: 'churn',
  artifact: { id: 'QQ==', name: 'churn', version: 'v7', metadata: { blob } },
})

const name = 'a full disk: each delivery sent at most once, 503 + Retry-After, /readyz and a metric say why; recovery by itself'
t.test(name, { skip: mountError ? `cannot mount a tmpfs (${mountError}); this test needs root` : false }, async (t) => {
  t.teardown(() => {
    execFileSync('umount', [mnt])
    rmSync(mnt, { recursive: true, force: true })
  })
  const receiver = await startReceiver(t)
  const root = t.testdir({ m: { 'hook.yaml': webhook(`${receiver.url}/hook`) } })
  const state = join(mnt, 'state')
  mkdirSync(state)
  const logs: string[] = []
  const sink = new Writable({
    write(chunk, _e, cb) {
      logs.push(...String(chunk).split('\n').filter(Boolean))
      cb()
    },
  })
  const c = await startController(
    {
      dir: [join(root, 'm')],
      state,
      listen: '127.0.0.1:0',
      allowInsecureHttp: true,
      egressAllow: ['127.0.0.0/8'],
      logLevel: 'info',
      durability: 'normal',
      maxPending: 1000,
      retentionHours: 24,
    },
    createLogger({ level: 'info', destination: sink }),
    {},
  )
  t.teardown(() => c.stop())
  const base = `http://127.0.0.1:${c.address.port}`
  const post = async (body: unknown) => {
    const res = await request(`${base}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    return { status: res.statusCode, headers: res.headers, json: (await res.body.json()) as Record<string, unknown> }
  }
  const get = async (path: string) => {
    const res = await request(`${base}${path}`)
    return { status: res.statusCode, text: await res.body.text() }
  }
  t.match(await get('/metrics'), { status: 200, text: /\nhookwise_store_writable 1\n/ })

  // Four deliveries in flight (the receiver answers after 1.5 s); meanwhile the disk fills up.
  receiver.script = Array.from({ length: 4 }, () => ({ status: 200, delayMs: 1_500 }))
  const accepted = await post(['f-1', 'f-2', 'f-3', 'f-4'].map((id) => event(id)))
  t.equal(accepted.status, 202)
  const filler = join(mnt, 'filler')
  t.ok(fill(filler) > 0, 'the filesystem is full')
  await receiver.waitFor(4, 5_000).catch((err) => {
    console.error(logs.join('\n'))
    throw err
  })
  await new Promise((r) => setTimeout(r, 2_000))
  const ids = receiver.received.map((r) => r.headers['webhook-id'])
  t.equal(receiver.received.length, 4, 'each delivery was sent once while the disk is full, and not again')
  t.equal(new Set(ids).size, 4)

  const refused = await post(event('f-5', 'small'))
  t.equal(refused.status, 503)
  t.equal(refused.headers['retry-after'], '10')
  t.match(refused.json, {
    title: 'Service Unavailable',
    detail: /^the state store cannot be written \(SQLITE_(FULL|IOERR\w*): [^)]+\); nothing of this request was stored; retry later$/,
  })
  const readyz = await get('/readyz')
  t.equal(readyz.status, 503)
  t.match(JSON.parse(readyz.text), { ready: false, reason: /^the state store cannot be written \(SQLITE_(FULL|IOERR\w*): / })
  t.match(await get('/metrics'), { text: /\nhookwise_store_writable 0\n/ })
  const said = logs.filter((l) => l.includes('the state store cannot be written'))
  t.equal(said.length, 1, 'logged once, not per attempt')
  t.match(JSON.parse(said[0]!), { level: 50, state: join(state, 'hookwise.db') })

  // Space returns: hookwise finds out by itself, sends each pending delivery once more, and takes events again.
  rmSync(filler)
  await until('/readyz to answer 200', async () => (await get('/readyz')).status === 200, 20_000)
  t.same(JSON.parse((await get('/readyz')).text), { ready: true })
  await receiver.waitFor(8, 10_000)
  const again = await post(event('f-6', 'small'))
  t.equal(again.status, 202)
  await receiver.waitFor(9, 5_000)
  await new Promise((r) => setTimeout(r, 1_000))
  const perId = new Map<unknown, number>()
  for (const r of receiver.received) perId.set(r.headers['webhook-id'], (perId.get(r.headers['webhook-id']) ?? 0) + 1)
  t.same(
    ids.map((id) => perId.get(id)),
    [2, 2, 2, 2],
    'the four sent while full are delivered exactly once more (same webhook-id)',
  )
  t.equal(receiver.received.length, 9)
  t.match(await get('/metrics'), { text: /\nhookwise_store_writable 1\n/ })
  t.equal(logs.filter((l) => l.includes('the state store can be written again')).length, 1)
  const succeeded = JSON.parse((await get('/v1/deliveries?status=succeeded')).text) as unknown[]
  t.equal(succeeded.length, 5)
})
