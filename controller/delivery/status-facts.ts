// The facts the status of Webhooks and Automations is computed from, held in one place: what
// deliveries did lately and whether a webhook is gone (StatusTracker), whether the circuit breaker
// holds an origin, and whether the egress policy refuses a URL. GET /v1/status and the Kubernetes
// status writer both take their StatusInputs from here, so they cannot see different facts.
import type { BlockList } from 'node:net'
import type { DesiredState } from '../model/desired-state.js'
import type { StatusInputs } from '../model/object-status.js'
import { mapLookup, type SecretLookup } from '../model/secrets.js'
import { originOf, type CircuitBreaker } from './circuit-breaker.js'
import { checkUrl, parseAllowList, type EgressPolicy, type ListenAddress } from './egress.js'
import type { StatusTracker } from './status-tracker.js'

export interface StatusFactsOptions {
  /** The tracker the delivery engine records into (engine.facts). */
  tracker: StatusTracker
  /** The breaker the delivery engine consults. */
  breaker: CircuitBreaker
  /** The policy the sender enforces. */
  egress: EgressPolicy
}

export class StatusFacts {
  readonly tracker: StatusTracker
  private readonly breaker: CircuitBreaker
  private readonly egress: EgressPolicy
  private readonly allow: BlockList
  private self: readonly ListenAddress[] = []

  constructor(o: StatusFactsOptions) {
    this.tracker = o.tracker
    this.breaker = o.breaker
    this.egress = o.egress
    this.allow = parseAllowList(o.egress.allow)
  }

  /** Where this controller's API listens, once it does: a Webhook to it is refused (it would loop). */
  refuseSelf(addresses: readonly ListenAddress[]): void {
    this.self = [...addresses]
  }

  /** Why the egress policy refuses a URL (a static check: scheme, IP literals, this controller's own address), or undefined. */
  egressRefusal(url: string): string | undefined {
    return checkUrl(url, this.egress, this.allow, this.self)
  }

  /**
   * What the conditions of `state`'s objects are computed from at `now`. Secrets come from the
   * state itself (folders, git) unless a lookup is given (the Kubernetes cache).
   */
  inputs(state: DesiredState, secrets: SecretLookup = mapLookup(state.secrets), now = Date.now()): StatusInputs {
    return {
      state,
      secrets,
      egress: (url) => this.egressRefusal(url),
      circuitOpen: (url) => this.breaker.state(originOf(url), now) === 'open',
      gone: (key) => this.tracker.isGone(key),
      webhookFacts: (key) => this.tracker.webhooks.get(key),
      automationFacts: (key) => this.tracker.automations.get(key),
      now,
    }
  }
}
