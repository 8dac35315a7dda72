// Benchmark: durable delivery end to end. Events go over HTTP to the intake (POST /v1/events) of a
// `hookwise run` child process, into its SQLite outbox, and out through undici (from its sending
// thread) to a receiver process on 127.0.0.1 (bench/delivery-receiver.ts). The controller is the
// compiled dist/, as `npm start` and the image run it (`npm run bench:delivery` builds first;
// BENCH_FROM_SOURCE=1 runs controller/ through tsx instead). The baseline,
// measured in the same run against the same receiver, is a plain undici POST loop with no intake
// and no queue. The machine is shared and its load moves, so the run is made of BENCH_ROUNDS
// rounds, and each durable phase is compared with a plain phase measured just before it.
// Prints one JSON line per phase:
//   plain      requests/s of the plain loop (BENCH_PLAIN_CONCURRENCY requests in flight)
//   durable    deliveries/s: BENCH_EVENTS events sent as fast as the intake takes them by
//              BENCH_CLIENTS clients, over the time until the receiver has them all; ratioToPlain
//              (to the plain phase just before). One event per request, then BENCH_BATCH events
//              per request (an array), in every round (BENCH_BATCHES lists others, e.g. 50)
//   cpuUs…     per phase, the CPU time (user + system, from /proc) each process used per request or
//              delivery, and the controller's main thread alone (controllerMainThread; the rest is
//              its sending thread, SQLite's checkpointer and V8's helpers): where the two cores go,
//              and steadier than rates on a shared machine
//   latency    p50/p99 event-to-delivery latency at a fixed BENCH_RATE events/s (open loop:
//              sends follow the schedule whether or not earlier ones were answered); latency is
//              the receiver's arrival time minus the client's send time, carried in the event's
//              artifact metadata (`sentAt`), both read from this machine's clock
//   summary    per events-per-request: the median over the rounds of deliveries/s and of the ratio
//              (with the lowest and highest), the targets (≥ 5,000 deliveries/s, ratio ≥ 0.5,
//              p99 < 50 ms) and whether the medians meet them
// Everything listens on 127.0.0.1; the run is bounded (BENCH_TIMEOUT_S) and kills its children.
// Run: npm run bench:delivery   (not part of npm test)
// Knobs (environment): BENCH_ROUNDS (5), BENCH_EVENTS (20000), BENCH_CLIENTS (= BENCH_PLAIN_CONCURRENCY),
// BENCH_BATCH (50), BENCH_BATCHES (1,BENCH_BATCH), BENCH_PLAIN_CONCURRENCY (16), BENCH_RATE (1000),
// BENCH_SECONDS (5), BENCH_FROM_SOURCE,
// BENCH_LOG_LEVEL (info), BENCH_RUN_ARGS (extra `hookwise run` flags; default
// "--per-webhook-concurrency 2048 --connections-per-origin 64 --concurrency 4096"), BENCH_NODE_ARGS
// (extra node flags for the controller, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"),
// BENCH_SHOW_LOG (1: the controller's log on stdout), BENCH_TIMEOUT_S (600).
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { Pool } from 'undici'
import { BENCH_SECRET, benchManifests, eventBody } from './events.js'
import { startReceiver } from './receiver-process.js'
import { cpuSeconds, median, positiveEnv } from './measure.js'

