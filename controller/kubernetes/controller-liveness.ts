// Whether another hookwise controller, named in an object's status.controller by its leader Lease
// (namespace/name), is running: its Lease has a holder and was renewed within its duration. Two
// controllers writing one object's status would overwrite each other (issue: an install from the
// Helm chart next to a `hookwise run --kubernetes` started by hand), so the second leaves it alone.
import { CoordinationV1Api, type KubeConfig } from '@kubernetes/client-node'
import { apiErrorMessage, apiStatusCode } from './api-error.js'

export type Liveness =
  | { live: true; holder: string; renewedAt: Date }
  /** Not known to run: no such Lease, no holder, expired, or not readable (`why` says which). */
  | { live: false; why: string }

export interface ControllerLivenessOptions {
  kubeConfig: KubeConfig
  /** How long one answer about a Lease is reused: objects of one controller are many. Default 2 s. */
  cacheMs?: number
  now?: () => number
}

export class ControllerLiveness {
  private readonly api: CoordinationV1Api
  private readonly cache = new Map<string, { at: number; answer: Promise<Liveness> }>()

  constructor(private readonly o: ControllerLivenessOptions) {
    this.api = o.kubeConfig.makeApiClient(CoordinationV1Api)
  }

  /** Liveness of the controller whose Lease is `ref` (`namespace/name`). Never throws. */
  of(ref: string): Promise<Liveness> {
    const now = (this.o.now ?? Date.now)()
    const hit = this.cache.get(ref)
    if (hit && now - hit.at < (this.o.cacheMs ?? 2000)) return hit.answer
    const answer = this.read(ref, now)
    this.cache.set(ref, { at: now, answer })
    return answer
  }

  private async read(ref: string, now: number): Promise<Liveness> {
    const slash = ref.indexOf('/')
    if (slash <= 0) return { live: false, why: `"${ref}" names no Lease` }
    const namespace = ref.slice(0, slash)
    const name = ref.slice(slash + 1)
    try {
      const lease = await this.api.readNamespacedLease({ namespace, name })
      const holder = lease.spec?.holderIdentity
      const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : NaN
      const duration = (lease.spec?.leaseDurationSeconds ?? 0) * 1000
      if (!holder) return { live: false, why: `Lease ${ref} has no holder (released)` }
      if (!(renewed + duration > now)) return { live: false, why: `Lease ${ref} expired` }
      return { live: true, holder, renewedAt: new Date(renewed) }
    } catch (err) {
      if (apiStatusCode(err) === 404) return { live: false, why: `Lease ${ref} does not exist` }
      return { live: false, why: `Lease ${ref} cannot be read (${apiErrorMessage(err)})` }
    }
  }
}
