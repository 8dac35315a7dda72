// The status a Webhook or Automation should have, in the Kubernetes style: conditions computed
// from the desired state (validation), the Secrets, the egress policy and what deliveries did
// lately. The one place Ready and Healthy are decided: the Kubernetes status writer (which compares
// the result with what the object holds and writes only differences), GET /v1/status and
// `hookwise get`/`describe` all render these conditions. Pure.
import type { AutomationStatus, Condition, DeliveryRecord, WebhookStatus } from '../api/types.generated.js'
import type { AutomationFacts, WebhookFacts } from './delivery.js'
import type { Diagnostic, ErrorCode } from '../errors.js'
import { automationByKey, objectErrors, objectKey, type DesiredState, type WebhookEntry } from './desired-state.js'
import { resolveWebhookSecrets, type SecretLookup } from './secrets.js'

export interface StatusInputs {
  state: DesiredState
  secrets: SecretLookup
  /** Why the egress policy refuses a URL, or undefined (a static check: scheme and IP literals). */
  egress: (url: string) => string | undefined
  /** Whether the circuit breaker holds deliveries to this URL's origin. */
  circuitOpen: (url: string) => boolean
  /** Whether the webhook answered 410 Gone and has not been changed since. */
  gone: (webhookKey: string) => boolean
  webhookFacts: (key: string) => WebhookFacts | undefined
  automationFacts: (key: string) => AutomationFacts | undefined
  now: number
}

/** A condition as computed, before lastTransitionTime and observedGeneration are set on an object. */
export type ConditionInput = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>

/** Sets a condition like apimachinery's meta.SetStatusCondition: lastTransitionTime changes only when status does. */
export function setCondition(
  previous: readonly Condition[] | undefined,
  c: ConditionInput,
  generation: number | undefined,
  now: number,
): Condition {
  const old = previous?.find((p) => p.type === c.type)
  return {
    type: c.type,
    status: c.status,
    reason: c.reason,
    message: truncate(c.message),
    lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  }
}

const truncate = (s: string, max = 4000): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s)

/** Errors as one line each: `field.path: message (hint)`. */
function describe(errors: readonly Diagnostic[]): string {
  return errors.map((d) => `${d.path ? `${d.path}: ` : ''}${d.message}${d.hint ? ` (${d.hint})` : ''}`).join('; ')
}

/** Ready of a webhook: its own errors, then the egress policy, then its Secrets. */
export function webhookReadiness(key: string, webhook: WebhookEntry | undefined, inputs: StatusInputs): ConditionInput {
  const errors = objectErrors(inputs.state, `Webhook ${key}`)
  if (!webhook || errors.length > 0) {
    const reason = errors.some((d) => d.code === 'HW_URL_INVALID')
      ? 'InvalidURL'
      : errors.every((d) => d.code === 'HW_SECRET_DUPLICATE')
        ? 'SecretDuplicated'
        : 'InvalidSpec'
    return { type: 'Ready', status: 'False', reason, message: errors.length ? describe(errors) : `Webhook ${key} is not valid` }
  }
  const refused = inputs.egress(webhook.spec.url) ?? inputs.webhookFacts(key)?.egressDenied
  if (refused)
    return { type: 'Ready', status: 'False', reason: 'EgressDenied', message: `the egress policy refuses ${webhook.spec.url}: ${refused}` }
  try {
    resolveWebhookSecrets(webhook, inputs.secrets)
  } catch (err) {
    const e = err as Error & { hint?: string }
    return { type: 'Ready', status: 'False', reason: 'SecretNotFound', message: `${e.message}${e.hint ? ` (${e.hint})` : ''}` }
  }
  return { type: 'Ready', status: 'True', reason: 'Valid', message: `ready to deliver to ${webhook.spec.url}` }
}

/** Healthy of a webhook whose spec is valid: gone, then the circuit breaker, then failures in a row. */
export function healthiness(key: string, url: string, facts: WebhookFacts | undefined, inputs: StatusInputs): ConditionInput {
  if (inputs.gone(key))
    return {
      type: 'Healthy',
      status: 'False',
      reason: 'Gone',
      message: 'the endpoint answered 410 Gone: deliveries wait until the Webhook spec changes (update the URL, or remove the Automations)',
    }
  const failures = facts?.consecutiveFailures ?? 0
  const last = facts?.lastDelivery
  const lastText = last
    ? `; last attempt ${last.statusCode !== undefined ? `HTTP ${last.statusCode}` : 'got no response'}${facts?.lastError ? ` (${facts.lastError})` : ''}`
    : ''
  if (inputs.circuitOpen(url))
    return {
      type: 'Healthy',
      status: 'False',
      reason: 'CircuitOpen',
      message: `${failures} failed attempts in a row${lastText}: deliveries to ${new URL(url).origin} wait (nothing is dropped) until a probe succeeds`,
    }
  if (failures > 0)
    return {
      type: 'Healthy',
      status: 'False',
      reason: 'DeliveryFailing',
      message: `${failures} failed attempt${failures === 1 ? '' : 's'} in a row${lastText}`,
    }
  if (!last) return { type: 'Healthy', status: 'Unknown', reason: 'NoDeliveries', message: 'no delivery attempted yet' }
  return { type: 'Healthy', status: 'True', reason: 'Succeeding', message: 'the last attempt succeeded' }
}

