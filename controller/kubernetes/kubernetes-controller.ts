// Kubernetes mode: writes what hookwise knows back onto each Webhook, Automation and EventSource (the engine
// gets the cluster's desired state from the source, as in every mode): status through the /status
// subresource (merge patches, coalesced under load), Events on transitions, and the result of a
// test requested with the hookwise.dev/test-requested-at annotation.
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node'
import { API_GROUP } from '../api/schemas.js'
import type { AutomationStatus, Condition, EventSourceStatus, WebhookStatus } from '../api/types.generated.js'
import type { EventSources } from '../delivery/event-sources.js'
import type { AttemptReport } from '../delivery/outcomes.js'
import type { Sender } from '../delivery/send-result.js'
import type { StatusFacts } from '../delivery/status-facts.js'
import { sendTestRequest, type TestRequestOutcome } from '../delivery/test-request.js'
import { HookwiseError } from '../errors.js'
import type { Logger } from '../log.js'
import { eventSourceStatus } from '../model/event-source-status.js'
import { jsonEqual } from '../model/json-equal.js'
import { objectKey, type DesiredState } from '../model/desired-state.js'
import { automationStatus, webhookStatus, type StatusInputs } from '../model/object-status.js'
import { WorkQueue } from './work-queue.js'
import { API_VERSION, type KubernetesSource, type ResourceKind } from './cluster-source.js'
import type { ClusterObject } from './cluster-object.js'
import { apiErrorMessage, apiStatusCode } from './api-error.js'
import type { ControllerLiveness } from './controller-liveness.js'

/** Annotation whose new value asks for a test request to the Webhook. */
export const TEST_ANNOTATION = `${API_GROUP}/test-requested-at`

/** Where Kubernetes Events go (EventRecorder); notes must never hold secret values. */
export interface EventSink {
  record(
    target: { apiVersion: string; kind: string; namespace: string; name: string; uid?: string; resourceVersion?: string },
    type: 'Normal' | 'Warning',
    reason: string,
    action: string,
    note: string,
  ): void
  flush(): Promise<void>
}

export interface KubernetesControllerOptions {
  kubeConfig: KubeConfig
  /** The cluster source, already watching (a standby keeps its cache warm); whoever started it stops it. */
  source: KubernetesSource
  /** What status is computed from (the engine's tracker, the breaker, the egress policy); also serves /v1/status. */
  status: StatusFacts
  sender: Sender
  events: EventSink
  log: Logger
  /** Least time between two status writes of one object when only delivery facts changed. Default 5 s. */
  statusIntervalMs?: number
  /** Reconciles of every object even without changes. Default 10 min. */
  resyncMs?: number
  /** This controller's identity, written to status.controller: its leader Lease, `namespace/name`. */
  identity?: string
  /** Tells whether the controller named in an object's status.controller runs; without it, status is always written. */
  liveness?: ControllerLiveness
  /** How often an object left to another running controller is looked at again. Default 10 s. */
  recheckMs?: number
  /** The EventSources' intake (made after the controller): its counts go to each EventSource's status. */
  eventSources?: () => EventSources | undefined
}

type StatusOf<K extends ResourceKind> = K extends 'Webhook' ? WebhookStatus : K extends 'Automation' ? AutomationStatus : EventSourceStatus

const PLURAL: Record<ResourceKind, string> = { Webhook: 'webhooks', Automation: 'automations', EventSource: 'eventsources' }

export class KubernetesController {
  private readonly source: KubernetesSource
  private readonly queue: WorkQueue
  private readonly custom: CustomObjectsApi
  /** What was last written per object (queue key), when, and to which object (a re-created one has a new uid). */
  private readonly written = new Map<string, { status: unknown; at: number; uid: string | undefined }>()
  /** Test results not yet written, and tests running, by webhook key. */
  private readonly tests = new Map<string, NonNullable<WebhookStatus['lastTest']>>()
  private readonly testing = new Set<string>()
  private resync: NodeJS.Timeout | undefined
  /** Objects left to another running controller, by queue key: that controller's identity (one Event each). */
  private readonly yielded = new Map<string, string>()

