// The composition root: builds a running controller (source of desired state, store, engine,
// sender, API server, and in Kubernetes mode the status writer and leader election) from the
// `hookwise run` options. `cli/run.ts` runs it until a signal; tests and benchmarks start it directly.
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { type AddressInfo, isIP } from 'node:net'
import { randomUUID } from 'node:crypto'
import type { KubeConfig } from '@kubernetes/client-node'
import type { KubernetesController } from '../kubernetes/kubernetes-controller.js'
import type { LeaderElector } from '../kubernetes/leader-election.js'
import { StandbyServer } from '../server/standby-server.js'
import { DeliveryEngine } from '../delivery/engine.js'
import { createBreaker, createRetryDecider } from '../delivery/policies.js'
import { ThreadedSender } from '../delivery/threaded-sender.js'
import { StatusFacts } from '../delivery/status-facts.js'
import { StatusTracker } from '../delivery/status-tracker.js'
import { openStore } from '../delivery/open-store.js'
import { EventSources } from '../delivery/event-sources.js'
import { RunIntake } from '../delivery/run-intake.js'
import { RunWindowStore } from '../delivery/run-windows.js'
import { MAX_WINDOW_VALUES } from '../match/metric-window.js'
import { SourceInbox } from '../delivery/source-inbox.js'
import { MlflowRegistrar } from '../delivery/mlflow-register.js'
import { mapLookup } from '../model/secrets.js'
import { HookwiseError, StandbyStopped, UsageError } from '../errors.js'
import type { Logger } from '../log.js'
import { ApiServer } from '../server/api-server.js'
import { createMetrics } from '../server/metrics.js'
import { statusReport } from '../server/status-report.js'
import type { DesiredState } from '../model/desired-state.js'
import { checkSourceOptions, fileSource, type KubernetesOptions, type RunSource, type SourceOptions } from './run-source.js'

export interface RunOptions extends SourceOptions {
  secrets?: string[]
  state: string
  /** PostgreSQL store URL without a password (else --store-url-file or HOOKWISE_STORE_URL; none: SQLite in `state`). */
  store?: string
  storeUrlFile?: string
  /** ms a replica's claim on a due delivery holds (PostgreSQL; default 30 s). */
  claimLease?: number
  listen: string
  intakeTokenFile?: string
  allowInsecureHttp?: boolean
  egressAllow?: string[]
  logLevel: string
  durability: 'normal' | 'full'
  maxPending: number
  /** Pending deliveries of one webhook beyond which events for it are refused; default half of maxPending. */
  maxPendingPerWebhook?: number
  retentionHours: number
  /** Attempts in flight in all (engine default 128). */
  concurrency?: number
  /** Most attempts in flight per webhook; each adapts below it (engine default: concurrency). */
  perWebhookConcurrency?: number
  /** Most connections open at once to one origin (sender default 16). */
  connectionsPerOrigin?: number
  /** Attempts per delivery for Webhooks without spec.retry (default RETRY_DEFAULTS.maxAttempts). */
  retryMaxAttempts?: number
  /** Milliseconds; longest wait between attempts for Webhooks without spec.retry. */
  retryMaxBackoff?: number
}

export function parseListen(value: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(value)
  const port = m ? Number(m[2]) : NaN
  if (!m || port > 65535)
    throw new UsageError(`--listen ${value} is not HOST:PORT`, 'e.g. --listen 127.0.0.1:8080 or --listen 0.0.0.0:8080')
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
    const tokens = text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
    if (tokens.length === 0) throw new UsageError(`--intake-token-file ${file} holds no token`, 'write one token per line')
    return tokens
  }
  const fromEnv = env.HOOKWISE_INTAKE_TOKEN?.trim()
  return fromEnv ? [fromEnv] : []
}

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'))

export interface RunningController {
  address: { host: string; port: number }
  /** Kubernetes mode: the controller writing status (for tests). */
  kubernetes?: KubernetesController
  stop(): Promise<void>
}

export interface ControllerHooks {
  /** Kubernetes mode: leadership was lost; the controller has stopped delivering and should exit. */
  onLostLeadership?: (reason: string) => void
  /** Aborting while a standby waits for the Lease makes startController reject with StandbyStopped. */
  signal?: AbortSignal
}

/** The leader Lease of this controller; `namespace/name` is also its identity in status.controller. */
function leaseOf(o: KubernetesOptions, env: NodeJS.ProcessEnv): { namespace: string; name: string } {
  return { namespace: o.leaseNamespace ?? env.POD_NAMESPACE ?? o.namespace?.[0] ?? 'default', name: o.leaseName ?? 'hookwise-controller' }
}

/** What Kubernetes mode loads when it starts (kubernetes-mode.ts). */
type KubernetesMode = typeof import('./kubernetes-mode.js')

