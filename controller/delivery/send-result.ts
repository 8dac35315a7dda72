// What one delivery attempt produced, as the sender reports it and the retry policy judges it.
import type { AttemptErrorCode } from '../errors.js'
import type { ListenAddress } from './egress.js'
import type { OutgoingRequest } from './request.js'

/**
 * How an attempt failed without a response. These are error codes like any other (ATTEMPT_ERROR_CODES
 * in errors.ts, documented in docs/errors.md), so hookwise has one vocabulary of errors:
 * TIMEOUT (no response within timeoutSeconds), NETWORK (refused, reset, DNS, TLS: the request may
 * not have arrived), EGRESS_DENIED (the egress policy refused the URL or its address: nothing sent),
 * INVALID_REQUEST (undici refused the request as built, e.g. a header value with CR/LF: nothing sent).
 * SLACK_REFUSED and SLACK_UNAVAILABLE come with a response: Slack's 200 with "ok": false (slack-answer.ts).
 */
export type SendErrorCode = AttemptErrorCode

export interface SendResult {
  /** HTTP status, when a response arrived. */
  statusCode?: number
  /** Response headers, lower-case names, when a response arrived. */
  headers?: Record<string, string>
  /** The first 4 KiB of the response body, as text. */
  bodyHead?: string
  /** From the start of the request to the end of reading the response head and body prefix. */
  latencyMs: number
  error?: { code: SendErrorCode; message: string }
}

/** Sends one request. Implementations never throw: every outcome is a SendResult. */
export interface Sender {
  send(request: OutgoingRequest, options: { timeoutMs: number }): Promise<SendResult>
  /** Refuses these addresses from now on: where this controller's API listens (a webhook there would loop). */
  refuseSelf?(addresses: readonly ListenAddress[]): void
  close(): Promise<void>
}
