// The request an automation would send for an event, safe to print in a pull request: every secret
// the webhook grants is rendered as ****, Authorization and signature values are masked. Pure.
import type { HookwiseEvent } from '../model/hookwise-event.js'
import { buildDeliveryRequest, MASK, maskedSecrets } from '../delivery/request.js'
import { PLACEHOLDER_SECRET, signatureHeaders } from '../delivery/signing.js'
import type { CompiledAutomation, WebhookEntry } from '../model/desired-state.js'
import { ACCESS_TOKEN } from '../model/secrets.js'

/** The webhook-id of previews. */
export const PREVIEW_DELIVERY_ID = 'plan-preview'

export interface PreviewedRequest {
  method: 'POST'
  url: string
  headers: Record<string, string>
  /** The body exactly as it would be sent, with secrets replaced by ****. */
  body: string
}

/**
 * The request of `automation` through `webhook` for `event`. A plan never has the secret values:
 * it builds the request with each secret the webhook grants set to ****. The timestamp is the
 * event's time, so a plan is the same every time it is computed. Signature values are masked too:
 * computed with a placeholder key they would mean nothing.
 */
export function previewRequest(automation: CompiledAutomation, webhook: WebhookEntry, event: HookwiseEvent): PreviewedRequest {
  const { spec } = webhook
  const granted = [...(spec.accessToken ? [ACCESS_TOKEN] : []), ...(spec.secrets ?? []).map((s) => s.name)]
  const timestamp = Math.max(0, Math.floor((Date.parse(event.time ?? '') || 0) / 1000))
  const secrets = maskedSecrets(granted)
  // The signing secrets need a value the scheme accepts as a key; the body shows **** all the same
  // (the masked twin renders every secret as ****) and the signatures are masked below.
  for (const name of [spec.signing?.secret, spec.signing?.previousSecret])
    if (name !== undefined && Object.hasOwn(secrets, name)) secrets[name] = PLACEHOLDER_SECRET
  const { masked } = buildDeliveryRequest({
    webhook: spec,
    secrets,
    template: automation.template,
    event,
    deliveryId: PREVIEW_DELIVERY_ID,
    timestamp,
  })
  const headers = masked.headers
  if (spec.signing) {
    const names = Object.keys(
      signatureHeaders({
        scheme: spec.signing.scheme,
        secret: PLACEHOLDER_SECRET,
        ...(spec.signing.previousSecret ? { previousSecret: PLACEHOLDER_SECRET } : {}),
        body: masked.body,
        id: PREVIEW_DELIVERY_ID,
        timestamp,
      }),
    )
    for (const name of names) {
      if (name !== 'webhook-timestamp' && headers[name] !== undefined)
        headers[name] = headers[name].replace(/^(sha256=|v1,)?.*$/s, `$1${MASK}`)
    }
  }
  return { method: masked.method, url: masked.url, headers, body: masked.body }
}
