// Turns ajv's errors into diagnostics a person can act on: the field path, what is wrong, what to do.
import type { ErrorObject } from 'ajv/dist/2020.js'
import type { Diagnostic, Location } from '../errors.js'

export type FieldPath = Array<string | number>

/** `spec.secrets[0].name` from ['spec', 'secrets', 0, 'name']. */
export function formatPath(path: ReadonlyArray<string | number>): string {
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out ? `.${seg}` : seg
    else out += `[${JSON.stringify(seg)}]`
  }
  return out
}

/** ['spec', 'secrets', 0] from the JSON pointer /spec/secrets/0. */
export function pointerToPath(pointer: string): FieldPath {
  if (!pointer) return []
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9]\d*)$/.test(s) ? Number(s) : s))
}

const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v)
  return s.length > 60 ? `${s.slice(0, 57)}...` : s
}

const noun = (jsonType: string): string => (jsonType === 'object' ? 'map' : jsonType === 'array' ? 'list' : jsonType)
const article = (word: string): string => `${/^[aeiou]/.test(word) ? 'an' : 'a'} ${word}`
const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v === 'object' ? 'map' : typeof v)

/**
 * The one candidate a misspelled word most likely meant, or undefined when none is close: the same
 * word in another case; else the shortest candidate the word begins (`LINK` for LINK_ARTIFACT,
 * as W&B's UI shortens event names); else the nearest by edit distance (a swap of two neighbours is one edit), within a third of the
 * word's length. A short function rather than a library: names here are short and few.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase()
  const same = candidates.find((c) => c.toLowerCase() === w)
  if (same !== undefined) return same
  if (w.length >= 3) {
    const longer = candidates.filter((c) => c.toLowerCase().startsWith(w)).sort((a, b) => a.length - b.length)
    if (longer[0] !== undefined) return longer[0]
  }
  let best: string | undefined
  let bestDistance = Infinity
  for (const c of candidates) {
    const d = distance(w, c.toLowerCase())
    if (d < bestDistance) {
      best = c
      bestDistance = d
    }
  }
  return bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined
}

/** Edits (insert, delete, substitute, swap two neighbours: `alais` is one from `alias`) from a to b. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  )
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1)
      d[i]![j] = best
    }
  }
  return d[a.length]![b.length]!
}

interface Converted {
  path: FieldPath
  message: string
  hint: string
}

function convert(e: ErrorObject, data: unknown): Converted | undefined {
  const path = pointerToPath(e.instancePath)
  const value = path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k as string] : undefined), data)
  const p = e.params as Record<string, unknown>
  const description = typeof e.parentSchema?.description === 'string' ? e.parentSchema.description : undefined
  const about = description ? ` (${description})` : ''
  switch (e.keyword) {
    case 'required': {
      const field = p.missingProperty as string
      const desc = (e.parentSchema?.properties as Record<string, { description?: string }> | undefined)?.[field]?.description
      return {
        path: [...path, field],
        message: `required field "${field}" is missing`,
        hint: `add ${formatPath([...path, field])}${desc ? `: ${desc}` : ''}`,
      }
    }
    case 'additionalProperties': {
      const field = p.additionalProperty as string
      const known = Object.keys((e.parentSchema?.properties as object | undefined) ?? {})
      const guess = closest(field, known)
      return {
        path: [...path, field],
        message: `unknown field "${field}"`,
        hint: guess ? `did you mean "${guess}"?` : known.length ? `known fields here: ${known.join(', ')}` : 'remove it',
      }
    }
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]).map(String)
      const guess = typeof value === 'string' ? closest(value, allowed) : undefined
      return {
        path,
        message: `${show(value)} is not one of ${allowed.join(', ')}`,
        hint: guess ? `did you mean ${guess}?` : `use one of ${allowed.join(', ')}`,
      }
    }
    case 'const':
      return { path, message: `must be ${show(p.allowedValue)}, not ${show(value)}`, hint: `set it to ${show(p.allowedValue)}` }
    case 'type': {
      const want = p.type as string
      const quote = want === 'string' && (typeof value === 'number' || typeof value === 'boolean')
      return {
        path,
        message: `must be ${article(noun(want))}, not ${typeOf(value)}${value !== null && typeof value !== 'object' ? ` ${show(value)}` : ''}`,
        hint: quote ? `write it as a string: quote it, e.g. "${String(value)}"` : `write ${article(noun(want))} here${about}`,
      }
    }
    case 'pattern':
      return {
        path,
        message: `${show(value)} does not match the pattern ${p.pattern as string}`,
        hint: `write a value that matches${about}`,
      }
    case 'format':
      return {
        path,
        message: `${show(value)} is not a valid ${p.format as string}`,
        hint: p.format === 'date-time' ? 'use RFC 3339, e.g. 2026-11-27T10:00:00Z' : `write a valid ${p.format as string}`,
      }
    case 'maxLength':
    case 'minLength':
    case 'maximum':
    case 'minimum':
    case 'maxItems':
    case 'minItems':
    case 'maxProperties':
      return {
        path,
        message: `${e.message ?? 'is out of range'}${typeof value === 'number' ? ` (is ${value})` : ''}`,
        hint: `change the value${about}`,
      }
    case 'propertyNames':
      return undefined // reported by the nested pattern error with the name itself
    case 'if':
      return undefined // reported by the then/else branch's own error
    case 'false schema':
      return {
        path,
        message: `"${String(path[path.length - 1])}" is not allowed here`,
        hint: 'remove it: this field does not belong with the other values (e.g. alias is only for ADD_ARTIFACT_ALIAS events)',
      }
    default:
      return { path, message: e.message ?? `fails ${e.keyword}`, hint: `fix the value${about}` }
  }
}

/** Diagnostics for ajv errors; `where` gives the position of a field path. */
export function schemaDiagnostics(
  errors: readonly ErrorObject[],
  data: unknown,
  code: Diagnostic['code'],
  where: (path: FieldPath) => Location,
): Diagnostic[] {
  const out: Diagnostic[] = []
  const seen = new Set<string>()
  for (const e of errors) {
    const c = convert(e, data)
    if (!c) continue
    const path = formatPath(c.path)
    const key = `${path}\u0000${c.message}`
    if (seen.has(key)) continue
    seen.add(key)
    out.push({ ...where(c.path), path, code, severity: 'error', message: c.message, hint: c.hint })
  }
  return out
}
