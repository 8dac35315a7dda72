// `hookwise run ...` as a child process (node --import tsx controller/cli/main.ts), for tests that
// kill it: its log lines, a wait for a line, its API URL once it says it is running.
import { spawn, type ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

export interface HookwiseProcess {
  child: ChildProcess
  lines: string[]
  /** Resolves with the first log line (parsed) whose msg matches; rejects after timeoutMs or on exit. */
  waitFor(msg: RegExp, timeoutMs?: number): Promise<Record<string, any>>
  /** `http://127.0.0.1:PORT` once "hookwise is running" was logged. */
  url(timeoutMs?: number): Promise<string>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts it in the repository root; `env` defaults to this process's without HOOKWISE_INTAKE_TOKEN. Killed at teardown. */
export function startHookwise(args: string[], t: { teardown(fn: () => unknown): void }, env?: NodeJS.ProcessEnv): HookwiseProcess {
  const childEnv = { ...(env ?? process.env) }
  if (!env) delete childEnv.HOOKWISE_INTAKE_TOKEN
  return startLogged(process.execPath, ['--import', 'tsx', 'controller/cli/main.ts', ...args], t, childEnv)
}

/** Any command whose output is hookwise's log (e.g. `podman run` of the image), watched the same way. */
export function startLogged(
  command: string,
  args: string[],
  t: { teardown(fn: () => unknown): void },
  env: NodeJS.ProcessEnv = process.env,
): HookwiseProcess {
  const child = spawn(command, args, {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  const listeners = new Set<(line: string) => void>()
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  for (const stream of [child.stdout!, child.stderr!]) {
    let rest = ''
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n')
      rest = parts.pop()!
      for (const line of parts) {
        lines.push(line)
        for (const l of listeners) l(line)
      }
    })
  }
  const parse = (line: string): Record<string, any> | undefined => {
    try {
      return JSON.parse(line) as Record<string, any>
    } catch {
      return undefined
    }
  }
  const p: HookwiseProcess = {
    child,
    lines,
    exited,
    waitFor: (msg, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const seen = lines.map(parse).find((l) => l && msg.test(String(l.msg)))
        if (seen) return resolve(seen)
        const timer = setTimeout(
          () => done(new Error(`no log line matching ${msg} in ${timeoutMs} ms:\n${lines.slice(-30).join('\n')}`)),
          timeoutMs,
        )
        const listener = (line: string): void => {
          const l = parse(line)
          if (l && msg.test(String(l.msg))) done(undefined, l)
        }
        const done = (err?: Error, line?: Record<string, any>): void => {
          clearTimeout(timer)
          listeners.delete(listener)
          if (err) reject(err)
          else resolve(line!)
        }
        listeners.add(listener)
        void exited.then(({ code, signal }) =>
          done(new Error(`hookwise exited (${code ?? signal}) before logging ${msg}:\n${lines.slice(-30).join('\n')}`)),
        )
      }),
    url: async (timeoutMs) => String((await p.waitFor(/^hookwise is running$/, timeoutMs)).address),
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
  t.teardown(() => p.kill('SIGKILL'))
  return p
}