/** A webhook's conditions: Ready, and Healthy once its spec is valid. */
export function webhookConditions(key: string, inputs: StatusInputs): ConditionInput[] {
  const webhook = inputs.state.webhooks.get(key)
  const conditions = [webhookReadiness(key, webhook, inputs)]
  if (webhook?.valid) conditions.push(healthiness(key, webhook.spec.url, inputs.webhookFacts(key), inputs))
  return conditions
}

/** An automation's conditions: Ready. */
export function automationConditions(key: string, inputs: StatusInputs): ConditionInput[] {
  return [automationReadiness(key, inputs)]
}

export function webhookStatus(
  key: string,
  generation: number | undefined,
  previous: WebhookStatus | undefined,
  inputs: StatusInputs,
): WebhookStatus {
  const facts = inputs.webhookFacts(key)
  const conditions = webhookConditions(key, inputs).map((c) => setCondition(previous?.conditions, c, generation, inputs.now))
  const lastDelivery: DeliveryRecord | undefined = facts?.lastDelivery ?? previous?.lastDelivery
  return {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    conditions,
    ...(lastDelivery ? { lastDelivery } : {}),
    consecutiveFailures: facts?.consecutiveFailures ?? 0,
    ...(previous?.lastTest ? { lastTest: previous.lastTest } : {}),
  }
}

const AUTOMATION_REASONS: Partial<Record<ErrorCode, string>> = {
  HW_WEBHOOK_NOT_FOUND: 'WebhookNotFound',
  HW_WEBHOOK_INVALID: 'WebhookNotReady',
  HW_TEMPLATE_SYNTAX: 'TemplateError',
  HW_TEMPLATE_UNKNOWN_VARIABLE: 'TemplateError',
  HW_TEMPLATE_SECRET_NOT_GRANTED: 'TemplateError',
  HW_PAYLOAD_CHOICE: 'TemplateError',
}

export function automationReadiness(key: string, inputs: StatusInputs): ConditionInput {
  const errors = objectErrors(inputs.state, `Automation ${key}`)
  const automation = automationByKey(inputs.state, key)
  if (!automation || errors.length > 0) {
    const reason = errors.map((d) => AUTOMATION_REASONS[d.code]).find(Boolean) ?? 'InvalidSpec'
    return { type: 'Ready', status: 'False', reason, message: errors.length ? describe(errors) : `Automation ${key} is not valid` }
  }
  if (automation.spec.action.webhook === undefined)
    return automation.spec.enabled === false
      ? {
          type: 'Ready',
          status: 'False',
          reason: 'Disabled',
          message: 'spec.enabled is false: the automation does not fire (set it to true to resume)',
        }
      : {
          type: 'Ready',
          status: 'True',
          reason: 'Valid',
          message: `fires on ${automation.spec.event.type}; noop: records a delivery and sends nothing`,
        }
  const webhookKey = objectKey(automation.namespace, automation.spec.action.webhook)
  const webhook = webhookReadiness(webhookKey, inputs.state.webhooks.get(webhookKey), inputs)
  if (webhook.status !== 'True')
    return {
      type: 'Ready',
      status: 'False',
      reason: 'WebhookNotReady',
      message: `Webhook ${webhookKey} is not ready (${webhook.reason}): ${webhook.message}`,
    }
  if (automation.spec.enabled === false)
    return {
      type: 'Ready',
      status: 'False',
      reason: 'Disabled',
      message: 'spec.enabled is false: the automation does not fire (set it to true to resume)',
    }
  return {
    type: 'Ready',
    status: 'True',
    reason: 'Valid',
    message: `fires on ${automation.spec.event.type} and delivers to Webhook ${automation.spec.action.webhook}`,
  }
}

export function automationStatus(
  key: string,
  generation: number | undefined,
  previous: AutomationStatus | undefined,
  inputs: StatusInputs,
): AutomationStatus {
  const facts = inputs.automationFacts(key)
  const lastTriggered = facts?.lastTriggered ?? previous?.lastTriggered
  const lastDelivery = facts?.lastDelivery ?? previous?.lastDelivery
  return {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    conditions: automationConditions(key, inputs).map((c) => setCondition(previous?.conditions, c, generation, inputs.now)),
    ...(lastTriggered ? { lastTriggered } : {}),
    ...(lastDelivery ? { lastDelivery } : {}),
    counters: facts?.counters ?? {
      triggered: previous?.counters?.triggered ?? 0,
      succeeded: previous?.counters?.succeeded ?? 0,
      failed: previous?.counters?.failed ?? 0,
    },
  }
}
