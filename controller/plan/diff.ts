// Field-level differences between two versions of an object's spec. Pure.
import { formatPath } from '../api/schema-errors.js'
import { isRecord, jsonEqual } from '../model/json-equal.js'

/** One field that differs: `before` is absent for an added field, `after` for a removed one. */
export interface FieldChange {
  /** Field path, e.g. `spec.event.aliasRegex` or `spec.secrets[0].secretKeyRef.name`. */
  path: string
  change: 'added' | 'removed' | 'changed'
  before?: unknown
  after?: unknown
}

/**
 * The leaves that differ between `before` and `after`, in a stable order (keys sorted, arrays by index).
 * Mappings are compared key by key and arrays element by element; any other difference (a value, or a
 * type change such as a string becoming a mapping) is one change of the whole field.
 */
export function diffValues(before: unknown, after: unknown, path: ReadonlyArray<string | number> = []): FieldChange[] {
  if (jsonEqual(before, after)) return []
  const where = formatPath(path)
  if (before === undefined) return [{ path: where, change: 'added', after }]
  if (after === undefined) return [{ path: where, change: 'removed', before }]
  if (isRecord(before) && isRecord(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()
    return keys.flatMap((k) => diffValues(before[k], after[k], [...path, k]))
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const n = Math.max(before.length, after.length)
    const out: FieldChange[] = []
    for (let i = 0; i < n; i++) out.push(...diffValues(before[i], after[i], [...path, i]))
    return out
  }
  return [{ path: where, change: 'changed', before, after }]
}
