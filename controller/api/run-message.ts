// What POST /v1/runs and `hookwise emit --run` take: run metric points and state changes
// (run.schema.json), validated one message at a time. Pure.
import type { Diagnostic } from '../errors.js'
import { MAX_EVENT_DEPTH } from './event.js'
import { schemaDiagnostics } from './schema-errors.js'
import type { RunMessage } from './types.generated.js'
import { validators } from './validators.js'

export type RunMessageResult = { ok: true; message: RunMessage } | { ok: false; diagnostics: Diagnostic[] }

const invalid = (message: string, hint: string, file?: string): RunMessageResult => ({
  ok: false,
  diagnostics: [{ ...(file ? { file } : {}), code: 'HW_EVENT_INVALID', severity: 'error', message, hint }],
})

function deeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false
  if (max === 0) return true
  for (const v of Object.values(value)) if (deeperThan(v, max - 1)) return true
  return false
}

/** Validates one run message (already parsed); `file` names its source in diagnostics. */
export function validateRunMessage(value: unknown, file?: string): RunMessageResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return invalid(
      'a run message must be a JSON object',
      'send {"run": {"id", "entity", "project"}, "step": 3, "metrics": {"val_loss": 0.4}}',
      file,
    )
  if (deeperThan(value, MAX_EVENT_DEPTH))
    return invalid(`the run message nests objects or arrays more than ${MAX_EVENT_DEPTH} levels deep`, 'flatten the run config', file)
  if (!validators.RunMessage(value))
    return {
      ok: false,
      diagnostics: schemaDiagnostics(validators.RunMessage.errors ?? [], value, 'HW_EVENT_INVALID', () => (file ? { file } : {})),
    }
  const m = value as RunMessage
  if (m.metrics === undefined && m.state === undefined)
    return invalid('a run message needs metrics, a state, or both', 'add "metrics": {"val_loss": 0.4} or "state": "FAILED"', file)
  return { ok: true, message: m }
}
