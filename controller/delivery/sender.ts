// The one place hookwise sends HTTP: undici with a keep-alive pool per origin, the egress policy
// enforced by the connector, and every outcome turned into a SendResult (it never throws).
import { EventEmitter } from 'node:events'
import { Agent } from 'undici'
import { performance } from 'node:perf_hooks'
import type { OutgoingRequest } from './request.js'
import type { SendErrorCode, SendResult, Sender } from './send-result.js'
import { checkUrl, createEgressConnector, DEFAULT_EGRESS_POLICY, parseAllowList, type EgressConnectorOptions, type EgressPolicy } from './egress.js'
import type net from 'node:net'
import type { Readable } from 'node:stream'

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

  constructor(options: UndiciSenderOptions = {}) {
    this.policy = options.egress ?? DEFAULT_EGRESS_POLICY
    this.allow = parseAllowList(this.policy.allow)
    this.agent = new Agent({
      connect: createEgressConnector(this.policy, { ...options.connector, ...(options.ca ? { ca: options.ca } : {}) }),
      connections: options.connectionsPerOrigin ?? 16,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
      keepAliveMaxTimeout: Math.max(options.keepAliveTimeoutMs ?? 30_000, 60_000),
      // Redirects are never followed: undici's Agent does not follow them without the redirect
      // interceptor, so a 3xx comes back as the result (and the retry policy fails it).
    })
  }

  async send(request: OutgoingRequest, options: { timeoutMs: number }): Promise<SendResult> {
    const started = performance.now()
    const elapsed = () => Math.round((performance.now() - started) * 1000) / 1000
    const target = this.target(request.url)
    if (target.refused !== undefined) return { latencyMs: elapsed(), error: { code: 'EGRESS_DENIED', message: target.refused } }

    // An EventEmitter is all undici needs as a signal, and is cheaper to make than an AbortController.
    const signal = Object.assign(new EventEmitter(), { aborted: false, reason: undefined as Error | undefined })
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      signal.aborted = true
      signal.reason = new Error(`no response within ${options.timeoutMs} ms`)
      signal.emit('abort')
    }, options.timeoutMs)
    try {
      const response = await this.agent.request({
        origin: target.origin,
        path: target.path,
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      })
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(response.headers)) {
        if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value
      }
      const bodyHead = await readHead(response.body, BODY_HEAD_BYTES)
      const latencyMs = elapsed()
      // Drain a short remainder so the connection goes back to the pool; a long one is cut. The
      // timer still runs: a receiver trickling the rest cannot hold the worker past timeoutMs.
      await response.body.dump({ limit: DRAIN_LIMIT_BYTES }).catch(() => undefined)
      return { statusCode: response.statusCode, headers, bodyHead, latencyMs }
    } catch (err) {
      const { code, message } = describeError(err, timedOut, options.timeoutMs)
      return { latencyMs: elapsed(), error: { code, message } }
    } finally {
      clearTimeout(timer)
    }
  }

  private target(url: string): { refused: string } | { refused?: undefined; origin: string; path: string } {
    let t = this.urls.get(url)
    if (t) return t
    const refused = checkUrl(url, this.policy, this.allow)
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

/**
 * Reads up to `limit` bytes of a body as UTF-8 text. The stream is paused, not destroyed, when the
 * limit is reached, so the caller can drain or cut the rest.
 */
function readHead(body: Readable, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = (err?: Error, cut = false) => {
      body.off('data', onData).off('end', onEnd).off('error', onError)
      if (err) return reject(err)
      // `stream: true` drops a multi-byte character cut at the limit instead of printing U+FFFD.
      resolve(new TextDecoder().decode(Buffer.concat(chunks).subarray(0, limit), { stream: cut }))
    }
    const onData = (chunk: Buffer) => {
      chunks.push(chunk)
      size += chunk.length
      if (size >= limit) {
        body.pause()
        done(undefined, true)
      }
    }
    const onEnd = () => done()
    const onError = (err: Error) => done(err)
    body.on('data', onData).once('end', onEnd).once('error', onError)
  })
}

function describeError(err: unknown, timedOut: boolean, timeoutMs: number): { code: SendErrorCode; message: string } {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } }
  const code = e?.code ?? e?.cause?.code
  if (code === 'EGRESS_DENIED') return { code: 'EGRESS_DENIED', message: String(e.message) }
  if (timedOut || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return { code: 'TIMEOUT', message: `no response within ${timeoutMs} ms (${code ?? 'timeout'}); the receiver is slow or unreachable, or timeoutSeconds is too short` }
  }
  const detail = e?.cause?.message && e.cause.message !== e.message ? `${e.message}: ${e.cause.message}` : String(e?.message ?? err)
  return { code: 'NETWORK', message: code ? `${code}: ${detail}` : detail }
}
