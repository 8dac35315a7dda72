// Delivery facts every stage shares: a delivery and its attempts as the outbox keeps them, and what
// happened lately per automation and webhook (what status is made of).
import type { DeliveryRecord } from '../api/types.generated.js'

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'cancelled'

export interface DeliveryRow {
  id: string
  eventSeq: number
  eventId: string
  automation: string
  webhook: string
  status: DeliveryStatus
  attempts: number
  nextAttemptAt: number
  createdAt: number
  updatedAt: number
  lastStatusCode: number | null
  lastError: string | null
}

export interface AttemptRow {
  deliveryId: string
  n: number
  startedAt: number
  latencyMs: number
  url: string
  /** Request headers as sent, with credentials masked. */
  requestHeaders: Record<string, string>
  /** The body as sent, with secret values masked. */
  body: string
  statusCode: number | null
  responseHead: string | null
  error: string | null
}

export interface AutomationFacts {
  lastTriggered?: string
  lastDelivery?: DeliveryRecord
  counters: { triggered: number; succeeded: number; failed: number }
}

export interface WebhookFacts {
  lastDelivery?: DeliveryRecord
  consecutiveFailures: number
  /**
   * Set when the endpoint answered 410 Gone: the hash of the webhook's spec then (kept in the store
   * too). Its deliveries wait until the spec changes (or an attempt already in flight succeeds).
   */
  goneSpec?: string
  /** Why the last attempt got no response (timeout, network, egress), when it did not. */
  lastError?: string
  /** Why the egress policy refused the address the URL resolved to; cleared by a success. */
  egressDenied?: string
}
