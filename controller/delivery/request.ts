// Builds the exact HTTP request of one delivery attempt, and its masked twin for history and
// printing. Pure: sending is the sender's job.
import type { WebhookSpec } from '../api/types.generated.js'
import type { HookwiseEvent } from '../model/hookwise-event.js'
import type { CompiledTemplate } from '../model/compiled-template.js'
import type { DefaultedWebhookSpec } from '../model/desired-state.js'
import { HOP_HEADER } from '../model/event-hop.js'
import { VERSION } from '../version.js'
import { signatureHeaders } from './signing.js'

/** What a secret, or a credential in a header, shows as wherever a request is recorded or printed. */
export const MASK = '****'

export interface OutgoingRequest {
  method: 'POST'
  url: string
  headers: Record<string, string>
  body: string
}

/** A webhook spec a request can be built from: the signing scheme is set, as schema defaults set it. */
export type RequestWebhook = Omit<WebhookSpec, 'signing'> & Pick<DefaultedWebhookSpec, 'signing'>

export interface RequestInput {
  webhook: RequestWebhook
  /** The webhook's resolved secret values by variable name; ACCESS_TOKEN when it has an access token. */
  secrets: Readonly<Record<string, string>>
  body: string
  /** Delivery id, stable across retries of one delivery. */
  deliveryId: string
  /** Unix seconds of this attempt. */
  timestamp: number
  /** Deliveries only: the `hookwise-hop` header, the event's hop + 1 (model/event-hop.ts); previews leave it out. */
  hop?: number
}

/** The request for a body already rendered: headers, bearer token and signature. */
export function buildRequest(input: RequestInput): OutgoingRequest {
  const { webhook, secrets } = input
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'User-Agent': `hookwise/${VERSION}`,
    'webhook-id': input.deliveryId,
    ...webhook.headers,
  }
  if (input.hop !== undefined) headers[HOP_HEADER] = String(input.hop)
  const token = secrets.ACCESS_TOKEN
  if (webhook.accessToken && token !== undefined) headers.Authorization = `Bearer ${token}`
  if (webhook.signing) {
    const { scheme, previousSecret } = webhook.signing
    const secret = secrets[webhook.signing.secret]
    if (secret !== undefined) {
      const previous = previousSecret === undefined ? undefined : secrets[previousSecret]
      Object.assign(
        headers,
        signatureHeaders({
          scheme,
          secret,
          ...(previous === undefined ? {} : { previousSecret: previous }),
          body: input.body,
          id: input.deliveryId,
          timestamp: input.timestamp,
        }),
      )
    }
  }
  return { method: 'POST', url: webhook.url, headers, body: input.body }
}

/** The body of a delivery request: a template rendered for an event, or a body sent as it is. */
export type DeliveryPayload = { template: CompiledTemplate; event: HookwiseEvent } | { body: string }

export type DeliveryRequestInput = Omit<RequestInput, 'body'> & DeliveryPayload

export interface DeliveryRequest {
  /** Exactly what is sent. */
  request: OutgoingRequest
  /**
   * The same request safe to record and print: the Authorization credential is ****, and so is
   * every secret the template inserts into the body. Signature headers stay as sent: they are
   * what the receiver checks, and do not reveal the key.
   */
  masked: OutgoingRequest
}

/**
 * The request one delivery (or test) sends, and its masked twin. A template that inserts no
 * secret is rendered once, and its body is shared by both; one that does is rendered again with
 * every secret as ****. Throws HW_SECRET_NOT_FOUND when the template uses a secret without a value.
 */
export function buildDeliveryRequest(input: DeliveryRequestInput): DeliveryRequest {
  const { secrets } = input
  let body: string
  let maskedBody: string
  if ('template' in input) {
    const { template, event } = input
    body = template.render({ event, secrets })
    const usesSecret = template.placeholders.some((p) => Object.hasOwn(secrets, p.name))
    maskedBody = usesSecret ? template.render({ event, secrets: maskedSecrets(Object.keys(secrets)) }) : body
  } else {
    body = maskedBody = input.body
  }
  const request = buildRequest({
    webhook: input.webhook,
    secrets,
    body,
    deliveryId: input.deliveryId,
    timestamp: input.timestamp,
    ...(input.hop !== undefined ? { hop: input.hop } : {}),
  })
  return { request, masked: { ...request, headers: maskedHeaders(request.headers), body: maskedBody } }
}

/** Each of `names` with the value ****. */
export function maskedSecrets(names: Iterable<string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of names) out[name] = MASK
  return out
}

/** Headers safe to print: credentials replaced by ****. */
export function maskedHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) out[k] = k.toLowerCase() === 'authorization' ? v.replace(/^(\S+\s+).*$/, `$1${MASK}`) : v
  return out
}

/** The body of a webhook test (`hookwise test webhook` without --payload; the test annotation in Kubernetes). */
export function defaultTestPayload(webhook: string, now: Date): string {
  return JSON.stringify({ test: true, source: `hookwise/${VERSION}`, webhook, time: now.toISOString() })
}