/**
 * Kubernetes mode with leader election: serves /healthz (and an unready /readyz) on the API address
 * until this replica holds the Lease. Resolves with the elector and the port the standby had.
 */
async function becomeLeader(
  k8s: KubernetesMode,
  kc: KubeConfig,
  o: KubernetesOptions,
  host: string,
  port: number,
  log: Logger,
  env: NodeJS.ProcessEnv,
  tokens: readonly string[],
  signal?: AbortSignal,
): Promise<{ elector: LeaderElector; port: number }> {
  const { namespace, name } = leaseOf(o, env)
  const leaseDurationMs = o.leaseDuration ?? 15_000
  const elector = new k8s.LeaderElector({
    kubeConfig: kc,
    namespace,
    name,
    identity: `${env.POD_NAME ?? hostname()}_${randomUUID().slice(0, 8)}`,
    leaseDurationMs,
    renewDeadlineMs: Math.round((leaseDurationMs * 2) / 3),
    retryPeriodMs: Math.round((leaseDurationMs * 2) / 15),
    log,
    annotations: { [k8s.WATCHES_ANNOTATION]: o.namespace?.length ? o.namespace.join(',') : '*' },
  })
  const standby = new StandbyServer(() => `waiting for Lease ${namespace}/${name}`, tokens)
  let address: AddressInfo
  try {
    address = await standby.listen(host, port)
  } catch (err) {
    throw new HookwiseError('HW_LISTEN_FAILED', `cannot listen on ${host}:${port}: ${(err as Error).message}`, {
      hint: 'choose another --listen address (port 0 picks a free one)',
    })
  }
  const abort = () => void elector.stop()
  signal?.addEventListener('abort', abort, { once: true })
  try {
    log.info({ lease: `${namespace}/${name}`, address: `${address.address}:${address.port}` }, 'waiting to become the leader')
    await elector.acquire()
  } catch (err) {
    if (signal?.aborted) throw new StandbyStopped()
    throw err
  } finally {
    signal?.removeEventListener('abort', abort)
    await standby.close()
  }
  return { elector, port: address.port }
}

