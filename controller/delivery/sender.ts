// The one place hookwise sends HTTP: undici with a keep-alive pool per origin, the egress policy
// enforced by the connector, and every outcome turned into a SendResult (it never throws).
import { Agent, type Dispatcher } from 'undici'
import { performance } from 'node:perf_hooks'
import type { OutgoingRequest } from './request.js'
import type { SendErrorCode, SendResult, Sender } from './send-result.js'
import { unsendableHeader } from './header-syntax.js'
import {
  checkUrl,
  createEgressConnector,
  DEFAULT_EGRESS_POLICY,
  parseAllowList,
  type EgressConnectorOptions,
  type EgressPolicy,
  type ListenAddress,
} from './egress.js'
import type net from 'node:net'

/** How much of a response body is kept (SendResult.bodyHead). */
export const BODY_HEAD_BYTES = 4096
/** After the head, up to this much more is drained so the connection can be reused; a longer body closes it. */
const DRAIN_LIMIT_BYTES = 64 * 1024

export interface UndiciSenderOptions {
  /** The egress policy; https and public addresses only by default. */
  egress?: EgressPolicy
  /** Most connections open at once to one origin (default 16). */
  connectionsPerOrigin?: number
  /** Idle keep-alive connections close after this many ms (default 30 s; a server's keep-alive hint may shorten it). */
  keepAliveTimeoutMs?: number
  /** Extra trusted CA certificates (PEM), e.g. a private CA of an allowed internal receiver. */
  ca?: string[]
  /** Test hooks for the connector: a scripted resolver or a spy in place of the real connect. */
  connector?: Pick<EgressConnectorOptions, 'lookup' | 'baseConnect'>
  /** Where this controller's API listens, when known at construction (see refuseSelf). */
  self?: ListenAddress[]
}

/** Webhook URLs checked against the policy, kept (up to this many) so a busy webhook's URL is parsed once. */
const URL_CACHE_ENTRIES = 1024

/** A Sender on one undici Agent: POSTs each request as given and reports what happened. */
export class UndiciSender implements Sender {
  private readonly agent: Agent
  private readonly policy: EgressPolicy
  private readonly allow: net.BlockList
  /** Per URL: the policy's refusal, or the origin and path to send to. The policy never changes, so neither does the answer. */
  private readonly urls = new Map<string, { refused: string } | { refused?: undefined; origin: string; path: string }>()
  /** Where this controller's API listens: never connected to (a webhook there would loop). */
  private self: readonly ListenAddress[]

  constructor(options: UndiciSenderOptions = {}) {
    this.policy = options.egress ?? DEFAULT_EGRESS_POLICY
    this.allow = parseAllowList(this.policy.allow)
    this.self = options.self ?? []
    this.agent = new Agent({
      connect: createEgressConnector(this.policy, {
        ...options.connector,
        ...(options.ca ? { ca: options.ca } : {}),
        self: () => this.self,
      }),
      connections: options.connectionsPerOrigin ?? 16,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
      keepAliveMaxTimeout: Math.max(options.keepAliveTimeoutMs ?? 30_000, 60_000),
      // Redirects are never followed: undici's Agent does not follow them without the redirect
      // interceptor, so a 3xx comes back as the result (and the retry policy fails it).
    })
  }

  refuseSelf(addresses: readonly ListenAddress[]): void {
    this.self = [...addresses]
    this.urls.clear()
  }

  send(request: OutgoingRequest, options: { timeoutMs: number }): Promise<SendResult> {
    const started = performance.now()
    const target = this.target(request.url)
    if (target.refused !== undefined)
      return Promise.resolve({ latencyMs: elapsedSince(started), error: { code: 'EGRESS_DENIED', message: target.refused } })
    return new Promise((resolve) => {
      const exchange = new Exchange(started, options.timeoutMs, resolve, request.headers)
      try {
        this.agent.dispatch(
          {
            origin: target.origin,
            path: target.path,
            method: request.method,
            headers: request.headers,
            body: request.body,
            headersTimeout: options.timeoutMs,
            bodyTimeout: options.timeoutMs,
          },
          exchange,
        )
      } catch (err) {
        exchange.onResponseError(undefined, err as Error)
      }
    })
  }

  private target(url: string): { refused: string } | { refused?: undefined; origin: string; path: string } {
    let t = this.urls.get(url)
    if (t) return t
    const refused = checkUrl(url, this.policy, this.allow, this.self)
    if (refused) t = { refused }
    else {
      const u = new URL(url)
      t = { origin: u.origin, path: `${u.pathname}${u.search}` }
    }
    if (this.urls.size >= URL_CACHE_ENTRIES) this.urls.clear()
    this.urls.set(url, t)
    return t
  }

  async close(): Promise<void> {
    await this.agent.close()
  }
}

const elapsedSince = (started: number): number => Math.round((performance.now() - started) * 1000) / 1000

