// Resolves the secret values a webhook is granted from Secret objects of its own namespace. Pure.
import type { SecretKeySelector } from '../api/types.generated.js'
import { HookwiseError } from '../errors.js'
import { objectKey, type SecretEntry, type WebhookEntry } from './desired-state.js'
import { isClusterSource } from './manifest-object.js'
import { KEY_HINT, readStandardWebhooksKey } from './signing-key.js'

/** The variable a webhook's spec.accessToken is granted as (and sent as `Authorization: Bearer`). */
export const ACCESS_TOKEN = 'ACCESS_TOKEN'

export type SecretLookup = (namespace: string, name: string) => SecretEntry | undefined

/** Values by variable name (ACCESS_TOKEN and each of spec.secrets). Throws HW_SECRET_NOT_FOUND naming secret and key. */
export function resolveWebhookSecrets(webhook: WebhookEntry, lookup: SecretLookup): Record<string, string> {
  const refs: Array<[string, SecretKeySelector]> = []
  if (webhook.spec.accessToken) refs.push([ACCESS_TOKEN, webhook.spec.accessToken.secretKeyRef])
  for (const s of webhook.spec.secrets ?? []) refs.push([s.name, s.secretKeyRef])
  const values: Record<string, string> = {}
  for (const [variable, ref] of refs) {
    const secret = lookup(webhook.namespace, ref.name)
    const value = secret?.data[ref.key]
    if (value === undefined) throw missingSecret(webhook, variable, ref, secret)
    values[variable] = value
  }
  checkSigningKeys(webhook, values, refs)
  return values
}

/** Keys named in a message at most; a Secret may hold many (a whole .env file). */
const SHOWN_KEYS = 10

/**
 * HW_SECRET_NOT_FOUND naming what to do where the webhook came from: in a cluster, the Secret
 * object (and, for a missing key, the keys it has: names only, never values); outside it, a
 * Secret manifest in a --secrets folder.
 */
function missingSecret(webhook: WebhookEntry, variable: string, ref: SecretKeySelector, secret: SecretEntry | undefined): HookwiseError {
  const secretKey = objectKey(webhook.namespace, ref.name)
  const needs = `webhook ${objectKey(webhook.namespace, webhook.name)} needs ${variable}`
  const inCluster = isClusterSource(webhook.source)
  if (secret) {
    const keys = Object.keys(secret.data).sort()
    const shown = keys.length
      ? `keys: ${keys
          .slice(0, SHOWN_KEYS)
          .map((k) => `\`${k}\``)
          .join(', ')}${keys.length > SHOWN_KEYS ? `, and ${keys.length - SHOWN_KEYS} more` : ''}`
      : 'it has no keys'
    const fix = inCluster
      ? `add key ${ref.key} to Secret ${ref.name} in namespace ${webhook.namespace}`
      : `add key ${ref.key} to the Secret manifest ${ref.name}`
    return new HookwiseError('HW_SECRET_NOT_FOUND', `${needs}: Secret ${secretKey} has no key \`${ref.key}\` (${shown})`, {
      hint: `${fix}, or set secretKeyRef.key to the key that holds the value`,
    })
  }
  return new HookwiseError('HW_SECRET_NOT_FOUND', `${needs}: Secret ${secretKey} not found`, {
    hint: inCluster
      ? `create it: kubectl -n ${webhook.namespace} create secret generic ${ref.name} --from-literal=${ref.key}=VALUE`
      : `create Secret ${ref.name} with key ${ref.key} in namespace ${webhook.namespace}, as a Secret manifest in a --secrets folder`,
  })
}

/** A standard-webhooks secret that is no key (a Secret changed in the cluster since validation) signs nothing. */
function checkSigningKeys(webhook: WebhookEntry, values: Record<string, string>, refs: Array<[string, SecretKeySelector]>): void {
  const signing = webhook.spec.signing
  if (signing?.scheme !== 'standard-webhooks') return
  for (const variable of [signing.secret, signing.previousSecret]) {
    const value = variable === undefined ? undefined : values[variable]
    if (value === undefined) continue
    const read = readStandardWebhooksKey(value)
    if (read.ok) continue
    const ref = refs.find(([v]) => v === variable)![1]
    throw new HookwiseError(
      'HW_SIGNING_SECRET_INVALID',
      `webhook ${objectKey(webhook.namespace, webhook.name)} signs with ${variable}: Secret ${objectKey(webhook.namespace, ref.name)} key ${ref.key} ${read.problem}`,
      { hint: KEY_HINT },
    )
  }
}

export const mapLookup =
  (secrets: ReadonlyMap<string, SecretEntry>): SecretLookup =>
  (namespace, name) =>
    secrets.get(objectKey(namespace, name))
