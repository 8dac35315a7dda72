// The receiver process of the delivery benchmark (forked by bench/delivery.bench.ts): an HTTP
// server on 127.0.0.1 that answers 200 and, per phase named in the body, counts requests and
// distinct ids and records latency = arrival time − the `sentAt` the client put in the event.
// Times are performance.timeOrigin + performance.now(): this machine's wall clock, sub-millisecond.
// It talks to its parent over IPC only and exits when the parent goes away.
import { createServer } from 'node:http'
import { performance } from 'node:perf_hooks'

interface Phase {
  count: number
  ids: Set<string>
  latencies: number[]
  firstAt: number
  lastAt: number
  waiters: Array<{ n: number; reply: () => void }>
}

export interface ReceiverRequest {
  op: 'wait' | 'stats'
  ref: number
  phase: string
  /** op 'wait': answer once this many requests of the phase arrived. */
  n?: number
}
export interface PhaseStats {
  count: number
  distinct: number
  firstAt: number
  lastAt: number
  latency?: { p50: number; p90: number; p99: number; max: number; samples: number }
}

const clock = (): number => performance.timeOrigin + performance.now()
const phases = new Map<string, Phase>()
const phaseOf = (name: string): Phase => {
  let p = phases.get(name)
  if (!p) {
    p = { count: 0, ids: new Set(), latencies: [], firstAt: 0, lastAt: 0, waiters: [] }
    phases.set(name, p)
  }
  return p
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN
}

function stats(p: Phase): PhaseStats {
  const out: PhaseStats = { count: p.count, distinct: p.ids.size, firstAt: p.firstAt, lastAt: p.lastAt }
  if (p.latencies.length) {
    const s = Float64Array.from(p.latencies).sort()
    const r = (x: number): number => Math.round(x * 100) / 100
    out.latency = {
      p50: r(quantile([...s], 0.5)),
      p90: r(quantile([...s], 0.9)),
      p99: r(quantile([...s], 0.99)),
      max: r(s[s.length - 1]!),
      samples: s.length,
    }
  }
  return out
}

const OK = Buffer.from('{"ok":true}')
const server = createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const at = clock()
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { phase?: string; sentAt?: number; event?: string }
      const p = phaseOf(String(body.phase))
      p.count++
      if (p.count === 1) p.firstAt = at
      p.lastAt = at
      if (body.event) p.ids.add(body.event)
      if (typeof body.sentAt === 'number') p.latencies.push(at - body.sentAt)
      if (p.waiters.length) {
        p.waiters = p.waiters.filter((w) => {
          if (p.count < w.n) return true
          w.reply()
          return false
        })
      }
    } catch {
      phaseOf('unparsable').count++
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': OK.length })
    res.end(OK)
  })
})
server.keepAliveTimeout = 120_000

process.on('message', (m: ReceiverRequest) => {
  const p = phaseOf(m.phase)
  if (m.op === 'stats') return process.send!({ ref: m.ref, stats: stats(p) })
  const reply = (): void =>
    void process.send!({ ref: m.ref, stats: { count: p.count, distinct: p.ids.size, firstAt: p.firstAt, lastAt: p.lastAt } })
  const n = m.n ?? 0
  if (p.count >= n) reply()
  else p.waiters.push({ n, reply })
})
process.on('disconnect', () => process.exit(0))

server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  process.send!({ ready: true, port: typeof address === 'object' && address ? address.port : 0 })
})
