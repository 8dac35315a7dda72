// The status of every Webhook and Automation as GET /v1/status serves it (and `hookwise get` and
// `describe` print it): the conditions model/object-status.ts computes, the same ones the Kubernetes
// status writer puts on the custom resources, with the fields derived from them and delivery counts.
import type { DeliveryRecord } from '../api/types.generated.js'
import type { Store } from '../delivery/store.js'
import type { DeliveryStatus } from '../model/delivery.js'
import type { Diagnostic } from '../errors.js'
import type { GitSourceStatus } from '../sources/git-follow.js'
import type { EventSources } from '../delivery/event-sources.js'
import { eventSourceReadiness } from '../model/event-source-status.js'
import { automationByKey, objectErrors, objectKey } from '../model/desired-state.js'
import { automationConditions, webhookConditions, type ConditionInput, type StatusInputs } from '../model/object-status.js'

export interface ObjectStatus {
  namespace: string
  name: string
  /** Ready, and for a webhook with a valid spec Healthy: type, status, reason, message as in Kubernetes mode. */
  conditions: ConditionInput[]
  /** The Ready condition is True. */
  ready: boolean
  /** Why it is not ready: its errors. */
  errors: Diagnostic[]
  lastDelivery?: DeliveryRecord
  /** Commit SHA the object was applied from (git mode). */
  revision?: string
}

export interface StatusReport {
  /** healthy: the Healthy condition is not False; gone: its reason is Gone (the endpoint answered 410). */
  webhooks: Array<ObjectStatus & { url: string; healthy: boolean; consecutiveFailures: number; gone: boolean }>
  automations: Array<
    ObjectStatus & { event: string; webhook: string; enabled: boolean; lastTriggered?: string; deliveries: Record<DeliveryStatus, number> }
  >
  /** Each EventSource: Ready, counts since start, the last event, requests waiting for enrichment. */
  eventSources?: Array<
    ObjectStatus & {
      registry: 'mlflow' | 'wandb' | ''
      trackingUri?: string
      events: { accepted: number; duplicates: number; rejected: number; waiting: number }
      lastEvent?: { time: string; type: string; deliveryId: string }
      lastError?: string
      /** spec.mlflow.register: the webhook hookwise made in MLflow, and why the last try failed. */
      mlflowWebhookId?: string
      registerError?: string
    }
  >
  /** Errors not attached to a Webhook or Automation (YAML syntax, unknown kinds, Secrets). */
  errors: Diagnostic[]
  /** Commit SHA of the applied desired state (git mode). */
  revision?: string
  /** The git repository followed, and whether it is reachable (git mode). */
  source?: GitSourceStatus
}

/** `inputs` from StatusFacts.inputs (delivery/status-facts.ts), as the Kubernetes status writer takes them. */
export async function statusReport(
  inputs: StatusInputs,
  store: Store,
  source?: GitSourceStatus,
  sources?: EventSources,
): Promise<StatusReport> {
  const report = objectsReport(inputs, await store.countsByAutomation())
  if (sources) report.eventSources = eventSourcesReport(inputs, sources)
  if (!source) return report
  const revision = source.revision ? { revision: source.revision } : {}
  return {
    webhooks: report.webhooks.map((w) => ({ ...w, ...revision })),
    automations: report.automations.map((a) => ({ ...a, ...revision })),
    ...(report.eventSources ? { eventSources: report.eventSources.map((e) => ({ ...e, ...revision })) } : {}),
    errors: report.errors,
    ...revision,
    source,
  }
}

