// `hookwise listen --json` as a real child process on 127.0.0.1:0; killed when the test ends.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { ReceivedWebhook } from '../../controller/cli/listen.js'
import type { TapTest } from './cli.js'

export interface Listener {
  /** `http://127.0.0.1:PORT`. */
  url: string
  child: ChildProcess
  /** Webhooks printed so far, parsed. */
  received: ReceivedWebhook[]
  /** Resolves once `count` webhooks have been printed. */
  waitFor(count: number): Promise<ReceivedWebhook[]>
  stderr(): string
}

/** Starts `hookwise listen --port 0 --json ARGS...` and waits for its `listening on` line. */
export async function startListen(t: TapTest, args: string[] = []): Promise<Listener> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'controller/cli/main.ts', 'listen', '--port', '0', '--json', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => stopChild(child))
  let stderr = ''
  let stdout = ''
  const received: ReceivedWebhook[] = []
  const waiters: Array<() => void> = []
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    for (let nl = stdout.indexOf('\n'); nl >= 0; nl = stdout.indexOf('\n')) {
      received.push(JSON.parse(stdout.slice(0, nl)) as ReceivedWebhook)
      stdout = stdout.slice(nl + 1)
    }
    for (const w of waiters.splice(0)) w()
  })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hookwise listen did not start: ${stderr}`)), 20_000)
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    child.once('exit', (code) => reject(new Error(`hookwise listen exited with ${code}: ${stderr}`)))
  })
  const waitFor = async (count: number): Promise<ReceivedWebhook[]> => {
    const deadline = Date.now() + 10_000
    while (received.length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} webhooks, got ${received.length}; stderr: ${stderr}`)
      await new Promise<void>((resolve) => {
        waiters.push(resolve)
        setTimeout(resolve, 200)
      })
    }
    return received.slice(0, count)
  }
  return { url, child, received, waitFor, stderr: () => stderr }
}

/** SIGTERM, then SIGKILL if the process is still there after 5 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}
