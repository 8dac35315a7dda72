// `hookwise run`: starts the controller (app/start-controller.ts) and runs it until SIGINT or SIGTERM.
import { startController, type RunningController, type RunOptions } from '../app/start-controller.js'
import { StandbyStopped } from '../errors.js'
import { createLogger } from '../log.js'
import type { CliIO } from './io.js'

/**
 * Runs until SIGINT or SIGTERM; in-flight attempts finish (or stay pending) before exit. Exits 1
 * when leadership is lost (Kubernetes restarts the pod, which then waits as a standby).
 */
export async function runCommand(options: RunOptions, io: CliIO): Promise<number> {
  const log = createLogger({ level: options.logLevel })
  void io
  const abort = new AbortController()
  let lost: (reason: string) => void = () => {}
  const ended = new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'shutting down')
      abort.abort()
      resolve(0)
    }
    process.once('SIGINT', () => stop('SIGINT'))
    process.once('SIGTERM', () => stop('SIGTERM'))
    lost = () => resolve(1)
  })
  let controller: RunningController
  try {
    controller = await startController(options, log, process.env, { signal: abort.signal, onLostLeadership: (reason) => lost(reason) })
  } catch (err) {
    if (err instanceof StandbyStopped) return 0
    throw err
  }
  const status = await ended
  await controller.stop()
  return status
}
