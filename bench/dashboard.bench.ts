// Benchmark: the dashboard's page load with 1,000 deliveries (issue 27). A real SqliteStore holds
// 1,000 deliveries (one attempt each, 3 webhooks, a third failed) and the Dashboard serves it on
// 127.0.0.1; Debian's Chromium (playwright-core) loads each page several times and reports, per
// page, the median time to first byte, to first contentful paint and to load, and the bytes
// transferred (HTML, CSS, script). A small static page (the 404 page, same layout and stylesheet) is the baseline in the same run.
// Run: npm run bench:dashboard   (not part of npm test). Knob: BENCH_LOADS=10
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SqliteStore } from '../controller/delivery/sqlite-store.js'
import { Dashboard } from '../controller/server/dashboard.js'
import type { StatusReport } from '../controller/server/status-report.js'
import { launchBrowser } from '../test/helpers/browser.js'
import { positiveEnv } from './measure.js'

const loads = positiveEnv('BENCH_LOADS', 10)
const dir = mkdtempSync(join(tmpdir(), 'hookwise-bench-dashboard-'))
const store = new SqliteStore(dir)
const now = Date.now()
const webhooks = ['default/deploy', 'default/audit', 'default/notify']
for (let i = 0; i < 1000; i++) {
  const webhook = webhooks[i % 3]!
  const id = `msg_${String(i).padStart(4, '0')}`
  const at = now - (1000 - i) * 60_000
  store.write(
    {
      items: [
        {
          eventId: `e-${i}`,
          body: JSON.stringify({ id: `e-${i}`, alias: 'production' }),
          deliveries: [{ id, automation: `${webhook}-on-alias`, webhook }],
        },
      ],
      now: at,
      dedupSince: 0,
    },
    [],
  )
  const status = i % 3 === 1 ? 500 : 200
  store.write({ items: [], now: at + 50, dedupSince: 0 }, [
    {
      attempt: {
        deliveryId: id,
        n: 1,
        startedAt: at,
        latencyMs: 20 + (i % 40),
        url: `https://example.com/${webhook}`,
        requestHeaders: { 'Content-Type': 'application/json', Authorization: 'Bearer ****' },
        body: '{"text":"linked v7"}',
        statusCode: status,
        responseHead: `HTTP ${status}`,
        error: null,
      },
      next: { status: status === 200 ? 'succeeded' : 'failed', nextAttemptAt: at, now: at + 50 },
    },
  ])
}
const condition = { type: 'Ready', status: 'True' as const, reason: 'Valid', message: 'ready' }
const report: StatusReport = {
  webhooks: webhooks.map((w) => ({
    namespace: 'default',
    name: w.slice(8),
    url: `https://example.com/${w}`,
    conditions: [condition],
    ready: true,
    errors: [],
    healthy: true,
    consecutiveFailures: 0,
    gone: false,
  })),
  automations: webhooks.map((w) => ({
    namespace: 'default',
    name: `${w.slice(8)}-on-alias`,
    event: 'ADD_ARTIFACT_ALIAS',
    webhook: w.slice(8),
    enabled: true,
    conditions: [condition],
    ready: true,
    errors: [],
    deliveries: { pending: 0, succeeded: 333, failed: 333, cancelled: 0 },
  })),
  errors: [],
}
const dashboard = new Dashboard({ store, tokens: [], status: () => report, redelivered: () => {} })
const server = createServer((req, res) => void dashboard.handle(req, res, new URL(req.url ?? '/', 'http://x')))
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
const teardowns: Array<() => unknown> = []
const context = await launchBrowser({ teardown: (fn) => teardowns.push(fn) })
const page = await context.newPage()
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const pages = ['/ui/no-such-page', '/ui', '/ui/deliveries', '/ui/deliveries?page=20', `/ui/deliveries/msg_0500`, '/ui/events/e-500']
const rows: Array<Record<string, string | number>> = []
for (const path of pages) {
  const ttfb: number[] = []
  const fcp: number[] = []
  const load: number[] = []
  let bytes = 0
  for (let i = 0; i < loads; i++) {
    await page.goto(`${base}${path}`, { waitUntil: 'load' })
    const m = await page.evaluate<{ ttfb: number; fcp: number; load: number; bytes: number }>(`new Promise((resolve) => {
      const done = (fcp) => {
        const n = performance.getEntriesByType('navigation')[0]
        const res = performance.getEntriesByType('resource').reduce((s, r) => s + r.decodedBodySize, 0)
        resolve({ ttfb: n.responseStart, fcp, load: n.loadEventEnd, bytes: n.decodedBodySize + res })
      }
      new PerformanceObserver((list) => {
        const p = list.getEntriesByName('first-contentful-paint')[0]
        if (p) done(p.startTime)
      }).observe({ type: 'paint', buffered: true })
      setTimeout(() => done(NaN), 2000)
    })`)
    ttfb.push(m.ttfb)
    fcp.push(m.fcp)
    load.push(m.load)
    bytes = m.bytes
  }
  rows.push({
    page: path,
    ttfbMs: median(ttfb).toFixed(1),
    fcpMs: median(fcp).toFixed(1),
    loadMs: median(load).toFixed(1),
    kB: (bytes / 1024).toFixed(1),
  })
}
const baseline = Number(rows[0]!.fcpMs)
console.log(`dashboard page loads, 1,000 deliveries, median of ${loads} (Chromium ${context.browser()?.version() ?? ''})`)
console.log('| page | first byte (ms) | first contentful paint (ms) | load (ms) | HTML + CSS + script (kB) | paint vs. the 404 page |')
console.log('|---|---|---|---|---|---|')
for (const r of rows)
  console.log(`| \`${r.page}\` | ${r.ttfbMs} | ${r.fcpMs} | ${r.loadMs} | ${r.kB} | ${(Number(r.fcpMs) / baseline).toFixed(2)}× |`)
for (const fn of teardowns) await fn()
server.close()
await store.close()
rmSync(dir, { recursive: true, force: true })
