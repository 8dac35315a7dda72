// What happened lately, per automation and per webhook: the facts status is made of (served at
// /v1/status and by `hookwise get`; written onto the custom resources in Kubernetes mode). The
// delivery engine keeps it current and asks it whether a webhook is gone (410): one place for both.
import { createHash } from 'node:crypto'
import type { DeliveryRecord, WebhookSpec } from '../api/types.generated.js'
import type { AutomationFacts, WebhookFacts } from '../model/delivery.js'
import type { DesiredState } from '../model/desired-state.js'
import type { AcceptedEvent, AttemptReport } from './outcomes.js'

const OUTCOME = { succeeded: 'Succeeded', pending: 'Retrying', failed: 'Failed', cancelled: 'Cancelled' } as const

/** What identifies a Webhook's spec for the 410 hold: any change of it (URL, headers, ...) resumes delivery. */
export function specHash(spec: WebhookSpec | undefined): string {
  return createHash('sha256')
    .update(JSON.stringify(spec) ?? '')
    .digest('hex')
}

export class StatusTracker {
  readonly automations = new Map<string, AutomationFacts>()
  readonly webhooks = new Map<string, WebhookFacts>()
  /**
   * Told each time a webhook becomes gone (with its spec hash) or stops being gone (null); the
   * engine keeps these marks in the store, so the hold outlives a restart.
   */
  onGoneChange: ((webhook: string, specHash: string | null) => void) | undefined

  private automation(key: string): AutomationFacts {
    let f = this.automations.get(key)
    if (!f) {
      f = { counters: { triggered: 0, succeeded: 0, failed: 0 } }
      this.automations.set(key, f)
    }
    return f
  }

  private webhook(key: string): WebhookFacts {
    let f = this.webhooks.get(key)
    if (!f) {
      f = { consecutiveFailures: 0 }
      this.webhooks.set(key, f)
    }
    return f
  }

  accepted(events: readonly AcceptedEvent[], now: number): void {
    const time = new Date(now).toISOString()
    for (const e of events) {
      for (const d of e.deliveries) {
        const f = this.automation(d.automation)
        f.lastTriggered = time
        f.counters.triggered++
      }
    }
  }

  attempted(r: AttemptReport, now: number): void {
    const record: DeliveryRecord = {
      id: r.delivery.id,
      time: new Date(now).toISOString(),
      outcome: OUTCOME[r.status],
      attempts: r.attempt,
      ...(r.result.statusCode !== undefined ? { statusCode: r.result.statusCode } : {}),
    }
    const a = this.automation(r.delivery.automation)
    a.lastDelivery = record
    if (r.status === 'succeeded') a.counters.succeeded++
    if (r.status === 'failed') a.counters.failed++
    const w = this.webhook(r.delivery.webhook)
    w.lastDelivery = record
    w.consecutiveFailures = r.verdict === 'success' ? 0 : w.consecutiveFailures + 1
    if (r.verdict === 'gone') this.setGone(r.delivery.webhook, w, specHash(r.webhookSpec))
    else if (r.verdict === 'success') this.setGone(r.delivery.webhook, w, undefined)
    if (r.verdict === 'success') {
      delete w.lastError
      delete w.egressDenied
    } else {
      if (r.result.error) w.lastError = `${r.result.error.code}: ${r.result.error.message}`
      else delete w.lastError
      if (r.result.error?.code === 'EGRESS_DENIED') w.egressDenied = r.result.error.message
    }
  }

  /** Whether the webhook answered 410 Gone and its spec has not changed since (its deliveries wait). */
  isGone(webhookKey: string): boolean {
    return this.webhooks.get(webhookKey)?.goneSpec !== undefined
  }

  /** Forgets that a webhook was gone once its spec has changed (or it was removed). */
  applyState(state: DesiredState): void {
    for (const [key, facts] of this.webhooks) {
      if (facts.goneSpec !== undefined && specHash(state.webhooks.get(key)?.spec) !== facts.goneSpec) this.setGone(key, facts, undefined)
    }
  }

  /** Starts from a webhook being gone, as the store remembers it (after a restart); applyState then checks its spec. */
  seedGone(key: string, hash: string): void {
    this.webhook(key).goneSpec = hash
  }

  private setGone(key: string, facts: WebhookFacts, hash: string | undefined): void {
    if (facts.goneSpec === hash) return
    if (hash === undefined) delete facts.goneSpec
    else facts.goneSpec = hash
    this.onGoneChange?.(key, hash ?? null)
  }

  /**
   * Starts an automation's facts from the status it already has (after a restart, counters go on
   * from what the custom resource says). No-op when facts exist.
   */
  seedAutomation(
    key: string,
    from:
      | { lastTriggered?: string; lastDelivery?: DeliveryRecord; counters?: { triggered?: number; succeeded?: number; failed?: number } }
      | undefined,
  ): void {
    if (this.automations.has(key) || !from) return
    this.automations.set(key, {
      ...(from.lastTriggered ? { lastTriggered: from.lastTriggered } : {}),
      ...(from.lastDelivery ? { lastDelivery: from.lastDelivery } : {}),
      counters: { triggered: from.counters?.triggered ?? 0, succeeded: from.counters?.succeeded ?? 0, failed: from.counters?.failed ?? 0 },
    })
  }

  /** Like seedAutomation, for a webhook. */
  seedWebhook(key: string, from: { lastDelivery?: DeliveryRecord; consecutiveFailures?: number } | undefined): void {
    const f = this.webhooks.get(key)
    // Facts holding only the gone mark the store remembered (seedGone) are not facts of deliveries yet.
    if (!from || (f && (f.lastDelivery !== undefined || f.consecutiveFailures > 0))) return
    this.webhooks.set(key, {
      ...(f?.goneSpec !== undefined ? { goneSpec: f.goneSpec } : {}),
      consecutiveFailures: from.consecutiveFailures ?? 0,
      ...(from.lastDelivery ? { lastDelivery: from.lastDelivery } : {}),
    })
  }
}
