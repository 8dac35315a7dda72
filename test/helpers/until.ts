// Waiting in tests for something a real component does in its own time (a delivery arriving, a
// status written, a process stopped): poll, and on timeout fail with what was awaited.

/**
 * Polls `check` every `everyMs` until it returns a value other than undefined or false, and
 * returns that value. A check that throws is tried again. After `timeoutMs` it fails with `what`
 * and the last value or error seen.
 */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const end = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined && v !== false) return v
      last = v
    } catch (err) {
      last = err
    }
    if (Date.now() > end)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`,
      )
    await new Promise((r) => setTimeout(r, everyMs))
  }
}
