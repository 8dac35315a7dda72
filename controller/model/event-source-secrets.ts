// The secret values an EventSource needs, from Secrets of its own namespace. Pure.
import type { SecretReference } from '../api/types.generated.js'
import { HookwiseError } from '../errors.js'
import { objectKey, type EventSourceEntry } from './desired-state.js'
import type { SecretLookup } from './secrets.js'

/** The value of one of the source's secret references; throws HW_SECRET_NOT_FOUND naming Secret and key. */
export function sourceSecret(source: EventSourceEntry, field: string, ref: SecretReference, lookup: SecretLookup): string {
  const { name, key } = ref.secretKeyRef
  const secret = lookup(source.namespace, name)
  const value = secret?.data[key]
  if (value !== undefined) return value
  const what = secret
    ? `Secret ${objectKey(source.namespace, name)} has no key ${key}`
    : `Secret ${objectKey(source.namespace, name)} not found`
  throw new HookwiseError('HW_SECRET_NOT_FOUND', `EventSource ${objectKey(source.namespace, source.name)} needs ${field}: ${what}`, {
    hint: `create Secret ${name} with key ${key} in namespace ${source.namespace} (outside Kubernetes: a Secret manifest in the --secrets folder)`,
  })
}
