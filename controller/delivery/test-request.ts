// A webhook test: one request with the webhook's credentials and signature, as W&B's "Test" button
// sends, outside the outbox (not recorded, not retried). `hookwise test webhook` and the Kubernetes
// test annotation both send it here.
import { randomUUID } from 'node:crypto'
import type { ArtifactEvent } from '../api/types.generated.js'
import { HookwiseError } from '../errors.js'
import type { WebhookEntry } from '../model/desired-state.js'
import { ACCESS_TOKEN, resolveWebhookSecrets, type SecretLookup } from '../model/secrets.js'
import { compilePayloadText } from '../template/compile.js'
import { redactResult } from './redact.js'
import { buildDeliveryRequest, defaultTestPayload, type DeliveryPayload, type OutgoingRequest } from './request.js'
import type { Sender, SendResult } from './send-result.js'

export interface TestRequestInput {
  /** A valid webhook. */
  webhook: WebhookEntry
  secrets: SecretLookup
  sender: Sender
  /**
   * JSON text to send; it may insert the webhook's secrets as "${NAME}" (inside strings) or
   * ${json:NAME}, as a payloadTemplate does. Without it, the default test payload.
   */
  payload?: string
  /** Where the payload came from, for error messages, e.g. `--payload body.json`. */
  payloadName?: string
  now?: Date
}

export interface TestRequestOutcome {
  /** The request as sent, with its credentials and secrets masked. */
  masked: OutgoingRequest
  /** What the endpoint answered; the secret values sent are masked in its body and error too. */
  result: SendResult
  /** A 2xx answer. */
  ok: boolean
}

/**
 * Sends the test request. Throws a HookwiseError, sending nothing, when the payload is not JSON,
 * uses a variable other than the webhook's secrets, or a secret has no value.
 */
export async function sendTestRequest(input: TestRequestInput): Promise<TestRequestOutcome> {
  const { webhook } = input
  const now = input.now ?? new Date()
  const key = `${webhook.namespace}/${webhook.name}`
  const payload: DeliveryPayload =
    input.payload === undefined
      ? { body: defaultTestPayload(key, now) }
      : testPayload(input.payload, input.payloadName ?? 'the payload', webhook)
  const secrets = resolveWebhookSecrets(webhook, input.secrets)
  const { request, masked } = buildDeliveryRequest({
    webhook: webhook.spec,
    secrets,
    ...payload,
    deliveryId: `test_${randomUUID()}`,
    timestamp: Math.floor(now.getTime() / 1000),
  })
  const result = await input.sender.send(request, { timeoutMs: webhook.spec.timeoutSeconds * 1000 })
  const ok = result.statusCode !== undefined && result.statusCode >= 200 && result.statusCode < 300
  return { masked, result: redactResult(result, secrets), ok }
}

/**
 * A test has no event: the payload's references may only be the webhook's secrets, so the event is
 * never read. This stands in for it.
 */
const NO_EVENT = Object.freeze({}) as ArtifactEvent

/** Compiles a test payload; every reference must be a secret the webhook grants. */
function testPayload(text: string, name: string, webhook: WebhookEntry): DeliveryPayload {
  const compiled = compilePayloadText(text)
  if (!compiled.ok) {
    try {
      JSON.parse(text)
    } catch (err) {
      throw new HookwiseError('HW_EVENT_JSON', `${name} is not JSON: ${(err as Error).message}`, { hint: 'webhooks receive JSON bodies' })
    }
    const p = compiled.problems[0]!
    throw new HookwiseError('HW_TEMPLATE_SYNTAX', `${name}: ${p.message}`, { hint: p.hint })
  }
  const key = `${webhook.namespace}/${webhook.name}`
  const granted = new Set([...(webhook.spec.accessToken ? [ACCESS_TOKEN] : []), ...(webhook.spec.secrets ?? []).map((s) => s.name)])
  for (const { name: variable } of compiled.template.placeholders) {
    if (granted.has(variable)) continue
    if (/^[A-Z][A-Z0-9_]*$/.test(variable)) {
      throw new HookwiseError('HW_TEMPLATE_SECRET_NOT_GRANTED', `${name} uses \${${variable}}, which is not a secret of webhook ${key}`, {
        hint:
          variable === ACCESS_TOKEN
            ? `set spec.accessToken on webhook ${key}`
            : `add {name: ${variable}, secretKeyRef: ...} to spec.secrets of webhook ${key}, or fix the name`,
      })
    }
    throw new HookwiseError(
      'HW_TEMPLATE_UNKNOWN_VARIABLE',
      `${name} uses \${${variable}}, but a test has no event: only the webhook's secrets can be inserted`,
      {
        hint: `write the value itself, or use hookwise render or hookwise curl to build the request of an automation for an event; secrets of webhook ${key}: ${[...granted].join(', ') || 'none'}`,
      },
    )
  }
  return { template: compiled.template, event: NO_EVENT }
}
