// Request signatures. Pure: the same inputs always give the same headers.
import { createHmac } from 'node:crypto'

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

/** The signature headers for one request. */
export function signatureHeaders(input: SignInput): Record<string, string> {
  switch (input.scheme) {
    case 'wandb':
      return { 'X-Wandb-Signature': createHmac('sha256', input.secret).update(input.body, 'utf8').digest('base64') }
    case 'github':
      return { 'X-Hub-Signature-256': `sha256=${createHmac('sha256', input.secret).update(input.body, 'utf8').digest('hex')}` }
    case 'standard-webhooks': {
      const key = input.secret.startsWith('whsec_') ? Buffer.from(input.secret.slice('whsec_'.length), 'base64') : Buffer.from(input.secret, 'utf8')
      const signature = createHmac('sha256', key).update(`${input.id}.${input.timestamp}.${input.body}`, 'utf8').digest('base64')
      return { 'webhook-timestamp': String(input.timestamp), 'webhook-signature': `v1,${signature}` }
    }
  }
}
