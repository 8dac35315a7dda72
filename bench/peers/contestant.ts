// What bench/peers.bench.ts needs of each side it compares: a process (or none, for the plain
// loop) that takes events over HTTP and delivers each as one POST to the benchmark's receiver, and
// that can be killed with SIGKILL and started again on the same state.
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import type { Pool } from 'undici'

export interface Contestant {
  /** Row name in the table, e.g. `hookwise --dir`. */
  name: string
  /** Where events go (the plain loop: the receiver itself). */
  url: string
  /** Processes whose CPU and memory count for this side: `self` is its own process. */
  pids(): { self?: number; apiserver?: number; etcd?: number }
  /** Sends event `phase-i`, sent at `sentAt`; resolves once accepted (a 2xx), throws otherwise. */
  post(pool: Pool, phase: string, i: number, sentAt: number): Promise<void>
  /** kill -9 */
  kill(): Promise<void>
  /** Starts the process again on the same state and ports; resolves when it takes events. */
  restart(): Promise<void>
  stop(): Promise<void>
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer()
    s.once('error', fail)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => ok(port))
    })
  })
}

/** A child process that can be killed and started again with the same command; its output is discarded unless BENCH_SHOW_LOG. */
export class Child {
  child: ChildProcess | undefined
  private tail = ''

  constructor(
    private readonly what: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly track: (child: ChildProcess) => void,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid
  }

  start(): void {
    const child = spawn(this.command, this.args, {
      env: this.env,
      stdio: ['ignore', process.env.BENCH_SHOW_LOG ? 'inherit' : 'ignore', 'pipe'],
    })
    // Only the end of stderr is kept, to explain an early exit.
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      if (process.env.BENCH_SHOW_LOG) process.stderr.write(chunk)
      this.tail = (this.tail + chunk).slice(-4000)
    })
    this.track(child)
    this.child = child
  }

  /** Throws when the process has exited (with the end of its stderr). */
  check(): void {
    const c = this.child
    if (c && (c.exitCode !== null || c.signalCode !== null))
      throw new Error(`${this.what} exited (${c.signalCode ?? c.exitCode}):\n${this.tail.trim().split('\n').slice(-15).join('\n')}`)
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL', graceMs = 15_000): Promise<void> {
    const c = this.child
    if (!c || c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise((r) => c.once('exit', r))
    c.kill(signal)
    if (await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)])) return
    c.kill('SIGKILL')
    await exited
  }
}
