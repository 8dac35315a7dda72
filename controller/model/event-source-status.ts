// The Ready condition of an EventSource: valid, and its Secrets there (an intake without its
// signing secret answers 503, so the registry retries). Pure, like object-status.ts.
import type { EventSourceStatus } from '../api/types.generated.js'
import type { Diagnostic } from '../errors.js'
import { HookwiseError } from '../errors.js'
import { objectErrors, type DesiredState } from './desired-state.js'
import { sourceSecret } from './event-source-secrets.js'
import { setCondition, type ConditionInput } from './object-status.js'
import type { SecretLookup } from './secrets.js'

export function eventSourceReadiness(
  key: string,
  state: DesiredState,
  secrets: SecretLookup,
): { condition: ConditionInput; errors: Diagnostic[] } {
  const errors = [...objectErrors(state, `EventSource ${key}`)]
  const source = state.eventSources.get(key)
  if (!source || errors.length > 0) {
    const message = errors.map((d) => `${d.path ? `${d.path}: ` : ''}${d.message}`).join('; ') || `EventSource ${key} is not valid`
    return { condition: { type: 'Ready', status: 'False', reason: 'InvalidSpec', message }, errors }
  }
  const refs = source.spec.mlflow
    ? [
        ['spec.mlflow.signingSecret', source.spec.mlflow.signingSecret] as const,
        ...(source.spec.mlflow.credentials ? [['spec.mlflow.credentials', source.spec.mlflow.credentials] as const] : []),
      ]
    : [
        ['spec.wandb.signingSecret', source.spec.wandb!.signingSecret] as const,
        ['spec.wandb.accessToken', source.spec.wandb!.accessToken] as const,
      ]
  for (const [field, ref] of refs) {
    try {
      sourceSecret(source, field, ref, secrets)
    } catch (err) {
      if (!(err instanceof HookwiseError)) throw err
      return { condition: { type: 'Ready', status: 'False', reason: 'SecretNotFound', message: `${err.message} (${err.hint})` }, errors }
    }
  }
  const what = source.spec.mlflow ? `MLflow ${source.spec.mlflow.trackingUri}` : 'W&B webhook automations'
  return {
    condition: { type: 'Ready', status: 'True', reason: 'Valid', message: `accepts events from ${what} at /v1/sources/${key}` },
    errors,
  }
}

/** What the intake counted for one source since start (delivery/event-sources.ts SourceFacts). */
export interface EventSourceCounts {
  accepted: number
  duplicates: number
  rejected: number
  lastEvent?: { time: string; type: string; deliveryId: string }
}

/**
 * The status written onto an EventSource in Kubernetes mode: Ready, and what `hookwise get
 * eventsources` shows (counts since start; the last event survives a restart through `previous`).
 */
export function eventSourceStatus(
  key: string,
  generation: number | undefined,
  previous: EventSourceStatus | undefined,
  state: DesiredState,
  secrets: SecretLookup,
  now: number,
  counts: EventSourceCounts | undefined,
  mlflowWebhookId?: string,
): EventSourceStatus {
  const { condition } = eventSourceReadiness(key, state, secrets)
  const lastEvent = counts?.lastEvent ?? previous?.lastEvent
  return {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    conditions: [setCondition(previous?.conditions, condition, generation, now)],
    ...(lastEvent ? { lastEvent } : {}),
    events: { accepted: counts?.accepted ?? 0, duplicates: counts?.duplicates ?? 0, rejected: counts?.rejected ?? 0 },
    ...(mlflowWebhookId ? { mlflowWebhookId } : {}),
  }
}
