// What the EventSources' intake does with a request, after HTTP: verify it with the source's
// secret, store it in the inbox (answering only then), and turn it into a canonical event. MLflow
// events are enriched from MLflow's REST API first; while MLflow cannot be reached the request
// waits in the inbox and is tried again with backoff (it is never dropped). W&B requests carry a
// hookwise event already (`hookwise sources wandb-template`). Counts and the last event per source
// are kept for status.
import { createHash } from 'node:crypto'
import type { AcceptedEvent } from './outcomes.js'
import { validateEvent } from '../api/event.js'
import { enrichMlflowEvent, mapMlflowDelivery, readMlflowDelivery, type MlflowMapped } from '../api/mlflow-event.js'
import type { ArtifactEvent } from '../api/types.generated.js'
import { normalizeWandbEvent } from '../api/wandb-event.js'
import { HookwiseError, type Diagnostic } from '../errors.js'
import { objectKey, type DesiredState, type EventSourceEntry } from '../model/desired-state.js'
import { sourceSecret } from '../model/event-source-secrets.js'
import type { SecretLookup } from '../model/secrets.js'
import { fetchMlflowDetails, type MlflowConnection } from './mlflow-client.js'
import type { InboxRow, SourceInbox } from './source-inbox.js'
import { verifyMlflowRequest, verifyWandbRequest } from './source-verify.js'

export interface SourceRequest {
  namespace: string
  name: string
  headers: Readonly<Record<string, string | string[] | undefined>>
  body: Buffer
}

/** What the intake answers: a status code, and a problem's detail or the JSON body. */
export type SourceAnswer =
  | { status: 200 | 202; body: Record<string, unknown> }
  | { status: 400 | 401 | 404 | 503; detail: string; errors?: Diagnostic[] }

/** Per source, for status: counts since start, the last event accepted, the last enrichment error. */
export interface SourceFacts {
  accepted: number
  duplicates: number
  rejected: number
  lastEvent?: { time: string; type: string; deliveryId: string }
  lastError?: string
}

export interface EventSourcesOptions {
  inbox: SourceInbox
  state: () => DesiredState
  secrets: () => SecretLookup
  accept: (events: readonly ArtifactEvent[]) => Promise<AcceptedEvent[]>
  /** First wait after a failed enrichment; doubles per try up to maxBackoffMs. */
  backoffMs?: number
  maxBackoffMs?: number
  now?: () => number
  onError?: (source: string, err: unknown) => void
  /** spec.mlflow.register: MLflow's webhook id for a source, or why registering failed. */
  registration?: (key: string) => { webhookId?: string; error?: string } | undefined
  /** A request to a loaded source was answered (its counts may have changed): Kubernetes mode writes its status. */
  onReceived?: (source: string) => void
}

export class EventSources {
  private readonly facts = new Map<string, SourceFacts>()
  private timer: NodeJS.Timeout | undefined
  private draining: Promise<void> | undefined
  private again = false
  private stopped = false

  constructor(private readonly o: EventSourcesOptions) {}

  factsOf(key: string): SourceFacts {
    const known = this.facts.get(key)
    if (known) return known
    const f: SourceFacts = { accepted: 0, duplicates: 0, rejected: 0 }
    this.facts.set(key, f)
    return f
  }

  registration(key: string): { webhookId?: string; error?: string } | undefined {
    return this.o.registration?.(key)
  }

  /** Requests stored and not yet turned into an event, per source. */
  waiting(): Map<string, number> {
    return this.o.inbox.waitingBySource()
  }

  private now(): number {
    return this.o.now?.() ?? Date.now()
  }

  async receive(req: SourceRequest): Promise<SourceAnswer> {
    const answer = await this.answer(req)
    if (answer.status !== 404) this.o.onReceived?.(objectKey(req.namespace, req.name))
    return answer
  }

