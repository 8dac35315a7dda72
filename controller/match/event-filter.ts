// `event.filter`: W&B's filter language (a small MongoDB-like query, as the wandb SDK writes it)
// over an event's fields. Compiled once when the manifests are validated, into closures that the
// matching index calls per candidate automation; nothing is parsed per event. Pure.
//
//   {"$and": [{"alias": {"$regex": "^prod"}}, {"metadata.accuracy": {"$gte": 0.9}}]}
//
// Logical operators ($and $or $nor take lists, $not one expression) combine field conditions; a
// field maps to a literal (equality) or to an object of comparison operators ($eq $ne $gt $gte $lt
// $lte $in $nin $exists $regex $contains, and $not around them). A field whose value is a list
// (artifact.aliases, or alias outside alias events) matches when any element does, as in MongoDB;
// $ne and $nin then mean "no element".
import type { ArtifactEvent, RunEvent } from '../api/types.generated.js'
import type { FieldPath } from '../model/manifest-object.js'
import { jsonEqual, isRecord } from '../model/json-equal.js'
import { compileTextMatcher } from '../model/text-matcher.js'
import type { EventPredicate } from '../model/desired-state.js'

/** Limits that keep a hostile filter from costing more than a page of YAML would. */
export const FILTER_LIMITS = { depth: 16, nodes: 512, listItems: 256 } as const

/** Why a filter does not compile, at the filter's own path (below spec.event.filter). */
export interface FilterProblem {
  path: FieldPath
  message: string
  hint: string
}

export type FilterResult = { ok: true; predicate: EventPredicate } | { ok: false; problems: FilterProblem[] }

// biome-ignore lint/suspicious/noExplicitAny: a field table reads the events of its own kind (artifact or run), never another
type AnyEvent = any
type Read = (event: AnyEvent) => unknown
type Test = (value: unknown) => boolean
type Pred = (event: AnyEvent) => boolean

const aliasesOf = (e: ArtifactEvent): unknown => (e.type === 'ADD_ARTIFACT_ALIAS' ? e.alias : (e.artifact.aliases ?? []))
const tagsOf = (e: ArtifactEvent): unknown => (e.tag !== undefined ? e.tag : (e.artifact.tags ?? []))

/** The fields a filter may name, and how each is read from an event. */
export const FILTER_FIELDS: Readonly<Record<string, { read: Read; description: string }>> = {
  alias: { read: aliasesOf, description: 'the alias added (ADD_ARTIFACT_ALIAS); for other events, the aliases of the version' },
  tag: {
    read: tagsOf,
    description: 'the tag added or removed (version or collection tag events); for other events, the tags of the version',
  },
  type: { read: (e) => e.type, description: 'the event type' },
  author: { read: (e) => e.author, description: 'the user who caused the event' },
  entity: { read: (e) => e.entity, description: 'the entity (team)' },
  project: { read: (e) => e.project, description: 'the project' },
  registry: { read: (e) => e.registry, description: 'the registry, absent outside registries' },
  collection: { read: (e) => e.collection, description: 'the collection' },
  'artifact.name': { read: (e) => e.artifact.name, description: 'the artifact name' },
  'artifact.version': { read: (e) => e.artifact.version, description: 'the version, e.g. v7' },
  'artifact.type': { read: (e) => e.artifact.type, description: 'the artifact type, e.g. model' },
  'artifact.aliases': { read: (e) => e.artifact.aliases ?? [], description: 'the aliases of the version (a list)' },
  'artifact.tags': { read: (e) => e.artifact.tags ?? [], description: 'the tags of the version (a list)' },
}

/** `metadata.KEY` (and `metadata.KEY.SUBKEY...`): a key of the version's metadata. */
const METADATA_FIELD = /^(?:metadata|artifact\.metadata)\.(.+)$/

/** The fields a filter of a run automation may name (run events; docs/run-events.md). */
export const RUN_FILTER_FIELDS: Readonly<Record<string, { read: (e: RunEvent) => unknown; description: string }>> = {
  type: { read: (e) => e.type, description: 'the event type' },
  author: { read: (e) => e.run.author, description: 'the user who started the run' },
  entity: { read: (e) => e.entity, description: 'the entity (team)' },
  project: { read: (e) => e.project, description: 'the project' },
  state: { read: (e) => e.state, description: 'the run state: RUNNING, FINISHED or FAILED' },
  'run.id': { read: (e) => e.run.id, description: "the run's id" },
  'run.name': { read: (e) => e.run.name ?? e.run.id, description: "the run's name" },
  'run.displayName': { read: (e) => e.run.displayName ?? e.run.name ?? e.run.id, description: "the run's display name" },
  'run.tags': { read: (e) => e.run.tags ?? [], description: 'the tags of the run (a list)' },
}

/** `config.KEY` (and `config.KEY.SUBKEY...`): a key of the run's config. */
const CONFIG_FIELD = /^(?:config|run\.config)\.(.+)$/

