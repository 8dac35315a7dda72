// Benchmark: hookwise side by side with Flux's notification-controller, on the same machine, to the
// same receiver process, with the same number of events of the same meaning (one event → one signed
// POST to one receiver), in one run:
//   plain loop                    undici POSTs straight to the receiver: the ceiling
//   hookwise --dir                `hookwise run` on a folder, SQLite outbox (the compiled dist/)
//   hookwise --kubernetes         `hookwise run` on the harness's kube-apiserver + etcd
//   notification-controller       its defaults, a generic-hmac Provider and an Alert on the same
//                                 kube-apiserver; Flux event.Event JSON POSTed to its events address
// Each side gets, alternating and in rotating order, BENCH_ROUNDS rounds of BENCH_EVENTS events sent
// closed-loop by BENCH_CLIENTS clients (events accepted/s at the intake, deliveries/s at the
// receiver, CPU seconds per 1,000 deliveries from /proc of its process and, for the sides that use
// it, of kube-apiserver + etcd, resident memory); then the event → receiver latency at fixed rates
// (BENCH_RATES, open loop, BENCH_SECONDS each); then kill -9 with BENCH_PENDING deliveries pending
// (the receiver answers 503 meanwhile), a restart, and the count of those deliveries that never
// arrive within BENCH_KILL_WAIT_S.
// Prints one JSON line per measurement and a Markdown table, and writes the table into BENCH_DOCS
// (default docs/performance.md, between its `bench:peers` markers; `-` to write nothing).
// Run: npm run bench:peers   (not part of npm test; test/bench-peers.test.ts runs it at a tiny N)
// Knobs (environment): BENCH_ROUNDS (3), BENCH_EVENTS (5000), BENCH_CLIENTS (16), BENCH_RATES (200,1000),
// BENCH_SECONDS (5), BENCH_PENDING (1000), BENCH_KILL_WAIT_S (90), BENCH_RUN_ARGS (extra `hookwise
// run` flags; default none: hookwise's defaults), BENCH_NC_ARGS (extra notification-controller flags),
// BENCH_SIDES (comma-separated subset of plain,dir,kubernetes,flux,flux-cached), BENCH_SHOW_LOG,
// BENCH_FROM_SOURCE (run controller/ through tsx instead of dist/),
// BENCH_TIMEOUT_S (1800).
import { execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, release, tmpdir, totalmem } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { Pool } from 'undici'
import { startControlPlane, type ControlPlane } from '../test/k8s/control-plane.js'
import { ensureTools, harnessConfig } from '../test/k8s/tools.js'
import { ensureNotificationController } from '../test/tools/notification-controller.js'
import { cpuSeconds, median, memoryMb, positiveEnv } from './measure.js'
import { type Contestant, sleep } from './peers/contestant.js'
import { startFlux } from './peers/flux.js'
import { startHookwise } from './peers/hookwise.js'
import { startReceiver, type ReceiverHandle } from './receiver-process.js'

const env = positiveEnv
const ROUNDS = env('BENCH_ROUNDS', 3)
const EVENTS = env('BENCH_EVENTS', 5000)
const CLIENTS = env('BENCH_CLIENTS', 16)
const RATES = (process.env.BENCH_RATES ?? '200,1000').split(',').map(Number)
const SECONDS = env('BENCH_SECONDS', 5)
const PENDING = env('BENCH_PENDING', 1000)
const KILL_WAIT_S = env('BENCH_KILL_WAIT_S', 90)
const TIMEOUT_S = env('BENCH_TIMEOUT_S', 1800)
const RUN_ARGS = (process.env.BENCH_RUN_ARGS ?? '').split(/\s+/).filter(Boolean)
const NC_ARGS = (process.env.BENCH_NC_ARGS ?? '').split(/\s+/).filter(Boolean)
const SIDES = (process.env.BENCH_SIDES ?? 'plain,dir,kubernetes,flux').split(',')

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '..')
const DOCS = process.env.BENCH_DOCS ?? join(root, 'docs', 'performance.md')
const clock = (): number => performance.timeOrigin + performance.now()
const log = (line: Record<string, unknown>): void => console.log(JSON.stringify({ bench: 'peers', ...line }))

// ---- children, cleanup and the overall bound ----

const children: ChildProcess[] = []
const track = (c: ChildProcess): void => void children.push(c)
let workDir: string | undefined
let cluster: ControlPlane | undefined
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  if (workDir) rmSync(workDir, { recursive: true, force: true })
})
for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => process.exit(130))
setTimeout(() => {
  console.error(`bench:peers: gave up after ${TIMEOUT_S} s`)
  void cluster?.stop().finally(() => process.exit(1))
}, TIMEOUT_S * 1000).unref()

// ---- load ----