  constructor(private readonly o: KubernetesControllerOptions) {
    this.custom = o.kubeConfig.makeApiClient(CustomObjectsApi)
    this.queue = new WorkQueue((key) => this.reconcile(key), {
      onError: (key, err, retryInMs) =>
        o.log.warn(
          { object: key, err: err instanceof HookwiseError ? err.message : apiErrorMessage(err), retryInMs },
          'writing status failed; will retry',
        ),
    })
    this.source = o.source
    this.source.attach({
      // Every object is reconciled against each new state (the engine has it already).
      onState: () => this.enqueueAll(),
      onDeleted: (kind, key) => this.queue.add(`${kind}/${key}`),
    })
  }

  /** Starts reconciling every object on an interval, even without changes (call once the source has started). */
  start(): void {
    const resyncMs = this.o.resyncMs ?? 600_000
    this.resync = setInterval(() => this.enqueueAll(), resyncMs)
    this.resync.unref()
  }

  get state(): DesiredState {
    return this.source.state
  }

  get relists(): number {
    return this.source.relists
  }

  /** Deliveries were accepted or attempted: their objects' status changes. */
  touched(automation: string, webhook?: string): void {
    this.queue.add(`Automation/${automation}`)
    if (webhook) this.queue.add(`Webhook/${webhook}`)
  }

  /** An EventSource's intake answered a request: its counts changed. */
  received(source: string): void {
    this.queue.add(`EventSource/${source}`)
  }

  /** Events for what an attempt ended in: DeliveryFailed after the last retry, WebhookGone on 410. */
  attempted(r: AttemptReport): void {
    this.touched(r.delivery.automation, r.delivery.webhook)
    if (r.status === 'failed' && r.verdict !== 'gone') {
      const why = r.result.error?.message ?? `HTTP ${r.result.statusCode}`
      this.event(
        'Automation',
        r.delivery.automation,
        'Warning',
        'DeliveryFailed',
        'Deliver',
        `delivery ${r.delivery.id} failed after ${r.attempt} attempt${r.attempt === 1 ? '' : 's'}: ${why}`,
      )
    }
    if (r.verdict === 'gone') {
      this.event(
        'Webhook',
        r.delivery.webhook,
        'Warning',
        'WebhookGone',
        'Deliver',
        `the endpoint answered 410 Gone to delivery ${r.delivery.id}: deliveries to this webhook wait until its spec changes`,
      )
    }
  }

  /** Waits until queued reconciles are done (tests, shutdown). */
  drained(): Promise<void> {
    return this.queue.drained()
  }

  async stop(): Promise<void> {
    if (this.resync) clearInterval(this.resync)
    await this.queue.stop()
    await this.o.events.flush()
  }

  private enqueueAll(): void {
    for (const kind of ['Webhook', 'Automation', 'EventSource'] as const) {
      for (const o of this.source.objects(kind)) this.queue.add(`${kind}/${objectKey(o.metadata?.namespace ?? '', o.metadata?.name ?? '')}`)
    }
  }

  /** What the conditions are computed from now: the cluster's state and Secrets, and the status facts. */
  statusInputs(): StatusInputs {
    return this.o.status.inputs(this.source.state, this.source.secretLookup)
  }

