// The HTTP API: event intake, delivery history and redelivery, status, health and metrics.
// Bad input always gets a 4xx problem body naming the field; never a 500.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { AcceptedEvent } from '../delivery/outcomes.js'
import { parseJson, validateEvent } from '../api/event.js'
import { isCloudEventRequest, readCloudEvents } from '../api/cloud-events.js'
import type { ArtifactEvent, RunMessage } from '../api/types.generated.js'
import type { RunAccepted } from '../delivery/run-intake.js'
import { validateRunMessage } from '../api/run-message.js'
import { BodyTooLargeError, QueueFullError, StoreUnavailableError, type Diagnostic } from '../errors.js'
import type { DeliveryEngine } from '../delivery/engine.js'
import type { SourceAnswer, SourceRequest } from '../delivery/event-sources.js'
import type { Store } from '../delivery/store.js'
import { storageFailure } from '../delivery/store-health.js'
import type { DeliveryStatus } from '../model/delivery.js'
import { HOP_HEADER, MAX_HOPS, parseHopHeader, withHop } from '../model/event-hop.js'
import { readBody } from './read-body.js'
import { Dashboard } from './dashboard.js'
import { isIntakeToken } from './intake-token.js'
import { close, listen } from './listen.js'
import { sendJson, sendProblem } from './problem.js'
import type { StatusReport } from './status-report.js'

export interface ApiServerOptions {
  engine: DeliveryEngine
  store: Store
  /** Accepted bearer tokens; empty means no authentication (the server then listens on loopback only). */
  tokens: readonly string[]
  /** Largest accepted request body. Default 1 MiB. */
  bodyLimit?: number
  /** Largest number of events in one request. Default 1,000. */
  maxEventsPerRequest?: number
  /** JSON for GET /v1/status. */
  status: () => unknown
  /** POST /v1/sync: fetch the source now; answers with what it resolves to. Absent: 404. */
  sync?: () => Promise<unknown>
  /** Prometheus text for GET /metrics. */
  metrics?: () => Promise<{ contentType: string; body: string }>
  onEvents?: (accepted: number, duplicates: number) => void
  /** POST /v1/sources/<namespace>/<name>: an EventSource's intake, authenticated by its own signature. Absent: 404. */
  sources?: { receive(req: SourceRequest): Promise<SourceAnswer> }
  /** POST /v1/runs: run metric points and state changes (docs/run-events.md). Absent: 404. */
  runs?: { take(messages: readonly RunMessage[]): Promise<RunAccepted> }
  onError?: (err: unknown) => void
}

const STATUSES: readonly DeliveryStatus[] = ['pending', 'succeeded', 'failed', 'cancelled']

export function authorized(req: IncomingMessage, tokens: readonly string[]): boolean {
  if (tokens.length === 0) return true
  const header = req.headers.authorization ?? ''
  const match = /^Bearer (.+)$/.exec(header)
  if (!match) return false
  return isIntakeToken(match[1]!, tokens)
}

/** The most deliveries one GET /v1/deliveries returns. */
const MAX_LIST = 1000

/** `?limit=`: absent is 100; digits only, at least 1, capped at MAX_LIST; anything else (-1 would be SQLite's "no limit") is undefined. */
function listLimit(raw: string | null): number | undefined {
  if (raw === null) return 100
  if (!/^[0-9]+$/.test(raw)) return undefined
  const n = Number(raw)
  return n >= 1 ? Math.min(n, MAX_LIST) : undefined
}

/** A %-decoded path segment, or undefined when an escape is malformed (decodeURIComponent throws). */
function decodePathSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

export class ApiServer {
  private readonly server: Server
  private readonly o: ApiServerOptions
  private readonly dashboard: Dashboard

