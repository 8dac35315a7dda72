// Compiles payload templates once, when they are loaded, into a list of literal JSON text and slots.
// Rendering then only concatenates: the literals are valid JSON by construction and every slot is
// escaped (inside a JSON string) or serialised (a ${json:...} value), so the body is always valid
// JSON, and a value that itself contains "${...}" is never expanded again.
import { HookwiseError } from '../errors.js'
import type { CompiledTemplate, Placeholder, RenderContext } from '../model/compiled-template.js'
import { METADATA_PREFIX, VARIABLES } from './variables.js'

/** A syntax problem in a template; validation turns these into diagnostics with positions. */
export interface TemplateProblem {
  message: string
  hint: string
  path: Array<string | number>
  offset: number
}

export type CompileResult = { ok: true; template: CompiledTemplate } | { ok: false; problems: TemplateProblem[] }

const NAME = /^(?:[A-Za-z_][A-Za-z0-9_]*|artifact_metadata\.[^{}]+)$/

type Slot = (context: RenderContext) => string

/** Builds literal text and slots, merging adjacent literals. */
class Builder {
  readonly literals: string[] = ['']
  readonly slots: Slot[] = []
  readonly placeholders: Placeholder[] = []
  readonly problems: TemplateProblem[] = []
  /** Cache keys of the slots; undefined once a slot reads a secret (differs per webhook). */
  private slotKeys: string[] | undefined = []

  text(s: string): void {
    this.literals[this.literals.length - 1] += s
  }

  slot(p: Placeholder): void {
    this.placeholders.push(p)
    const get = variableValue(p.name)
    const text: Slot = p.json ? (c) => toJson(get(c)) : (c) => escapeText(toText(get(c)))
    const fromEvent = VARIABLES[p.name] !== undefined || p.name.startsWith(METADATA_PREFIX)
    const key = `${p.json ? 'j' : 't'}:${p.name}`
    this.slots.push(fromEvent ? cached(key, text) : text)
    if (fromEvent) this.slotKeys?.push(key)
    else this.slotKeys = undefined
    this.literals.push('')
  }

  problem(message: string, hint: string, path: Array<string | number>, offset: number): void {
    this.problems.push({ message, hint, path, offset })
  }

  result(): CompileResult {
    if (this.problems.length > 0) return { ok: false, problems: this.problems }
    const { literals, slots } = this
    const build = (context: RenderContext): string => {
      let out = literals[0]!
      for (let i = 0; i < slots.length; i++) out += slots[i]!(context) + literals[i + 1]!
      return out
    }
    // A body that depends on the event alone is the same for every automation with the same
    // template (automations often share one payload): with the per-event cache, it is built once
    // per event and template text. The key is the template itself, so equal templates share it.
    const bodyKey = this.slotKeys && slots.length > 0 ? internKey(`b:${JSON.stringify([literals, this.slotKeys])}`) : undefined
    const render =
      bodyKey === undefined
        ? build
        : (context: RenderContext): string => {
            if (!context.cache) return build(context)
            let body = context.cache.get(bodyKey)
            if (body === undefined) {
              body = build(context)
              context.cache.set(bodyKey, body)
            }
            return body
          }
    return { ok: true, template: { placeholders: this.placeholders, render } }
  }
}

/** Splits a string into literal text and `${...}` references. `$${` is a literal `${`. */
function scan(
  s: string,
  path: Array<string | number>,
  b: Builder,
  onText: (text: string) => void,
  onPlaceholder: (p: Placeholder) => void,
): void {
  let i = 0
  let text = ''
  while (i < s.length) {
    const c = s[i]
    if (c === '$' && s[i + 1] === '$' && s[i + 2] === '{') {
      text += '${'
      i += 3
      continue
    }
    if (c === '$' && s[i + 1] === '{') {
      const end = s.indexOf('}', i + 2)
      if (end < 0) {
        b.problem(`unterminated \${ at character ${i + 1}`, 'close the reference with }, or write $${ for a literal ${', path, i)
        return
      }
      const inner = s.slice(i + 2, end)
      const json = inner.startsWith('json:')
      const name = json ? inner.slice(5) : inner
      if (!NAME.test(name)) {
        b.problem(
          `\${${inner}} is not a variable reference`,
          'variable names are letters, digits and _ (no spaces), e.g. ${artifact_version_string} or ${artifact_metadata.accuracy}; write $${ for a literal ${',
          path,
          i,
        )
      } else {
        if (text) onText(text)
        text = ''
        onPlaceholder({ name, json, path, offset: i })
      }
      i = end + 1
      continue
    }
    text += c
    i++
  }
  if (text) onText(text)
}

/** Whether a string holds a character JSON must escape: quote, backslash, control, or a (lone) surrogate. */
function needsEscape(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return true
  }
  return false
}

// Most values need no escaping and are inserted as they are; the rest go through JSON.stringify,
// which also writes lone surrogates as \uXXXX.
const escapeText = (s: string): string => (needsEscape(s) ? JSON.stringify(s).slice(1, -1) : s)

/** JSON text of a value; the same as JSON.stringify, with fast paths for the common cases. */
function toJson(v: unknown): string {
  if (typeof v === 'string') return `"${escapeText(v)}"`
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null'
  if (typeof v === 'boolean') return v ? 'true' : 'false'
  if (v === undefined || v === null) return 'null'
  return JSON.stringify(v)
}

function toText(v: unknown): string {
  if (typeof v === 'string') return v
  if (v === null || v === undefined) return ''
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v)
  return JSON.stringify(v)
}

