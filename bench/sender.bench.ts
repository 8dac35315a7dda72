// Benchmark: what sending costs, apart from the rest of the controller. The same requests a
// delivery makes (a rendered body, Standard Webhooks signature, hookwise's headers) go to the
// delivery benchmark's receiver process on 127.0.0.1 three ways, beside a plain undici POST loop to
// the same receiver in the same run:
//   plain      Pool.request with a small JSON body: the delivery benchmark's baseline
//   inProcess  buildRequest + UndiciSender.send in this thread (what `hookwise test webhook` does)
//   threaded   buildRequest here + ThreadedSender.send: undici on the sending thread (what
//              `hookwise run` does); the difference to inProcess is the cost of crossing threads
// Each way runs BENCH_REQUESTS requests with BENCH_IN_FLIGHT in flight, in BENCH_ROUNDS rounds
// (the machine is shared). Prints one JSON line per phase: requests/s, the ratio to the plain phase
// just before it, and CPU per request (user + system, from /proc) of this process, of its main
// thread alone, and of the receiver. The summary gives the medians over the rounds.
// Runs the compiled sender (dist/; `npm run bench:sender` builds first), as `hookwise run` does.
// Run: npm run bench:sender   (not part of npm test)
// Knobs (environment): BENCH_ROUNDS (3), BENCH_REQUESTS (40000), BENCH_IN_FLIGHT (512),
// BENCH_CONNECTIONS (64), BENCH_TIMEOUT_S (300).
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Pool } from 'undici'
import { startReceiver } from './receiver-process.js'
import { cpuSeconds, median, positiveEnv } from './measure.js'
import type * as RequestModule from '../controller/delivery/request.js'
import type * as SenderModule from '../controller/delivery/sender.js'
import type * as ThreadedModule from '../controller/delivery/threaded-sender.js'
import type { Sender } from '../controller/delivery/send-result.js'

const env = positiveEnv
const ROUNDS = env('BENCH_ROUNDS', 3)
const REQUESTS = env('BENCH_REQUESTS', 40_000)
const IN_FLIGHT = env('BENCH_IN_FLIGHT', 512)
const CONNECTIONS = env('BENCH_CONNECTIONS', 64)
const TIMEOUT_S = env('BENCH_TIMEOUT_S', 300)

const here = dirname(fileURLToPath(import.meta.url))
const dist = resolve(here, '../dist/controller/delivery')
if (!existsSync(join(dist, 'threaded-sender.js')))
  throw new Error('dist/ is missing: run `npm run build` first (npm run bench:sender does)')
const { buildRequest } = (await import(pathToFileURL(join(dist, 'request.js')).href)) as typeof RequestModule
const { UndiciSender } = (await import(pathToFileURL(join(dist, 'sender.js')).href)) as typeof SenderModule
const { ThreadedSender } = (await import(pathToFileURL(join(dist, 'threaded-sender.js')).href)) as typeof ThreadedModule

const log = (line: Record<string, unknown>): void => console.log(JSON.stringify({ bench: 'sender', ...line }))
const deadline = setTimeout(() => {
  console.error(`bench:sender: gave up after ${TIMEOUT_S} s`)
  process.exit(1)
}, TIMEOUT_S * 1000)
deadline.unref()

let receiverChild: ChildProcess | undefined
process.on('exit', () => receiverChild?.kill('SIGKILL'))
const receiver = await startReceiver((child) => {
  receiverChild = child
})
const port = receiver.port

const url = `http://127.0.0.1:${port}/hook`
const webhook = {
  url,
  secrets: [{ name: 'SIGNING_KEY', secretKeyRef: { name: 'bench', key: 'signing-key' } }],
  signing: { secret: 'SIGNING_KEY', scheme: 'standard-webhooks' as const },
}
const secrets = { SIGNING_KEY: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }
const body = (phase: string, i: number): string =>
  JSON.stringify({ phase, sentAt: Date.now(), event: `${phase}-${i}`, version: `v${i}`, author: 'alice', accuracy: 0.93 })
const timestamp = Math.floor(Date.now() / 1000)

