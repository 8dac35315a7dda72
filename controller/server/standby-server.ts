// What a standby replica serves while another replica holds the leader Lease: alive (/healthz),
// not ready (/readyz, so a Service sends it no traffic), and 503 with Retry-After for the API.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { close, listen } from './listen.js'
import { sendJson, sendProblem } from './problem.js'

export class StandbyServer {
  private readonly server: Server

  constructor(reason: () => string) {
    this.server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://hookwise').pathname
      if (path === '/healthz') return sendJson(res, 200, { ok: true })
      if (path === '/readyz') return sendJson(res, 503, { ready: false, reason: reason() })
      sendProblem(res, 503, 'Service Unavailable', `this replica is a standby: ${reason()}`, { headers: { 'Retry-After': '5' } })
    })
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return listen(this.server, host, port)
  }

  close(): Promise<void> {
    return close(this.server)
  }
}
