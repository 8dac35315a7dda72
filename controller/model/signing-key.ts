// The key a Standard Webhooks signing secret stands for, as the spec and its official libraries
// (npm and PyPI `standardwebhooks`) read it: the secret is base64, with or without a `whsec_`
// prefix, and the key is the decoded bytes. Pure; shared by validation (which reports a bad secret
// with file and line), secret resolution (which refuses to sign with one) and signing.

export const WHSEC_PREFIX = 'whsec_'
/** The spec: "between 24 bytes and 64 bytes"; a shorter key is refused, a longer one is used as it is. */
export const MIN_KEY_BYTES = 24

/**
 * Standard base64 with padding: the one form every library decodes to the same bytes (the npm
 * library refuses URL-safe letters and missing padding, Python's ignores letters it does not know).
 */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

export type KeyReading = { ok: true; key: Buffer } | { ok: false; problem: string }

/** The key bytes of a standard-webhooks secret, or why it has none (the message never quotes the secret). */
export function readStandardWebhooksKey(secret: string): KeyReading {
  const encoded = secret.startsWith(WHSEC_PREFIX) ? secret.slice(WHSEC_PREFIX.length) : secret
  if (!BASE64.test(encoded))
    return {
      ok: false,
      problem: `is not base64${secret.startsWith(WHSEC_PREFIX) ? ` after ${WHSEC_PREFIX}` : ''} (A-Z, a-z, 0-9, + and /, padded with = to a multiple of 4)`,
    }
  const key = Buffer.from(encoded, 'base64')
  if (key.length < MIN_KEY_BYTES)
    return { ok: false, problem: `decodes to ${key.length} bytes; standard-webhooks keys are ${MIN_KEY_BYTES} to 64 bytes` }
  return { ok: true, key }
}

/** What to do about a secret readStandardWebhooksKey refuses. */
export const KEY_HINT = `generate one with: echo "${WHSEC_PREFIX}$(openssl rand -base64 32)" (the receiver's standardwebhooks library reads the same value)`
