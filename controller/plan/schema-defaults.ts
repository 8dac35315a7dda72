// Webhooks and Automations with their schema defaults filled in, as the API server stores them:
// a folder then compares equal with what `kubectl apply` made of it (the cluster's copy has
// `enabled: true`, `timeoutSeconds: 15`, ... where the file left them out). Pure.
import { API_GROUP_VERSION } from '../api/schemas.js'
import { validators } from '../api/validators.js'
import type { ManifestObject } from '../sources/manifest.js'

/** The objects, each Webhook and Automation body replaced by a copy with the schema defaults; others as they are. */
export function withSchemaDefaults(objects: readonly ManifestObject[]): ManifestObject[] {
  return objects.map((o) => {
    if (o.apiVersion !== API_GROUP_VERSION || (o.kind !== 'Webhook' && o.kind !== 'Automation')) return o
    const body = structuredClone(o.body)
    // Defaults are filled in whether or not the object is valid; its errors are reported elsewhere.
    validators[o.kind](body)
    return { ...o, body }
  })
}
