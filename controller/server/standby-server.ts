// What a standby replica serves while another replica holds the leader Lease: alive (/healthz),
// not ready (/readyz, so a Service sends it no traffic), /metrics (hookwise_leader 0, with the intake
// token, so a scrape of every pod can tell "no leader" from "not scraped") and 503 with Retry-After for the API.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { close, listen } from './listen.js'
import { sendJson, sendProblem } from './problem.js'
import { authorized } from './api-server.js'
import { standbyMetrics } from './metrics.js'

export class StandbyServer {
  private readonly server: Server

  /** `tokens`: the intake tokens, which /metrics needs as on the leader (none: no authentication). */
  constructor(reason: () => string, tokens: readonly string[] = []) {
    const metrics = standbyMetrics()
    this.server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://hookwise').pathname
      if (path === '/healthz') return sendJson(res, 200, { ok: true })
      if (path === '/readyz') return sendJson(res, 503, { ready: false, reason: reason() })
      if (path === '/metrics') {
        if (!authorized(req, tokens))
          return sendProblem(res, 401, 'Unauthorized', 'send Authorization: Bearer <intake token>', {
            headers: { 'WWW-Authenticate': 'Bearer realm="hookwise"' },
          })
        return void metrics().then((m) => {
          res.writeHead(200, { 'Content-Type': m.contentType })
          res.end(m.body)
        })
      }
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
