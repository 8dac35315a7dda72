// Finds the automations an event fires. Automations are indexed by event type and scope key, so the
// cost of one event depends on the automations in its own registry, collection and project, not on
// how many automations exist elsewhere. Pure.
import type { ArtifactEvent } from '../api/types.generated.js'
import type { CompiledAutomation } from '../model/desired-state.js'

/** Automations of one scope, in key (namespace/name) order. */
type List = CompiledAutomation[]

/**
 * The lists of one event type. Two-part scopes are nested maps (registry, then collection; entity,
 * then project) rather than one map under a joined key: building the joined key for every event
 * cost a string concatenation, its flattening and hashing, about a fifth of matching (npm run bench).
 */
interface ByScope {
  registry: Map<string, List>
  collection: Map<string, Map<string, List>>
  project: Map<string, Map<string, List>>
  entity: Map<string, List>
  /** Organization scopes: every event (tenancy still applies). */
  organization: List
}

const byKey = (a: CompiledAutomation, b: CompiledAutomation): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)

/** Adds `a` to `list`, keeping it in key order. */
function insert(list: List, a: CompiledAutomation): void {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (byKey(list[mid]!, a) < 0) lo = mid + 1
    else hi = mid
  }
  list.splice(lo, 0, a)
}

function remove(list: List, a: CompiledAutomation): void {
  const at = list.indexOf(a)
  if (at >= 0) list.splice(at, 1)
}

/**
 * Sorts by key. A few matches (the usual case) are sorted by insertion with the comparison inline:
 * Array.prototype.sort's calls to a comparator cost more than matching itself (npm run bench).
 */
function sortByKey(list: List): void {
  if (list.length > 32) {
    list.sort(byKey)
    return
  }
  for (let i = 1; i < list.length; i++) {
    const a = list[i]!
    let j = i - 1
    while (j >= 0 && list[j]!.key > a.key) {
      list[j + 1] = list[j]!
      j--
    }
    list[j + 1] = a
  }
}

function listIn<K>(map: Map<K, List>, key: K, create: boolean): List | undefined {
  let list = map.get(key)
  if (!list && create) {
    list = []
    map.set(key, list)
  }
  return list
}

function mapIn(map: Map<string, Map<string, List>>, key: string, create: boolean): Map<string, List> | undefined {
  let inner = map.get(key)
  if (!inner && create) {
    inner = new Map()
    map.set(key, inner)
  }
  return inner
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
  /** What is indexed (the enabled automations), by key. */
  private readonly indexed = new Map<string, CompiledAutomation>()
  /** The automations indexed last (enabled or not), sorted by key: update walks them beside the new ones. */
  private last: readonly CompiledAutomation[]

  /**
   * Matches come out in key order. With `namespaceEntities`, an automation only matches events of
   * the entities its namespace is given (none when its namespace is not in the map).
   */
  constructor(
    automations: readonly CompiledAutomation[],
    private namespaceEntities?: ReadonlyMap<string, ReadonlySet<string>>,
  ) {
    this.last = [...automations].sort(byKey)
    for (const a of this.last) this.add(a)
  }

  /** Enabled automations indexed. */
  get size(): number {
    return this.indexed.size
  }

  /**
   * Makes this index the index of `automations` (sorted by key, as DesiredState.automations is),
   * changing only what changed (issue 22): an automation that is the same object as before stays
   * where it is; one that is new, changed or gone is added or removed. The old and new lists are
   * walked side by side comparing references, so an unchanged automation costs a pointer comparison
   * (not a Map entry per automation as before: 150 ms at 10k on a busy machine).
   */
  update(automations: readonly CompiledAutomation[], namespaceEntities?: ReadonlyMap<string, ReadonlySet<string>>): void {
    this.namespaceEntities = namespaceEntities
    const old = this.last
    let i = 0
    let j = 0
    while (i < old.length || j < automations.length) {
      const a = old[i]
      const b = automations[j]
      if (a === b) {
        i++
        j++
      } else if (b === undefined || (a !== undefined && a.key < b.key)) {
        this.remove(a!)
        i++
      } else if (a === undefined || b.key < a.key) {
        this.add(b)
        j++
      } else {
        this.remove(a)
        this.add(b)
        i++
        j++
      }
    }
    this.last = automations
  }

  private listOf(a: CompiledAutomation, create: boolean): List | undefined {
    let scopes = this.byType.get(a.spec.event.type)
    if (!scopes) {
      if (!create) return undefined
      scopes = { registry: new Map(), collection: new Map(), project: new Map(), entity: new Map(), organization: [] }
      this.byType.set(a.spec.event.type, scopes)
    }
    const s = a.spec.scope
    if (s.type === 'Registry') return listIn(scopes.registry, s.registry!, create)
    if (s.type === 'Collection') {
      const inner = mapIn(scopes.collection, s.registry!, create)
      return inner && listIn(inner, s.collection!, create)
    }
    if (s.type === 'Project') {
      const inner = mapIn(scopes.project, s.entity!, create)
      return inner && listIn(inner, s.project!, create)
    }
    if (s.type === 'Entity') return listIn(scopes.entity, s.entity!, create)
    return scopes.organization
  }

  private add(a: CompiledAutomation): void {
    if (a.spec.enabled === false) return
    insert(this.listOf(a, true)!, a)
    this.indexed.set(a.key, a)
  }

  // An emptied list stays in its map: a scope that had automations usually gets them back.
  private remove(a: CompiledAutomation): void {
    if (this.indexed.get(a.key) !== a) return // disabled: never indexed
    const list = this.listOf(a, false)
    if (list) remove(list, a)
    this.indexed.delete(a.key)
  }

  /** The enabled automations the event fires, ordered by namespace/name. */
  match(event: ArtifactEvent): CompiledAutomation[] {
    const scopes = this.byType.get(event.type)
    if (!scopes) return []
    const out: CompiledAutomation[] = []
    let lists = 0
    if (event.registry !== undefined) {
      lists += this.collect(scopes.registry.get(event.registry), event, out)
      lists += this.collect(scopes.collection.get(event.registry)?.get(event.collection), event, out)
    }
    lists += this.collect(scopes.project.get(event.entity)?.get(event.project), event, out)
    lists += this.collect(scopes.entity.get(event.entity), event, out)
    lists += this.collect(scopes.organization, event, out)
    // Each list is in key order; matches from more than one are put in order together.
    if (lists > 1) sortByKey(out)
    return out
  }

  /** Appends the automations of `list` that accept the event; 1 when any did. */
  private collect(list: List | undefined, event: ArtifactEvent, out: CompiledAutomation[]): number {
    if (list === undefined) return 0
    const before = out.length
    const tenancy = this.namespaceEntities
    for (let i = 0; i < list.length; i++) {
      const a = list[i]!
      if (tenancy && !tenancy.get(a.namespace)?.has(event.entity)) continue
      if (filtersAccept(a, event)) out.push(a)
    }
    return out.length > before ? 1 : 0
  }
}
