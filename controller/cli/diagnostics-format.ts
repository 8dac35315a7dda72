// Prints diagnostics for people (text), for programs (json) and for GitHub Actions annotations.
import { formatText, type Diagnostic } from '../errors.js'

export type DiagnosticsFormat = 'text' | 'json' | 'github'
export const DIAGNOSTICS_FORMATS: readonly DiagnosticsFormat[] = ['text', 'json', 'github']

// GitHub workflow commands: data escapes %, CR, LF; property values also : and ,.
const escapeData = (s: string): string => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
const escapeProperty = (s: string): string => escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C')

export function formatGithub(d: Diagnostic): string {
  const props = [
    d.file && `file=${escapeProperty(d.file)}`,
    d.line && `line=${d.line}`,
    d.column && `col=${d.column}`,
    `title=${escapeProperty(d.code)}`,
  ]
    .filter(Boolean)
    .join(',')
  const where = [d.object, d.path].filter(Boolean).join(': ')
  return `::${d.severity} ${props}::${escapeData(`${where ? `${where}: ` : ''}${d.message}${d.hint ? ` (${d.hint})` : ''}`)}`
}

export function summary(diagnostics: readonly Diagnostic[]): { errors: number; warnings: number } {
  const errors = diagnostics.filter((d) => d.severity === 'error').length
  return { errors, warnings: diagnostics.length - errors }
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`

export function formatDiagnostics(
  diagnostics: readonly Diagnostic[],
  format: DiagnosticsFormat,
  extra: Record<string, unknown> = {},
): string {
  const { errors, warnings } = summary(diagnostics)
  if (format === 'json') return JSON.stringify({ valid: errors === 0, errors, warnings, ...extra, diagnostics }, null, 2)
  const lines = diagnostics.map(format === 'github' ? formatGithub : formatText)
  if (format === 'text')
    lines.push(
      errors === 0
        ? `valid${warnings ? ` (${plural(warnings, 'warning')})` : ''}`
        : `invalid: ${plural(errors, 'error')}${warnings ? `, ${plural(warnings, 'warning')}` : ''}`,
    )
  return lines.join('\n')
}
