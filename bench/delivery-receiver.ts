// The receiver process of the delivery benchmark (forked by bench/delivery.bench.ts): an HTTP
// server on 127.0.0.1 that answers 200 and, per phase named in the body, counts requests and
// distinct ids and records latency = arrival time − the `sentAt` the client put in the event.
// Times are performance.timeOrigin + performance.now(): this machine's wall clock, sub-millisecond.
// It talks to its parent over IPC only and exits when the parent goes away.
// Bodies are hookwise's (`phase`, `sentAt`, `event` at the top) or a Flux event.Event as
// notification-controller forwards it (the same three in `metadata`, under a group prefix such as
// `source.toolkit.fluxcd.io/phase`, as strings). While a phase is refused (op 'refuse', for the
// kill -9 measurement of bench/peers.bench.ts) its requests are answered 503 and not counted.
import { createServer } from 'node:http'
import { performance } from 'node:perf_hooks'

interface Phase {
  count: number
  /** Requests that carried a signature header (webhook-signature or X-Signature). */
  signed: number
  refused: boolean
  ids: Set<string>
  latencies: number[]
  firstAt: number
  lastAt: number
  waiters: Array<{ n: number; reply: () => void }>
}

export interface ReceiverRequest {
  op: 'wait' | 'stats' | 'refuse'
  ref: number
  phase: string
  /** op 'wait': answer once this many requests of the phase arrived. */
  n?: number
  /** op 'refuse': answer the phase's requests 503 (true) or count them again (false). */
  refuse?: boolean
}
export interface PhaseStats {
  count: number
  distinct: number
  signed?: number
  firstAt: number
  lastAt: number
  latency?: { p50: number; p90: number; p99: number; max: number; samples: number }
}

const clock = (): number => performance.timeOrigin + performance.now()
const phases = new Map<string, Phase>()
const phaseOf = (name: string): Phase => {
  let p = phases.get(name)
  if (!p) {
    p = { count: 0, signed: 0, refused: false, ids: new Set(), latencies: [], firstAt: 0, lastAt: 0, waiters: [] }
    phases.set(name, p)
  }
  return p
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN
}

function stats(p: Phase): PhaseStats {
  const out: PhaseStats = { count: p.count, distinct: p.ids.size, signed: p.signed, firstAt: p.firstAt, lastAt: p.lastAt }
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
const BUSY = Buffer.from('{"ok":false}')

type Body = { phase?: unknown; sentAt?: unknown; event?: unknown; metadata?: Record<string, unknown> }
/** phase, sentAt and event id of a hookwise body, or of a Flux event's metadata (`<group>/phase`...). */
function fieldsOf(body: Body): { phase: string; sentAt: number | undefined; event: string | undefined } {
  let { phase, sentAt, event } = body
  if (phase === undefined && body.metadata && typeof body.metadata === 'object') {
    for (const [key, value] of Object.entries(body.metadata)) {
      const name = key.slice(key.lastIndexOf('/') + 1)
      if (name === 'phase') phase = value
      else if (name === 'sentAt') sentAt = Number(value)
      else if (name === 'event') event = value
    }
  }
  return {
    phase: String(phase),
    sentAt: typeof sentAt === 'number' && Number.isFinite(sentAt) ? sentAt : undefined,
    event: typeof event === 'string' ? event : undefined,
  }
}
const server = createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const at = clock()
    try {
      const body = fieldsOf(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Body)
      const p = phaseOf(body.phase)
      if (p.refused) {
        res.writeHead(503, { 'content-type': 'application/json', 'content-length': BUSY.length })
        res.end(BUSY)
        return
      }
      p.count++
      if (req.headers['webhook-signature'] || req.headers['x-signature']) p.signed++
      if (p.count === 1) p.firstAt = at
      p.lastAt = at
      if (body.event) p.ids.add(body.event)
      if (body.sentAt !== undefined) p.latencies.push(at - body.sentAt)
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
  if (m.op === 'refuse') p.refused = m.refuse === true
  if (m.op === 'stats' || m.op === 'refuse') return process.send!({ ref: m.ref, stats: stats(p) })
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