  constructor(options: ApiServerOptions) {
    this.o = options
    this.dashboard = new Dashboard({
      store: options.store,
      tokens: options.tokens,
      status: () => options.status() as StatusReport | Promise<StatusReport>,
      redelivered: () => options.engine.kick(),
    })
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err) => {
        // A write the full (or failing) state disk refused (a redelivery): 503, not a 500 to log.
        const unwritable = storageFailure(err)
        if (unwritable && !res.headersSent) {
          const e = new StoreUnavailableError(unwritable)
          return sendProblem(res, 503, 'Service Unavailable', e.message, { headers: { 'Retry-After': String(e.retryAfterSeconds) } })
        }
        this.o.onError?.(err)
        if (!res.headersSent) sendProblem(res, 500, 'Internal Error', 'hookwise failed to handle the request; see its log')
        else res.destroy()
      })
    })
    this.server.keepAliveTimeout = 65_000
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return listen(this.server, host, port)
  }

  close(): Promise<void> {
    return close(this.server)
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://hookwise')
    } catch {
      // `//[` reads as an authority with a broken host.
      return sendProblem(res, 400, 'Bad Request', `the path ${JSON.stringify(req.url)} is not a valid URL path`)
    }
    const path = url.pathname
    if (path === '/healthz') return sendJson(res, 200, { ok: true })
    if (path === '/readyz') {
      if (!this.o.engine.ready) return sendJson(res, 503, { ready: false })
      const problem = this.o.engine.storeProblem
      if (problem) return sendJson(res, 503, { ready: false, reason: `the state store cannot be written (${problem})` })
      return sendJson(res, 200, { ready: true })
    }
    // The browser dashboard: its own login (a cookie), so it answers before the bearer check.
    if (path === '/ui' || path.startsWith('/ui/')) return this.dashboard.handle(req, res, url)
    // A registry signs its requests with the EventSource's secret and knows no intake token.
    const source = /^\/v1\/sources\/([^/]+)\/([^/]+)$/.exec(path)
    if (source) return this.sourceIntake(req, res, source[1]!, source[2]!)
    // /metrics names automations, webhooks and their origins: it needs the token, as /v1/ does.
    const metrics = path === '/metrics' && this.o.metrics
    if (!path.startsWith('/v1/') && !metrics) return sendProblem(res, 404, 'Not Found', `no route ${req.method} ${path}`)
    if (!authorized(req, this.o.tokens)) {
      return sendProblem(res, 401, 'Unauthorized', 'send Authorization: Bearer <intake token>', {
        headers: { 'WWW-Authenticate': 'Bearer realm="hookwise"' },
      })
    }
    if (metrics) {
      const m = await metrics()
      res.writeHead(200, { 'Content-Type': m.contentType })
      res.end(m.body)
      return
    }
    if (path === '/v1/events') {
      if (req.method !== 'POST')
        return sendProblem(res, 405, 'Method Not Allowed', 'POST events to /v1/events', { headers: { Allow: 'POST' } })
      return this.intake(req, res)
    }
    if (path === '/v1/runs' && this.o.runs) {
      if (req.method !== 'POST')
        return sendProblem(res, 405, 'Method Not Allowed', 'POST run metric points and state changes to /v1/runs', {
          headers: { Allow: 'POST' },
        })
      return this.runIntake(req, res, this.o.runs)
    }
    if (path === '/v1/status' && req.method === 'GET') return sendJson(res, 200, await this.o.status())
    if (path === '/v1/sync' && this.o.sync) {
      if (req.method !== 'POST')
        return sendProblem(res, 405, 'Method Not Allowed', 'POST to /v1/sync to fetch the repository now', { headers: { Allow: 'POST' } })
      return sendJson(res, 200, await this.o.sync())
    }
    if (path === '/v1/deliveries' && req.method === 'GET') {
      const status = url.searchParams.get('status') ?? undefined
      if (status !== undefined && !STATUSES.includes(status as DeliveryStatus))
        return sendProblem(res, 400, 'Bad Request', `status must be one of ${STATUSES.join(', ')}`)
      const limit = listLimit(url.searchParams.get('limit'))
      if (limit === undefined)
        return sendProblem(
          res,
          400,
          'Bad Request',
          `limit must be a whole number from 1 (at most ${MAX_LIST} are returned); got ${JSON.stringify(url.searchParams.get('limit'))}`,
        )
      const automation = url.searchParams.get('automation') ?? undefined
      return sendJson(
        res,
        200,
        await this.o.store.list({ ...(automation ? { automation } : {}), ...(status ? { status: status as DeliveryStatus } : {}), limit }),
      )
    }
    const one = /^\/v1\/deliveries\/([^/]+)(\/redeliver)?$/.exec(path)
    if (one) {
      const id = decodePathSegment(one[1]!)
      if (id === undefined)
        return sendProblem(res, 400, 'Bad Request', `the path ${path} has a malformed % escape; percent-encode the delivery id as UTF-8`)
      const delivery = await this.o.store.get(id)
      if (!delivery) return sendProblem(res, 404, 'Not Found', `no delivery ${id}`)
      if (one[2]) {
        if (req.method !== 'POST') return sendProblem(res, 405, 'Method Not Allowed', 'POST to redeliver', { headers: { Allow: 'POST' } })
        if (delivery.status === 'pending') return sendProblem(res, 409, 'Conflict', `delivery ${id} is still pending`)
        await this.o.store.redeliver(id, Date.now())
        this.o.engine.kick()
        return sendJson(res, 202, { id, status: 'pending' })
      }
      if (req.method !== 'GET') return sendProblem(res, 405, 'Method Not Allowed', 'GET a delivery', { headers: { Allow: 'GET' } })
      return sendJson(res, 200, { ...delivery, attempts: await this.o.store.attempts(id) })
    }
    return sendProblem(res, 404, 'Not Found', `no route ${req.method} ${path}`)
  }

  private async sourceIntake(req: IncomingMessage, res: ServerResponse, rawNamespace: string, rawName: string): Promise<void> {
    const namespace = decodePathSegment(rawNamespace)
    const name = decodePathSegment(rawName)
    if (!this.o.sources || namespace === undefined || name === undefined)
      return sendProblem(res, 404, 'Not Found', `no EventSource at ${req.url}`)
    if (req.method !== 'POST')
      return sendProblem(res, 405, 'Method Not Allowed', 'the registry POSTs its events here', { headers: { Allow: 'POST' } })
    let body: Buffer
    try {
      body = await readBody(req, this.o.bodyLimit ?? 1024 * 1024)
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        res.setHeader('Connection', 'close')
        return sendProblem(res, 413, 'Payload Too Large', err.message)
      }
      throw err
    }
    let answer: SourceAnswer
    try {
      answer = await this.o.sources.receive({ namespace, name, headers: req.headers, body })
    } catch (err) {
      if (err instanceof QueueFullError || err instanceof StoreUnavailableError)
        return sendProblem(res, 503, 'Service Unavailable', err.message, { headers: { 'Retry-After': String(err.retryAfterSeconds) } })
      throw err
    }
    if ('body' in answer) return sendJson(res, answer.status, answer.body)
    const title = { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 503: 'Service Unavailable' }[answer.status]
    return sendProblem(res, answer.status, title, answer.detail, {
      ...(answer.errors ? { errors: answer.errors } : {}),
      ...(answer.status === 503 ? { headers: { 'Retry-After': '30' } } : {}),
    })
  }

  /** POST /v1/runs: the same authentication, body limit and bound on items per request as /v1/events. */
  private async runIntake(req: IncomingMessage, res: ServerResponse, runs: NonNullable<ApiServerOptions['runs']>): Promise<void> {
    let raw: Buffer
    try {
      raw = await readBody(req, this.o.bodyLimit ?? 1024 * 1024)
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        res.setHeader('Connection', 'close')
        return sendProblem(res, 413, 'Payload Too Large', err.message)
      }
      throw err
    }
    const parsed = parseJson(raw.toString('utf8'))
    if (!parsed.ok) return sendProblem(res, 400, 'Bad Request', 'the body is not valid JSON', { errors: parsed.diagnostics })
    const list = Array.isArray(parsed.value)
    const values = list ? (parsed.value as unknown[]) : [parsed.value]
    const max = this.o.maxEventsPerRequest ?? 1000
    if (values.length === 0) return sendProblem(res, 400, 'Bad Request', 'the array holds no run messages')
    if (values.length > max)
      return sendProblem(res, 413, 'Payload Too Large', `at most ${max} run messages per request; got ${values.length}`)
    const messages: RunMessage[] = []
    const errors: Diagnostic[] = []
    values.forEach((v, i) => {
      const r = validateRunMessage(v)
      if (r.ok) messages.push(r.message)
      else errors.push(...r.diagnostics.map((d) => (list ? { ...d, path: `[${i}]${d.path ? `.${d.path}` : ''}` } : d)))
    })
    if (errors.length)
      return sendProblem(res, 400, 'Bad Request', `${errors.length === 1 ? 'a field is' : 'fields are'} not valid; nothing was accepted`, {
        errors,
      })
    let taken: RunAccepted
    try {
      taken = await runs.take(messages)
    } catch (err) {
      if (err instanceof QueueFullError || err instanceof StoreUnavailableError)
        return sendProblem(res, 503, 'Service Unavailable', err.message, { headers: { 'Retry-After': String(err.retryAfterSeconds) } })
      throw err
    }
    return sendJson(res, 202, { messages: messages.length, points: taken.points, fired: taken.fired })
  }

  private async intake(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const limit = this.o.bodyLimit ?? 1024 * 1024
    let raw: Buffer
    try {
      raw = await readBody(req, limit)
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        res.setHeader('Connection', 'close')
        return sendProblem(res, 413, 'Payload Too Large', err.message)
      }
      throw err
    }
    // A delivery of another hookwise (or of this one) says how many hops its event made: refuse loops.
    const hop = parseHopHeader(req.headers[HOP_HEADER])
    if ('error' in hop) return sendProblem(res, 400, 'Bad Request', hop.error)
    if (hop.hop >= MAX_HOPS) return refuseLoop(res, hop.hop)
    const parsed = parseJson(raw.toString('utf8'))
    if (!parsed.ok) return sendProblem(res, 400, 'Bad Request', 'the body is not valid JSON', { errors: parsed.diagnostics })
    // CloudEvents (Knative, Argo Events): the hookwise events are the CloudEvents' data.
    const cloud = isCloudEventRequest(req.headers) ? readCloudEvents(req.headers, raw.toString('utf8')) : undefined
    if (cloud && !cloud.ok)
      return sendProblem(res, 400, 'Bad Request', 'not a CloudEvent hookwise reads; nothing was accepted', { errors: cloud.diagnostics })
    const values = cloud?.ok ? cloud.values : Array.isArray(parsed.value) ? parsed.value : [parsed.value]
    const max = this.o.maxEventsPerRequest ?? 1000
    if (values.length === 0) return sendProblem(res, 400, 'Bad Request', 'the array holds no events')
    if (values.length > max) return sendProblem(res, 413, 'Payload Too Large', `at most ${max} events per request; got ${values.length}`)
    const events: ArtifactEvent[] = []
    const errors: Diagnostic[] = []
    values.forEach((v, i) => {
      const r = validateEvent(v)
      if (r.ok) events.push(withHop(r.event, hop.hop))
      else
        errors.push(
          ...r.diagnostics.map((d) =>
            values.length > 1 || Array.isArray(parsed.value) ? { ...d, path: `[${i}]${d.path ? `.${d.path}` : ''}` } : d,
          ),
        )
    })
    if (errors.length)
      return sendProblem(res, 400, 'Bad Request', `${errors.length === 1 ? 'a field is' : 'fields are'} not valid; nothing was accepted`, {
        errors,
      })
    let accepted: AcceptedEvent[]
    try {
      accepted = await this.o.engine.acceptGrouped(events)
    } catch (err) {
      if (err instanceof QueueFullError || err instanceof StoreUnavailableError)
        return sendProblem(res, 503, 'Service Unavailable', err.message, { headers: { 'Retry-After': String(err.retryAfterSeconds) } })
      throw err
    }
    const duplicates = accepted.filter((a) => a.duplicate).length
    this.o.onEvents?.(accepted.length - duplicates, duplicates)
    return sendJson(res, 202, { accepted: accepted.length - duplicates, duplicates, events: accepted })
  }
}

/** 400 for an event that already made MAX_HOPS hookwise deliveries: terminal for the sender, so the loop stops. */
function refuseLoop(res: ServerResponse, hop: number): void {
  const message = `the event already passed through ${hop} hookwise deliveries (the limit is ${MAX_HOPS})`
  sendProblem(res, 400, 'Bad Request', `${HOP_HEADER}: ${hop}: ${message}; refused to stop a webhook loop, nothing was accepted`, {
    errors: [
      {
        code: 'HW_EVENT_LOOP',
        severity: 'error',
        message,
        hint: "a Webhook posts to a hookwise intake that, directly or through others, posts back; point the Webhook at the receiver, not at hookwise's /v1/events",
      },
    ],
  })
}
