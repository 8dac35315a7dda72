// Memory across runs in one `hookwise run --dir` process (the compiled dist/): BENCH_RUNS runs of
// BENCH_EVENTS events (BENCH_BATCH per request) to the benchmarks' receiver; after each, the
// process's resident memory (VmRSS, VmHWM from /proc) and a heap snapshot (V8 takes it after a
// full garbage collection, through --heapsnapshot-signal), whose nodes' sizes add up to the live JS
// heap. Live heap flat while RSS climbs: no leak, the rest is heap V8 keeps reserved and memory
// outside V8 (see docs/performance.md, "Memory across runs"). A snapshot costs memory of its own:
// the RSS after one is printed apart.
// Run: npm run bench:memory   (not part of npm test; test/memory-bound.test.ts checks the live heap)
// Knobs (environment): BENCH_RUNS (6), BENCH_EVENTS (10000), BENCH_BATCH (50), BENCH_RUN_ARGS, BENCH_NODE_ARGS.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Pool } from 'undici'
import { BENCH_SECRET, benchManifests, eventBody } from './events.js'
import { memoryMb, positiveEnv } from './measure.js'
import { freePort, sleep } from './peers/contestant.js'
import { startReceiver } from './receiver-process.js'

const RUNS = positiveEnv('BENCH_RUNS', 6)
const EVENTS = positiveEnv('BENCH_EVENTS', 10_000)
const BATCH = positiveEnv('BENCH_BATCH', 50)
const RUN_ARGS = (process.env.BENCH_RUN_ARGS ?? '').split(/\s+/).filter(Boolean)
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

const dir = mkdtempSync(join(tmpdir(), 'hookwise-memory-'))
const children: ChildProcess[] = []
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})
for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => process.exit(130))

/** Sum of the self sizes of a heap snapshot's nodes, in MB. */
function liveHeapMb(file: string): number {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as { snapshot: { meta: { node_fields: string[] } }; nodes: number[] }
  const fields = snap.snapshot.meta.node_fields
  const at = fields.indexOf('self_size')
  let bytes = 0
  for (let i = at; i < snap.nodes.length; i += fields.length) bytes += snap.nodes[i]!
  return Math.round(bytes / 2 ** 20)
}

async function main(): Promise<void> {
  for (const sub of ['m', 's', 'snap']) mkdirSync(join(dir, sub))
  const receiver = await startReceiver((c) => children.push(c))
  writeFileSync(join(dir, 'm', 'bench.yaml'), benchManifests(`http://127.0.0.1:${receiver.port}/hook`))
  writeFileSync(join(dir, 's', 'secrets.yaml'), BENCH_SECRET)
  const port = await freePort()
  const args = [
    ...NODE_ARGS,
    '--heapsnapshot-signal=SIGUSR2',
    join(root, 'dist/controller/cli/main.js'),
    'run',
    ...['--dir', join(dir, 'm'), '--secrets', join(dir, 's'), '--state', join(dir, 'state'), '--listen', `127.0.0.1:${port}`],
    ...['--allow-insecure-http', '--egress-allow', '127.0.0.1/32', ...RUN_ARGS],
  ]
  const child = spawn(process.execPath, args, { cwd: join(dir, 'snap'), stdio: ['ignore', 'ignore', 'inherit'] })
  children.push(child)
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) break
    } catch {
      // not listening yet
    }
    await sleep(200)
  }
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 16 })
  for (let run = 1; run <= RUNS; run++) {
    const phase = `run-${run}`
    const started = Date.now()
    let next = 0
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < EVENTS) {
          const from = next
          next = Math.min(EVENTS, next + BATCH)
          const body = `[${Array.from({ length: next - from }, (_, k) => eventBody(phase, from + k, Date.now())).join(',')}]`
          const res = await pool.request({ path: '/v1/events', method: 'POST', headers: { 'content-type': 'application/json' }, body })
          await res.body.dump()
          if (res.statusCode !== 202) throw new Error(`intake answered ${res.statusCode}`)
        }
      }),
    )
    await receiver.wait(phase, EVENTS, 600_000)
    const seconds = (Date.now() - started) / 1000
    const mem = memoryMb(child.pid)
    const before = new Set(readdirSync(join(dir, 'snap')))
    child.kill('SIGUSR2')
    let file: string | undefined
    while (!file) {
      await sleep(500)
      file = readdirSync(join(dir, 'snap')).find((f) => !before.has(f))
    }
    // Written when its size stops changing.
    for (let last = -1; ; ) {
      await sleep(2000)
      const size = statSync(join(dir, 'snap', file)).size
      if (size > 0 && size === last) break
      last = size
    }
    const live = liveHeapMb(join(dir, 'snap', file))
    rmSync(join(dir, 'snap', file))
    console.log(
      JSON.stringify({
        bench: 'memory',
        run,
        events: EVENTS,
        seconds,
        rssMb: mem?.rss,
        peakRssMb: mem?.peak,
        liveHeapMb: live,
        rssAfterSnapshotMb: memoryMb(child.pid)?.rss,
      }),
    )
  }
  await pool.close()
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err)
    process.exit(1)
  },
)
