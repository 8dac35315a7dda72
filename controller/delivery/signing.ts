// Request signatures. Pure: the same inputs always give the same headers.
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto'

export type SigningScheme = 'wandb' | 'standard-webhooks' | 'github'

export interface SignInput {
  scheme: SigningScheme
  /** The secret's value. For standard-webhooks a `whsec_` secret's key is its base64-decoded bytes. */
  secret: string
  body: string
  /** Delivery id: the webhook-id header (standard-webhooks signs it). */
  id: string
  /** Unix seconds: the webhook-timestamp header (standard-webhooks signs it). */
  timestamp: number
}

/** Standard Webhooks keys by secret value: a `whsec_` secret is decoded once, not per request. */
const keys = new Map<string, KeyObject>()
const KEY_CACHE_ENTRIES = 1024

function standardWebhooksKey(secret: string): KeyObject {
  let key = keys.get(secret)
  if (key) return key
  key = createSecretKey(secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret, 'utf8'))
  if (keys.size >= KEY_CACHE_ENTRIES) keys.clear()
  keys.set(secret, key)
  return key
}

/** The signature headers for one request. */
export function signatureHeaders(input: SignInput): Record<string, string> {
  switch (input.scheme) {
    case 'wandb':
      return { 'X-Wandb-Signature': createHmac('sha256', input.secret).update(input.body, 'utf8').digest('base64') }
    case 'github':
      return { 'X-Hub-Signature-256': `sha256=${createHmac('sha256', input.secret).update(input.body, 'utf8').digest('hex')}` }
    case 'standard-webhooks': {
      const signature = createHmac('sha256', standardWebhooksKey(input.secret))
        .update(`${input.id}.${input.timestamp}.${input.body}`, 'utf8')
        .digest('base64')
      return { 'webhook-timestamp': String(input.timestamp), 'webhook-signature': `v1,${signature}` }
    }
  }
}
