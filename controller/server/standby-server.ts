// What a standby replica serves while another replica holds the leader Lease: alive (/healthz),
// not ready (/readyz, so a Service sends it no traffic), and 503 with Retry-After for the API.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
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
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        resolve(this.server.address() as AddressInfo)
      })
    })
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
  }
}
