// The request an automation would send for an event, safe to print in a pull request: every secret
// the webhook grants is rendered as ****, Authorization and signature values are masked. Pure.
import type { ArtifactEvent } from '../api/types.generated.js'
import { buildRequest, maskedHeaders } from '../delivery/request.js'
import { signatureHeaders } from '../delivery/signing.js'
import type { CompiledAutomation, WebhookEntry } from '../model/desired-state.js'
import { ACCESS_TOKEN } from '../model/secrets.js'

export const MASK = '****'
/** The webhook-id of previews. */
export const PREVIEW_DELIVERY_ID = 'plan-preview'

export interface PreviewedRequest {
  method: 'POST'
  url: string
  headers: Record<string, string>
  /** The body exactly as it would be sent, with secrets replaced by ****. */
  body: string
}

/** The webhook's secret variables, each with the value ****. */
function maskedSecrets(webhook: WebhookEntry): Record<string, string> {
  const secrets: Record<string, string> = {}
  if (webhook.spec.accessToken) secrets[ACCESS_TOKEN] = MASK
  for (const s of webhook.spec.secrets ?? []) secrets[s.name] = MASK
  return secrets
}

/**
 * The request of `automation` through `webhook` for `event`. The timestamp is the event's time, so a
 * plan is the same every time it is computed. Signature values are masked: they would be computed
 * with the real secret, which a plan never has.
 */
export function previewRequest(automation: CompiledAutomation, webhook: WebhookEntry, event: ArtifactEvent): PreviewedRequest {
  const secrets = maskedSecrets(webhook)
  const body = automation.template.render({ event, secrets })
  const timestamp = Math.max(0, Math.floor((Date.parse(event.time ?? '') || 0) / 1000))
  const request = buildRequest({ webhook: webhook.spec, secrets, body, deliveryId: PREVIEW_DELIVERY_ID, timestamp })
  const headers = maskedHeaders(request.headers)
  if (webhook.spec.signing) {
    const names = Object.keys(signatureHeaders({ scheme: webhook.spec.signing.scheme ?? 'wandb', secret: MASK, body, id: PREVIEW_DELIVERY_ID, timestamp }))
    for (const name of names) {
      if (name !== 'webhook-timestamp' && headers[name] !== undefined) headers[name] = headers[name].replace(/^(sha256=|v1,)?.*$/s, `$1${MASK}`)
    }
  }
  return { method: request.method, url: request.url, headers, body }
}