/** What a filter can name: fixed fields, and keys under a prefix read from a nested object. */
interface FieldTable {
  fields: Readonly<Record<string, { read: Read }>>
  nested: RegExp
  nestedIn: (e: AnyEvent) => unknown
  nestedName: string
}

const ARTIFACT_FIELDS: FieldTable = {
  fields: FILTER_FIELDS,
  nested: METADATA_FIELD,
  nestedIn: (e: ArtifactEvent) => e.artifact.metadata,
  nestedName: 'metadata.KEY',
}
const RUN_FIELDS: FieldTable = {
  fields: RUN_FILTER_FIELDS,
  nested: CONFIG_FIELD,
  nestedIn: (e: RunEvent) => e.run.config,
  nestedName: 'config.KEY',
}

const FIELD_OPERATORS = ['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$regex', '$contains', '$not'] as const
const LOGICAL_OPERATORS = ['$and', '$or', '$nor', '$not'] as const

const fieldList = (table: FieldTable): string => [...Object.keys(table.fields), table.nestedName].join(', ')

function nestedReader(table: FieldTable, keyPath: string): Read {
  const keys = keyPath.split('.')
  return (e) => {
    let v: unknown = table.nestedIn(e)
    for (const k of keys) {
      if (!isRecord(v) || !Object.hasOwn(v, k)) return undefined
      v = v[k]
    }
    return v
  }
}

/** Some element of a list, or the value itself, passes. */
const any =
  (test: Test): Test =>
  (v) =>
    Array.isArray(v) ? v.some(test) : test(v)

function compare(op: '$gt' | '$gte' | '$lt' | '$lte', bound: number | string): Test {
  const ok = { $gt: (c: number) => c > 0, $gte: (c: number) => c >= 0, $lt: (c: number) => c < 0, $lte: (c: number) => c <= 0 }[op]
  // Numbers with numbers, text with text (by code point), as MongoDB compares within one type.
  return typeof bound === 'number'
    ? (v) => typeof v === 'number' && ok(v - bound)
    : (v) => typeof v === 'string' && ok(v < bound ? -1 : v > bound ? 1 : 0)
}

class Compiler {
  readonly problems: FilterProblem[] = []
  private nodes = 0

  constructor(private readonly table: FieldTable) {}

  private problem(path: FieldPath, message: string, hint: string): undefined {
    this.problems.push({ path, message, hint })
    return undefined
  }

  private count(path: FieldPath, depth: number): boolean {
    this.nodes++
    if (depth > FILTER_LIMITS.depth) {
      this.problem(path, `the filter nests more than ${FILTER_LIMITS.depth} levels deep`, 'flatten it: $and and $or take lists')
      return false
    }
    if (this.nodes === FILTER_LIMITS.nodes + 1) {
      this.problem(
        path,
        `the filter has more than ${FILTER_LIMITS.nodes} conditions`,
        'split the automation in two, or use $in with a list',
      )
      return false
    }
    return this.nodes <= FILTER_LIMITS.nodes
  }

  /** An expression: an object of logical operators and field conditions, all of which must hold. */
  expression(node: unknown, path: FieldPath, depth: number): Pred | undefined {
    if (!this.count(path, depth)) return undefined
    if (!isRecord(node)) {
      return this.problem(
        path,
        `a filter expression is an object, not ${JSON.stringify(node)}`,
        'write {field: value}, {field: {$op: value}} or {$and: [...]}',
      )
    }
    const parts: Pred[] = []
    let ok = true
    for (const [key, value] of Object.entries(node)) {
      const p = key.startsWith('$') ? this.logical(key, value, [...path, key], depth) : this.field(key, value, [...path, key], depth)
      if (p) parts.push(p)
      else ok = false
    }
    if (!ok) return undefined
    if (parts.length === 1) return parts[0]
    return (e) => {
      for (const p of parts) if (!p(e)) return false
      return true
    }
  }

  private logical(op: string, value: unknown, path: FieldPath, depth: number): Pred | undefined {
    if (op === '$not') {
      const inner = this.expression(value, path, depth + 1)
      return inner && ((e) => !inner(e))
    }
    if (op !== '$and' && op !== '$or' && op !== '$nor') {
      const hint = (FIELD_OPERATORS as readonly string[]).includes(op)
        ? `${op} compares a field: write {field: {${op}: value}}`
        : `logical operators are ${LOGICAL_OPERATORS.join(' ')}; field names do not start with $`
      return this.problem(path, `${op} is not a filter operator here`, hint)
    }
    // An empty list is allowed: the wandb SDK writes "no filter" as {"$or": [{"$and": []}]}.
    if (!Array.isArray(value) || value.length > FILTER_LIMITS.listItems)
      return this.problem(path, `${op} takes a list of expressions (at most ${FILTER_LIMITS.listItems})`, `write ${op}: [{...}, {...}]`)
    const parts = value.map((v, i) => this.expression(v, [...path, i], depth + 1))
    if (parts.some((p) => p === undefined)) return undefined
    const ps = parts as Pred[]
    if (op === '$and')
      return (e) => {
        for (const p of ps) if (!p(e)) return false
        return true
      }
    const some: Pred = (e) => {
      for (const p of ps) if (p(e)) return true
      return false
    }
    return op === '$or' ? some : (e) => !some(e)
  }