/** Starts the controller; resolves once it listens (in Kubernetes mode with leader election: once it leads). */
export async function startController(
  options: RunOptions,
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
  hooks: ControllerHooks = {},
): Promise<RunningController> {
  checkSourceOptions(options)
  const tokens = intakeTokens(options.intakeTokenFile, env)
  let { host, port } = parseListen(options.listen)
  if (tokens.length === 0 && !isLoopback(host)) {
    log.warn({ requested: host }, 'no intake token configured (--intake-token-file or HOOKWISE_INTAKE_TOKEN): listening on 127.0.0.1 only')
    host = '127.0.0.1'
  }
  // Loaded only in Kubernetes mode: the Kubernetes client alone is about 80 MB of resident memory.
  const k8s = options.kubernetes ? await import('./kubernetes-mode.js') : undefined
  const kc = k8s ? k8s.loadKubeConfig(options.kubeconfig, env, options.apiTimeout) : undefined
  let elector: LeaderElector | undefined
  // The cluster is listed and watched from the start: a standby's cache is warm when it takes over.
  const cluster =
    k8s && kc
      ? new k8s.KubernetesSource({ kubeConfig: kc, namespaces: options.namespace ?? [], tenancy: options.tenancy ?? 'none', log })
      : undefined
  const source: RunSource = cluster ?? fileSource(options, log, env)
  if (kc && options.leaderElect !== false) {
    void cluster!
      .synced()
      .then(() =>
        log.info(
          { webhooks: cluster!.objects('Webhook').length, automations: cluster!.objects('Automation').length },
          'cluster listed; the cache stays current while waiting',
        ),
      )
    try {
      ;({ elector, port } = await becomeLeader(k8s!, kc, options, host, port, log, env, tokens, hooks.signal))
    } catch (err) {
      await source.stop()
      throw err
    }
  }
  let opened: Awaited<ReturnType<typeof openStore>>
  try {
    opened = await openStore(options, { durability: options.durability, checkpointIntervalMs: 1000 }, env)
  } catch (err) {
    await source.stop()
    await elector?.stop()
    throw err
  }
  const { store, where } = opened
  const egress = {
    allowInsecureHttp: options.allowInsecureHttp ?? false,
    allow: options.egressAllow ?? [],
    // Set by the Helm chart's Deployment: refusals then name the chart's values.
    ...(process.env.HOOKWISE_HELM_RELEASE ? { helmRelease: process.env.HOOKWISE_HELM_RELEASE } : {}),
  }
  // Requests go out from a thread of their own (a second core for socket work); see threaded-sender.ts.
  const sender = new ThreadedSender({
    egress,
    ...(options.connectionsPerOrigin ? { connectionsPerOrigin: options.connectionsPerOrigin } : {}),
    onThreadError: (err, mainThread) =>
      log.error(
        { err },
        mainThread
          ? 'the sending thread could not start; requests go out from the main thread'
          : 'the sending thread stopped; its requests in flight will be retried from a new one',
      ),
  })
  const tracker = new StatusTracker()
  const metrics = createMetrics()
  const breaker = createBreaker()
  const status = new StatusFacts({ tracker, breaker, egress })
  const engine = new DeliveryEngine({
    store,
    sender,
    retry: createRetryDecider(Math.random, {
      ...(options.retryMaxAttempts ? { maxAttempts: options.retryMaxAttempts } : {}),
      ...(options.retryMaxBackoff ? { maxBackoffSeconds: Math.round(options.retryMaxBackoff / 1000) } : {}),
    }),
    breaker,
    facts: tracker,
    maxPending: options.maxPending,
    // One dead receiver's backlog may take half of the queue at most; the other webhooks keep the rest.
    maxPendingPerWebhook: options.maxPendingPerWebhook ?? Math.ceil(options.maxPending / 2),
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
    ...(options.perWebhookConcurrency ? { perWebhookConcurrency: options.perWebhookConcurrency } : {}),
    onAccepted: (accepted) => {
      if (kubernetes) for (const e of accepted) for (const d of e.deliveries) kubernetes.touched(d.automation)
    },
    onAttempt: (r) => {
      kubernetes?.attempted(r)
      metrics.attempt(r)
      // Successes are the bulk of a busy controller's lines (one per delivery): debug, so the info
      // level logs what needs attention; metrics and history count every success.
      if (r.status === 'succeeded' && !log.isLevelEnabled('debug')) return
      const fields = {
        delivery: r.delivery.id,
        automation: r.delivery.automation,
        webhook: r.delivery.webhook,
        attempt: r.attempt,
        status: r.status,
        statusCode: r.result.statusCode,
        latencyMs: Math.round(r.result.latencyMs),
        error: r.result.error?.code,
      }
      if (r.status === 'failed') log.error(fields, `delivery failed: ${r.result.error?.message ?? `HTTP ${r.result.statusCode}`}`)
      else if (r.status === 'pending') log.warn(fields, 'delivery attempt failed; will retry')
      else log.debug(fields, 'delivered')
    },
    onError: (err) => log.error({ err }, 'delivery engine error'),
    // Once per change, not per attempt: while the disk is full nothing is sent or accepted.
    onStoreProblem: (reason) => {
      if (reason)
        log.error(
          { state: where, reason },
          'the state store cannot be written: nothing is sent and the intake answers 503 until it can (free space on the --state volume; hookwise checks again by itself)',
        )
      else log.info({ state: where }, 'the state store can be written again: delivering')
    },
  })
  let kubernetes: KubernetesController | undefined
  // Made after the status writer, which reads the EventSources' counts from it.
  let sources: EventSources | undefined
  // spec.mlflow.register: the webhooks hookwise keeps in MLflow, brought in step with each state.
  const registrar = new MlflowRegistrar({
    onError: (key, err) =>
      log.warn({ source: key, err: (err as Error).message }, 'event source: registering the webhook in MLflow failed; trying again'),
  })
  const secretsOf = (state: DesiredState) => source.secretLookup ?? mapLookup(state.secrets)
  // Run events (docs/run-events.md): series and cooldowns in <state>/runs.db; what fires goes to the engine.
  const runWindows = new RunWindowStore(options.state, MAX_WINDOW_VALUES)
  const runs = new RunIntake(runWindows, (events, targets) => engine.acceptFired(events, targets))
  const apply = (next: DesiredState, revision?: string): void => {
    const started = performance.now()
    // New events match the new state at once; the cancellations of removed automations are stored after.
    const applied = engine.setState(next)
    runs.setState(next)
    if (source.secretLookup) engine.setSecretLookup(source.secretLookup)
    void registrar.sync(next, secretsOf(next))
    applied.then(
      ({ cancelled }) =>
        log.info(
          {
            webhooks: next.webhooks.size,
            automations: next.automations.length,
            errors: next.diagnostics.filter((d) => d.severity === 'error').length,
            cancelled,
            applyMs: Math.round(performance.now() - started),
            ...(revision ? { revision } : {}),
          },
          'desired state applied',
        ),
      (err) => log.error({ err }, 'applying the desired state to the delivery queue failed'),
    )
  }
  try {
    await engine.opened
    if (cluster) {
      kubernetes = new k8s!.KubernetesController({
        kubeConfig: kc!,
        source: cluster,
        status,
        sender,
        events: new k8s!.EventRecorder({
          kubeConfig: kc!,
          controller: 'hookwise.dev/controller',
          instance: env.POD_NAME ?? hostname(),
          log,
        }),
        log,
        ...(options.statusInterval ? { statusIntervalMs: options.statusInterval } : {}),
        // Replicas of one install share the Lease, so they share the identity; another install's
        // controller is recognised by its own Lease and left alone while it holds it.
        identity: `${leaseOf(options, env).namespace}/${leaseOf(options, env).name}`,
        liveness: new k8s!.ControllerLiveness({ kubeConfig: kc! }),
        eventSources: () => sources,
      })
    }
    await source.start(apply)
    kubernetes?.start()
  } catch (err) {
    await source.stop()
    await kubernetes?.stop()
    await sender.close()
    await store.close()
    await elector?.stop()
    throw err
  }
  // EventSources (MLflow, W&B): their inbox holds what a registry sent until it is an event.
  const inbox = new SourceInbox(options.state)
  sources = new EventSources({
    inbox,
    state: () => source.state,
    secrets: () => secretsOf(source.state),
    registration: (key) => registrar.registration(key),
    accept: (events) => engine.acceptGrouped(events),
    onReceived: (key) => kubernetes?.received(key),
    onError: (key, err) =>
      log.warn({ source: key, err: (err as Error).message }, 'event source: enriching an event failed; it waits and is tried again'),
  })
  const sync = source.sync?.bind(source)
  const server = new ApiServer({
    sources,
    runs,
    engine,
    store,
    tokens,
    status: () => statusReport(kubernetes ? kubernetes.statusInputs() : status.inputs(source.state), store, source.status?.(), sources),
    ...(sync ? { sync } : {}),
    metrics: () => metrics.render(engine, store, breaker),
    onEvents: (accepted, duplicates) => {
      metrics.events(accepted, duplicates)
      log.debug({ accepted, duplicates }, 'events received')
    },
    onError: (err) => log.error({ err }, 'request failed'),
  })
  let address: AddressInfo
  try {
    address = await server.listen(host, port)
  } catch (err) {
    inbox.close()
    runWindows.close()
    await source.stop()
    await kubernetes?.stop()
    await sender.close()
    await store.close()
    await elector?.stop()
    throw new HookwiseError('HW_LISTEN_FAILED', `cannot listen on ${host}:${port}: ${(err as Error).message}`, {
      hint: 'choose another --listen address (port 0 picks a free one)',
    })
  }
  // Known only now (port 0 picks one): a Webhook to this API's own /v1/events would loop, so the
  // sender refuses the address before the first delivery, and status says so.
  const self = [{ host: address.address, port: address.port }]
  sender.refuseSelf(self)
  status.refuseSelf(self)
  engine.start()
  sources.start()
  const retentionMs = options.retentionHours * 3600_000
  const prune = setInterval(() => {
    const now = Date.now()
    // Pruning is a write too: on a full disk it fails (the store health says so, once); next minute again.
    if (engine.storeProblem) return
    Promise.resolve()
      .then(() => store.prune(now - retentionMs, now - Math.max(retentionMs, 24 * 3600_000)))
      .then((pruned) => {
        if (pruned.deliveries || pruned.events) log.info(pruned, 'pruned history')
        inbox.prune(now - Math.max(retentionMs, 24 * 3600_000))
      })
      .catch((err) => log.warn({ err }, 'pruning the history failed; trying again in a minute'))
  }, 60_000)
  prune.unref()
  // A registration that failed (MLflow down, a Secret missing) is tried again; one in step costs nothing.
  const reregister = setInterval(() => void registrar.sync(source.state, secretsOf(source.state)), 30_000)
  reregister.unref()
  log.info(
    {
      address: `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`,
      state: where,
      auth: tokens.length > 0,
    },
    'hookwise is running',
  )
  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      clearInterval(prune)
      clearInterval(reregister)
      // Deliveries stop at once, while the intake closes and before the source (which may wait on
      // the API server for final status writes): a replica that lost its Lease must not deliver
      // meanwhile, as the new leader may already deliver from the same queue.
      const delivering = engine.stop()
      await server.close()
      await sources.stop()
      inbox.close()
      runWindows.close()
      await delivering
      await source.stop()
      await kubernetes?.stop()
      await sender.close()
      await store.close()
      // The Lease goes last: a standby opens the queue only after this replica has closed it.
      await elector?.stop()
      log.info('stopped')
    })())
  elector?.onLost((reason) => {
    log.error({ reason }, 'lost leadership; stopping (a standby takes over)')
    void stop().then(() => hooks.onLostLeadership?.(reason))
  })
  return {
    address: { host: address.address, port: address.port },
    ...(kubernetes ? { kubernetes } : {}),
    stop,
  }
}
