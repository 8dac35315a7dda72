// Request signatures. Pure: the same inputs always give the same headers.
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto'
import { HookwiseError } from '../errors.js'
import { KEY_HINT, readStandardWebhooksKey } from '../model/signing-key.js'

export type SigningScheme = 'wandb' | 'standard-webhooks' | 'github'

export interface SignInput {
  scheme: SigningScheme
  /** The secret's value. For standard-webhooks it is base64 (with or without `whsec_`) and the key is the decoded bytes. */
  secret: string
  /** While rotating (signing.previousSecret): the value of the secret being replaced; the request is signed with it too. */
  previousSecret?: string
  body: string
  /** Delivery id: the webhook-id header (standard-webhooks signs it). */
  id: string
  /** Unix seconds: the webhook-timestamp header (standard-webhooks signs it). */
  timestamp: number
}

/**
 * The header the previous secret's signature goes in, for the schemes whose header holds one
 * signature (standard-webhooks lists both in webhook-signature instead).
 */
export const PREVIOUS_SIGNATURE_HEADER = { wandb: 'X-Wandb-Signature-Previous', github: 'X-Hub-Signature-256-Previous' } as const

/** A secret every scheme accepts, for previews that show which headers a request has but never their values. */
export const PLACEHOLDER_SECRET = `whsec_${Buffer.alloc(24).toString('base64')}`

/** Standard Webhooks keys by secret value: a secret is decoded once, not per request. */
const keys = new Map<string, KeyObject>()
const KEY_CACHE_ENTRIES = 1024

function standardWebhooksKey(secret: string): KeyObject {
  let key = keys.get(secret)
  if (key) return key
  const read = readStandardWebhooksKey(secret)
  // Validation and secret resolution refuse such a secret first; this guards every other caller.
  if (!read.ok)
    throw new HookwiseError('HW_SIGNING_SECRET_INVALID', `the standard-webhooks signing secret ${read.problem}`, { hint: KEY_HINT })
  key = createSecretKey(read.key)
  if (keys.size >= KEY_CACHE_ENTRIES) keys.clear()
  keys.set(secret, key)
  return key
}

function signature(scheme: SigningScheme, secret: string, input: SignInput): string {
  switch (scheme) {
    case 'wandb':
      return createHmac('sha256', secret).update(input.body, 'utf8').digest('base64')
    case 'github':
      return `sha256=${createHmac('sha256', secret).update(input.body, 'utf8').digest('hex')}`
    case 'standard-webhooks':
      return `v1,${createHmac('sha256', standardWebhooksKey(secret)).update(`${input.id}.${input.timestamp}.${input.body}`, 'utf8').digest('base64')}`
  }
}

/** The signature headers for one request. Throws HW_SIGNING_SECRET_INVALID for a standard-webhooks secret that is not a key. */
export function signatureHeaders(input: SignInput): Record<string, string> {
  const current = signature(input.scheme, input.secret, input)
  const previous = input.previousSecret === undefined ? undefined : signature(input.scheme, input.previousSecret, input)
  switch (input.scheme) {
    case 'wandb':
    case 'github': {
      const name = input.scheme === 'wandb' ? 'X-Wandb-Signature' : 'X-Hub-Signature-256'
      return previous === undefined ? { [name]: current } : { [name]: current, [PREVIOUS_SIGNATURE_HEADER[input.scheme]]: previous }
    }
    case 'standard-webhooks':
      // The spec's list form: receivers accept the request when any signature matches their key.
      return {
        'webhook-timestamp': String(input.timestamp),
        'webhook-signature': previous === undefined ? current : `${current} ${previous}`,
      }
  }
}
