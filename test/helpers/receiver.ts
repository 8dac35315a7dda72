// A real HTTP receiver on 127.0.0.1 for delivery tests: records every request and answers with
// scripted statuses. Closed by the test's teardown.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Received {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: string
  at: number
}

export interface Receiver {
  url: string
  port: number
  received: Received[]
  /** Status (and headers, and a body other than {"ok": status < 300}) for the next requests, in order; then `fallback`. */
  script: Array<number | { status: number; headers?: Record<string, string>; delayMs?: number; body?: string }>
  fallback: number
  /** Resolves when `n` requests have arrived. */
  waitFor(n: number, timeoutMs?: number): Promise<Received[]>
  close(): Promise<void>
}

export async function startReceiver(t: { teardown(fn: () => unknown): void }): Promise<Receiver> {
  const waiters: Array<{ n: number; resolve: () => void }> = []
  const r: Receiver = {
    url: '',
    port: 0,
    received: [],
    script: [],
    fallback: 200,
    waitFor: (n, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        if (r.received.length >= n) return resolve(r.received)
        const timer = setTimeout(
          () => reject(new Error(`receiver got ${r.received.length} of ${n} requests in ${timeoutMs} ms`)),
          timeoutMs,
        )
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(timer)
            resolve(r.received)
          },
        })
      }),
    close: async () => {},
  }
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const step = r.script.shift() ?? r.fallback
      const { status, headers, delayMs, body } =
        typeof step === 'number' ? { status: step, headers: undefined, delayMs: 0, body: undefined } : step
      const answer = (): void => {
        r.received.push({
          method: req.method!,
          path: req.url!,
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
        })
        res.writeHead(status, { 'content-type': 'application/json', ...headers })
        res.end(body ?? JSON.stringify({ ok: status < 300 }))
        for (const w of waiters.filter((w) => r.received.length >= w.n)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve()
        }
      }
      if (delayMs) setTimeout(answer, delayMs)
      else answer()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  r.port = (server.address() as AddressInfo).port
  r.url = `http://127.0.0.1:${r.port}`
  r.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  t.teardown(() => r.close())
  return r
}
