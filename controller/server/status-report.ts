// The status of every Webhook and Automation outside Kubernetes: GET /v1/status and `hookwise get`.
import type { DeliveryRecord } from '../api/types.generated.js'
import type { StatusTracker } from '../delivery/status-tracker.js'
import type { Store } from '../delivery/store.js'
import type { DeliveryStatus } from '../model/delivery.js'
import type { Diagnostic } from '../errors.js'
import type { GitSourceStatus } from '../sources/git-follow.js'
import { automationByKey, objectErrors, objectKey, type DesiredState } from '../model/desired-state.js'

export interface ObjectStatus {
  namespace: string
  name: string
  ready: boolean
  /** Why it is not ready: its errors. */
  errors: Diagnostic[]
  lastDelivery?: DeliveryRecord
  /** Commit SHA the object was applied from (git mode). */
  revision?: string
}

export interface StatusReport {
  webhooks: Array<ObjectStatus & { url: string; healthy: boolean; consecutiveFailures: number; gone: boolean }>
  automations: Array<ObjectStatus & { event: string; webhook: string; enabled: boolean; lastTriggered?: string; deliveries: Record<DeliveryStatus, number> }>
  /** Errors not attached to an object (YAML syntax, unknown kinds). */
  errors: Diagnostic[]
  /** Commit SHA of the applied desired state (git mode). */
  revision?: string
  /** The git repository followed, and whether it is reachable (git mode). */
  source?: GitSourceStatus
}

export function statusReport(state: DesiredState, tracker: StatusTracker, store: Store, source?: GitSourceStatus): StatusReport {
  const report = objectsReport(state, tracker, store)
  if (!source) return report
  const revision = source.revision ? { revision: source.revision } : {}
  return {
    webhooks: report.webhooks.map((w) => ({ ...w, ...revision })),
    automations: report.automations.map((a) => ({ ...a, ...revision })),
    errors: report.errors,
    ...revision,
    source,
  }
}

function objectsReport(state: DesiredState, tracker: StatusTracker, store: Store): StatusReport {
  const errorsOf = (label: string): Diagnostic[] => [...objectErrors(state, label)]
  const counts = store.countsByAutomation()
  const webhooks = [...state.webhooks.values()].map((w) => {
    const key = objectKey(w.namespace, w.name)
    const facts = tracker.webhooks.get(key)
    return {
      namespace: w.namespace,
      name: w.name,
      url: w.spec.url,
      ready: w.valid,
      errors: errorsOf(`Webhook ${key}`),
      healthy: facts?.goneSpec === undefined && (facts?.consecutiveFailures ?? 0) === 0,
      consecutiveFailures: facts?.consecutiveFailures ?? 0,
      gone: facts?.goneSpec !== undefined,
      ...(facts?.lastDelivery ? { lastDelivery: facts.lastDelivery } : {}),
    }
  })
  const automations: StatusReport['automations'] = state.automations.map((a) => {
    const facts = tracker.automations.get(a.key)
    const webhook = state.webhooks.get(objectKey(a.namespace, a.spec.action.webhook))
    return {
      namespace: a.namespace,
      name: a.name,
      ready: webhook?.valid === true,
      errors: errorsOf(`Automation ${a.key}`),
      event: a.spec.event.type,
      webhook: a.spec.action.webhook,
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
    automations.push({ namespace, name, ready: false, errors, event: '', webhook: '', enabled: false, deliveries: counts.get(key) ?? { pending: 0, succeeded: 0, failed: 0, cancelled: 0 } })
  }
  automations.sort((a, b) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1))
  return { webhooks, automations, errors: state.diagnostics.filter((d) => d.severity === 'error' && !d.object) }
}
