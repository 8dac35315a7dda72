// The delivery engine: accepts events (matched and stored before anyone is told "accepted") and
// works the outbox: due deliveries are rendered with the current secrets, sent, judged by the retry
// policy and recorded, attempt by attempt. Time, randomness, the sender, the retry policy and the
// circuit breaker are injected. It is the composition of three parts: the intake (intake.ts, with
// the group commit every write goes through), the outbox scheduler (outbox-scheduler.ts) and the
// attempt (attempt.ts).
import type { ArtifactEvent, RunEvent } from '../api/types.generated.js'
import type { CompiledAutomation, DesiredState } from '../model/desired-state.js'
import type { SecretLookup } from '../model/secrets.js'
import { AttemptRunner } from './attempt.js'
import { engineSettings, type EngineOptions, type EngineSettings } from './engine-options.js'
import { Intake } from './intake.js'
import { OutboxScheduler } from './outbox-scheduler.js'
import type { AcceptedEvent } from './outcomes.js'
import { StatusTracker } from './status-tracker.js'
import { StoreHealth } from './store-health.js'
import { isPromise } from './store.js'

export class DeliveryEngine {
  /** What happened lately: every acceptance and attempt is recorded here. */
  readonly facts: StatusTracker
  private readonly o: EngineSettings
  private readonly intake: Intake
  private readonly attempts: AttemptRunner
  private readonly scheduler: OutboxScheduler
  private readonly health: StoreHealth
  /**
   * Resolves once the queue's counts and the 410 holds are read from the store: await it before
   * start() and the first acceptGrouped (a store that answers synchronously has them within this turn).
   */
  readonly opened: Promise<void>

  constructor(options: EngineOptions) {
    this.o = engineSettings(options)
    this.facts = options.facts ?? new StatusTracker()
    this.health = new StoreHealth({
      probe: async () => await this.o.store.probeWrite(),
      ...(options.onStoreProblem ? { onChange: options.onStoreProblem } : {}),
      resumed: () => this.scheduler.kick(),
    })
    this.intake = new Intake(this.o, this.facts, this.health)
    this.attempts = new AttemptRunner(this.o, this.facts, this.intake)
    this.scheduler = new OutboxScheduler(this.o, this.attempts, this.health)
    this.intake.due = this.scheduler
    this.facts.onGoneChange = (webhook, hash) => this.intake.markGone(webhook, hash)
    // Deliveries another replica stored (a shared PostgreSQL store) are looked for at once.
    this.o.store.watch?.(() => this.scheduler.kick())
    this.opened = this.open()
  }

  /** Reads the queue's counts and the 410 holds: at once from a synchronous store, else once they arrive. */
  private open(): Promise<void> {
    const read = [this.o.store.pendingCount(), this.o.store.pendingByWebhook(), this.o.store.goneWebhooks()] as const
    const use = ([pending, perWebhook, gone]: [number, Map<string, number>, Map<string, string>]): void => {
      this.intake.loaded(pending, perWebhook)
      // A 410 hold outlives a restart: the store remembers it (checked against the spec by setState).
      for (const [webhook, hash] of gone) this.facts.seedGone(webhook, hash)
    }
    if (!read.some(isPromise)) {
      use(read as unknown as [number, Map<string, number>, Map<string, string>])
      return Promise.resolve()
    }
    const opened = Promise.all(read).then(use)
    opened.catch(() => {}) // the caller awaiting `opened` gets the error
    return opened
  }

  /**
   * Applies a new desired state: new matches use it at once; pending deliveries of removed
   * automations are cancelled (resolves with how many once that is stored).
   */
  async setState(state: DesiredState): Promise<{ cancelled: number }> {
    this.intake.setState(state)
    this.attempts.setState(state)
    this.facts.applyState(state)
    let cancelled = 0
    const now = this.o.now()
    try {
      for (const key of await this.o.store.automationsWithPending()) {
        if (!this.attempts.hasAutomation(key)) cancelled += await this.o.store.cancelAutomation(key, 'automation removed', now)
      }
    } catch (err) {
      // The disk is full: the rest are cancelled when they come due (prepare) once it is not.
      if (!this.health.failed(err)) throw err
    }
    if (cancelled > 0) this.intake.cancelled(cancelled)
    else this.intake.recount()
    this.scheduler.kick()
    return { cancelled }
  }

  /** Replaces where Secret values come from (Kubernetes mode reads them from the cluster). */
  setSecretLookup(lookup: SecretLookup): void {
    this.attempts.setSecretLookup(lookup)
  }

  get pendingCount(): number {
    return this.intake.pendingCount
  }

  get ready(): boolean {
    return this.attempts.ready
  }

  /** Why the store cannot be written (nothing is sent, the intake refuses events); undefined while it can. */
  get storeProblem(): string | undefined {
    return this.health.problem
  }

  /**
   * Matches and durably records events; the events of every call made in the same turn of the event
   * loop are stored in one transaction. Resolves once this call's events and deliveries are stored;
   * rejects with QueueFullError, storing nothing of this call, when they would take the queue over its bound.
   */
  acceptGrouped(events: readonly ArtifactEvent[]): Promise<AcceptedEvent[]> {
    return this.intake.acceptGrouped(events)
  }

  /** Stores run events hookwise fired (run-intake.ts), each with the automations it fires, as acceptGrouped stores events. */
  acceptFired(events: readonly RunEvent[], targets: ReadonlyArray<readonly CompiledAutomation[]>): Promise<AcceptedEvent[]> {
    return this.intake.acceptGrouped(events, targets)
  }

  start(): void {
    this.scheduler.start()
  }

  /** Stops taking new work and waits for attempts in flight (up to `graceMs`); unfinished ones stay pending. */
  stop(graceMs = 10_000): Promise<void> {
    this.health.stop()
    return this.scheduler.stop(graceMs)
  }

  /** Looks for due work now, reading the outbox again (call after changing it from outside the engine). */
  kick(): void {
    this.scheduler.kick()
  }
}