/**
 * One request's response, read as undici hands it over (a dispatch handler: no stream or promise
 * per response): the status, the headers and the first BODY_HEAD_BYTES of the body. A remainder up
 * to DRAIN_LIMIT_BYTES in all is drained so the connection goes back to the pool; a longer one is
 * cut. The timeout covers the whole exchange, from queueing to the end of the drain; once the
 * status line is in, the status is the result whatever happens to the rest of the body.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined
  private readonly timer: NodeJS.Timeout
  private timedOut = false
  private settled = false
  private statusCode: number | undefined
  private headers: Record<string, string> = {}
  private contentLength = -1
  private chunks: Buffer[] = []
  private size = 0
  /** The head is complete: latency is taken, the result is known, the rest is only drained. */
  private head: SendResult | undefined

  constructor(
    private readonly started: number,
    private readonly timeoutMs: number,
    private readonly resolve: (result: SendResult) => void,
    /** Only to say which header undici refused. */
    private readonly requestHeaders: Readonly<Record<string, string>>,
  ) {
    this.timer = setTimeout(() => {
      this.timedOut = true
      const reason = new Error(`no response within ${timeoutMs} ms`)
      // Still waiting for a connection: undici would only abort it once one is free.
      if (this.controller) this.controller.abort(reason)
      else this.onResponseError(undefined, reason)
    }, timeoutMs)
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller
    if (this.settled) controller.abort(new Error(`no response within ${this.timeoutMs} ms`))
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (statusCode < 200) return // 1xx: the response is still to come
    this.statusCode = statusCode
    for (const [name, value] of Object.entries(headers)) {
      if (value !== undefined) this.headers[name] = Array.isArray(value) ? value.join(', ') : value
    }
    const length = Number(this.headers['content-length'])
    if (Number.isFinite(length)) this.contentLength = length
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return
    this.size += chunk.length
    if (this.head) {
      if (this.size > DRAIN_LIMIT_BYTES) this.cut(controller)
      return
    }
    this.chunks.push(chunk)
    if (this.size < BODY_HEAD_BYTES) return
    this.takeHead(true)
    if (this.contentLength > DRAIN_LIMIT_BYTES || this.size > DRAIN_LIMIT_BYTES) this.cut(controller)
  }

  onResponseEnd(): void {
    if (this.settled) return
    if (!this.head) this.takeHead(false)
    this.finish(this.head!)
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    if (this.settled) return
    // Once the status line has arrived it is the receiver's answer (a 2xx is a success): a body
    // that then stalls past the timeout, or a connection cut while it is read, keeps what arrived.
    // As TIMEOUT, a 200 whose body never ends was sent again and again.
    if (this.statusCode !== undefined) {
      if (!this.head) this.takeHead(true)
      this.finish(this.head!)
      return
    }
    const { code, message } = describeError(err, this.timedOut, this.timeoutMs, this.requestHeaders)
    this.finish({ latencyMs: elapsedSince(this.started), error: { code, message } })
  }

  private takeHead(cut: boolean): void {
    // `stream: true` drops a multi-byte character cut at the limit instead of printing U+FFFD.
    const text = new TextDecoder().decode(Buffer.concat(this.chunks).subarray(0, BODY_HEAD_BYTES), { stream: cut })
    this.chunks = []
    this.head = { statusCode: this.statusCode!, headers: this.headers, bodyHead: text, latencyMs: elapsedSince(this.started) }
  }

  /** Gives up on a long remainder: the connection is closed instead of reused. */
  private cut(controller: Dispatcher.DispatchController): void {
    const head = this.head!
    this.finish(head)
    controller.abort(new Error('response body longer than the drain limit'))
  }

  private finish(result: SendResult): void {
    this.settled = true
    clearTimeout(this.timer)
    this.resolve(result)
  }
}

function describeError(
  err: unknown,
  timedOut: boolean,
  timeoutMs: number,
  headers: Readonly<Record<string, string>>,
): { code: SendErrorCode; message: string } {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } }
  const code = e?.code ?? e?.cause?.code
  if (code === 'EGRESS_DENIED') return { code: 'EGRESS_DENIED', message: String(e.message) }
  // undici checks the request (header names and values, method, body) when it is dispatched,
  // before it connects: nothing was sent, and sending it again would fail the same way.
  if (code === 'UND_ERR_INVALID_ARG') {
    const header = unsendableHeader(headers)
    const message = header
      ? `${header}, which HTTP does not allow; nothing was sent. Fix the Webhook's spec.headers, or the secret the header is built from ` +
        '(a token saved with a trailing newline: write it with printf or echo -n), then redeliver'
      : `undici refused the request as built (${String(e.message)}); nothing was sent. This is a hookwise bug: please report it with the Webhook's spec`
    return { code: 'INVALID_REQUEST', message }
  }
  if (timedOut || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return {
      code: 'TIMEOUT',
      message: `no response within ${timeoutMs} ms (${code ?? 'timeout'}); the receiver is slow or unreachable, or timeoutSeconds is too short`,
    }
  }
  const detail = e?.cause?.message && e.cause.message !== e.message ? `${e.message}: ${e.cause.message}` : String(e?.message ?? err)
  return { code: 'NETWORK', message: code ? `${code}: ${detail}` : detail }
}
