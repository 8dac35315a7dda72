// What a change to the manifests does: objects added, changed, removed or unchanged, field-level
// diffs, the head's validation problems, and the request each added or changed automation would
// send for a sample event. Pure: two loaded revisions and events in, a plan out.
import { API_GROUP_VERSION } from '../api/schemas.js'
import type { Diagnostic } from '../errors.js'
import { HookwiseError } from '../errors.js'
import { DEFAULT_NAMESPACE, objectKey, type CompiledAutomation, type DesiredState } from '../model/desired-state.js'
import { mapLookup, resolveWebhookSecrets } from '../model/secrets.js'
import type { ManifestObject } from '../model/manifest-object.js'
import { diffValues, type FieldChange } from './diff.js'
import { previewRequest, type PreviewedRequest } from './request-preview.js'
import type { HookwiseEvent } from '../model/hookwise-event.js'
import { chooseEvent, fires, type NamedEvent } from './sample-events.js'

export type Change = 'added' | 'changed' | 'removed' | 'unchanged'
export type PlannedKind = 'Webhook' | 'Automation' | 'Secret'

/** One side of a revision comparison, as loaded by sources/revision-state.ts. */
export interface PlanRevision {
  /** The ref as given (`origin/main`), or `working tree`. */
  ref: string
  /** Commit SHA; absent for the working tree. */
  commit?: string
  state: DesiredState
  objects: readonly ManifestObject[]
}

/** The request of one automation at one revision, or why there is none. */
export interface RequestSide {
  /** Whether the previewed event fires the automation at this revision. */
  fires: boolean
  request?: PreviewedRequest
  /** Why no request could be rendered (the automation or its webhook is invalid there). */
  error?: string
  /** A noop action (spec.action.noop): it records a delivery and sends nothing, so there is no request. */
  noop?: true
}

export interface RequestPreview {
  /** The event previewed: its type, and the file it came from (absent for a built-in sample). */
  event: { type: string; file?: string; id?: string }
  /** Why the request is shown: `added`, `changed`, or `webhook changed`. */
  reason: string
  before?: RequestSide
  after?: RequestSide
}

export interface PlannedObject {
  kind: PlannedKind
  /** `namespace/name`. */
  key: string
  change: Change
  /** `file:line` of the object at the head (at the base when removed); just a name (`cluster`) for an object without a file. */
  location: string
  /** Spec fields that differ (Webhooks and Automations; empty unless changed). */
  diff: FieldChange[]
  /** Secrets only: each key and whether its value changed. Values are never part of a plan. */
  keys?: Array<{ key: string; change: Change }>
  /** Automations only, when added or changed (or when their webhook changed). */
  preview?: RequestPreview
}

export interface Plan {
  base: { ref: string; commit?: string }
  head: { ref: string; commit?: string }
  /** The manifests folder, relative to the repository root (`.` for the root). */
  path: string
  /** Whether the head has no validation errors. */
  valid: boolean
  counts: Record<Change, number>
  objects: PlannedObject[]
  /** The head's validation problems (errors and warnings), files relative to the repository root. */
  diagnostics: Diagnostic[]
}

export interface PlanInput {
  base: PlanRevision
  head: PlanRevision
  path: string
  /** Events to preview with (from --events), in file order. */
  events: readonly NamedEvent[]
  /** Report webhook secrets the head's Secret objects do not provide (when --secrets was given). */
  checkSecrets: boolean
}

interface RawObject {
  kind: PlannedKind
  key: string
  body: Record<string, unknown>
  location: string
}

const KIND_ORDER: Record<PlannedKind, number> = { Webhook: 0, Automation: 1, Secret: 2 }

/** The Webhooks, Automations and Secrets of a revision by `Kind/namespace/name`, as written; the first of duplicates wins. */
function rawObjects(objects: readonly ManifestObject[]): Map<string, RawObject> {
  const out = new Map<string, RawObject>()
  for (const o of objects) {
    const kind: PlannedKind | undefined =
      o.apiVersion === API_GROUP_VERSION && (o.kind === 'Webhook' || o.kind === 'Automation')
        ? o.kind
        : o.apiVersion === 'v1' && o.kind === 'Secret'
          ? 'Secret'
          : undefined
    const meta = o.body.metadata as { name?: unknown; namespace?: unknown } | undefined
    if (!kind || typeof meta?.name !== 'string') continue
    const key = objectKey(typeof meta.namespace === 'string' ? meta.namespace : DEFAULT_NAMESPACE, meta.name)
    const id = `${kind}/${key}`
    if (!out.has(id))
      out.set(id, { kind, key, body: o.body, location: o.source.line ? `${o.source.file}:${o.source.line}` : o.source.file })
  }
  return out
}

/** A Secret's values by key, as text, for comparison only. */
function secretValues(body: Record<string, unknown>): Map<string, string> {
  const values = new Map<string, string>()
  const data = body.data as Record<string, unknown> | undefined
  for (const [k, v] of Object.entries(data ?? {}))
    values.set(k, typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : JSON.stringify(v))
  const stringData = body.stringData as Record<string, unknown> | undefined
  for (const [k, v] of Object.entries(stringData ?? {})) values.set(k, typeof v === 'string' ? v : JSON.stringify(v))
  return values
}

function secretKeys(before: RawObject | undefined, after: RawObject | undefined): Array<{ key: string; change: Change }> {
  const b = before ? secretValues(before.body) : new Map<string, string>()
  const a = after ? secretValues(after.body) : new Map<string, string>()
  return [...new Set([...b.keys(), ...a.keys()])].sort().map((key) => ({
    key,
    change: !b.has(key) ? 'added' : !a.has(key) ? 'removed' : b.get(key) === a.get(key) ? 'unchanged' : 'changed',
  }))
}

