// GET /ui: the browser dashboard on the API's listener. Server-rendered pages (dashboard-pages.ts)
// over the store and the status report `hookwise get` prints; a small same-origin script refreshes
// them. With intake tokens set, a login page takes one and sets a session cookie (HttpOnly,
// SameSite=Strict, Path=/ui); the token itself is never stored in the browser. Every page is sent
// with Cache-Control: no-store and a Content-Security-Policy that allows only same-origin script
// and style. The one write, redelivery, is a POST with a CSRF token after a confirmation page.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { DeliveryFilter, Store } from '../delivery/store.js'
import type { DeliveryStatus } from '../model/delivery.js'
import { BodyTooLargeError } from '../errors.js'
import { ASSETS } from './dashboard-assets.js'
import { chartWindow, WINDOWS } from './dashboard-charts.js'
import {
  confirmRedeliverPage,
  deliveriesPage,
  deliveryPage,
  eventPage,
  type FilterForm,
  loginPage,
  messagePage,
  overviewPage,
  page,
  STATUSES,
} from './dashboard-pages.js'
import type { Html } from './html.js'
import { isIntakeToken } from './intake-token.js'
import { readBody } from './read-body.js'
import type { StatusReport } from './status-report.js'

export interface DashboardOptions {
  store: Store
  /** Intake tokens; empty: no login (the API then listens on loopback only). */
  tokens: readonly string[]
  status: () => StatusReport | Promise<StatusReport>
  /** Called after a redelivery was stored, so the engine sends it now. */
  redelivered: () => void
  /** Deliveries per page. Default 50. */
  pageSize?: number
  now?: () => number
}

const COOKIE = 'hookwise_session'
/** A session lasts 12 hours from login. */
const SESSION_MS = 12 * 3600_000
/** At most this many sessions are kept; the oldest goes first. */
const MAX_SESSIONS = 1000
const FORM_LIMIT = 16 * 1024

const HEADERS = {
  'Cache-Control': 'no-store',
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  // same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on the dashboard's own form posts.
  'Referrer-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
}

export class Dashboard {
  private readonly o: DashboardOptions
  /** Session id → when it expires. */
  private readonly sessions = new Map<string, number>()
  /** Signs CSRF tokens (a new one per process: forms from before a restart are refused). */
  private readonly csrfKey = randomBytes(32)

  constructor(options: DashboardOptions) {
    this.o = options
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname
    const method = req.method ?? 'GET'
    const asset = /^\/ui\/assets\/([a-z.]+)$/.exec(path)
    if (asset) {
      const a = ASSETS[asset[1]!]
      if (!a) return this.send(res, 404, messagePage('Not found', `no asset ${asset[1]}`))
      res.writeHead(200, { ...HEADERS, 'Content-Type': a.type, 'Content-Length': Buffer.byteLength(a.body) })
      res.end(a.body)
      return
    }
    if (method === 'POST' && !this.sameOrigin(req))
      return this.send(
        res,
        403,
        messagePage('Refused', 'the form was not sent from this dashboard (Origin differs); reload the page and try again'),
      )
    if (path === '/ui/login') return this.login(req, res, method)
    if (path === '/ui/logout' && method === 'POST') {
      const id = this.sessionId(req)
      if (id) this.sessions.delete(id)
      res.writeHead(303, {
        ...HEADERS,
        Location: this.o.tokens.length ? '/ui/login' : '/ui',
        'Set-Cookie': `${COOKIE}=; ${cookieAttributes(0)}`,
      })
      res.end()
      return
    }
    const session = this.session(req)
    if (session === undefined) {
      res.writeHead(303, { ...HEADERS, Location: '/ui/login' })
      res.end()
      return
    }
    if (path === '/ui' || path === '/ui/') return this.overview(res, url)
    if (path === '/ui/deliveries') return this.deliveries(res, url)
    const event = /^\/ui\/events\/([^/]+)$/.exec(path)
    if (event) return this.event(res, decode(event[1]!))
    const one = /^\/ui\/deliveries\/([^/]+)(\/redeliver)?$/.exec(path)
    if (one) {
      const id = decode(one[1]!)
      const d = id === undefined ? undefined : await this.o.store.get(id)
      if (!d)
        return this.send(
          res,
          404,
          messagePage('Not found', `no delivery ${id ?? one[1]}`, { href: '/ui/deliveries', label: 'All deliveries' }),
        )
      if (!one[2]) {
        const notice =
          url.searchParams.get('redelivered') === '1' ? 'Redelivery queued: the new attempt appears below when it is made.' : undefined
        return this.send(
          res,
          200,
          page(`Delivery ${d.id}`, 'deliveries', deliveryPage(d, await this.o.store.attempts(d.id), notice), { live: true }),
        )
      }
      if (method === 'GET')
        return this.send(res, 200, page(`Redeliver ${d.id}?`, 'deliveries', confirmRedeliverPage(d, this.csrf(session))))
      if (method !== 'POST') return this.send(res, 405, messagePage('Method not allowed', 'GET or POST'))
      const form = await this.form(req, res)
      if (!form) return
      if (!this.csrfValid(session, form.get('csrf') ?? ''))
        return this.send(
          res,
          403,
          messagePage('Refused', 'the form has expired or was not sent from this dashboard; open the delivery and try again'),
        )
      if (d.status === 'pending')
        return this.send(res, 409, messagePage('Still pending', `delivery ${d.id} is still pending: redeliver it once it has finished`))
      await this.o.store.redeliver(d.id, this.now())
      this.o.redelivered()
      res.writeHead(303, { ...HEADERS, Location: `/ui/deliveries/${encodeURIComponent(d.id)}?redelivered=1` })
      res.end()
      return
    }
    return this.send(res, 404, messagePage('Not found', `no page ${path}`, { href: '/ui', label: 'Overview' }))
  }