  private async reconcile(queueKey: string): Promise<void> {
    const slash = queueKey.indexOf('/')
    const kind = queueKey.slice(0, slash) as ResourceKind
    const key = queueKey.slice(slash + 1)
    const object = this.source.object(kind, key)
    if (!object) {
      this.written.delete(queueKey)
      return
    }
    const stored = object.status as Record<string, unknown> | undefined
    if (await this.ownedByAnother(queueKey, kind, key, object, stored)) return
    const uid = object.metadata?.uid
    // An object deleted and re-created under the same name while the watch was down comes back
    // from the relist as an update: what was written to the old one says nothing of the new one.
    const written = this.written.get(queueKey)
    const last = written?.uid === uid ? written : undefined
    // hookwise is the only writer of status: what it last wrote is newer than a cache that has not
    // seen that write yet. After a restart, the object's status is the start.
    const previous = (last?.status ?? stored) as StatusOf<typeof kind> | undefined
    const generation = object.metadata?.generation
    let next: WebhookStatus | AutomationStatus | EventSourceStatus
    if (kind === 'Webhook') {
      this.o.status.tracker.seedWebhook(key, previous as WebhookStatus | undefined)
      const status = webhookStatus(key, generation, previous as WebhookStatus | undefined, this.statusInputs())
      const test = this.tests.get(key)
      if (test) status.lastTest = test
      next = status
      this.maybeTest(key, object, status)
    } else if (kind === 'EventSource') {
      const intake = this.o.eventSources?.()
      const inputs = this.statusInputs()
      next = eventSourceStatus(
        key,
        generation,
        previous as EventSourceStatus | undefined,
        inputs.state,
        inputs.secrets,
        inputs.now,
        intake?.factsOf(key),
        intake?.registration(key)?.webhookId,
      )
    } else {
      this.o.status.tracker.seedAutomation(key, previous as AutomationStatus | undefined)
      next = automationStatus(key, generation, previous as AutomationStatus | undefined, this.statusInputs())
    }
    if (this.o.identity) next.controller = this.o.identity
    if (jsonEqual(next, previous)) return
    // Under load, delivery facts change all the time: write them at most every statusIntervalMs
    // per object. Changes of conditions or generation are written at once.
    const interval = this.o.statusIntervalMs ?? 5000
    const since = last ? Date.now() - last.at : Infinity
    if (
      since < interval &&
      sameConditions(next.conditions, previous?.conditions) &&
      next.observedGeneration === previous?.observedGeneration
    ) {
      this.queue.addAfter(queueKey, interval - since)
      return
    }
    await this.writeStatus(kind, key, next, stored)
    this.written.set(queueKey, { status: next, at: Date.now(), uid })
    if ('lastTest' in next && jsonEqual(next.lastTest, this.tests.get(key))) this.tests.delete(key)
    this.transitionEvents(kind, key, object, next.conditions, previous?.conditions)
  }

  /**
   * Whether the object's status is written by another hookwise controller that is running (its
   * Lease is held): then this one leaves it alone, says so once in an Event and a log line, and
   * looks again later, taking the object over once that controller has stopped.
   */
  private async ownedByAnother(
    queueKey: string,
    kind: ResourceKind,
    key: string,
    object: ClusterObject,
    stored: Record<string, unknown> | undefined,
  ): Promise<boolean> {
    const owner = stored?.controller
    if (!this.o.identity || !this.o.liveness || typeof owner !== 'string' || owner === this.o.identity) {
      this.yielded.delete(queueKey)
      return false
    }
    const liveness = await this.o.liveness.of(owner)
    if (!liveness.live) {
      if (this.yielded.delete(queueKey)) this.o.log.info({ object: queueKey, controller: owner }, `taking over: ${liveness.why}`)
      return false
    }
    this.queue.addAfter(queueKey, this.o.recheckMs ?? 10_000)
    if (this.yielded.get(queueKey) === owner) return true
    this.yielded.set(queueKey, owner)
    const note = `status is written by the hookwise controller ${owner} (Lease held by ${liveness.holder}); this controller (${this.o.identity}) leaves ${kind} ${key} alone while that one runs: stop one of the two (docs/kubernetes.md#one-controller-per-object)`
    this.o.log.warn({ object: queueKey, controller: owner, holder: liveness.holder }, note)
    this.event(kind, key, 'Warning', 'ControllerConflict', 'Reconcile', note, object)
    return true
  }

