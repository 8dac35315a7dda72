// Starts the benchmarks' receiver (bench/delivery-receiver.ts) as a child process and talks to it
// over IPC: its port, and per phase the requests it counted. A module of its own because importing
// delivery-receiver.ts would start its server in the importing process.
import { fork, type ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { PhaseStats, ReceiverRequest } from './delivery-receiver.js'

export interface ReceiverHandle {
  port: number
  pid: number | undefined
  /** Answers once `n` requests of `phase` arrived. */
  wait(phase: string, n: number, timeoutMs: number): Promise<PhaseStats>
  stats(phase: string): Promise<PhaseStats>
  /** While refused, the phase's requests are answered 503 and not counted. */
  refuse(phase: string, refuse: boolean): Promise<PhaseStats>
}

/** Forks the receiver; `track` gets the child at once, so the caller can kill it whatever happens next. */
export async function startReceiver(track: (child: ChildProcess) => void): Promise<ReceiverHandle> {
  const child = fork(join(dirname(fileURLToPath(import.meta.url)), 'delivery-receiver.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  track(child)
  const replies = new Map<number, (s: PhaseStats) => void>()
  let ref = 0
  const port = await new Promise<number>((ok, fail) => {
    child.once('exit', (code) => fail(new Error(`the receiver exited (${code}) before listening`)))
    child.on('message', (m: { ready?: boolean; port?: number; ref?: number; stats?: PhaseStats }) => {
      if (m.ready) ok(m.port!)
      else if (m.ref !== undefined) {
        replies.get(m.ref)?.(m.stats!)
        replies.delete(m.ref)
      }
    })
  })
  const ask = (req: Omit<ReceiverRequest, 'ref'>, timeoutMs = 10_000): Promise<PhaseStats> =>
    new Promise((ok, fail) => {
      const r = ++ref
      const timer = setTimeout(() => {
        replies.delete(r)
        fail(new Error(`receiver: no answer to ${JSON.stringify(req)} within ${timeoutMs} ms`))
      }, timeoutMs)
      replies.set(r, (s) => {
        clearTimeout(timer)
        ok(s)
      })
      child.send({ ...req, ref: r })
    })
  return {
    port,
    pid: child.pid,
    wait: (phase, n, timeoutMs) => ask({ op: 'wait', phase, n }, timeoutMs),
    stats: (phase) => ask({ op: 'stats', phase }),
    refuse: (phase, refuse) => ask({ op: 'refuse', phase, refuse }),
  }
}
