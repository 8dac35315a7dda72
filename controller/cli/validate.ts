import { loadDesiredState } from '../sources/load.js'
import { formatDiagnostics, summary, type DiagnosticsFormat } from './diagnostics-format.js'
import type { CliIO } from './io.js'

/** `hookwise validate PATH...`: 0 when valid, 1 when not. */
export async function validateCommand(paths: string[], options: { format: DiagnosticsFormat; secrets?: string[] }, io: CliIO): Promise<number> {
  const state = await loadDesiredState({ manifests: paths, secrets: options.secrets ?? [] })
  const counts = {
    files: state.files.length,
    webhooks: state.webhooks.size,
    automations: state.automations.length,
    secrets: state.secrets.size,
  }
  const text = formatDiagnostics(state.diagnostics, options.format, { objects: counts })
  if (text) io.out(`${text}\n`)
  return summary(state.diagnostics).errors === 0 ? 0 : 1
}
