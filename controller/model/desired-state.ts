// What a set of manifests means once validated and compiled: the input of matching and delivery.
import type { ArtifactEvent, AutomationSpec, RunEvent, EventSourceSpec, MlflowSource, WebhookSpec } from '../api/types.generated.js'
import type { Diagnostic } from '../errors.js'
import type { SourceRef } from './manifest-object.js'
import type { CompiledTemplate } from './compiled-template.js'
import type { TextMatcher } from './text-matcher.js'

export const DEFAULT_NAMESPACE = 'default'

/** `namespace/name`. */
export type ObjectKey = string
export const objectKey = (namespace: string, name: string): ObjectKey => `${namespace}/${name}`

/**
 * A WebhookSpec as schema validation leaves it (ajv useDefaults): every field the schema gives a
 * default is set, so code reads the defaults from the spec and never restates them.
 */
export type DefaultedWebhookSpec = WebhookSpec & {
  timeoutSeconds: number
  suspend: boolean
  signing?: NonNullable<WebhookSpec['signing']> & Required<Pick<NonNullable<WebhookSpec['signing']>, 'scheme'>>
}

export interface WebhookEntry {
  namespace: string
  name: string
  /** The spec with schema defaults filled in. */
  spec: DefaultedWebhookSpec
  source: SourceRef
  /** False when the webhook has errors: automations using it do not fire. */
  valid: boolean
}

export interface CompiledCondition {
  key: string
  test(value: unknown): boolean
}

/** A compiled `event.filter` (match/event-filter.ts): whether an event passes (a run event for run automations). */
export interface EventPredicate {
  test(event: ArtifactEvent | RunEvent): boolean
}

/** What a run automation tests of a run, besides its scope (docs/run-events.md). */
export interface CompiledRunFilter {
  nameRegex?: TextMatcher
  displayNameRegex?: TextMatcher
  /** The run must carry every one. */
  tags: readonly string[]
  /** How long after firing for a run the automation stays quiet for it (ms). */
  cooldownMs: number
}

export interface CompiledAutomation {
  namespace: string
  name: string
  key: ObjectKey
  /** The spec with schema defaults filled in. */
  spec: AutomationSpec
  source: SourceRef
  template: CompiledTemplate
  aliasRegex?: TextMatcher
  tagRegex?: TextMatcher
  collectionRegex?: TextMatcher
  metadata: CompiledCondition[]
  /** `event.filter`, when set. */
  filter?: EventPredicate
  /** Run automations: the run filters and cooldown. */
  run?: CompiledRunFilter
}

/** An EventSource as schema validation leaves it: spec.mlflow.registry defaulted. */
export interface EventSourceEntry {
  namespace: string
  name: string
  spec: EventSourceSpec & { mlflow?: MlflowSource & { registry: string } }
  source: SourceRef
}

export interface SecretEntry {
  namespace: string
  name: string
  /** Values by key, decoded to text. */
  data: Readonly<Record<string, string>>
  source: SourceRef
}

export interface DesiredState {
  webhooks: Map<ObjectKey, WebhookEntry>
  /** Valid automations, sorted by key, whether enabled or not. */
  automations: CompiledAutomation[]
  secrets: Map<ObjectKey, SecretEntry>
  /** Valid EventSources: their intakes (POST /v1/sources/<namespace>/<name>) accept events. */
  eventSources: Map<ObjectKey, EventSourceEntry>
  /** Every problem found, errors and warnings, in input order. */
  diagnostics: Diagnostic[]
  /**
   * Tenancy by namespace (Kubernetes mode, --tenancy=namespace-label): the entities whose events
   * each namespace's automations may match. Absent: every automation may match any event.
   */
  namespaceEntities?: ReadonlyMap<string, ReadonlySet<string>>
}

/** Indexes of a state, built once on first use (a state is not changed after it is built). */
interface StateIndex {
  errors: Map<string, Diagnostic[]>
}
const indexes = new WeakMap<DesiredState, StateIndex>()

function indexOf(state: DesiredState): StateIndex {
  let index = indexes.get(state)
  if (!index) {
    const errors = new Map<string, Diagnostic[]>()
    for (const d of state.diagnostics) {
      if (d.severity !== 'error' || !d.object) continue
      const list = errors.get(d.object)
      if (list) list.push(d)
      else errors.set(d.object, [d])
    }
    index = { errors }
    indexes.set(state, index)
  }
  return index
}

/** The errors reported about one object, by its label `Kind namespace/name`, in input order. */
export const objectErrors = (state: DesiredState, label: string): readonly Diagnostic[] => indexOf(state).errors.get(label) ?? []

/** Where `key` is, or would be inserted, in automations sorted by key (binary search: no index to build per state). */
export function automationPosition(automations: readonly CompiledAutomation[], key: ObjectKey): number {
  let lo = 0
  let hi = automations.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (automations[mid]!.key < key) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** The valid automation with this key, if there is one. */
export const automationByKey = (state: DesiredState, key: ObjectKey): CompiledAutomation | undefined => {
  const a = state.automations[automationPosition(state.automations, key)]
  return a?.key === key ? a : undefined
}