  private field(name: string, value: unknown, path: FieldPath, depth: number): Pred | undefined {
    const t = this.table
    const nested = t.nested.exec(name)?.[1]
    const read = nested !== undefined ? nestedReader(t, nested) : Object.hasOwn(t.fields, name) ? t.fields[name]!.read : undefined
    if (!read) return this.problem(path, `${JSON.stringify(name)} is not a field a filter can test`, `fields: ${fieldList(t)}`)
    const test = this.condition(value, path, depth + 1)
    return test && ((e) => test(read(e)))
  }

  /** A field's condition: a literal (equality) or an object of operators, all of which must hold. */
  private condition(node: unknown, path: FieldPath, depth: number): Test | undefined {
    if (!this.count(path, depth)) return undefined
    if (!isRecord(node) || !Object.keys(node).some((k) => k.startsWith('$'))) return this.operator('$eq', node, path, depth)
    const parts: Test[] = []
    let ok = true
    for (const [op, v] of Object.entries(node)) {
      const t = this.operator(op, v, [...path, op], depth)
      if (t) parts.push(t)
      else ok = false
    }
    if (!ok) return undefined
    if (parts.length === 1) return parts[0]
    return (v) => {
      for (const t of parts) if (!t(v)) return false
      return true
    }
  }

  private operator(op: string, arg: unknown, path: FieldPath, depth: number): Test | undefined {
    switch (op) {
      case '$eq':
        return any((v) => jsonEqual(v, arg))
      case '$ne':
        return (v) => !any((x) => jsonEqual(x, arg))(v)
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte':
        if (typeof arg !== 'number' && typeof arg !== 'string')
          return this.problem(path, `${op} compares with a number or a text, not ${JSON.stringify(arg)}`, `write ${op}: 0.9`)
        return any(compare(op, arg))
      case '$in':
      case '$nin': {
        if (!Array.isArray(arg) || arg.length > FILTER_LIMITS.listItems)
          return this.problem(path, `${op} takes a list of at most ${FILTER_LIMITS.listItems} values`, `write ${op}: [a, b]`)
        const scalars = new Set(arg.filter((a) => typeof a !== 'object' || a === null))
        const objects = arg.filter((a) => typeof a === 'object' && a !== null)
        const member = any((v) => scalars.has(v) || objects.some((o) => jsonEqual(v, o)))
        return op === '$in' ? member : (v) => !member(v)
      }
      case '$exists':
        if (typeof arg !== 'boolean')
          return this.problem(path, `$exists takes true or false, not ${JSON.stringify(arg)}`, 'write $exists: true')
        return arg ? (v) => v !== undefined : (v) => v === undefined
      case '$regex': {
        if (typeof arg !== 'string')
          return this.problem(path, `$regex takes a regular expression as text, not ${JSON.stringify(arg)}`, 'write $regex: ^prod')
        try {
          const re = compileTextMatcher(arg)
          return any((v) => typeof v === 'string' && re.test(v))
        } catch (err) {
          return this.problem(
            path,
            `${JSON.stringify(arg)} is not a valid regular expression: ${(err as Error).message}`,
            'write it in RE2 syntax (no lookaround or backreferences; (?i) for case-insensitive); see docs/resources.md#regular-expressions',
          )
        }
      }
      case '$contains':
        if (typeof arg !== 'string')
          return this.problem(path, `$contains takes a text, not ${JSON.stringify(arg)}`, 'write $contains: prod')
        // Text: a substring; a list: an element equal to it.
        return (v) => (typeof v === 'string' ? v.includes(arg) : Array.isArray(v) && v.includes(arg))
      case '$not': {
        const inner = this.condition(arg, path, depth + 1)
        return inner && ((v) => !inner(v))
      }
      default:
        return this.problem(
          path,
          `${op} is not a filter operator`,
          (LOGICAL_OPERATORS as readonly string[]).includes(op)
            ? `${op} combines expressions: put it above the field, {${op}: [{field: ...}]}`
            : `operators on a field: ${FIELD_OPERATORS.join(' ')}`,
        )
    }
  }
}

/**
 * Compiles a filter (already parsed from YAML or JSON); problems are at paths below the filter.
 * `runs`: the filter of a run automation, over the run's fields and config.
 */
export function compileEventFilter(filter: unknown, runs = false): FilterResult {
  const c = new Compiler(runs ? RUN_FIELDS : ARTIFACT_FIELDS)
  const pred = c.expression(filter, [], 0)
  if (!pred || c.problems.length) return { ok: false, problems: c.problems }
  return { ok: true, predicate: { test: pred } }
}