  private async answer(req: SourceRequest): Promise<SourceAnswer> {
    const key = objectKey(req.namespace, req.name)
    const source = this.o.state().eventSources.get(key)
    if (!source) {
      const message = `no EventSource ${key} is loaded`
      const hint = 'check hookwise get eventsources (the namespace is default outside Kubernetes)'
      return {
        status: 404,
        detail: `${message}: ${hint}`,
        errors: [{ code: 'HW_EVENT_SOURCE_NOT_FOUND', severity: 'error', message, hint }],
      }
    }
    const facts = this.factsOf(key)
    const spec = source.spec
    let verified: { ok: true; deliveryId?: string } | { ok: false; reason: string }
    try {
      const lookup = this.o.secrets()
      if (spec.mlflow) {
        const secret = sourceSecret(source, 'spec.mlflow.signingSecret', spec.mlflow.signingSecret, lookup)
        verified = verifyMlflowRequest(req.headers, req.body, secret, this.now())
      } else {
        const secret = sourceSecret(source, 'spec.wandb.signingSecret', spec.wandb!.signingSecret, lookup)
        const token = sourceSecret(source, 'spec.wandb.accessToken', spec.wandb!.accessToken, lookup)
        verified = verifyWandbRequest(req.headers, req.body, secret, token)
      }
    } catch (err) {
      // The Secret is missing: 503, so the registry sends the request again once it exists.
      if (err instanceof HookwiseError) return { status: 503, detail: `${err.message}; ${err.hint ?? ''}`.trim() }
      throw err
    }
    if (!verified.ok) {
      facts.rejected++
      const hint = "give the registry's webhook the secret (and token) of the EventSource's Secret; see docs/sources.md"
      return {
        status: 401,
        detail: `${verified.reason}; nothing was stored`,
        errors: [{ code: 'HW_SOURCE_UNVERIFIED', severity: 'error', message: verified.reason, hint }],
      }
    }
    const text = req.body.toString('utf8')
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      facts.rejected++
      return { status: 400, detail: 'the body is not valid JSON; nothing was stored' }
    }
    return spec.mlflow ? this.receiveMlflow(key, source, facts, verified.deliveryId!, parsed, text) : this.receiveWandb(facts, parsed, text)
  }

  private receiveMlflow(
    key: string,
    source: EventSourceEntry,
    facts: SourceFacts,
    deliveryId: string,
    parsed: unknown,
    text: string,
  ): SourceAnswer {
    const delivery = readMlflowDelivery(parsed)
    if (!delivery) {
      facts.rejected++
      return {
        status: 400,
        detail: 'the body is not an MLflow webhook delivery ({"entity", "action", "timestamp", "data"}); nothing was stored',
      }
    }
    const mapping = mapMlflowDelivery(delivery, deliveryId, { entity: source.spec.mlflow!.entity, registry: source.spec.mlflow!.registry })
    const receivedAt = this.now()
    const added = this.o.inbox.add({ source: key, deliveryId, name: mapping.name, body: text, receivedAt, waiting: mapping.mapped })
    if (!added) {
      facts.duplicates++
      return { status: 200, body: { duplicate: true, deliveryId } }
    }
    facts.accepted++
    facts.lastEvent = { time: new Date(receivedAt).toISOString(), type: mapping.name, deliveryId }
    if (mapping.mapped) this.kick()
    return {
      status: 202,
      body: mapping.mapped
        ? { deliveryId, event: mapping.event.id, type: mapping.event.type }
        : { deliveryId, recorded: mapping.name, matched: false, ...(mapping.reason ? { reason: mapping.reason } : {}) },
    }
  }

  private async receiveWandb(facts: SourceFacts, parsed: unknown, text: string): Promise<SourceAnswer> {
    const checked = validateEvent(normalizeWandbEvent(parsed))
    if (!checked.ok) {
      facts.rejected++
      return {
        status: 400,
        detail: 'the body is not a hookwise event (paste hookwise sources wandb-template); nothing was stored',
        errors: checked.diagnostics,
      }
    }
    // W&B sends no delivery id: the body's hash makes the event id, so the same request sent twice
    // is one event (the engine's duplicate check), unless the template sets ${event_id} itself.
    const deliveryId = createHash('sha256').update(text).digest('hex').slice(0, 32)
    const event = { ...checked.event, id: checked.event.id ?? `wandb-${deliveryId}` }
    const [accepted] = await this.o.accept([event])
    if (accepted?.duplicate) {
      facts.duplicates++
      return { status: 200, body: { duplicate: true, deliveryId } }
    }
    facts.accepted++
    facts.lastEvent = { time: new Date(this.now()).toISOString(), type: event.type, deliveryId }
    return { status: 202, body: { deliveryId, event: event.id, deliveries: accepted?.deliveries.length ?? 0 } }
  }

  /** Starts turning waiting requests (also those stored before a restart) into events. */
  start(): void {
    this.kick()
  }

  /** Tries the due requests now (after a request was stored, or MLflow may be back). */
  kick(): void {
    if (this.stopped) return
    if (this.draining) {
      this.again = true
      return
    }
    this.draining = this.drain()
      .catch((err) => this.o.onError?.('', err))
      .finally(() => {
        this.draining = undefined
        if (this.again) {
          this.again = false
          this.kick()
        } else this.schedule()
      })
  }

  private schedule(): void {
    if (this.stopped) return
    clearTimeout(this.timer)
    const next = this.o.inbox.nextDue()
    if (next === undefined) return
    this.timer = setTimeout(() => this.kick(), Math.max(0, next - this.now()))
    this.timer.unref()
  }

  private async drain(): Promise<void> {
    for (;;) {
      const rows = this.o.inbox.due(this.now(), 50)
      if (rows.length === 0 || this.stopped) return
      await Promise.all(rows.map((row) => this.enrich(row)))
    }
  }

  private async enrich(row: InboxRow): Promise<void> {
    try {
      const source = this.o.state().eventSources.get(row.source)
      if (!source?.spec.mlflow)
        throw new HookwiseError('HW_EVENT_SOURCE_NOT_FOUND', `EventSource ${row.source} (MLflow) is not loaded; the request waits for it`)
      const mlflow = source.spec.mlflow
      const delivery = readMlflowDelivery(JSON.parse(row.body))!
      const mapping = mapMlflowDelivery(delivery, row.deliveryId, { entity: mlflow.entity, registry: mlflow.registry })
      if (!mapping.mapped) return this.o.inbox.accepted(row.source, row.deliveryId)
      const connection: MlflowConnection = {
        trackingUri: mlflow.trackingUri,
        ...(mlflow.credentials ? { token: sourceSecret(source, 'spec.mlflow.credentials', mlflow.credentials, this.o.secrets()) } : {}),
      }
      const event = await this.enriched(connection, mapping, delivery.data.value)
      await this.o.accept([event])
      this.o.inbox.accepted(row.source, row.deliveryId)
      const facts = this.factsOf(row.source)
      delete facts.lastError
    } catch (err) {
      const base = this.o.backoffMs ?? 1000
      const max = this.o.maxBackoffMs ?? 60_000
      const wait = Math.min(max, base * 2 ** Math.min(row.attempts, 16))
      const message = err instanceof Error ? err.message : String(err)
      this.o.inbox.retryAt(row.source, row.deliveryId, this.now() + wait, message)
      this.factsOf(row.source).lastError = message
      this.o.onError?.(row.source, err)
    }
  }

  private async enriched(c: MlflowConnection, mapping: MlflowMapped, tagValue: unknown): Promise<ArtifactEvent> {
    const details = await fetchMlflowDetails(c, mapping.model, mapping.version)
    return enrichMlflowEvent(mapping, details, typeof tagValue === 'string' ? tagValue : undefined)
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.draining
  }
}