const env = positiveEnv
const ROUNDS = env('BENCH_ROUNDS', 5)
const EVENTS = env('BENCH_EVENTS', 20_000)
const BATCH = env('BENCH_BATCH', 50)
// Events per request of the durable phases in each round.
const BATCHES = (process.env.BENCH_BATCHES ?? (BATCH === 1 ? '1' : `1,${BATCH}`)).split(',').map((b) => {
  const n = Number(b)
  if (!Number.isInteger(n) || n <= 0) throw new Error('BENCH_BATCHES must list positive whole numbers, e.g. 1,50')
  return n
})
const PLAIN_CONCURRENCY = env('BENCH_PLAIN_CONCURRENCY', 16)
// As many requests in flight at the intake as the plain loop has at the receiver: the same offered
// concurrency on both sides of the comparison.
const CLIENTS = env('BENCH_CLIENTS', PLAIN_CONCURRENCY)
const RATE = env('BENCH_RATE', 1000)
const SECONDS = env('BENCH_SECONDS', 5)
const TIMEOUT_S = env('BENCH_TIMEOUT_S', 600)
const WARMUP = Math.min(2000, EVENTS)
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'info'
// One receiver gets everything, so the per-webhook limit (default 8) and the overall one (128) are
// raised: requests wait for turns of the controller's main thread (where responses are judged and
// recorded and the next requests are started), and enough in flight keeps the receiver busy meanwhile.
// With 2,048 in flight rather than 512, each turn starts and records more deliveries (one commit
// and one message to the sending thread for more of them): 5-10 % less controller CPU per delivery
// and 10 % more deliveries/s in alternating pairs on 2026-11-29; 8,192 gained nothing more, and 32
// or 128 connections did no better than 64.
const RUN_ARGS = (process.env.BENCH_RUN_ARGS ?? '--per-webhook-concurrency 2048 --connections-per-origin 64 --concurrency 4096')
  .split(/\s+/)
  .filter(Boolean)
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)
const TARGETS = { deliveriesPerSecond: 5000, ratioToPlain: 0.5, p99Ms: 50 }

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '..')
const clock = (): number => performance.timeOrigin + performance.now()
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const log = (line: Record<string, unknown>): void => console.log(JSON.stringify({ bench: 'delivery', ...line }))

/**
 * CPU used per delivery by each process during a phase, in µs: where the machine's two cores go.
 * Less sensitive to other load on the machine than rates are.
 */
function cpuMeter(pids: Record<string, number | undefined>, mainThreadOf?: string): () => Record<string, number> {
  const read = (): Record<string, number | undefined> => ({
    ...Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)])),
    ...(mainThreadOf ? { [`${mainThreadOf}MainThread`]: cpuSeconds(pids[mainThreadOf], 'main') } : {}),
  })
  const start = read()
  return () => {
    const out: Record<string, number> = {}
    for (const [name, end] of Object.entries(read())) {
      const begin = start[name]
      if (end !== undefined && begin !== undefined) out[name] = end - begin
    }
    return out
  }
}
const perDelivery = (cpu: Record<string, number>, n: number): Record<string, number> =>
  Object.fromEntries(Object.entries(cpu).map(([name, s]) => [name, Math.round((s * 1e6) / n)]))

// ---- children, cleanup and the overall bound ----

const children: ChildProcess[] = []
let workDir: string | undefined
function killChildren(signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(signal)
}
process.on('exit', () => {
  killChildren()
  if (workDir) rmSync(workDir, { recursive: true, force: true })
})
for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => process.exit(130))
const deadline = setTimeout(() => {
  console.error(`bench:delivery: gave up after ${TIMEOUT_S} s`)
  process.exit(1)
}, TIMEOUT_S * 1000)
deadline.unref()

// ---- the controller process ----

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer()
    s.once('error', fail)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => ok(port))
    })
  })
}

function writeManifests(dir: string, receiverPort: number): { manifests: string; secrets: string } {
  const manifests = join(dir, 'manifests')
  const secrets = join(dir, 'secrets')
  mkdirSync(manifests)
  mkdirSync(secrets)
  writeFileSync(join(secrets, 'secrets.yaml'), BENCH_SECRET)
  writeFileSync(join(manifests, 'bench.yaml'), benchManifests(`http://127.0.0.1:${receiverPort}/hook`))
  return { manifests, secrets }
}

async function startController(dir: string, receiverPort: number): Promise<{ url: string; child: ChildProcess }> {
  const { manifests, secrets } = writeManifests(dir, receiverPort)
  const port = await freePort()
  if (!process.env.BENCH_FROM_SOURCE && !existsSync(join(root, 'dist/controller/cli/main.js')))
    throw new Error('dist/ is missing: run `npm run build` first (npm run bench:delivery does)')
  const args = [
    ...NODE_ARGS,
    ...(process.env.BENCH_FROM_SOURCE
      ? ['--import', 'tsx', join(root, 'controller/cli/main.ts')]
      : [join(root, 'dist/controller/cli/main.js')]),
    'run',
    '--dir',
    manifests,
    '--secrets',
    secrets,
    '--state',
    join(dir, 'state'),
    '--listen',
    `127.0.0.1:${port}`,
    '--allow-insecure-http',
    '--egress-allow',
    '127.0.0.1/32',
    '--log-level',
    LOG_LEVEL,
    ...RUN_ARGS,
  ]
  // Logs go to /dev/null (unless BENCH_SHOW_LOG): their cost (serialising and writing each line) stays in the measurement.
  const child = spawn(process.execPath, args, {
    cwd: root,
    stdio: ['ignore', process.env.BENCH_SHOW_LOG ? 'inherit' : 'ignore', 'inherit'],
  })
  children.push(child)
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`hookwise run exited with ${child.exitCode}`)
    try {
      const res = await fetch(`${url}/readyz`)
      if (res.status === 200) break
    } catch {
      // not listening yet
    }
    if (i > 300) throw new Error('hookwise run was not ready within 30 s')
    await sleep(100)
  }
  return { url, child }
}

