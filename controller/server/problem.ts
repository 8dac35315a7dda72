// RFC 9457 problem details: every error the HTTP API returns has this JSON shape.
import type { ServerResponse } from 'node:http'
import type { Diagnostic } from '../errors.js'

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  /** The fields at fault, for 400s. */
  errors?: Array<Pick<Diagnostic, 'code' | 'path' | 'message' | 'hint' | 'line' | 'column'>>
}

export function sendProblem(
  res: ServerResponse,
  status: number,
  title: string,
  detail: string,
  extra: { errors?: Diagnostic[]; headers?: Record<string, string> } = {},
): void {
  const problem: Problem = {
    type: `https://hookwise.dev/problems/${title.toLowerCase().replace(/[^a-z]+/g, '-')}`,
    title,
    status,
    detail,
    ...(extra.errors
      ? {
          errors: extra.errors.map(({ code, path, message, hint, line, column }) => ({
            code,
            message,
            ...(path ? { path } : {}),
            ...(hint ? { hint } : {}),
            ...(line ? { line, column } : {}),
          })),
        }
      : {}),
  }
  sendJson(res, status, problem, { 'Content-Type': 'application/problem+json', ...extra.headers })
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value)
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers })
  res.end(body)
}
