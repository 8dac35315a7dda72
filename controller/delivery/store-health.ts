// Whether the state store can be written. When a write fails because the disk is full or failing
// (SQLITE_FULL, SQLITE_IOERR, read-only), the engine stops sending (an attempt it cannot record
// would be sent again at once, and again: the outbox is the truth) and the intake refuses events,
// until a probe write succeeds; probes back off from 1 s to 30 s. Told once per change, not per write.
import { HookwiseError } from '../errors.js'

const FIRST_PROBE_MS = 1_000
const MAX_PROBE_MS = 30_000

/** Why a failed write means the store cannot be written ("SQLITE_FULL: database or disk is full"); undefined for other errors. */
export function storageFailure(err: unknown): string | undefined {
  if (err instanceof HookwiseError) return undefined
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code !== 'string') return undefined
  if (/^SQLITE_(FULL|IOERR|READONLY)/.test(code) || /^(ENOSPC|EDQUOT|EROFS|EIO)$/.test(code)) return `${code}: ${(err as Error).message}`
  return undefined
}

export interface StoreHealthOptions {
  /** A write that needs free space on the store's disk; throws while there is none. */
  probe: () => void | Promise<void>
  /** Told when the store stops (reason) or starts again (undefined) being writable. */
  onChange?: (reason: string | undefined) => void
  /** Called once the store can be written again (the engine reads its outbox again). */
  resumed: () => void
}

export class StoreHealth {
  /** Why the store cannot be written; undefined while it can. */
  problem: string | undefined
  private timer: NodeJS.Timeout | undefined
  private waitMs = FIRST_PROBE_MS

  constructor(private readonly o: StoreHealthOptions) {}

  get writable(): boolean {
    return this.problem === undefined
  }

  /**
   * Looks at an error a write threw: true when it says the store cannot be written (the health
   * turns unwritable, once, and probing starts); false for any other error, left to the caller.
   */
  failed(err: unknown): boolean {
    const why = storageFailure(err)
    if (why === undefined) return false
    if (this.problem !== undefined) return true
    this.problem = why
    this.waitMs = FIRST_PROBE_MS
    this.o.onChange?.(why)
    this.schedule()
    return true
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
  }

  private schedule(): void {
    this.timer = setTimeout(() => void this.probe(), this.waitMs)
    this.timer.unref()
  }

  private async probe(): Promise<void> {
    this.timer = undefined
    try {
      await this.o.probe()
    } catch {
      // Still unwritable, whatever the probe threw (it runs from a timer: nothing to throw to).
      this.waitMs = Math.min(this.waitMs * 2, MAX_PROBE_MS)
      this.schedule()
      return
    }
    this.problem = undefined
    this.o.onChange?.(undefined)
    this.o.resumed()
  }
}