/** The request of automation `key` at one revision for `event`. */
function requestAt(revision: PlanRevision, side: 'base' | 'head', key: string, event: HookwiseEvent): RequestSide {
  const where = `the ${side} (${revision.ref})`
  const automation = revision.state.automations.find((a) => a.key === key)
  if (!automation)
    return { fires: false, error: `automation ${key} is not valid at ${where}${side === 'head' ? '; see the validation errors' : ''}` }
  const firesHere = fires(automation, event)
  if (automation.spec.action.webhook === undefined) return { fires: firesHere, noop: true }
  const webhookKey = objectKey(automation.namespace, automation.spec.action.webhook)
  const webhook = revision.state.webhooks.get(webhookKey)
  if (!webhook?.valid)
    return {
      fires: firesHere,
      error: `webhook ${webhookKey} is not valid at ${where}${side === 'head' ? '; see the validation errors' : ''}`,
    }
  try {
    return { fires: firesHere, request: previewRequest(automation, webhook, event) }
  } catch (err) {
    return { fires: firesHere, error: err instanceof HookwiseError ? `${err.code}: ${err.message}` : String(err) }
  }
}

function preview(input: PlanInput, key: string, change: Change, reason: string): RequestPreview {
  const compiled: CompiledAutomation | undefined =
    input.head.state.automations.find((a) => a.key === key) ?? input.base.state.automations.find((a) => a.key === key)
  const out: RequestPreview = { event: { type: '' }, reason }
  if (!compiled) {
    // Invalid at both revisions: nothing can be rendered.
    out.after = { fires: false, error: `automation ${key} is not valid at the head (${input.head.ref}); see the validation errors` }
    return out
  }
  const chosen = chooseEvent(compiled, input.events)
  out.event = {
    type: chosen.event.type,
    ...(chosen.file !== undefined ? { file: chosen.file } : {}),
    ...(chosen.event.id !== undefined ? { id: chosen.event.id } : {}),
  }
  if (change !== 'added') out.before = requestAt(input.base, 'base', key, chosen.event)
  out.after = requestAt(input.head, 'head', key, chosen.event)
  return out
}

/** Warnings for head webhooks whose secrets the loaded Secret objects do not provide. */
function missingSecrets(head: PlanRevision): Diagnostic[] {
  const out: Diagnostic[] = []
  for (const w of head.state.webhooks.values()) {
    if (!w.valid) continue
    try {
      resolveWebhookSecrets(w, mapLookup(head.state.secrets))
    } catch (err) {
      if (!(err instanceof HookwiseError)) throw err
      out.push({
        file: w.source.file,
        line: w.source.line,
        column: w.source.column,
        object: `Webhook ${objectKey(w.namespace, w.name)}`,
        code: err.code,
        severity: 'warning',
        message: err.message,
        ...(err.hint ? { hint: err.hint } : {}),
      })
    }
  }
  return out
}

/** Compares the base and the head revision. */
export function computePlan(input: PlanInput): Plan {
  const before = rawObjects(input.base.objects)
  const after = rawObjects(input.head.objects)
  const ids = [...new Set([...before.keys(), ...after.keys()])]
  const objects: PlannedObject[] = ids.map((id) => {
    const b = before.get(id)
    const a = after.get(id)
    const { kind, key } = (a ?? b)!
    const location = (a ?? b)!.location
    if (kind === 'Secret') {
      const keys = secretKeys(b, a)
      const change: Change = !b ? 'added' : !a ? 'removed' : keys.every((k) => k.change === 'unchanged') ? 'unchanged' : 'changed'
      return { kind, key, change, location, diff: [], keys }
    }
    const diff = b && a ? diffValues(b.body.spec, a.body.spec, ['spec']) : []
    const change: Change = !b ? 'added' : !a ? 'removed' : diff.length ? 'changed' : 'unchanged'
    return { kind, key, change, location, diff }
  })
  objects.sort((x, y) => KIND_ORDER[x.kind] - KIND_ORDER[y.kind] || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0))

  // An automation's request also changes when its webhook does (URL, headers, signing).
  const changedWebhooks = new Set(objects.filter((o) => o.kind === 'Webhook' && o.change === 'changed').map((o) => o.key))
  for (const o of objects) {
    if (o.kind !== 'Automation' || o.change === 'removed') continue
    if (o.change === 'added' || o.change === 'changed') {
      o.preview = preview(input, o.key, o.change, o.change)
      continue
    }
    const spec = after.get(`Automation/${o.key}`)?.body.spec as { action?: { webhook?: unknown } } | undefined
    const namespace = o.key.slice(0, o.key.indexOf('/'))
    const webhook = typeof spec?.action?.webhook === 'string' ? objectKey(namespace, spec.action.webhook) : undefined
    if (webhook !== undefined && changedWebhooks.has(webhook)) o.preview = preview(input, o.key, o.change, `webhook ${webhook} changed`)
  }

  const diagnostics = [...input.head.state.diagnostics, ...(input.checkSecrets ? missingSecrets(input.head) : [])]
  const counts: Record<Change, number> = { added: 0, changed: 0, removed: 0, unchanged: 0 }
  for (const o of objects) counts[o.change]++
  return {
    base: { ref: input.base.ref, ...(input.base.commit ? { commit: input.base.commit } : {}) },
    head: { ref: input.head.ref, ...(input.head.commit ? { commit: input.head.commit } : {}) },
    path: input.path === '' ? '.' : input.path,
    valid: !diagnostics.some((d) => d.severity === 'error'),
    counts,
    objects,
    diagnostics,
  }
}
