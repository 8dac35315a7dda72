// `hookwise run --dir DIR`: the embedded controller. Follows a folder of manifests, takes events
// over HTTP, and delivers them durably from the SQLite outbox under --state.
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { DeliveryEngine } from '../delivery/engine.js'
import { createBreaker, createRetryDecider } from '../delivery/policies.js'
import { UndiciSender } from '../delivery/sender.js'
import { StatusTracker } from '../delivery/status-tracker.js'
import { Store } from '../delivery/store.js'
import { HookwiseError, UsageError } from '../errors.js'
import { createLogger, type Logger } from '../log.js'
import { ApiServer } from '../server/api-server.js'
import { createMetrics } from '../server/metrics.js'
import { statusReport } from '../server/status-report.js'
import type { LoadedState } from '../sources/load.js'
import { formatText } from './diagnostics-format.js'
import type { CliIO } from './io.js'
import { checkSourceOptions, startSource, type RunSource, type SourceOptions } from './run-source.js'

export interface RunOptions extends SourceOptions {
  secrets?: string[]
  state: string
  listen: string
  intakeTokenFile?: string
  allowInsecureHttp?: boolean
  egressAllow?: string[]
  logLevel: string
  durability: 'normal' | 'full'
  maxPending: number
  retentionHours: number
  /** Attempts in flight in all (engine default 128). */
  concurrency?: number
  /** Attempts in flight per webhook (engine default 8). */
  perWebhookConcurrency?: number
  /** Most connections open at once to one origin (sender default 16). */
  connectionsPerOrigin?: number
}

export function parseListen(value: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(value)
  const port = m ? Number(m[2]) : NaN
  if (!m || port > 65535) throw new UsageError(`--listen ${value} is not HOST:PORT`, 'e.g. --listen 127.0.0.1:8080 or --listen 0.0.0.0:8080')
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port }
}

function intakeTokens(file: string | undefined, env: NodeJS.ProcessEnv): string[] {
  if (file) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      throw new UsageError(`--intake-token-file ${file} cannot be read`)
    }
    const tokens = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    if (tokens.length === 0) throw new UsageError(`--intake-token-file ${file} holds no token`, 'write one token per line')
    return tokens
  }
  const fromEnv = env.HOOKWISE_INTAKE_TOKEN?.trim()
  return fromEnv ? [fromEnv] : []
}

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'))

export interface RunningController {
  address: { host: string; port: number }
  stop(): Promise<void>
}

/** Starts the controller; resolves once it listens. */
export async function startController(options: RunOptions, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<RunningController> {
  checkSourceOptions(options)
  const tokens = intakeTokens(options.intakeTokenFile, env)
  let { host, port } = parseListen(options.listen)
  if (tokens.length === 0 && !isLoopback(host)) {
    log.warn({ requested: host }, 'no intake token configured (--intake-token-file or HOOKWISE_INTAKE_TOKEN): listening on 127.0.0.1 only')
    host = '127.0.0.1'
  }
  const store = new Store(options.state, { durability: options.durability, checkpointIntervalMs: 1000 })
  const sender = new UndiciSender({
    egress: { allowInsecureHttp: options.allowInsecureHttp ?? false, allow: options.egressAllow ?? [] },
    ...(options.connectionsPerOrigin ? { connectionsPerOrigin: options.connectionsPerOrigin } : {}),
  })
  const tracker = new StatusTracker()
  const metrics = createMetrics()
  const breaker = createBreaker()
  const engine = new DeliveryEngine({
    store,
    sender,
    retry: createRetryDecider(),
    breaker,
    maxPending: options.maxPending,
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
    ...(options.perWebhookConcurrency ? { perWebhookConcurrency: options.perWebhookConcurrency } : {}),
    onAccepted: (accepted) => tracker.accepted(accepted, Date.now()),
    onAttempt: (r) => {
      tracker.attempted(r, Date.now())
      metrics.attempt(r)
      const fields = { delivery: r.delivery.id, automation: r.delivery.automation, webhook: r.delivery.webhook, attempt: r.attempt, status: r.status, statusCode: r.result.statusCode, latencyMs: Math.round(r.result.latencyMs), error: r.result.error?.code }
      if (r.status === 'failed') log.error(fields, `delivery failed: ${r.result.error?.message ?? `HTTP ${r.result.statusCode}`}`)
      else if (r.status === 'pending') log.warn(fields, 'delivery attempt failed; will retry')
      // Successes are the bulk of a busy controller's lines (one per delivery): debug, so the info
      // level logs what needs attention; metrics and history count every success.
      else log.debug(fields, 'delivered')
    },
    onError: (err) => log.error({ err }, 'delivery engine error'),
  })
  let state: LoadedState | undefined
  const apply = (next: LoadedState, revision?: string): void => {
    state = next
    for (const d of next.diagnostics) (d.severity === 'error' ? log.error.bind(log) : log.warn.bind(log))({ code: d.code, file: d.file, line: d.line, object: d.object }, formatText(d))
    const { cancelled } = engine.setState(next)
    log.info({ webhooks: next.webhooks.size, automations: next.automations.length, errors: next.diagnostics.filter((d) => d.severity === 'error').length, cancelled, ...(revision ? { revision } : {}) }, 'desired state applied')
  }
  let watch: RunSource
  try {
    watch = await startSource(options, apply, log, env)
  } catch (err) {
    await sender.close()
    store.close()
    throw err
  }
  const server = new ApiServer({
    engine,
    store,
    tokens,
    status: () => statusReport(state!, tracker, store, watch.status?.()),
    ...(watch.sync ? { sync: watch.sync } : {}),
    metrics: () => metrics.render(engine, store, breaker),
    onEvents: (accepted, duplicates) => {
      metrics.events(accepted, duplicates)
      log.debug({ accepted, duplicates }, 'events received')
    },
    onError: (err) => log.error({ err }, 'request failed'),
  })
  let address
  try {
    address = await server.listen(host, port)
  } catch (err) {
    await watch.close()
    await sender.close()
    store.close()
    throw new HookwiseError('HW_LISTEN_FAILED', `cannot listen on ${host}:${port}: ${(err as Error).message}`, { hint: 'choose another --listen address (port 0 picks a free one)' })
  }
  engine.start()
  const retentionMs = options.retentionHours * 3600_000
  const prune = setInterval(() => {
    const now = Date.now()
    const pruned = store.prune(now - retentionMs, now - Math.max(retentionMs, 24 * 3600_000))
    if (pruned.deliveries || pruned.events) log.info(pruned, 'pruned history')
  }, 60_000)
  prune.unref()
  log.info({ address: `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`, state: store.path, auth: tokens.length > 0 }, 'hookwise is running')
  return {
    address: { host: address.address, port: address.port },
    stop: async () => {
      clearInterval(prune)
      await server.close()
      await watch.close()
      await engine.stop()
      await sender.close()
      store.close()
      log.info('stopped')
    },
  }
}

/** Runs until SIGINT or SIGTERM; in-flight attempts finish (or stay pending) before exit. */
export async function runCommand(options: RunOptions, io: CliIO): Promise<number> {
  const log = createLogger({ level: options.logLevel })
  void io
  const controller = await startController(options, log)
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'shutting down')
      resolve()
    }
    process.once('SIGINT', () => stop('SIGINT'))
    process.once('SIGTERM', () => stop('SIGTERM'))
  })
  await controller.stop()
  return 0
}
