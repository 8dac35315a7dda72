// Leader election with a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: one
// replica holds the Lease and renews it every retryPeriod; the others read it every retryPeriod and
// take it over once it has gone unrenewed for leaseDuration. Expiry is judged by this replica's
// clock from when it saw the Lease last change (client-go's observedTime), never by comparing
// renewTime with the local clock, so clock skew between nodes cannot make a standby take over
// early. Every write carries the resourceVersion read, so two standbys cannot both win.
//
// RBAC: get, create and update on leases (coordination.k8s.io) in the Lease's namespace.
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node'
import { HookwiseError } from '../errors.js'
import type { Logger } from '../log.js'
import { apiErrorMessage, apiStatusCode } from './api-error.js'

export interface LeaderElectionOptions {
  kubeConfig: KubeConfig
  /** Where the Lease lives. */
  namespace: string
  /** Lease name, e.g. `hookwise-controller`. */
  name: string
  /** This replica, unique among replicas, e.g. `${hostname}_${randomUUID().slice(0, 8)}`. */
  identity: string
  /** How long a Lease stays valid after its last renewal (written rounded up to whole seconds). Default 15000. */
  leaseDurationMs?: number
  /** The leader gives up if it could not renew for this long; must be shorter than leaseDurationMs. Default 10000. */
  renewDeadlineMs?: number
  /** How often the leader renews and a standby tries to acquire. Default 2000. */
  retryPeriodMs?: number
  log: Logger
  now?: () => number
  /** Annotations kept on the Lease while this replica holds it (what `hookwise check` reads: the namespaces watched). */
  annotations?: Record<string, string>
}

/** On a hookwise controller's Lease: the namespaces it watches, comma-separated, or `*` for all (read by `hookwise check`). */
export const WATCHES_ANNOTATION = 'hookwise.dev/watches'

export const LEADER_ELECTION_DEFAULTS = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 } as const

/** Up to this fraction is added at random to the wait between acquire attempts, so standbys do not move in step. */
const JITTER = 0.2
/** A failure that repeats with the same message is logged again at most this often. */
const RELOG_MS = 60_000

export class LeaderElector {
  private readonly o: Required<Omit<LeaderElectionOptions, 'kubeConfig'>>
  private readonly api: CoordinationV1Api
  private readonly where: string
  /** The Lease as last read or written. */
  private lease: V1Lease | undefined
  /** Its spec as JSON, and when (this replica's clock) it was first seen like that. */
  private observed: { spec: string; at: number } | undefined
  private leader = false
  private stopped = false
  private lost: string | undefined
  private readonly lostCallbacks: Array<(reason: string) => void> = []
  private timer: NodeJS.Timeout | undefined
  private deadline: NodeJS.Timeout | undefined
  private inflight: Promise<unknown> = Promise.resolve()
  private lastFailure: { message: string; loggedAt: number } | undefined
  private cancelAcquire: ((err: Error) => void) | undefined

  constructor(o: LeaderElectionOptions) {
    const { kubeConfig, ...rest } = o
    this.o = { ...LEADER_ELECTION_DEFAULTS, now: Date.now, annotations: {}, ...rest } as Required<Omit<LeaderElectionOptions, 'kubeConfig'>>
    const { leaseDurationMs: lease, renewDeadlineMs: renew, retryPeriodMs: retry } = this.o
    if (!(retry > 0 && retry * (1 + JITTER) < renew && renew < lease)) {
      throw new HookwiseError(
        'HW_USAGE',
        `leader election needs retry period × ${1 + JITTER} < renew deadline < lease duration; got ${retry} ms, ${renew} ms, ${lease} ms`,
        {
          hint: 'keep the defaults (2 s, 10 s, 15 s) or scale all three together',
        },
      )
    }
    this.api = kubeConfig.makeApiClient(CoordinationV1Api)
    this.where = `${this.o.namespace}/${this.o.name}`
  }

  get isLeader(): boolean {
    return this.leader
  }

