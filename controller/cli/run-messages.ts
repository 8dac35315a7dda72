// A file of run messages (one message or a list), as `emit --run` sends and `match --run` previews.
import { parseJson } from '../api/event.js'
import { validateRunMessage } from '../api/run-message.js'
import type { RunMessage } from '../api/types.generated.js'
import { formatText } from '../errors.js'
import { readInput, type CliIO } from './io.js'

/** The file's messages, validated; undefined (after printing the problems on standard error) when it has any. */
export async function readRunMessages(file: string, io: CliIO): Promise<RunMessage[] | undefined> {
  const parsed = parseJson(await readInput(file, io), file)
  if (!parsed.ok) {
    io.err(`${parsed.diagnostics.map(formatText).join('\n')}\n`)
    return undefined
  }
  const values = Array.isArray(parsed.value) ? parsed.value : [parsed.value]
  const problems = values.flatMap((v, i) => {
    const r = validateRunMessage(v, file)
    return r.ok ? [] : r.diagnostics.map((d) => (Array.isArray(parsed.value) ? { ...d, path: `[${i}]${d.path ? `.${d.path}` : ''}` } : d))
  })
  if (problems.length) {
    io.err(`${problems.map(formatText).join('\n')}\n`)
    return undefined
  }
  return values as RunMessage[]
}