  private async overview(res: ServerResponse, url: URL): Promise<void> {
    const name = url.searchParams.get('window') ?? '24h'
    const windowName = name in WINDOWS ? name : '24h'
    const window = chartWindow(windowName, this.now())
    const report = await this.o.status()
    const buckets = await this.o.store.attemptBuckets(window.start, window.bucketMs)
    this.send(res, 200, page('Overview', 'overview', overviewPage(report, buckets, window, windowName), { live: true }))
  }

  private async deliveries(res: ServerResponse, url: URL): Promise<void> {
    const q = url.searchParams
    const form: FilterForm = {
      automation: q.get('automation') ?? '',
      webhook: q.get('webhook') ?? '',
      status: q.get('status') ?? '',
      since: q.get('since') ?? '',
      until: q.get('until') ?? '',
    }
    const since = utcMinute(form.since)
    const until = utcMinute(form.until)
    const problems = [
      form.status && !STATUSES.includes(form.status as DeliveryStatus) ? `status must be one of ${STATUSES.join(', ')}` : '',
      since === null ? `"from" must be a date and time like 2026-12-03T16:30; got ${JSON.stringify(form.since)}` : '',
      until === null ? `"before" must be a date and time like 2026-12-03T16:30; got ${JSON.stringify(form.until)}` : '',
    ].filter(Boolean)
    const pageNo = /^[1-9][0-9]{0,5}$/.test(q.get('page') ?? '') ? Number(q.get('page')) : 1
    if (problems.length) {
      this.send(res, 400, messagePage('Bad filter', problems.join('; '), { href: '/ui/deliveries', label: 'All deliveries' }))
      return
    }
    const size = this.o.pageSize ?? 50
    const filter: DeliveryFilter = {
      ...(form.automation ? { automation: form.automation } : {}),
      ...(form.webhook ? { webhook: form.webhook } : {}),
      ...(form.status ? { status: form.status as DeliveryStatus } : {}),
      ...(since ? { since } : {}),
      ...(until ? { until } : {}),
      offset: (pageNo - 1) * size,
      limit: size + 1,
    }
    const rows = await this.o.store.list(filter)
    const report = await this.o.status()
    const choices = {
      automations: (report.automations ?? []).map((a) => `${a.namespace}/${a.name}`).sort(),
      webhooks: (report.webhooks ?? []).map((w) => `${w.namespace}/${w.name}`).sort(),
    }
    const query = new URLSearchParams(Object.entries(form).filter(([, v]) => v !== ''))
    this.send(
      res,
      200,
      page(
        'Deliveries',
        'deliveries',
        deliveriesPage(rows.slice(0, size), form, choices, { page: pageNo, hasNext: rows.length > size, query }),
        { live: true },
      ),
    )
  }

