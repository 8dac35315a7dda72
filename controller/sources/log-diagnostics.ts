// Logs the errors and warnings of manifests read from files (folder and git sources): outside
// Kubernetes there is no object status to carry them, so the log is where an operator sees them.
import { formatText } from '../errors.js'
import type { Logger } from '../log.js'
import type { DesiredState } from '../model/desired-state.js'

export function logDiagnostics(state: DesiredState, log: Logger): void {
  for (const d of state.diagnostics)
    (d.severity === 'error' ? log.error.bind(log) : log.warn.bind(log))(
      { code: d.code, file: d.file, line: d.line, object: d.object },
      formatText(d),
    )
}
