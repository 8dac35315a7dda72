// Prometheus metrics (prom-client), on a registry of their own so tests and several controllers in
// one process do not collide.
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { DeliveryEngine } from '../delivery/engine.js'
import type { AttemptReport } from '../delivery/outcomes.js'
import type { Store } from '../delivery/store.js'
import type { CircuitBreaker } from '../delivery/circuit-breaker.js'

export interface Metrics {
  events(accepted: number, duplicates: number): void
  attempt(report: AttemptReport): void
  render(engine: DeliveryEngine, store: Store, breaker: CircuitBreaker): Promise<{ contentType: string; body: string }>
}

function leaderGauge(registry: Registry): Gauge {
  return new Gauge({
    name: 'hookwise_leader',
    help: 'Whether this process delivers from the queue: 1 on the replica holding the leader Lease (and without leader election), 0 on a standby.',
    registers: [registry],
  })
}

/** What a standby replica serves on /metrics: hookwise_leader 0, nothing of a queue it has not opened. */
export function standbyMetrics(): () => Promise<{ contentType: string; body: string }> {
  const registry = new Registry()
  leaderGauge(registry).set(0)
  return async () => ({ contentType: registry.contentType, body: await registry.metrics() })
}

export function createMetrics(): Metrics {
  const registry = new Registry()
  const events = new Counter({
    name: 'hookwise_events_received_total',
    help: 'Events accepted by the intake, by whether they were duplicates.',
    labelNames: ['duplicate'],
    registers: [registry],
  })
  const deliveries = new Counter({
    name: 'hookwise_deliveries_total',
    help: 'Deliveries finished, by outcome (succeeded, failed).',
    labelNames: ['outcome'],
    registers: [registry],
  })
  const attempts = new Counter({
    name: 'hookwise_delivery_attempts_total',
    help: 'Delivery attempts, by result (success, retry, fail, gone).',
    labelNames: ['result'],
    registers: [registry],
  })
  const latency = new Histogram({
    name: 'hookwise_delivery_attempt_duration_seconds',
    help: 'Latency of delivery attempts.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  })
  const depth = new Gauge({ name: 'hookwise_queue_pending', help: 'Deliveries waiting to be sent.', registers: [registry] })
  const oldest = new Gauge({
    name: 'hookwise_queue_oldest_pending_age_seconds',
    help: 'Age of the oldest pending delivery.',
    registers: [registry],
  })
  const circuit = new Gauge({
    name: 'hookwise_circuit_state',
    help: 'Circuit breaker per endpoint origin with failures on record: 0 closed, 1 half-open, 2 open.',
    labelNames: ['origin'],
    registers: [registry],
  })
  // Every replica serves it (a standby 0, see standbyMetrics): "no leader" is no series at 1.
  const leader = leaderGauge(registry)
  leader.set(1)
  const writable = new Gauge({
    name: 'hookwise_store_writable',
    help: 'Whether the state store can be written: 0 while its disk is full or failing (nothing is sent, the intake answers 503).',
    registers: [registry],
  })
  return {
    events: (accepted, duplicates) => {
      events.inc({ duplicate: 'false' }, accepted)
      events.inc({ duplicate: 'true' }, duplicates)
    },
    attempt: (r) => {
      attempts.inc({ result: r.verdict })
      latency.observe(r.result.latencyMs / 1000)
      if (r.status === 'succeeded' || r.status === 'failed') deliveries.inc({ outcome: r.status })
    },
    render: async (engine, store, breaker) => {
      depth.set(engine.pendingCount)
      writable.set(engine.storeProblem === undefined ? 1 : 0)
      circuit.reset()
      for (const c of breaker.snapshot()) circuit.set({ origin: c.origin }, c.state === 'open' ? 2 : c.state === 'half-open' ? 1 : 0)
      const created = await store.oldestPendingCreatedAt()
      oldest.set(created === undefined ? 0 : (Date.now() - created) / 1000)
      return { contentType: registry.contentType, body: await registry.metrics() }
    },
  }
}