  /** Resolves once this replica holds the Lease (tries every retryPeriod until then). Rejects (AbortError) only if stop() is called first. */
  acquire(): Promise<void> {
    if (this.leader) return Promise.resolve()
    return new Promise((resolve, reject) => {
      if (this.stopped) return reject(stoppedError())
      this.cancelAcquire = reject
      const attempt = () => {
        const round = this.tryAcquireOrRenew()
        this.inflight = round
        void round.then((ok) => {
          // stop() during a round that won: lead just long enough for stop() to release the Lease.
          if (this.stopped) {
            if (ok && this.lost === undefined) this.leader = true
            return
          }
          if (!ok) {
            this.timer = setTimeout(attempt, this.o.retryPeriodMs * (1 + Math.random() * JITTER))
            return
          }
          this.cancelAcquire = undefined
          this.leader = true
          const spec = this.lease?.spec
          this.o.log.info(
            { lease: this.where, identity: this.o.identity, leaseTransitions: spec?.leaseTransitions ?? 0 },
            `became leader: acquired Lease ${this.where}`,
          )
          this.armDeadline()
          this.timer = setTimeout(() => this.renew(), this.o.retryPeriodMs)
          resolve()
        })
      }
      attempt()
    })
  }

  /** Called once if leadership is lost after acquire(): renewal failed past renewDeadline, or another holder took the Lease. */
  onLost(cb: (reason: string) => void): void {
    if (this.lost !== undefined) {
      const reason = this.lost
      queueMicrotask(() => cb(reason))
    } else this.lostCallbacks.push(cb)
  }

  /** Stops renewing and acquiring; if leader, releases the Lease (holder cleared) so a standby takes over at once. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    clearTimeout(this.timer)
    clearTimeout(this.deadline)
    this.cancelAcquire?.(stoppedError())
    await this.inflight
    if (!this.leader) return
    this.leader = false
    await this.release()
  }

  private renew(): void {
    const round = this.tryAcquireOrRenew()
    this.inflight = round
    void round.then((ok) => {
      if (this.stopped || !this.leader) return
      if (ok) this.armDeadline()
      this.timer = setTimeout(() => this.renew(), this.o.retryPeriodMs)
    })
  }

  /** A timer rather than a check after each attempt: a request that hangs must not keep a stale leader leading. */
  private armDeadline(): void {
    clearTimeout(this.deadline)
    this.deadline = setTimeout(
      () =>
        this.lose(
          `could not renew the Lease for ${this.o.renewDeadlineMs} ms (${this.lastFailure?.message ?? 'no answer from the API server'})`,
        ),
      this.o.renewDeadlineMs,
    )
  }

  private lose(reason: string): void {
    if (!this.leader || this.stopped) return
    this.leader = false
    this.stopped = true
    this.lost = reason
    clearTimeout(this.timer)
    clearTimeout(this.deadline)
    this.o.log.info({ lease: this.where, identity: this.o.identity }, `lost leadership of Lease ${this.where}: ${reason}`)
    for (const cb of this.lostCallbacks.splice(0)) cb(reason)
  }