function eventSourcesReport(inputs: StatusInputs, sources: EventSources): NonNullable<StatusReport['eventSources']> {
  const state = inputs.state
  const waiting = sources.waiting()
  const keys = new Set(state.eventSources.keys())
  // EventSources with errors are not in state.eventSources: list them as not ready.
  for (const d of state.diagnostics) {
    const m = d.severity === 'error' && d.object ? /^EventSource (\S+\/\S+)$/.exec(d.object) : null
    if (m) keys.add(m[1]!)
  }
  return [...keys].sort().map((key) => {
    const [namespace, name] = key.split('/') as [string, string]
    const entry = state.eventSources.get(key)
    const { condition, errors } = eventSourceReadiness(key, state, inputs.secrets)
    const facts = sources.factsOf(key)
    const registration = sources.registration(key)
    return {
      namespace,
      name,
      conditions: [condition],
      ready: condition.status === 'True',
      errors,
      registry: entry?.spec.mlflow ? 'mlflow' : entry?.spec.wandb ? 'wandb' : '',
      ...(entry?.spec.mlflow ? { trackingUri: entry.spec.mlflow.trackingUri } : {}),
      events: { accepted: facts.accepted, duplicates: facts.duplicates, rejected: facts.rejected, waiting: waiting.get(key) ?? 0 },
      ...(facts.lastEvent ? { lastEvent: facts.lastEvent } : {}),
      ...(facts.lastError ? { lastError: facts.lastError } : {}),
      ...(registration?.webhookId ? { mlflowWebhookId: registration.webhookId } : {}),
      ...(registration?.error ? { registerError: registration.error } : {}),
    }
  })
}

const conditionOf = (conditions: readonly ConditionInput[], type: string): ConditionInput | undefined =>
  conditions.find((c) => c.type === type)

function objectsReport(inputs: StatusInputs, counts: Map<string, Record<DeliveryStatus, number>>): StatusReport {
  const state = inputs.state
  const errorsOf = (label: string): Diagnostic[] => [...objectErrors(state, label)]
  const webhooks = [...state.webhooks.values()].map((w) => {
    const key = objectKey(w.namespace, w.name)
    const facts = inputs.webhookFacts(key)
    const conditions = webhookConditions(key, inputs)
    const healthy = conditionOf(conditions, 'Healthy')
    return {
      namespace: w.namespace,
      name: w.name,
      url: w.spec.url,
      conditions,
      ready: conditionOf(conditions, 'Ready')?.status === 'True',
      errors: errorsOf(`Webhook ${key}`),
      healthy: healthy?.status !== 'False',
      consecutiveFailures: facts?.consecutiveFailures ?? 0,
      gone: healthy?.reason === 'Gone',
      ...(facts?.lastDelivery ? { lastDelivery: facts.lastDelivery } : {}),
    }
  })
  const automations: StatusReport['automations'] = state.automations.map((a) => {
    const facts = inputs.automationFacts(a.key)
    const conditions = automationConditions(a.key, inputs)
    return {
      namespace: a.namespace,
      name: a.name,
      conditions,
      ready: conditionOf(conditions, 'Ready')?.status === 'True',
      errors: errorsOf(`Automation ${a.key}`),
      event: a.spec.event.type,
      webhook: a.spec.action.webhook ?? '',
      enabled: a.spec.enabled !== false,
      deliveries: counts.get(a.key) ?? { pending: 0, succeeded: 0, failed: 0, cancelled: 0 },
      ...(facts?.lastTriggered ? { lastTriggered: facts.lastTriggered } : {}),
      ...(facts?.lastDelivery ? { lastDelivery: facts.lastDelivery } : {}),
    }
  })
  // Automations with errors are not in state.automations: list them as not ready.
  const invalid = new Map<string, Diagnostic[]>()
  for (const d of state.diagnostics) {
    const m = d.severity === 'error' && d.object ? /^Automation (\S+)\/(\S+)$/.exec(d.object) : null
    if (m && !automationByKey(state, `${m[1]}/${m[2]}`)) invalid.set(`${m[1]}/${m[2]}`, [...(invalid.get(`${m[1]}/${m[2]}`) ?? []), d])
  }
  for (const [key, errors] of invalid) {
    const [namespace, name] = key.split('/') as [string, string]
    const conditions = automationConditions(key, inputs)
    automations.push({
      namespace,
      name,
      conditions,
      ready: conditionOf(conditions, 'Ready')?.status === 'True',
      errors,
      event: '',
      webhook: '',
      enabled: false,
      deliveries: counts.get(key) ?? { pending: 0, succeeded: 0, failed: 0, cancelled: 0 },
    })
  }
  automations.sort((a, b) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1))
  // Secrets have no status of their own: their errors (a duplicate, bad base64) are listed with the unattached ones.
  const unattached = (d: Diagnostic): boolean => !d.object || d.object.startsWith('Secret ')
  return { webhooks, automations, errors: state.diagnostics.filter((d) => d.severity === 'error' && unattached(d)) }
}