/** Runs `one` for REQUESTS requests, IN_FLIGHT at a time; returns requests/s and CPU µs per request. */
async function phase(
  name: string,
  one: (phase: string, i: number) => Promise<void>,
): Promise<{ perSecond: number; cpu: Record<string, number> }> {
  const read = (): Record<string, number> => ({
    process: cpuSeconds(process.pid)!,
    mainThread: cpuSeconds(process.pid, 'main')!,
    receiver: cpuSeconds(receiver.pid)!,
  })
  const before = read()
  const start = performance.now()
  let next = 0
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < REQUESTS) await one(name, next++)
    }),
  )
  const seconds = (performance.now() - start) / 1000
  const after = read()
  const stats = await receiver.stats(name)
  if (stats.count !== REQUESTS) throw new Error(`${name}: the receiver got ${stats.count} of ${REQUESTS} requests`)
  const cpu = Object.fromEntries(Object.keys(before).map((k) => [k, Math.round(((after[k]! - before[k]!) * 1e6) / REQUESTS)]))
  return { perSecond: REQUESTS / seconds, cpu }
}

const egress = { allowInsecureHttp: true, allow: ['127.0.0.1/32'] }
const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONNECTIONS })
const inProcess = new UndiciSender({ egress, connectionsPerOrigin: CONNECTIONS })
const threaded = new ThreadedSender({ egress, connectionsPerOrigin: CONNECTIONS })
const JSON_HEADERS = { 'content-type': 'application/json' }

const plainOne = async (p: string, i: number): Promise<void> => {
  const res = await pool.request({ path: '/hook', method: 'POST', headers: JSON_HEADERS, body: body(p, i) })
  await res.body.dump()
  if (res.statusCode !== 200) throw new Error(`receiver answered ${res.statusCode}`)
}
const viaSender =
  (sender: Sender) =>
  async (p: string, i: number): Promise<void> => {
    const request = buildRequest({ webhook, secrets, body: body(p, i), deliveryId: `msg_${p}_${i}`, timestamp })
    const result = await sender.send(request, { timeoutMs: 10_000 })
    if (result.statusCode !== 200) throw new Error(`send failed: ${JSON.stringify(result)}`)
  }
const ways = { inProcess: viaSender(inProcess), threaded: viaSender(threaded) }

try {
  await phase('warm-plain', plainOne)
  for (const [name, one] of Object.entries(ways)) await phase(`warm-${name}`, one)
  const ratios = new Map<string, number[]>(Object.keys(ways).map((k) => [k, []]))
  const cpus = new Map<string, number[]>([['plain', []], ...Object.keys(ways).map((k): [string, number[]] => [k, []])])
  for (let round = 1; round <= ROUNDS; round++) {
    const plain = await phase(`plain-${round}`, plainOne)
    cpus.get('plain')!.push(plain.cpu.process! + plain.cpu.receiver!)
    log({
      phase: 'plain',
      round,
      requests: REQUESTS,
      inFlight: IN_FLIGHT,
      requestsPerSecond: Math.round(plain.perSecond),
      cpuUsPerRequest: plain.cpu,
    })
    for (const [name, one] of Object.entries(ways)) {
      const r = await phase(`${name}-${round}`, one)
      ratios.get(name)!.push(r.perSecond / plain.perSecond)
      cpus.get(name)!.push(r.cpu.process! + r.cpu.receiver!)
      log({
        phase: name,
        round,
        requests: REQUESTS,
        inFlight: IN_FLIGHT,
        requestsPerSecond: Math.round(r.perSecond),
        ratioToPlain: Number((r.perSecond / plain.perSecond).toFixed(2)),
        cpuUsPerRequest: r.cpu,
      })
    }
  }
  log({
    phase: 'summary',
    rounds: ROUNDS,
    inFlight: IN_FLIGHT,
    connections: CONNECTIONS,
    ratioToPlain: Object.fromEntries([...ratios].map(([k, v]) => [k, Number(median(v).toFixed(2))])),
    cpuUsPerRequestWithReceiver: Object.fromEntries([...cpus].map(([k, v]) => [k, Math.round(median(v))])),
  })
} finally {
  await Promise.all([pool.close(), inProcess.close(), threaded.close()])
  receiverChild?.kill()
}
