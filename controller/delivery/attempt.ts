// One delivery attempt, from what must hold before it (automation exists, webhook ready, not
// suspended, not gone, circuit closed) to its record: the webhook's secrets are resolved, the body
// rendered, the request built and signed, sent, judged by the retry policy and the circuit breaker,
// and recorded (through the intake's group commit) with credentials and secret values masked.
import type { HookwiseEvent } from '../model/hookwise-event.js'
import { HookwiseError } from '../errors.js'
import type { DeliveryRow, DeliveryStatus } from '../model/delivery.js'
import { automationByKey, type DesiredState, type WebhookEntry } from '../model/desired-state.js'
import { mapLookup, resolveWebhookSecrets, type SecretLookup } from '../model/secrets.js'
import { eventHop } from '../model/event-hop.js'
import { endpointOk, originOf } from './circuit-breaker.js'
import type { EngineSettings } from './engine-options.js'
import type { Intake } from './intake.js'
import type { AttemptReport } from './outcomes.js'
import { redactResult } from './redact.js'
import { judgeSlackAnswer } from './slack-answer.js'
import type { SendResult } from './send-result.js'
import { buildDeliveryRequest } from './request.js'
import type { StatusTracker } from './status-tracker.js'
import { isPromise } from './store.js'

/** How long a delivery waits for its webhook (not ready, suspended, gone, a Secret missing) before it is looked at again. */
const WAIT_FOR_WEBHOOK_MS = 30_000

export class AttemptRunner {
  private state: DesiredState | undefined
  private secrets: SecretLookup = () => undefined

  constructor(
    private readonly o: EngineSettings,
    private readonly facts: StatusTracker,
    private readonly intake: Intake,
  ) {}

  /** Attempts use this state's automations, webhooks and Secrets. */
  setState(state: DesiredState): void {
    this.state = state
    this.secrets = mapLookup(state.secrets)
  }

  /** Replaces where Secret values come from (Kubernetes mode reads them from the cluster). */
  setSecretLookup(lookup: SecretLookup): void {
    this.secrets = lookup
  }

  /** A desired state has been set: attempts can be made. */
  get ready(): boolean {
    return this.state !== undefined
  }

  hasAutomation(key: string): boolean {
    return this.state !== undefined && automationByKey(this.state, key) !== undefined
  }

  /** The webhook's spec.maxConcurrency, if it sets one. */
  maxConcurrency(webhook: string): number | undefined {
    return this.state?.webhooks.get(webhook)?.spec.maxConcurrency
  }

  /**
   * Checks what must hold before an attempt: true when it does; otherwise reschedules (without
   * counting an attempt) or cancels, and returns false, or the promise of that write when the store
   * answers with promises (the delivery must not be read and started again before it is stored).
   */
  prepare(row: DeliveryRow, now: number): boolean | Promise<void> {
    const automation = this.state && automationByKey(this.state, row.automation)
    if (!automation) {
      const n = this.o.store.cancelAutomation(row.automation, 'automation removed', now)
      if (!isPromise(n)) {
        this.intake.cancelled(n)
        return false
      }
      return n.then((k) => this.intake.cancelled(k))
    }
    const webhook = this.state!.webhooks.get(row.webhook)
    const wait = (ms: number, reason: string): false | Promise<void> => {
      const written = this.o.store.reschedule(row.id, now + ms, now, reason)
      return isPromise(written) ? written : false
    }
    if (!webhook?.valid) return wait(WAIT_FOR_WEBHOOK_MS, `webhook ${row.webhook} is not ready`)
    if (webhook.spec.suspend) return wait(WAIT_FOR_WEBHOOK_MS, `webhook ${row.webhook} is suspended`)
    if (this.facts.isGone(row.webhook))
      return wait(WAIT_FOR_WEBHOOK_MS, `webhook ${row.webhook} answered 410 Gone; change the Webhook to resume`)
    const origin = originOf(webhook.spec.url)
    const blocked = this.o.breaker.blockedUntil(origin, now)
    if (blocked !== undefined) return wait(Math.max(blocked - now, 1), `circuit open for ${origin}`)
    return true
  }

  /**
   * Makes one attempt of a delivery `prepare` accepted and records it. Calls `release` once the
   * request is answered (the webhook's slot is free while the attempt is being recorded).
   */
  async run(row: DeliveryRow, release: (result?: SendResult) => void): Promise<void> {
    const automation = automationByKey(this.state!, row.automation)!
    const webhook = this.state!.webhooks.get(row.webhook) as WebhookEntry
    const startedAt = this.o.now()
    let secrets: Record<string, string>
    try {
      secrets = resolveWebhookSecrets(webhook, this.secrets)
    } catch (err) {
      if (err instanceof HookwiseError) {
        // Our own fault, not the receiver's: a probe slot taken in prepare goes back at once.
        this.o.breaker.release(originOf(webhook.spec.url))
        await this.o.store.reschedule(row.id, startedAt + WAIT_FOR_WEBHOOK_MS, startedAt, err.message)
        return
      }
      throw err
    }
    const event = this.intake.event(row.id) ?? (JSON.parse((await this.o.store.eventBody(row.eventSeq))!) as HookwiseEvent)
    // The request, and its masked twin for the history.
    const { request, masked } = buildDeliveryRequest({
      webhook: webhook.spec,
      secrets,
      template: automation.template,
      event,
      deliveryId: row.id,
      timestamp: Math.floor(startedAt / 1000),
      hop: eventHop(event) + 1,
    })
    // The sender enforces the egress policy (URL and connected address) and reports EGRESS_DENIED.
    // Secret values an endpoint echoes back are masked before anything judges, records or logs the answer.
    const sent = redactResult(await this.o.sender.send(request, { timeoutMs: webhook.spec.timeoutSeconds * 1000 }), secrets)
    const result = automation.spec.action.slack ? judgeSlackAnswer(sent) : sent
    release(result)
    const n = row.attempts + 1
    const now = this.o.now()
    const verdict = this.o.retry.decide(n, result, webhook.spec.retry, now)
    const healthy = endpointOk(result)
    if (healthy !== undefined) this.o.breaker.record(originOf(request.url), healthy, now)
    else this.o.breaker.release(originOf(request.url))
    const status: DeliveryStatus = verdict.kind === 'success' ? 'succeeded' : verdict.kind === 'retry' ? 'pending' : 'failed'
    const report: AttemptReport = {
      delivery: { ...row, status, attempts: n },
      webhookSpec: webhook.spec,
      attempt: n,
      result,
      status,
      verdict: verdict.kind,
    }
    // Facts first: a 410 must hold the webhook's other deliveries while this attempt is recorded.
    this.facts.attempted(report, now)
    await this.intake.record(
      {
        deliveryId: row.id,
        n,
        startedAt,
        latencyMs: Math.round(result.latencyMs),
        url: request.url,
        requestHeaders: masked.headers,
        body: masked.body,
        statusCode: result.statusCode ?? null,
        responseHead: result.bodyHead ?? null,
        error: result.error ? `${result.error.code}: ${result.error.message}` : null,
      },
      {
        status,
        nextAttemptAt: verdict.kind === 'retry' ? now + verdict.delayMs : now,
        now,
        ...(verdict.kind === 'fail' || verdict.kind === 'gone' ? { lastError: verdict.reason } : {}),
      },
    )
    if (status !== 'pending') this.intake.finished(row.id, row.webhook)
    this.o.onAttempt?.(report)
  }
}