/** Sends `phase-0` … `phase-(n-1)` from `clients` closed-loop clients; resolves when all were accepted. */
async function closedLoop(c: Contestant, pool: Pool, phase: string, n: number, clients: number): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < n) await c.post(pool, phase, next++, clock())
    }),
  )
}

/** Sends `rate` events/s for `seconds` on schedule (open loop), whether or not earlier ones were answered. */
async function openLoop(c: Contestant, pool: Pool, phase: string, rate: number, seconds: number): Promise<number> {
  const total = Math.round(rate * seconds)
  const interval = 1000 / rate
  const start = clock()
  const inFlight: Array<Promise<void>> = []
  let sent = 0
  let failure: unknown
  while (sent < total && failure === undefined) {
    const due = Math.min(total, Math.floor((clock() - start) / interval) + 1)
    for (; sent < due; sent++)
      inFlight.push(
        c.post(pool, phase, sent, clock()).catch((err) => {
          failure = err
        }),
      )
    await sleep(Math.max(0, start + sent * interval - clock()))
  }
  await Promise.all(inFlight)
  if (failure !== undefined) throw failure
  return sent
}

/** The plain loop: the same receiver, a hookwise-shaped body, no intake and no queue. */
function plainSide(receiverUrl: string): Contestant {
  return {
    name: 'plain undici loop (ceiling)',
    url: receiverUrl,
    pids: () => ({}),
    async post(pool, phase, i, sentAt) {
      const body = JSON.stringify({ phase, sentAt, event: `${phase}-${i}`, version: `v${i}`, author: 'alice', accuracy: 0.93 })
      const res = await pool.request({ path: '/hook', method: 'POST', headers: { 'content-type': 'application/json' }, body })
      await res.body.dump()
      if (res.statusCode !== 200) throw new Error(`receiver answered ${res.statusCode}`)
    },
    kill: async () => {},
    restart: async () => {},
    stop: async () => {},
  }
}

// ---- measurements ----

interface Row {
  intake: number[]
  deliveries: number[]
  cpuOwn: number[]
  cpuApi: number[]
  rssMb?: number
  peakMb?: number
  latency: Record<number, { p50: number; p99: number; delivered: number; sent: number }>
  lost?: { pending: number; lost: number; duplicates: number; seconds: number | undefined }
}

/** Waits for `n` requests of `phase` (or gives up after `ms`) and returns what arrived. */
async function arrivals(receiver: ReceiverHandle, phase: string, n: number, ms: number) {
  await receiver.wait(phase, n, ms).catch(() => undefined)
  return receiver.stats(phase)
}

async function throughput(receiver: ReceiverHandle, c: Contestant, key: string, round: number, row: Row): Promise<void> {
  const phase = `tp-${key}-${round}`
  const pool = new Pool(c.url, { connections: CLIENTS })
  const pids = c.pids()
  const cpu0 = { own: cpuSeconds(pids.self), api: sum(cpuSeconds(pids.apiserver), cpuSeconds(pids.etcd)) }
  const start = clock()
  await closedLoop(c, pool, phase, EVENTS, CLIENTS)
  const acceptedAt = clock()
  const got = await arrivals(receiver, phase, EVENTS, Math.max(60_000, EVENTS * 10))
  const cpuOwn = sub(cpuSeconds(pids.self), cpu0.own)
  const cpuApi = sub(sum(cpuSeconds(pids.apiserver), cpuSeconds(pids.etcd)), cpu0.api)
  await pool.close()
  const mem = memoryMb(pids.self)
  const intake = (EVENTS * 1000) / (acceptedAt - start)
  const deliveries = (got.count * 1000) / (got.lastAt - start)
  row.intake.push(intake)
  row.deliveries.push(deliveries)
  if (cpuOwn !== undefined) row.cpuOwn.push((cpuOwn * 1000) / Math.max(1, got.count))
  if (cpuApi !== undefined) row.cpuApi.push((cpuApi * 1000) / Math.max(1, got.count))
  if (mem) {
    row.rssMb = mem.rss
    row.peakMb = Math.max(row.peakMb ?? 0, mem.peak)
  }
  log({
    phase: 'throughput',
    side: c.name,
    round,
    events: EVENTS,
    delivered: got.count,
    distinct: got.distinct,
    signed: got.signed,
    intakeEventsPerSecond: Math.round(intake),
    deliveriesPerSecond: Math.round(deliveries),
    cpuSecondsPer1000: cpuOwn === undefined ? undefined : r2((cpuOwn * 1000) / Math.max(1, got.count)),
    apiserverEtcdCpuSecondsPer1000: cpuApi === undefined ? undefined : r2((cpuApi * 1000) / Math.max(1, got.count)),
    ...(mem ? { rssMb: mem.rss, peakRssMb: mem.peak } : {}),
  })
}