  private async writeStatus(
    kind: ResourceKind,
    key: string,
    status: WebhookStatus | AutomationStatus | EventSourceStatus,
    previous: Record<string, unknown> | undefined,
  ): Promise<void> {
    const [namespace, name] = key.split('/') as [string, string]
    // A merge patch replaces the fields given; fields no longer computed are removed with null.
    const body: Record<string, unknown> = { ...status }
    for (const k of Object.keys(previous ?? {})) if (!(k in body)) body[k] = null
    try {
      await this.custom.patchNamespacedCustomObjectStatus(
        { group: API_GROUP, version: API_VERSION, namespace, plural: PLURAL[kind], name, body: { status: body } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      )
    } catch (err) {
      if (apiStatusCode(err) === 404) return // deleted meanwhile
      throw new HookwiseError('HW_KUBERNETES_API', `cannot write the status of ${kind} ${key}: ${apiErrorMessage(err)}`, {
        hint:
          apiStatusCode(err) === 403
            ? `grant hookwise's service account patch on ${PLURAL[kind]}/status in ${namespace}`
            : 'hookwise retries with backoff',
      })
    }
  }

  /** Events for Ready turning False with a new reason (InvalidSpec, SecretNotFound, ...). */
  private transitionEvents(
    kind: ResourceKind,
    key: string,
    object: ClusterObject,
    next: readonly Condition[] | undefined,
    previous: readonly Condition[] | undefined,
  ): void {
    const ready = next?.find((c) => c.type === 'Ready')
    const before = previous?.find((c) => c.type === 'Ready')
    if (ready?.status !== 'False') return
    if (before && before.status === 'False' && before.reason === ready.reason && before.message === ready.message) return
    if (ready.reason === 'Disabled') return
    const reason =
      ready.reason === 'SecretNotFound'
        ? 'SecretNotFound'
        : ready.reason === 'WebhookNotReady' || ready.reason === 'WebhookNotFound' || ready.reason === 'EgressDenied'
          ? ready.reason
          : 'InvalidSpec'
    this.event(kind, key, 'Warning', reason, 'Reconcile', ready.message, object)
  }

  private event(
    kind: ResourceKind,
    key: string,
    type: 'Normal' | 'Warning',
    reason: string,
    action: string,
    note: string,
    object?: ClusterObject,
  ): void {
    const [namespace, name] = key.split('/') as [string, string]
    const o = object ?? this.source.object(kind, key)
    this.o.events.record(
      {
        apiVersion: `${API_GROUP}/${API_VERSION}`,
        kind,
        namespace,
        name,
        ...(o?.metadata?.uid ? { uid: o.metadata.uid } : {}),
        ...(o?.metadata?.resourceVersion ? { resourceVersion: o.metadata.resourceVersion } : {}),
      },
      type,
      reason,
      action,
      note,
    )
  }

  /** Sends a test request once per new value of the test annotation; the result goes to status.lastTest. */
  private maybeTest(key: string, object: ClusterObject, status: WebhookStatus): void {
    const requestedAt = object.metadata?.annotations?.[TEST_ANNOTATION]
    if (!requestedAt || status.lastTest?.requestedAt === requestedAt || this.testing.has(key)) return
    this.testing.add(key)
    void this.runTest(key, requestedAt)
      .then((lastTest) => {
        this.tests.set(key, lastTest)
        const ok = !lastTest.error
        this.event(
          'Webhook',
          key,
          ok ? 'Normal' : 'Warning',
          ok ? 'TestSucceeded' : 'TestFailed',
          'Test',
          ok ? `test request answered HTTP ${lastTest.statusCode} in ${lastTest.latencyMs} ms` : `test request failed: ${lastTest.error}`,
        )
      })
      .finally(() => {
        this.testing.delete(key)
        this.queue.add(`Webhook/${key}`)
      })
  }

  private async runTest(key: string, requestedAt: string): Promise<NonNullable<WebhookStatus['lastTest']>> {
    const started = new Date()
    const base = { requestedAt, time: started.toISOString().replace(/\.\d{3}Z$/, 'Z') }
    const webhook = this.source.state.webhooks.get(key)
    if (!webhook?.valid) return { ...base, error: `Webhook ${key} is not valid: see its Ready condition` }
    const refused = this.o.status.egressRefusal(webhook.spec.url)
    if (refused) return { ...base, error: `the egress policy refuses ${webhook.spec.url}: ${refused}` }
    let outcome: TestRequestOutcome
    try {
      outcome = await sendTestRequest({ webhook, secrets: this.source.secretLookup, sender: this.o.sender, now: started })
    } catch (err) {
      return { ...base, error: (err as Error).message }
    }
    const { result, ok } = outcome
    const latencyMs = Math.round(result.latencyMs)
    return {
      ...base,
      ...(result.statusCode !== undefined ? { statusCode: result.statusCode } : {}),
      latencyMs,
      ...(ok
        ? {}
        : { error: result.error ? `${result.error.code}: ${result.error.message}` : `the endpoint answered HTTP ${result.statusCode}` }),
    }
  }
}

/**
 * Whether two sets of conditions say the same thing. Healthy's message counts failures and quotes
 * the last one: it changes with every failed attempt, so it is a delivery fact, written with the
 * others at most every status interval.
 */
function sameConditions(a: readonly Condition[] | undefined, b: readonly Condition[] | undefined): boolean {
  const strip = (cs: readonly Condition[] | undefined) =>
    (cs ?? []).map(({ type, status, reason, message, observedGeneration }) => ({
      type,
      status,
      reason,
      observedGeneration,
      ...(type === 'Healthy' ? {} : { message }),
    }))
  return jsonEqual(strip(a), strip(b))
}
