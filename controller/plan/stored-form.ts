// Webhooks and Automations as the Kubernetes API server stores them: schema defaults filled in and
// the keys of every mapping in alphabetical order (custom resources are kept as unstructured JSON,
// which the API server writes with sorted keys). A folder put in this form compares equal with what
// `kubectl apply` made of it, and its request previews show the body hookwise would send once the
// folder is applied (a `payload` mapping's keys are sent in the order the cluster returns them). Pure.
import { API_GROUP_VERSION } from '../api/schemas.js'
import { validators } from '../api/validators.js'
import type { ManifestObject } from '../model/manifest-object.js'

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (typeof value !== 'object' || value === null) return value
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return Object.fromEntries(entries.map(([k, v]) => [k, sortKeys(v)]))
}

/** The objects, each Webhook and Automation body replaced by its stored form; others as they are. */
export function storedForm(objects: readonly ManifestObject[]): ManifestObject[] {
  return objects.map((o) => {
    if (o.apiVersion !== API_GROUP_VERSION || (o.kind !== 'Webhook' && o.kind !== 'Automation')) return o
    const body = structuredClone(o.body)
    // Defaults are filled in whether or not the object is valid; its errors are reported elsewhere.
    validators[o.kind](body)
    return { ...o, body: sortKeys(body) as Record<string, unknown> }
  })
}