async function stopController(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  if (await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)])) return
  child.kill('SIGKILL')
  await exited
}

// ---- load ----

const JSON_HEADERS = { 'content-type': 'application/json' }

/** POSTs events `phase-from` … `phase-(from+count-1)`: one event, or an array of them. */
async function postEvents(pool: Pool, phase: string, from: number, count = 1): Promise<void> {
  const sentAt = clock()
  const body =
    count === 1
      ? eventBody(phase, from, sentAt)
      : `[${Array.from({ length: count }, (_, k) => eventBody(phase, from + k, sentAt)).join(',')}]`
  const res = await pool.request({ path: '/v1/events', method: 'POST', headers: JSON_HEADERS, body })
  const text = await res.body.text()
  if (res.statusCode !== 202) throw new Error(`intake answered ${res.statusCode}: ${text.slice(0, 300)}`)
}

/** Sends events `phase-0` … `phase-(n-1)`, `batch` per request, from `clients` closed-loop clients; resolves when all were accepted. */
async function sendClosedLoop(pool: Pool, phase: string, n: number, clients: number, batch = 1): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < n) {
        const from = next
        next = Math.min(n, next + batch)
        await postEvents(pool, phase, from, next - from)
      }
    }),
  )
}

/** Sends `rate` events/s for `seconds`, on schedule (open loop); returns how far sends fell behind the schedule. */
async function sendOpenLoop(pool: Pool, phase: string, rate: number, seconds: number): Promise<{ sent: number; maxLagMs: number }> {
  const total = Math.round(rate * seconds)
  const interval = 1000 / rate
  const start = clock()
  const inFlight: Array<Promise<void>> = []
  let sent = 0
  let maxLagMs = 0
  let failure: unknown
  while (sent < total && failure === undefined) {
    const now = clock()
    const due = Math.min(total, Math.floor((now - start) / interval) + 1)
    if (sent < due) maxLagMs = Math.max(maxLagMs, now - (start + sent * interval))
    for (; sent < due; sent++)
      inFlight.push(
        postEvents(pool, phase, sent).catch((err) => {
          failure = err
        }),
      )
    await sleep(Math.max(0, start + sent * interval - clock()))
  }
  await Promise.all(inFlight)
  if (failure !== undefined) throw failure
  return { sent, maxLagMs: Math.round(maxLagMs * 100) / 100 }
}

async function plainLoop(receiverPort: number, phase: string, n: number, concurrency: number): Promise<void> {
  const pool = new Pool(`http://127.0.0.1:${receiverPort}`, { connections: concurrency })
  let next = 0
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < n) {
          const i = next++
          const body = JSON.stringify({ phase, sentAt: clock(), event: `${phase}-${i}`, version: `v${i}`, author: 'alice', accuracy: 0.93 })
          const res = await pool.request({ path: '/hook', method: 'POST', headers: JSON_HEADERS, body })
          await res.body.dump()
          if (res.statusCode !== 200) throw new Error(`receiver answered ${res.statusCode}`)
        }
      }),
    )
  } finally {
    await pool.close()
  }
}

// ---- the run ----

