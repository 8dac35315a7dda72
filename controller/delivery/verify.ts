// The receiving side of signing.ts: does a request's signature verify with a secret? Used by
// `hookwise listen`. standard-webhooks and github are checked with their third-party verifiers (the
// npm `standardwebhooks` and `@octokit/webhooks-methods` packages), so a pass means a real receiver
// would accept the request too; wandb has no published verifier and is compared in constant time.
import { createHmac, timingSafeEqual } from 'node:crypto'
import { verify as verifyGithub } from '@octokit/webhooks-methods'
import { Webhook as StandardWebhook } from 'standardwebhooks'
import { PREVIOUS_SIGNATURE_HEADER, type SigningScheme } from './signing.js'

export interface VerifyInput {
  scheme: SigningScheme
  /** The secret's value, as in the webhook's Secret (for standard-webhooks: base64, with or without `whsec_`). */
  secret: string
  /** Request headers with lower-case names, as Node's http server gives them. */
  headers: Readonly<Record<string, string | string[] | undefined>>
  /** The body bytes as received. */
  body: Buffer
}

export interface Verification {
  verified: boolean
  /** Why not, in words a user can act on. */
  reason?: string
  /** Set when the signature that verified is the previous key's (lower case): X-Wandb-Signature-Previous or X-Hub-Signature-256-Previous. */
  header?: string
}

/** The header each scheme's signature travels in (lower case). */
export const SIGNATURE_HEADER: Record<SigningScheme, string> = {
  wandb: 'x-wandb-signature',
  github: 'x-hub-signature-256',
  'standard-webhooks': 'webhook-signature',
}

/**
 * Whether the request's signature verifies with the secret. For wandb and github, a receiver still
 * on the previous key during a rotation finds its signature in the -Previous header: that verifies
 * too, and `header` says which one did.
 */
export async function verifySignature(input: VerifyInput): Promise<Verification> {
  const first = await verifyHeader(input, SIGNATURE_HEADER[input.scheme])
  if (first.verified || input.scheme === 'standard-webhooks') return first
  const previous = PREVIOUS_SIGNATURE_HEADER[input.scheme].toLowerCase()
  if (headerValue(input.headers, previous) === undefined) return first
  const second = await verifyHeader(input, previous)
  return second.verified ? { verified: true, header: previous } : first
}

async function verifyHeader(input: VerifyInput, header: string): Promise<Verification> {
  const signature = headerValue(input.headers, header)
  if (signature === undefined)
    return { verified: false, reason: `no ${header} header: the sender did not sign with the ${input.scheme} scheme` }
  const mismatch = {
    verified: false,
    reason: `${header} does not match the body and this secret: check the secret, the scheme and that nothing changed the body`,
  }
  switch (input.scheme) {
    case 'wandb': {
      const expected = Buffer.from(createHmac('sha256', input.secret).update(input.body).digest('base64'))
      const given = Buffer.from(signature)
      return given.length === expected.length && timingSafeEqual(given, expected) ? { verified: true } : mismatch
    }
    case 'github': {
      // The verifier refuses an empty payload; no signature can be meant for it.
      if (input.body.length === 0) return { verified: false, reason: 'the body is empty' }
      return (await verifyGithub(input.secret, input.body.toString('utf8'), signature)) ? { verified: true } : mismatch
    }
    case 'standard-webhooks':
      return verifyStandardWebhooks(input)
  }
}

function verifyStandardWebhooks(input: VerifyInput): Verification {
  let receiver: StandardWebhook
  try {
    // The library's default, as receivers use it: the secret is base64, with or without whsec_.
    receiver = new StandardWebhook(input.secret)
  } catch (err) {
    return {
      verified: false,
      reason: `the secret cannot be used as a standard-webhooks key (${(err as Error).message}): pass the secret exactly as in the webhook's Secret`,
    }
  }
  const headers: Record<string, string> = {}
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
    const value = headerValue(input.headers, name)
    if (value !== undefined) headers[name] = value
  }
  try {
    receiver.verify(input.body.toString('utf8'), headers, { jsonParse: false })
    return { verified: true }
  } catch (err) {
    const message = (err as Error).message
    if (/timestamp/i.test(message))
      return { verified: false, reason: `${message}: standard-webhooks receivers refuse a webhook-timestamp more than 5 minutes from now` }
    if (/missing/i.test(message))
      return { verified: false, reason: `${message}: webhook-id, webhook-timestamp and webhook-signature are all needed` }
    return {
      verified: false,
      reason: `${SIGNATURE_HEADER['standard-webhooks']} does not match webhook-id, webhook-timestamp, the body and this secret (${message})`,
    }
  }
}

function headerValue(headers: VerifyInput['headers'], name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value.join(', ') : value
}
