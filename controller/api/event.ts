// The canonical artifact event: parsing from JSON text and validation against its schema. Pure.
import type { ArtifactEvent } from './types.generated.js'
import type { Diagnostic } from '../errors.js'
import { validators } from './validators.js'
import { schemas } from './schemas.js'
import { schemaDiagnostics } from './schema-errors.js'

/** Events larger than this are refused. */
export const MAX_EVENT_BYTES = 1024 * 1024

export type EventResult = { ok: true; event: ArtifactEvent } | { ok: false; diagnostics: Diagnostic[] }

/** Objects and arrays nested deeper than this are refused: cloning and validating an event recurse, and overflow the stack near 10,000 levels. */
export const MAX_EVENT_DEPTH = 100

/**
 * Whether `value` nests objects or arrays more than `max` levels deep. The recursion stops at `max`
 * levels, so any input is safe to ask about; it allocates nothing (it runs on every event the
 * intake takes).
 */
function nestedDeeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false
  if (max === 0) return true
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (nestedDeeperThan(value[i], max - 1)) return true
    return false
  }
  for (const key in value) if (Object.hasOwn(value, key) && nestedDeeperThan((value as Record<string, unknown>)[key], max - 1)) return true
  return false
}

/**
 * ajv (useDefaults) writes into the value it validates only where the schema has a `default`. The
 * event schema has none and no $ref, so validating an event leaves it as it is and no copy is
 * needed; should a default ever be added, the copy comes back by itself.
 */
const VALIDATION_MAY_CHANGE_EVENT = /"(default|\$ref)"/.test(JSON.stringify(schemas.event))

/**
 * W&B's names for event types where they differ from hookwise's: the backend's wire names, as the
 * wandb SDK sends them (`LINK_MODEL`) and its older alias event. Events bridged from W&B may use
 * them; they are read as hookwise's names.
 */
export const WANDB_EVENT_TYPES: Readonly<Record<string, ArtifactEvent['type']>> = {
  LINK_MODEL: 'LINK_ARTIFACT',
  UPDATE_ARTIFACT_ALIAS: 'ADD_ARTIFACT_ALIAS',
}

/** The event with a W&B wire name of its type replaced by hookwise's (a copy; `value` itself is left as it is). */
function withHookwiseType(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value
  const type = (value as { type?: unknown }).type
  return typeof type === 'string' && Object.hasOwn(WANDB_EVENT_TYPES, type) ? { ...value, type: WANDB_EVENT_TYPES[type] } : value
}

/** Validates one event (already parsed); `file` names its source in diagnostics. Does not change `value`. */
export function validateEvent(raw: unknown, file?: string): EventResult {
  const value = withHookwiseType(raw)
  if (nestedDeeperThan(value, MAX_EVENT_DEPTH)) {
    return {
      ok: false,
      diagnostics: [
        {
          ...(file ? { file } : {}),
          code: 'HW_EVENT_INVALID',
          severity: 'error',
          message: `the event nests objects or arrays more than ${MAX_EVENT_DEPTH} levels deep`,
          hint: 'flatten the metadata',
        },
      ],
    }
  }
  const copy = VALIDATION_MAY_CHANGE_EVENT ? structuredClone(value) : value
  if (validators.ArtifactEvent(copy)) return { ok: true, event: copy as ArtifactEvent }
  const where = file ? { file } : {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return {
      ok: false,
      diagnostics: [
        {
          ...where,
          code: 'HW_EVENT_INVALID',
          severity: 'error',
          message: 'an event must be a JSON object',
          hint: 'send {"type": ..., "entity": ..., "project": ..., "collection": ..., "artifact": {...}}',
        },
      ],
    }
  }
  return { ok: false, diagnostics: schemaDiagnostics(validators.ArtifactEvent.errors ?? [], value, 'HW_EVENT_INVALID', () => where) }
}

/** Parses JSON text into a value, with the line and column of a syntax error. */
export function parseJson(text: string, file?: string): { ok: true; value: unknown } | { ok: false; diagnostics: Diagnostic[] } {
  const where = file ? { file } : {}
  if (Buffer.byteLength(text) > MAX_EVENT_BYTES) {
    return {
      ok: false,
      diagnostics: [
        {
          ...where,
          code: 'HW_FILE_TOO_LARGE',
          severity: 'error',
          message: `event is larger than ${MAX_EVENT_BYTES / 1024} KiB`,
          hint: 'send metadata that fits; large files belong in the artifact, not the event',
        },
      ],
    }
  }
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch (err) {
    const message = (err as Error).message
    const at = /end of JSON input/.test(message) ? ['', String(text.length)] : /position (\d+)/.exec(message)
    let line = 1
    let column = 1
    if (at) {
      const before = text.slice(0, Number(at[1]))
      line = before.split('\n').length
      column = before.length - before.lastIndexOf('\n')
    }
    return {
      ok: false,
      diagnostics: [
        {
          ...where,
          line,
          column,
          code: 'HW_EVENT_JSON',
          severity: 'error',
          message: `not valid JSON: ${message}`,
          hint: 'send one JSON object (or, where a list is accepted, an array of objects)',
        },
      ],
    }
  }
}

/** Parses and validates the text of one event. */
export function parseEvent(text: string, file?: string): EventResult {
  const parsed = parseJson(text, file)
  return parsed.ok ? validateEvent(parsed.value, file) : parsed
}
