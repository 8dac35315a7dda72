// What a failed @kubernetes/client-node call says, in one line: the HTTP status and the API
// server's own message (a metav1.Status), or the network error when there was no response.

/** The HTTP status of a failed call (404, 409, 403, ...), or undefined when there was no response. */
export function apiStatusCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'number' ? code : undefined
}

const PLAIN_REASONS: Record<number, string> = { 401: 'unauthorized', 403: 'forbidden', 404: 'not found', 409: 'conflict' }

/** `forbidden (403): User "x" cannot get resource "leases" ...`, or the network error's message. */
export function apiErrorMessage(err: unknown): string {
  const code = apiStatusCode(err)
  // node-fetch's AbortError says "The user aborted a request."; here only the timeout aborts.
  if (code === undefined && err instanceof Error && err.name === 'AbortError')
    return 'no answer from the API server within the request timeout (--api-timeout)'
  if (code === undefined) return err instanceof Error ? err.message : String(err)
  const body = (err as { body?: unknown }).body
  let status: { reason?: string; message?: string } | undefined
  if (typeof body === 'string') {
    try {
      status = JSON.parse(body) as typeof status
    } catch {
      status = { message: body.trim().slice(0, 300) }
    }
  } else if (body && typeof body === 'object') status = body as typeof status
  const reason = status?.reason ? status.reason.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase() : (PLAIN_REASONS[code] ?? 'error')
  return `${reason} (${code})${status?.message ? `: ${status.message}` : ''}`
}
