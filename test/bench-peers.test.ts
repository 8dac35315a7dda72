// `npm run bench:peers` at a tiny N, so the benchmark cannot rot: it starts its own control plane,
// hookwise (--dir and --kubernetes, from source) and notification-controller, and must print a
// full table and write it into the docs file it is given. Its figures are not checked (timing is
// the benchmark's job); what each side delivered and lost is.
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { peerUnavailable } from './tools/notification-controller.js'
import { harnessConfig } from './tools/go-build.js'
import { useTools } from './k8s/fixture.js'

const root = join(import.meta.dirname, '..')
const tools = await useTools(t)
const cfg = harnessConfig()
const why = tools ? await peerUnavailable(cfg) : undefined
if (tools && why && cfg.ci) t.fail(`notification-controller must be built in CI, but: ${why}`)
else if (tools && why) t.plan(0, `notification-controller is not available: ${why}`)
else if (tools) {
  t.test('bench:peers at a tiny N: every side delivers every event, signed; the table is written', async (t) => {
    const docs = join(t.testdir({}), 'performance.md')
    writeFileSync(docs, '# Performance\n\n<!-- bench:peers:begin -->\nold table\n<!-- bench:peers:end -->\n\nafter\n')
    const env = {
      ...process.env,
      BENCH_FROM_SOURCE: '1',
      BENCH_DOCS: docs,
      BENCH_ROUNDS: '1',
      BENCH_EVENTS: '40',
      BENCH_CLIENTS: '4',
      BENCH_RATES: '20',
      BENCH_SECONDS: '1',
      // Fewer than the circuit breaker's 5 consecutive failures: hookwise retries them within 2 s of the restart.
      BENCH_PENDING: '4',
      BENCH_KILL_WAIT_S: '45',
    }
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'peers.bench.ts')], { cwd: root, env })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c
    })
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c
    })
    const code = await new Promise((r) => child.once('exit', r))
    t.equal(code, 0, stderr.slice(-3000))
    const lines = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, any>)
    const sides = ['plain undici loop (ceiling)', 'hookwise --dir', 'hookwise --kubernetes', 'notification-controller (generic-hmac)']
    for (const side of sides) {
      const tp = lines.find((l) => l.phase === 'throughput' && l.side === side)
      t.match(tp, { events: 40, delivered: 40, distinct: 40 }, `${side}: 40 of 40 delivered`)
      if (side !== sides[0]) t.equal(tp?.signed, 40, `${side}: every delivery signed`)
      t.match(
        lines.find((l) => l.phase === 'latency' && l.side === side),
        { rate: 20, sent: 20, delivered: 20 },
      )
    }
    const kill = (side: string) => lines.find((l) => l.phase === 'kill -9' && l.side === side)
    t.match(kill('hookwise --dir'), { pending: 4, delivered: 4, lost: 0 }, 'hookwise --dir: nothing lost after kill -9')
    t.match(kill('hookwise --kubernetes'), { pending: 4, delivered: 4, lost: 0 }, 'hookwise --kubernetes: nothing lost after kill -9')
    t.match(
      kill('notification-controller (generic-hmac)'),
      { pending: 4, lost: 4 },
      'notification-controller keeps nothing across a restart',
    )
    const written = readFileSync(docs, 'utf8')
    t.match(written, /^# Performance\n\n<!-- bench:peers:begin -->\nMeasured \d{4}-\d\d-\d\d on .*notification-controller 2e46958a67f3/)
    t.notMatch(written, 'old table')
    t.match(written, '<!-- bench:peers:end -->\n\nafter\n')
    for (const side of sides) t.match(written, `| ${side} | `)
    t.match(stdout, '| side | events/s accepted | deliveries/s | p50 / p99 ms at 20/s |')
  })
}
