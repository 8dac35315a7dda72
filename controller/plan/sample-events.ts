// Events to preview an automation with: the first of the user's events that fires it, or a built-in
// sample of its event type filled in to fit its scope and filters. Pure.
import type { ArtifactEvent, AutomationSpec, MetadataCondition, RunEvent } from '../api/types.generated.js'
import type { HookwiseEvent } from '../model/hookwise-event.js'
import { AutomationIndex } from '../match/automation-index.js'
import type { CompiledAutomation } from '../model/desired-state.js'

/** An event read from an events folder; `file` is how to name it in the plan. */
export interface NamedEvent {
  file: string
  event: ArtifactEvent
}

/** The event an automation is previewed with, where it came from, and whether it fires the automation. */
export interface ChosenEvent {
  event: HookwiseEvent
  /** The file it was read from; absent for a built-in sample. */
  file?: string
  fires: boolean
}

/** Whether `event` fires `a`, as if it were enabled (a disabled automation is previewed as it would send). */
export function fires(a: CompiledAutomation, event: HookwiseEvent): boolean {
  // A run automation is previewed with its sample run (it fires on windows, not on one event).
  if (a.run) return event.type === a.spec.event.type
  if (event.type.startsWith('RUN_')) return false
  return new AutomationIndex([{ ...a, spec: { ...a.spec, enabled: true } }]).match(event as ArtifactEvent).length > 0
}

/**
 * An event that fires the automation when there is one: the first of `events` of its type that does,
 * else the built-in sample filled in to fit it. When none does, the first of its type (else the
 * sample), with `fires: false` so the plan can say so. `events` should be in a stable order (sorted by file).
 */
export function chooseEvent(a: CompiledAutomation, events: readonly NamedEvent[]): ChosenEvent {
  if (a.run) return { event: sampleRunEvent(a.spec), fires: true }
  const ofType = events.filter((e) => e.event.type === a.spec.event.type)
  const firing = ofType.find((e) => fires(a, e.event))
  if (firing) return { event: firing.event, file: firing.file, fires: true }
  const sample = sampleEvent(a.spec)
  if (fires(a, sample)) return { event: sample, fires: true }
  if (ofType[0]) return { event: ofType[0].event, file: ofType[0].file, fires: false }
  return { event: sample, fires: false }
}

const META = /[\\.*+?()[\]{}|^$]/
const UNESCAPED = /^(?:[^\\.*+?()[\]{}|^$]|\\[^A-Za-z0-9])*$/

/**
 * A string the regular expression matches, when it is simple enough to see one: an optionally anchored
 * literal (`^production$`, `^churn-`, `-rc$`, `\.onnx`). Otherwise, or when the guess does not match,
 * `fallback`.
 */
export function textMatching(source: string | undefined, fallback: string): string {
  if (source === undefined) return fallback
  const start = source.startsWith('^')
  const end = source.endsWith('$') && !source.endsWith('\\$')
  const middle = source.slice(start ? 1 : 0, end ? -1 : undefined)
  let guess = fallback
  if (UNESCAPED.test(middle)) {
    const literal = middle.replace(/\\(.)/g, '$1')
    // ^churn- gives churn-example, ^churn gives churn-example, -rc$ gives example-rc.
    const before = /[A-Za-z0-9]$/.test(literal) ? '-' : ''
    const after = /^[A-Za-z0-9]/.test(literal) ? '-' : ''
    guess = start && end ? literal : start ? `${literal}${before}${fallback}` : end ? `${fallback}${after}${literal}` : literal || fallback
  }
  try {
    const regex = new RegExp(source)
    if (regex.test(guess)) return guess
    if (!META.test(fallback) && regex.test(fallback)) return fallback
  } catch {
    // validation reports a regex that does not compile
  }
  return guess
}

const numeric = (text: string | undefined): number | undefined => {
  if (text === undefined || text.trim() === '') return undefined
  const n = Number(text)
  return Number.isFinite(n) ? n : undefined
}

