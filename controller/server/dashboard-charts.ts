// Per-webhook charts as inline SVG (no script, no library): success rate as bars and mean latency
// as a line, one point per time bucket. Each chart has a text alternative with the same figures.
import type { AttemptBucket } from '../delivery/store.js'
import { html, type Html } from './html.js'

/** The time window a chart covers, split into equal buckets. */
export interface ChartWindow {
  /** Start of the first bucket (ms), a multiple of bucketMs. */
  start: number
  bucketMs: number
  buckets: number
  label: string
}

export const WINDOWS: Record<string, { ms: number; bucketMs: number; label: string }> = {
  '1h': { ms: 3600_000, bucketMs: 5 * 60_000, label: 'the last hour' },
  '24h': { ms: 24 * 3600_000, bucketMs: 3600_000, label: 'the last 24 hours' },
  '7d': { ms: 7 * 24 * 3600_000, bucketMs: 6 * 3600_000, label: 'the last 7 days' },
}

export function chartWindow(name: string, now: number): ChartWindow {
  const w = WINDOWS[name] ?? WINDOWS['24h']!
  const end = Math.floor(now / w.bucketMs) * w.bucketMs + w.bucketMs
  const buckets = Math.round(w.ms / w.bucketMs)
  return { start: end - buckets * w.bucketMs, bucketMs: w.bucketMs, buckets, label: w.label }
}

const WIDTH = 240
const HEIGHT = 48

/** Success rate and latency charts of one webhook's buckets (those of other webhooks are ignored). */
export function webhookCharts(webhook: string, all: readonly AttemptBucket[], window: ChartWindow): Html {
  const byIndex = new Map<number, AttemptBucket>()
  for (const b of all) {
    if (b.webhook !== webhook) continue
    const i = Math.floor((b.start - window.start) / window.bucketMs)
    if (i >= 0 && i < window.buckets) byIndex.set(i, b)
  }
  const attempts = [...byIndex.values()].reduce((n, b) => n + b.attempts, 0)
  const succeeded = [...byIndex.values()].reduce((n, b) => n + b.succeeded, 0)
  if (attempts === 0) return html`<p class="muted">No attempts in ${window.label}.</p>`
  const slot = WIDTH / window.buckets
  const bars = [...byIndex].map(([i, b]) => {
    const rate = b.succeeded / b.attempts
    const h = Math.max(2, rate * HEIGHT)
    return html`<rect x="${(i * slot + 1).toFixed(1)}" y="${(HEIGHT - h).toFixed(1)}" width="${Math.max(1, slot - 2).toFixed(1)}" height="${h.toFixed(1)}" class="${rate === 1 ? 'ok' : rate === 0 ? 'bad' : 'mixed'}"><title>${new Date(b.start).toISOString()}: ${b.succeeded} of ${b.attempts} succeeded</title></rect>`
  })
  const maxLatency = Math.max(1, ...[...byIndex.values()].map((b) => b.meanLatencyMs))
  const points = [...byIndex]
    .sort(([a], [b]) => a - b)
    .map(([i, b]) => `${(i * slot + slot / 2).toFixed(1)},${(HEIGHT - (b.meanLatencyMs / maxLatency) * (HEIGHT - 4) - 2).toFixed(1)}`)
  const dots = [...byIndex].map(([i, b]) => {
    const [x, y] = [(i * slot + slot / 2).toFixed(1), (HEIGHT - (b.meanLatencyMs / maxLatency) * (HEIGHT - 4) - 2).toFixed(1)]
    return html`<circle cx="${x}" cy="${y}" r="2.5"><title>${new Date(b.start).toISOString()}: mean ${b.meanLatencyMs} ms, max ${b.maxLatencyMs} ms</title></circle>`
  })
  const rate = Math.round((succeeded / attempts) * 100)
  const latencies = [...byIndex.values()]
  const mean = Math.round(latencies.reduce((n, b) => n + b.meanLatencyMs * b.attempts, 0) / attempts)
  const max = Math.max(...latencies.map((b) => b.maxLatencyMs))
  return html`<div class="charts">
  <figure>
    <svg viewBox="0 0 ${WIDTH} ${HEIGHT}" class="chart rate" role="img" aria-label="Success rate per ${minutes(window.bucketMs)} over ${window.label}">${bars}</svg>
    <figcaption>Success rate: <strong>${rate}%</strong> (${succeeded} of ${attempts} attempts)</figcaption>
  </figure>
  <figure>
    <svg viewBox="0 0 ${WIDTH} ${HEIGHT}" class="chart latency" role="img" aria-label="Mean latency per ${minutes(window.bucketMs)} over ${window.label}"><polyline points="${points.join(' ')}"/>${dots}</svg>
    <figcaption>Latency: mean <strong>${mean} ms</strong>, max ${max} ms</figcaption>
  </figure>
</div>`
}

function minutes(ms: number): string {
  return ms >= 3600_000 ? `${ms / 3600_000} h` : `${ms / 60_000} min`
}
