// What one delivery attempt produced, as the sender reports it and the retry policy judges it.
import type { OutgoingRequest } from './request.js'

export type SendErrorCode =
  /** No response within the webhook's timeoutSeconds. */
  | 'TIMEOUT'
  /** Connection refused or reset, DNS failure, TLS failure: the request may not have arrived. */
  | 'NETWORK'
  /** The egress policy refused the URL or the address it resolved to. Never retried. */
  | 'EGRESS_DENIED'

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
  close(): Promise<void>
}