async function latency(receiver: ReceiverHandle, c: Contestant, key: string, rate: number, row: Row): Promise<void> {
  const phase = `lat${rate}-${key}`
  const pool = new Pool(c.url, { connections: CLIENTS * 4 })
  const sent = await openLoop(c, pool, phase, rate, SECONDS)
  const got = await arrivals(receiver, phase, sent, 60_000)
  await pool.close()
  const l = got.latency
  row.latency[rate] = { p50: l?.p50 ?? NaN, p99: l?.p99 ?? NaN, delivered: got.count, sent }
  log({ phase: 'latency', side: c.name, rate, seconds: SECONDS, sent, delivered: got.count, p50Ms: l?.p50, p99Ms: l?.p99, maxMs: l?.max })
}

async function killAndRestart(receiver: ReceiverHandle, c: Contestant, key: string, row: Row): Promise<void> {
  const phase = `kill-${key}`
  await receiver.refuse(phase, true)
  const pool = new Pool(c.url, { connections: CLIENTS })
  await closedLoop(c, pool, phase, PENDING, CLIENTS)
  await pool.close()
  await sleep(1000) // attempts are made and refused: the deliveries are pending, not merely queued
  await c.kill()
  await receiver.refuse(phase, false)
  const restarted = clock()
  await c.restart()
  const got = await arrivals(receiver, phase, PENDING, KILL_WAIT_S * 1000)
  const seconds = got.count ? Math.max(0, Math.round((got.lastAt - restarted) / 1000)) : undefined
  row.lost = { pending: PENDING, lost: PENDING - got.distinct, duplicates: got.count - got.distinct, seconds }
  log({
    phase: 'kill -9',
    side: c.name,
    pending: PENDING,
    delivered: got.distinct,
    lost: row.lost.lost,
    duplicates: row.lost.duplicates,
    secondsAfterRestart: seconds,
  })
}

// ---- the report ----

const r2 = (x: number): number => Math.round(x * 100) / 100
const sum = (a?: number, b?: number): number | undefined => (a === undefined || b === undefined ? undefined : a + b)
const sub = (a?: number, b?: number): number | undefined => (a === undefined || b === undefined ? undefined : a - b)
const k = (x: number): string => (x >= 1000 ? `${(x / 1000).toFixed(x >= 10_000 ? 0 : 1)}k` : String(Math.round(x)))
const range = (xs: number[], f: (x: number) => string): string =>
  xs.length === 0 ? '–' : xs.length === 1 ? f(xs[0]!) : `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`
const ms = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '–' : x < 10 ? x.toFixed(1) : String(Math.round(x)))

function lostCell(l: NonNullable<Row['lost']>): string {
  const notes = [
    ...(l.seconds !== undefined && l.lost < l.pending
      ? [`${l.lost === 0 ? 'all' : 'the rest'} delivered within ${l.seconds} s of the restart`]
      : []),
    ...(l.duplicates ? [`${l.duplicates} duplicates`] : []),
  ]
  return `${l.lost}${notes.length ? ` (${notes.join(', ')})` : ''}`
}

function table(rows: Array<[Contestant, Row]>): string {
  const head = [
    'side',
    'events/s accepted',
    'deliveries/s',
    ...RATES.map((r) => `p50 / p99 ms at ${r}/s`),
    'CPU-s per 1,000 (own process)',
    'CPU-s per 1,000 (kube-apiserver + etcd)',
    'RSS MB (peak)',
    `lost after kill -9 (of ${PENDING} pending)`,
  ]
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`]
  for (const [c, row] of rows) {
    const lat = RATES.map((rate) => {
      const l = row.latency[rate]
      if (!l) return '–'
      const short = l.delivered < l.sent ? ` (${l.sent - l.delivered} missing)` : ''
      return `${ms(l.p50)} / ${ms(l.p99)}${short}`
    })
    lines.push(
      `| ${[
        c.name,
        range(row.intake, k),
        range(row.deliveries, k),
        ...lat,
        range(row.cpuOwn, (x) => x.toFixed(2)),
        range(row.cpuApi, (x) => x.toFixed(2)),
        row.rssMb === undefined ? '–' : `${row.rssMb} (${row.peakMb})`,
        row.lost ? lostCell(row.lost) : '–',
      ].join(' | ')} |`,
    )
  }
  return lines.join('\n')
}

function machine(): string {
  const cpu = cpus()
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}, Node ${process.version}`
}

function commit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' }).trim()
    return dirty ? `${head} + uncommitted changes` : head
  } catch {
    return 'unknown'
  }
}

