// Finds the automations an event fires. Automations are indexed by event type and scope key, so the
// cost of one event depends on the automations in its own registry, collection and project, not on
// how many automations exist elsewhere. Pure.
import type { ArtifactEvent } from '../api/types.generated.js'
import type { CompiledAutomation } from '../model/desired-state.js'

/** An automation with its rank in namespace/name order, so merging buckets sorts numbers, not strings. */
interface Entry {
  automation: CompiledAutomation
  rank: number
}

type Bucket = Map<string, Entry[]>

interface ByScope {
  registry: Bucket
  collection: Bucket
  project: Bucket
  entity: Bucket
  /** Organization scopes: every event (tenancy still applies). */
  organization: Entry[]
}

const SEP = '\u0000'

function push(bucket: Bucket, key: string, e: Entry): void {
  const list = bucket.get(key)
  if (list) list.push(e)
  else bucket.set(key, [e])
}

/** Whether the filters of `a` (alias, tag, collection, metadata, event.filter) accept the event. Scope and type are the index's job. */
export function filtersAccept(a: CompiledAutomation, event: ArtifactEvent): boolean {
  if (a.aliasRegex && (event.alias === undefined || !a.aliasRegex.test(event.alias))) return false
  if (a.tagRegex && (event.tag === undefined || !a.tagRegex.test(event.tag))) return false
  if (a.collectionRegex && !a.collectionRegex.test(event.collection)) return false
  if (a.metadata.length > 0) {
    const metadata = event.artifact.metadata ?? {}
    for (const c of a.metadata) {
      if (!c.test(Object.hasOwn(metadata, c.key) ? metadata[c.key] : undefined)) return false
    }
  }
  return a.filter === undefined || a.filter.test(event)
}

export class AutomationIndex {
  private readonly byType = new Map<string, ByScope>()
  readonly size: number

  /**
   * `automations` must be sorted by key (as the desired state is): matches come out in that order.
   * With `namespaceEntities`, an automation only matches events of the entities its namespace is
   * given (none when its namespace is not in the map).
   */
  constructor(
    automations: readonly CompiledAutomation[],
    private readonly namespaceEntities?: ReadonlyMap<string, ReadonlySet<string>>,
  ) {
    let size = 0
    for (const [rank, a] of automations.entries()) {
      if (a.spec.enabled === false) continue
      size++
      const entry = { automation: a, rank }
      let scopes = this.byType.get(a.spec.event.type)
      if (!scopes) {
        scopes = { registry: new Map(), collection: new Map(), project: new Map(), entity: new Map(), organization: [] }
        this.byType.set(a.spec.event.type, scopes)
      }
      const s = a.spec.scope
      if (s.type === 'Registry') push(scopes.registry, s.registry!, entry)
      else if (s.type === 'Collection') push(scopes.collection, s.registry! + SEP + s.collection!, entry)
      else if (s.type === 'Project') push(scopes.project, s.entity! + SEP + s.project!, entry)
      else if (s.type === 'Entity') push(scopes.entity, s.entity!, entry)
      else scopes.organization.push(entry)
    }
    this.size = size
  }

  /** The enabled automations the event fires, ordered by namespace/name. */
  match(event: ArtifactEvent): CompiledAutomation[] {
    const scopes = this.byType.get(event.type)
    if (!scopes) return []
    const candidates: Entry[][] = []
    if (event.registry !== undefined) {
      const r = scopes.registry.get(event.registry)
      if (r) candidates.push(r)
      const c = scopes.collection.get(event.registry + SEP + event.collection)
      if (c) candidates.push(c)
    }
    const p = scopes.project.get(event.entity + SEP + event.project)
    if (p) candidates.push(p)
    const e = scopes.entity.get(event.entity)
    if (e) candidates.push(e)
    if (scopes.organization.length) candidates.push(scopes.organization)

    const out: Entry[] = []
    const tenancy = this.namespaceEntities
    for (const list of candidates) {
      for (const e of list) {
        if (tenancy && !tenancy.get(e.automation.namespace)?.has(event.entity)) continue
        if (filtersAccept(e.automation, event)) out.push(e)
      }
    }
    if (candidates.length > 1) out.sort((a, b) => a.rank - b.rank)
    return out.map((e) => e.automation)
  }
}