  /** One round: true when this replica holds the Lease afterwards. Never throws. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.o.now()
    const durationSeconds = Math.ceil(this.o.leaseDurationMs / 1000)
    // The leader's fast path: write the Lease it last wrote; a conflict means it changed, so read it.
    if (this.leader && this.lease) {
      try {
        const lease = this.lease
        this.written(
          await this.api.replaceNamespacedLease({
            namespace: this.o.namespace,
            name: this.o.name,
            body: {
              ...lease,
              metadata: this.annotated(lease.metadata),
              spec: { ...lease.spec, holderIdentity: this.o.identity, leaseDurationSeconds: durationSeconds, renewTime: micro(now) },
            },
          }),
          now,
        )
        return true
      } catch (err) {
        if (apiStatusCode(err) !== 409) return this.failed('update', err)
      }
    }

    let current: V1Lease
    try {
      current = await this.api.readNamespacedLease({ namespace: this.o.namespace, name: this.o.name })
    } catch (err) {
      if (apiStatusCode(err) !== 404) return this.failed('get', err)
      const spec: V1LeaseSpec = {
        holderIdentity: this.o.identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime: micro(now),
        renewTime: micro(now),
        leaseTransitions: 0,
      }
      try {
        this.written(
          await this.api.createNamespacedLease({
            namespace: this.o.namespace,
            body: {
              apiVersion: 'coordination.k8s.io/v1',
              kind: 'Lease',
              metadata: this.annotated({ name: this.o.name, namespace: this.o.namespace }),
              spec,
            },
          }),
          now,
        )
        return true
      } catch (err) {
        // 409: another replica created it first; read it next round.
        return apiStatusCode(err) === 409 ? false : this.failed('create', err)
      }
    }

    const spec = current.spec ?? {}
    const json = JSON.stringify(spec)
    if (this.observed?.spec !== json) this.observed = { spec: json, at: now }
    this.lease = current
    const holder = spec.holderIdentity ?? ''
    if (holder !== this.o.identity) {
      if (this.leader) {
        this.lose(holder ? `the Lease is now held by ${holder}` : 'the Lease was released by someone else')
        return false
      }
      const expiresAt = this.observed.at + (spec.leaseDurationSeconds ?? 0) * 1000
      if (holder && now < expiresAt) return false
    }
    const taking = holder !== this.o.identity
    const next: V1LeaseSpec = {
      ...spec,
      holderIdentity: this.o.identity,
      leaseDurationSeconds: durationSeconds,
      renewTime: micro(now),
      acquireTime: taking ? micro(now) : (spec.acquireTime ?? micro(now)),
      leaseTransitions: taking ? (spec.leaseTransitions ?? 0) + 1 : (spec.leaseTransitions ?? 0),
    }
    try {
      this.written(
        await this.api.replaceNamespacedLease({
          namespace: this.o.namespace,
          name: this.o.name,
          body: { ...current, metadata: this.annotated(current.metadata), spec: next },
        }),
        now,
      )
      return true
    } catch (err) {
      // 409: someone else wrote the Lease since it was read; not acquired this round.
      return apiStatusCode(err) === 409 ? false : this.failed('update', err)
    }
  }

  private written(lease: V1Lease, now: number): void {
    this.lease = lease
    this.observed = { spec: JSON.stringify(lease.spec ?? {}), at: now }
    if (this.lastFailure) this.o.log.info({ lease: this.where }, `requests for Lease ${this.where} succeed again`)
    this.lastFailure = undefined
  }

  /** Logs a failed call (once per distinct message, then at most every minute) and reports the round as lost. */
  private failed(verb: 'get' | 'create' | 'update', err: unknown): false {
    const message = `cannot ${verb} Lease ${this.where}: ${apiErrorMessage(err)}`
    const now = this.o.now()
    if (this.lastFailure?.message === message && now - this.lastFailure.loggedAt < RELOG_MS) return false
    this.lastFailure = { message, loggedAt: now }
    const code = apiStatusCode(err)
    const e = new HookwiseError('HW_KUBERNETES_API', message, {
      hint:
        code === 401 || code === 403
          ? `grant this identity get, create and update on leases.coordination.k8s.io in namespace ${this.o.namespace}; retrying every ${this.o.retryPeriodMs / 1000} s`
          : `retrying every ${this.o.retryPeriodMs / 1000} s`,
    })
    this.o.log.error({ code: e.code, hint: e.hint, lease: this.where }, message)
    return false
  }

  /** Lease metadata with this replica's annotations set (others kept). */
  private annotated(metadata: V1Lease['metadata']): NonNullable<V1Lease['metadata']> {
    if (Object.keys(this.o.annotations).length === 0) return metadata ?? {}
    return { ...metadata, annotations: { ...metadata?.annotations, ...this.o.annotations } }
  }

  private async release(): Promise<void> {
    const lease = this.lease
    if (!lease) return
    const now = this.o.now()
    // As client-go's ReleaseOnCancel: no holder, so any standby takes the Lease on its next try.
    const spec: V1LeaseSpec = { ...lease.spec, leaseDurationSeconds: 1, acquireTime: micro(now), renewTime: micro(now) }
    delete spec.holderIdentity
    try {
      this.lease = await this.api.replaceNamespacedLease({ namespace: this.o.namespace, name: this.o.name, body: { ...lease, spec } })
      this.o.log.info({ lease: this.where, identity: this.o.identity }, `released Lease ${this.where}`)
    } catch (err) {
      this.o.log.warn(
        { lease: this.where },
        `could not release Lease ${this.where} (a standby takes over once it expires): ${apiErrorMessage(err)}`,
      )
    }
  }
}

function micro(ms: number): V1MicroTime {
  return new V1MicroTime(ms)
}

function stoppedError(): Error {
  return new DOMException('leader election was stopped before this replica acquired the Lease', 'AbortError')
}