function writeDocs(report: string): void {
  if (DOCS === '-') return
  const begin = '<!-- bench:peers:begin -->'
  const end = '<!-- bench:peers:end -->'
  const text = readFileSync(DOCS, 'utf8')
  const a = text.indexOf(begin)
  const b = text.indexOf(end)
  if (a < 0 || b < a) throw new Error(`${DOCS} has no ${begin} … ${end} section to write the table into`)
  writeFileSync(DOCS, `${text.slice(0, a + begin.length)}\n${report}\n${text.slice(b)}`)
  console.error(`bench:peers: table written to ${DOCS}`)
}

// ---- the run ----

async function main(): Promise<void> {
  const hookwiseCommit = commit() // now, before anything else changes in the worktree
  const cfg = harnessConfig()
  const progress = (line: string): void => console.error(line)
  const tools = await ensureTools(cfg, progress)
  const peer = await ensureNotificationController(cfg, progress)
  workDir = mkdtempSync(join(tmpdir(), 'hookwise-peers-'))
  cluster = await startControlPlane(tools, { log: progress })
  const receiver = await startReceiver(track)
  const receiverUrl = `http://127.0.0.1:${receiver.port}`
  // Ready when an event sent now reaches the receiver within 2 s.
  let probes = 0
  const probe = async (c: Contestant): Promise<void> => {
    const phase = `probe-${++probes}`
    const pool = new Pool(c.url, { connections: 1 })
    try {
      await c.post(pool, phase, 0, clock())
      await receiver.wait(phase, 1, 2000)
    } finally {
      await pool.close()
    }
  }
  const sides: Array<[string, Contestant]> = []
  try {
    for (const side of SIDES) {
      if (side === 'plain') sides.push([side, plainSide(`${receiverUrl}`)])
      else if (side === 'dir' || side === 'kubernetes')
        sides.push([
          side,
          await startHookwise(
            {
              root,
              dir: join(workDir, side),
              receiverUrl: `${receiverUrl}/hook`,
              args: RUN_ARGS,
              ...(side === 'kubernetes' ? { cluster, namespace: 'bench-hookwise' } : {}),
            },
            track,
            probe,
          ),
        ])
      else if (side === 'flux' || side === 'flux-cached')
        sides.push([
          side,
          await startFlux(
            cluster,
            peer,
            {
              namespace: `bench-${side}`,
              provider: 'generic-hmac',
              receiverUrl: `${receiverUrl}/hook`,
              args: [...NC_ARGS, ...(side === 'flux-cached' ? ['--feature-gates=CacheSecretsAndConfigMaps=true'] : [])],
              ...(side === 'flux-cached' ? { name: 'notification-controller (generic-hmac, Secrets cached)' } : {}),
            },
            track,
            probe,
          ),
        ])
      else throw new Error(`BENCH_SIDES: unknown side ${side} (plain, dir, kubernetes, flux, flux-cached)`)
    }
    const rows = new Map<string, Row>(sides.map(([key]) => [key, { intake: [], deliveries: [], cpuOwn: [], cpuApi: [], latency: {} }]))
    // Warm-up: JIT, connection pools, SQLite pages, informer caches.
    for (const [key, c] of sides) {
      const pool = new Pool(c.url, { connections: CLIENTS })
      await closedLoop(c, pool, `warm-${key}`, Math.min(1000, EVENTS), CLIENTS)
      await pool.close()
      await arrivals(receiver, `warm-${key}`, Math.min(1000, EVENTS), 60_000)
    }
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternating, in an order that rotates each round, so drifts of the machine's load spread over every side.
      for (let i = 0; i < sides.length; i++) {
        const [key, c] = sides[(i + round - 1) % sides.length]!
        await throughput(receiver, c, key, round, rows.get(key)!)
      }
    }
    for (const rate of RATES) for (const [key, c] of sides) await latency(receiver, c, key, rate, rows.get(key)!)
    for (const [key, c] of sides) if (key !== 'plain') await killAndRestart(receiver, c, key, rows.get(key)!)

    const report = [
      `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; hookwise ${hookwiseCommit}, notification-controller ${peer.commit.slice(0, 12)} (fluxcd/notification-controller).`,
      `${ROUNDS} rounds of ${EVENTS} events from ${CLIENTS} clients per side (median, lowest–highest); latency over ${SECONDS} s per rate; kill -9 with ${PENDING} pending. hookwise flags: ${RUN_ARGS.length ? RUN_ARGS.join(' ') : 'defaults'}; notification-controller flags: ${NC_ARGS.length ? NC_ARGS.join(' ') : 'defaults'}.`,
      '',
      table(sides.map(([key, c]) => [c, rows.get(key)!])),
    ].join('\n')
    console.log(report)
    writeDocs(report)
  } finally {
    for (const [, c] of sides) await c.stop()
    await cluster.stop()
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err)
    process.exit(1)
  },
)
