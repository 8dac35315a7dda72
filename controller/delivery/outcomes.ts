// What the delivery engine tells the rest of the controller (status facts, metrics, logs, the intake's
// answer): the events it accepted and the attempts it made.
import type { WebhookSpec } from '../api/types.generated.js'
import type { DeliveryRow, DeliveryStatus } from '../model/delivery.js'
import type { Decision } from './retry-policy.js'
import type { SendResult } from './send-result.js'

/** What to do after an attempt (the retry policy's decision). */
export type Verdict = Decision

export interface AcceptedEvent {
  id: string
  duplicate: boolean
  deliveries: Array<{ id: string; automation: string; webhook: string; noop?: true }>
}

/** What an attempt did, for status, metrics and logs. */
export interface AttemptReport {
  delivery: DeliveryRow
  /** The spec of the webhook the attempt went to. */
  webhookSpec: WebhookSpec
  attempt: number
  result: SendResult
  status: DeliveryStatus
  verdict: Verdict['kind']
}