function variableValue(name: string): (context: RenderContext) => unknown {
  const builtin = VARIABLES[name]
  if (builtin) return (c) => builtin.value(c.event)
  if (name.startsWith(METADATA_PREFIX)) {
    const key = name.slice(METADATA_PREFIX.length)
    return (c) => {
      // Validation allows ${artifact_metadata.KEY} in artifact automations only.
      const metadata = 'artifact' in c.event ? c.event.artifact.metadata : undefined
      return metadata && Object.hasOwn(metadata, key) ? metadata[key] : undefined
    }
  }
  return (c) => {
    const value = c.secrets[name]
    if (value === undefined) {
      throw new HookwiseError('HW_SECRET_NOT_FOUND', `the payload uses \${${name}} but the webhook's secret ${name} has no value`, {
        hint: 'create the Secret and key the webhook refers to (with --secrets DIR outside Kubernetes)',
      })
    }
    return value
  }
}

// One string per body key, so the cache compares equal templates' keys by identity, not by text.
const MAX_KEYS = 4096
const keys = new Map<string, string>()
function internKey(key: string): string {
  const known = keys.get(key)
  if (known !== undefined) return known
  if (keys.size >= MAX_KEYS) keys.clear()
  keys.set(key, key)
  return key
}

function cached(key: string, slot: Slot): Slot {
  return (c) => {
    if (!c.cache) return slot(c)
    let text = c.cache.get(key)
    if (text === undefined) {
      text = slot(c)
      c.cache.set(key, text)
    }
    return text
  }
}

/** Compiles a structured payload (action.payload): the body is its JSON with references filled in. */
export function compilePayload(payload: unknown): CompileResult {
  const b = new Builder()
  const emitString = (s: string, path: Array<string | number>, isKey: boolean): void => {
    const parts: Array<string | Placeholder> = []
    scan(
      s,
      path,
      b,
      (t) => parts.push(t),
      (p) => parts.push(p),
    )
    const only = parts.length === 1 ? parts[0] : undefined
    if (!isKey && typeof only === 'object' && only.json) {
      b.slot(only)
      return
    }
    b.text('"')
    for (const part of parts) {
      if (typeof part === 'string') b.text(escapeText(part))
      else if (part.json)
        b.problem(
          isKey ? `\${json:${part.name}} cannot be used in a key` : `\${json:${part.name}} must be the whole string value`,
          'write "${json:NAME}" alone as a value to insert it with its JSON type, or ${NAME} to insert its text',
          path,
          part.offset,
        )
      else b.slot(part)
    }
    b.text('"')
  }
  const emit = (v: unknown, path: Array<string | number>): void => {
    if (typeof v === 'string') emitString(v, path, false)
    else if (typeof v === 'number') b.text(Number.isFinite(v) ? JSON.stringify(v) : 'null')
    else if (typeof v === 'boolean' || v === null) b.text(JSON.stringify(v))
    else if (Array.isArray(v)) {
      b.text('[')
      v.forEach((item, i) => {
        if (i > 0) b.text(',')
        emit(item, [...path, i])
      })
      b.text(']')
    } else if (typeof v === 'object') {
      b.text('{')
      Object.entries(v as Record<string, unknown>).forEach(([key, item], i) => {
        if (i > 0) b.text(',')
        emitString(key, [...path, key], true)
        b.text(':')
        emit(item, [...path, key])
      })
      b.text('}')
    } else {
      b.problem(`a ${typeof v} cannot be part of a JSON payload`, 'use strings, numbers, booleans, null, lists and maps', path, 0)
    }
  }
  emit(payload, [])
  return b.result()
}

/**
 * Compiles JSON text with references (action.payloadTemplate), as pasted from W&B. References inside
 * JSON strings insert escaped text; outside strings only ${json:NAME} is allowed. The body keeps the
 * template's own formatting.
 */
export function compilePayloadText(source: string): CompileResult {
  const b = new Builder()
  const probe: string[] = []
  let inString = false
  let i = 0
  let literalStart = 0
  const flush = (end: number): void => {
    const t = source.slice(literalStart, end)
    b.text(t)
    probe.push(t)
  }
  while (i < source.length) {
    const c = source[i]
    if (c === '$' && (source[i + 1] === '{' || (source[i + 1] === '$' && source[i + 2] === '{'))) {
      flush(i)
      const escaped = source[i + 1] === '$'
      const end = escaped ? i + 3 : source.indexOf('}', i + 2) + 1
      if (end === 0) {
        b.problem(`unterminated \${ at character ${i + 1}`, 'close the reference with }, or write $${ for a literal ${', [], i)
        break
      }
      const offset = i
      scan(
        source.slice(i, end),
        [],
        b,
        (t) => {
          b.text(t)
          probe.push(t)
        },
        (p) => {
          const placeholder = { ...p, offset }
          if (inString && placeholder.json) {
            b.problem(
              `\${json:${p.name}} is inside quotes`,
              'write ${json:NAME} without quotes to insert a JSON value, or ${NAME} inside quotes to insert text',
              [],
              offset,
            )
          } else if (!inString && !placeholder.json) {
            b.problem(
              `\${${p.name}} is outside a JSON string`,
              'put it inside quotes ("${NAME}") to insert text, or write ${json:NAME} to insert a JSON value',
              [],
              offset,
            )
          } else {
            b.slot(placeholder)
            probe.push(inString ? '' : 'null')
          }
        },
      )
      i = end
      literalStart = i
      continue
    }
    if (inString && c === '\\') {
      i += 2
      continue
    }
    if (c === '"') inString = !inString
    i++
  }
  flush(source.length)
  if (b.problems.length === 0) {
    try {
      JSON.parse(probe.join(''))
    } catch (err) {
      b.problem(
        `payloadTemplate is not valid JSON: ${(err as Error).message}`,
        'check quotes, commas and brackets; references go inside quotes ("${NAME}") or as ${json:NAME} values',
        [],
        0,
      )
    }
  }
  return b.result()
}
