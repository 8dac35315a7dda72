// Builds the exact HTTP request of one delivery attempt. Pure: sending is the sender's job.
import type { WebhookSpec } from '../api/types.generated.js'
import { VERSION } from '../version.js'
import { signatureHeaders } from './signing.js'

export interface OutgoingRequest {
  method: 'POST'
  url: string
  headers: Record<string, string>
  body: string
}

export interface RequestInput {
  webhook: WebhookSpec
  /** The webhook's resolved secret values by variable name; ACCESS_TOKEN when it has an access token. */
  secrets: Readonly<Record<string, string>>
  body: string
  /** Delivery id, stable across retries of one delivery. */
  deliveryId: string
  /** Unix seconds of this attempt. */
  timestamp: number
}

export function buildRequest(input: RequestInput): OutgoingRequest {
  const { webhook, secrets } = input
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'User-Agent': `hookwise/${VERSION}`,
    'webhook-id': input.deliveryId,
    ...webhook.headers,
  }
  const token = secrets.ACCESS_TOKEN
  if (webhook.accessToken && token !== undefined) headers.Authorization = `Bearer ${token}`
  if (webhook.signing) {
    const secret = secrets[webhook.signing.secret]
    if (secret !== undefined) {
      Object.assign(headers, signatureHeaders({ scheme: webhook.signing.scheme ?? 'wandb', secret, body: input.body, id: input.deliveryId, timestamp: input.timestamp }))
    }
  }
  return { method: 'POST', url: webhook.url, headers, body: input.body }
}

/** Headers safe to print: credentials replaced by ****. */
export function maskedHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) out[k] = k.toLowerCase() === 'authorization' ? v.replace(/^(\S+\s+).*$/, '$1****') : v
  return out
}

/** The body of a webhook test (`hookwise test webhook` without --payload; the test annotation in Kubernetes). */
export function defaultTestPayload(webhook: string, now: Date): string {
  return JSON.stringify({ test: true, source: `hookwise/${VERSION}`, webhook, time: now.toISOString() })
}