/** A metadata value that satisfies one condition, for the simple cases. */
function metadataValue(c: MetadataCondition): unknown {
  const n = numeric(c.value)
  switch (c.op) {
    case 'exists':
      return 'example'
    case 'eq':
      return n !== undefined && String(n) === c.value ? n : (c.value ?? '')
    case 'ne':
      return `not-${c.value ?? ''}`
    case 'regex':
      return textMatching(c.value, 'example')
    case 'gt':
      return n === undefined ? 1 : n + 1
    case 'gte':
      return n ?? 1
    case 'lt':
      return n === undefined ? 0 : n - 1
    case 'lte':
      return n ?? 0
  }
}

/** A built-in event of the automation's type, filled in to fit its scope, alias/tag regex and metadata conditions where they are simple. */
export function sampleEvent(spec: AutomationSpec): ArtifactEvent {
  const scope = spec.scope
  const entity = scope.type === 'Project' || scope.type === 'Entity' ? (scope.entity ?? 'acme') : 'acme'
  const registry = scope.type === 'Project' ? undefined : (scope.registry ?? 'model')
  const project = scope.type === 'Project' ? (scope.project ?? 'example-project') : `wandb-registry-${registry}`
  const collection =
    scope.type === 'Collection' ? (scope.collection ?? 'example-collection') : textMatching(scope.collectionRegex, 'example-collection')
  const metadata: Record<string, unknown> = {}
  for (const c of spec.event.metadata ?? []) metadata[c.key] = metadataValue(c)
  const type = spec.event.type as ArtifactEvent['type']
  const alias = type === 'ADD_ARTIFACT_ALIAS' ? textMatching(spec.event.aliasRegex, 'production') : undefined
  const tag = type.endsWith('_TAG') ? textMatching(spec.event.tagRegex, 'candidate') : undefined
  return {
    id: 'plan-sample',
    type,
    time: '2026-01-01T00:00:00Z',
    author: 'sample-user',
    entity,
    project,
    ...(registry !== undefined ? { registry } : {}),
    collection,
    artifact: {
      id: 'QXJ0aWZhY3Q6MTIzNDU2Nzg5',
      name: collection,
      version: 'v7',
      type: 'model',
      aliases: alias !== undefined && alias !== 'latest' ? ['latest', alias] : ['latest'],
      tags: tag !== undefined && type === 'ADD_ARTIFACT_TAG' ? [tag] : [],
      metadata,
    },
    ...(alias !== undefined ? { alias } : {}),
    ...(tag !== undefined ? { tag } : {}),
  }
}

/** A built-in run event of a run automation's type, its run fitted to the scope and run filters where they are simple. */
export function sampleRunEvent(spec: AutomationSpec): RunEvent {
  const e = spec.event
  const entity = spec.scope.entity ?? 'acme'
  const project = spec.scope.project ?? 'example-project'
  const name = textMatching(e.runNameRegex, 'example-run')
  const type = e.type as RunEvent['type']
  const threshold = type === 'RUN_METRIC_CHANGE' ? e.amount : type === 'RUN_METRIC_ZSCORE' ? (e.threshold ?? 3) : e.threshold
  return {
    type,
    id: 'plan-sample',
    time: '2026-01-01T00:00:00Z',
    author: 'sample-user',
    entity,
    project,
    run: {
      id: 'a1b2c3d4',
      name,
      displayName: textMatching(e.runDisplayNameRegex, name),
      entity,
      project,
      tags: [...(e.runTags ?? [])],
      author: 'sample-user',
      url: `https://wandb.ai/${entity}/${project}/runs/a1b2c3d4`,
    },
    state: type === 'RUN_STATE' ? (e.states?.[0] ?? 'FAILED') : 'RUNNING',
    ...(type === 'RUN_STATE'
      ? {}
      : {
          metric: {
            name: e.metric ?? 'val_loss',
            value: 0.5,
            ...(e.agg !== undefined ? { agg: e.agg } : {}),
            ...(threshold !== undefined ? { threshold } : {}),
            step: 100,
          },
        }),
  }
}