  private async event(res: ServerResponse, id: string | undefined): Promise<void> {
    const rows = id === undefined ? [] : await this.o.store.list({ eventId: id, limit: 1000 })
    if (id === undefined || rows.length === 0) {
      this.send(
        res,
        404,
        messagePage('Not found', `no deliveries for event ${id ?? ''}`, { href: '/ui/deliveries', label: 'All deliveries' }),
      )
      return
    }
    this.send(
      res,
      200,
      page(`Event ${id}`, 'deliveries', eventPage(id, await this.o.store.eventBody(rows[0]!.eventSeq), rows), { live: true }),
    )
  }

  private async login(req: IncomingMessage, res: ServerResponse, method: string): Promise<void> {
    if (this.o.tokens.length === 0) {
      res.writeHead(303, { ...HEADERS, Location: '/ui' })
      res.end()
      return
    }
    if (method === 'GET') return this.send(res, 200, loginPage())
    if (method !== 'POST') return this.send(res, 405, messagePage('Method not allowed', 'GET or POST'))
    const form = await this.form(req, res)
    if (!form) return
    if (!isIntakeToken(form.get('token') ?? '', this.o.tokens))
      return this.send(res, 401, loginPage('That is not an intake token of this hookwise.'))
    const id = randomBytes(32).toString('base64url')
    this.sessions.set(id, this.now() + SESSION_MS)
    while (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!)
    res.writeHead(303, { ...HEADERS, Location: '/ui', 'Set-Cookie': `${COOKIE}=${id}; ${cookieAttributes(SESSION_MS / 1000)}` })
    res.end()
  }

  /** The session this request belongs to: '' when no login is needed; undefined when it must log in. */
  private session(req: IncomingMessage): string | undefined {
    if (this.o.tokens.length === 0) return ''
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')
    if (bearer && isIntakeToken(bearer[1]!, this.o.tokens)) return 'bearer'
    const id = this.sessionId(req)
    if (!id) return undefined
    const expires = this.sessions.get(id)
    if (expires === undefined) return undefined
    if (expires <= this.now()) {
      this.sessions.delete(id)
      return undefined
    }
    return id
  }

  private sessionId(req: IncomingMessage): string | undefined {
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const [name, ...value] = part.trim().split('=')
      if (name === COOKIE) return value.join('=')
    }
    return undefined
  }

  private csrf(session: string): string {
    return createHmac('sha256', this.csrfKey).update(`redeliver:${session}`).digest('base64url')
  }

  private csrfValid(session: string, given: string): boolean {
    const want = Buffer.from(this.csrf(session))
    const g = Buffer.from(given)
    return want.length === g.length && timingSafeEqual(want, g)
  }

  /** A POST from another site: browsers send Origin with every POST; one that differs from Host is refused. */
  private sameOrigin(req: IncomingMessage): boolean {
    const origin = req.headers.origin
    if (origin === undefined) return true
    const site = req.headers['sec-fetch-site']
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return false
    try {
      return new URL(origin).host === req.headers.host
    } catch {
      return false
    }
  }

  private async form(req: IncomingMessage, res: ServerResponse): Promise<URLSearchParams | undefined> {
    try {
      return new URLSearchParams((await readBody(req, FORM_LIMIT)).toString('utf8'))
    } catch (err) {
      if (!(err instanceof BodyTooLargeError)) throw err
      res.setHeader('Connection', 'close')
      this.send(res, 413, messagePage('Too large', err.message))
      return undefined
    }
  }

  private send(res: ServerResponse, status: number, body: Html): void {
    const text = body.text
    res.writeHead(status, { ...HEADERS, 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(text) })
    res.end(text)
  }

  private now(): number {
    return (this.o.now ?? Date.now)()
  }
}

function cookieAttributes(maxAgeSeconds: number): string {
  return `Path=/ui; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}`
}

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

/** `YYYY-MM-DDTHH:MM[:SS]` read as UTC; '' is undefined (no bound); anything else is null. */
function utcMinute(text: string): number | undefined | null {
  if (text === '') return undefined
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(text)) return null
  const ms = Date.parse(`${text}Z`)
  return Number.isNaN(ms) ? null : ms
}