async function main(): Promise<void> {
  workDir = mkdtempSync(join(tmpdir(), 'hookwise-bench-'))
  const receiver = await startReceiver((child) => children.push(child))
  const controller = await startController(workDir, receiver.port)
  const intake = new Pool(controller.url, { connections: Math.max(CLIENTS, 8) })
  const deliveryTimeout = Math.max(30_000, (EVENTS / 500) * 1000)
  try {
    // Warm-up: JIT, connection pools, SQLite pages.
    await plainLoop(receiver.port, 'warm-plain', WARMUP, PLAIN_CONCURRENCY)
    await sendClosedLoop(intake, 'warm', WARMUP, CLIENTS)
    await receiver.wait('warm', WARMUP, deliveryTimeout)

    const pids = { client: process.pid, controller: controller.child.pid, receiver: receiver.pid }
    const runs = new Map<number, Array<{ perSecond: number; ratio: number }>>(BATCHES.map((b) => [b, []]))
    for (let round = 1; round <= ROUNDS; round++) {
      for (const batch of BATCHES) {
        // Baseline: the plain undici loop to the same receiver, just before the durable phase.
        const plainPhase = `plain-${round}-${batch}`
        const plainStart = clock()
        const plainCpu = cpuMeter({ client: pids.client, receiver: pids.receiver })
        await plainLoop(receiver.port, plainPhase, EVENTS, PLAIN_CONCURRENCY)
        const plain = await receiver.wait(plainPhase, EVENTS, deliveryTimeout)
        const plainPerSecond = (EVENTS * 1000) / (plain.lastAt - plainStart)
        log({
          phase: 'plain',
          round,
          requests: EVENTS,
          concurrency: PLAIN_CONCURRENCY,
          requestsPerSecond: Math.round(plainPerSecond),
          cpuUsPerRequest: perDelivery(plainCpu(), EVENTS),
        })

        // Durable: one event per request (a registry hook, a CI step), or BATCH per request (a
        // bridge that forwards events in arrays), so the intake's per-request cost shows apart.
        const phase = `durable-${round}-${batch}`
        const start = clock()
        const cpu = cpuMeter(pids, 'controller')
        await sendClosedLoop(intake, phase, EVENTS, CLIENTS, batch)
        const acceptedAt = clock()
        const durable = await receiver.wait(phase, EVENTS, deliveryTimeout)
        const used = cpu()
        await sleep(200) // let any duplicate show up before counting distinct ids
        const final = await receiver.stats(phase)
        const perSecond = (EVENTS * 1000) / (durable.lastAt - start)
        const ratio = perSecond / plainPerSecond
        runs.get(batch)!.push({ perSecond, ratio })
        log({
          phase: 'durable',
          round,
          events: EVENTS,
          clients: CLIENTS,
          eventsPerRequest: batch,
          intakeEventsPerSecond: Math.round((EVENTS * 1000) / (acceptedAt - start)),
          deliveriesPerSecond: Math.round(perSecond),
          delivered: final.count,
          distinct: final.distinct,
          ratioToPlain: Number(ratio.toFixed(2)),
          cpuUsPerDelivery: perDelivery(used, EVENTS),
        })
      }
    }

    // Latency at a fixed rate, open loop.
    const paced = await sendOpenLoop(intake, 'latency', RATE, SECONDS)
    await receiver.wait('latency', paced.sent, deliveryTimeout)
    const lat = await receiver.stats('latency')
    log({
      phase: 'latency',
      rate: RATE,
      seconds: SECONDS,
      events: paced.sent,
      delivered: lat.count,
      clientMaxLagMs: paced.maxLagMs,
      ...(lat.latency ? { p50Ms: lat.latency.p50, p90Ms: lat.latency.p90, p99Ms: lat.latency.p99, maxMs: lat.latency.max } : {}),
    })

    const p99 = lat.latency?.p99 ?? Infinity
    const r2 = (x: number): number => Number(x.toFixed(2))
    for (const [batch, rs] of runs) {
      const perSecond = median(rs.map((r) => r.perSecond))
      const ratios = rs.map((r) => r.ratio)
      const ratio = median(ratios)
      log({
        phase: 'summary',
        eventsPerRequest: batch,
        rounds: rs.length,
        logLevel: LOG_LEVEL,
        runArgs: RUN_ARGS.join(' '),
        deliveriesPerSecond: Math.round(perSecond),
        ratioToPlain: r2(ratio),
        ratioRange: [r2(Math.min(...ratios)), r2(Math.max(...ratios))],
        p99Ms: p99,
        met: {
          deliveriesPerSecond: perSecond >= TARGETS.deliveriesPerSecond,
          ratioToPlain: ratio >= TARGETS.ratioToPlain,
          p99Ms: p99 < TARGETS.p99Ms,
        },
        targets: TARGETS,
      })
    }
  } finally {
    await intake.close()
    await stopController(controller.child)
    killChildren('SIGTERM')
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err)
    process.exit(1)
  },
)
