// Structured JSON logs (pino). Secret values cannot reach a log line by construction: hookwise logs
// ids, names, status codes and error messages, never request headers, bodies or Secret data; the
// redaction list below is a second line of defence for fields that must never be printed.
import { pino, type Logger } from 'pino'

export type { Logger }

export const REDACTED_PATHS = [
  'headers.authorization',
  'headers.Authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  'secrets',
  '*.secrets',
  'secret',
  '*.secret',
  'token',
  '*.token',
]

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { name: 'hookwise' },
      redact: { paths: REDACTED_PATHS, censor: '****' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? process.stdout,
  )
}
