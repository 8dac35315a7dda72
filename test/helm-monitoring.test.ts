// The chart's monitoring (docs/alerts.md): the Grafana dashboard ConfigMap and the PrometheusRule,
// rendered by the real helm. Both render only when enabled, with the chart's labels and the sidecar's;
// Prometheus's own promtool checks the rules and fires each alert on synthetic series in its rule unit
// tests; and every metric the dashboard's queries and the rules' expressions name (found by
// Prometheus's PromQL parser) is one a running hookwise lists on /metrics, with HELP and TYPE even
// before it has a sample.
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { promisify } from 'node:util'
import t from 'tap'
import { request } from 'undici'
import { parseAllDocuments, stringify } from 'yaml'
import { startController } from '../controller/app/start-controller.js'
import { createLogger } from '../controller/log.js'
import type { TapTest } from './helpers/cli.js'
import { usePromtool } from './helpers/promtool.js'
import { useTools } from './k8s/fixture.js'

const root = join(import.meta.dirname, '..')
const chart = join(root, 'charts', 'hookwise')
const dashboardFile = join(chart, 'dashboards', 'hookwise.json')
const runFile = promisify(execFile)

interface Obj {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
  [key: string]: any
}
interface Rule {
  alert: string
  expr: string
  for?: string
  labels: Record<string, string>
  annotations: Record<string, string>
}

const ALERTS = [
  'HookwiseNoLeader',
  'HookwiseStoreUnwritable',
  'HookwiseDeliveriesFailing',
  'HookwiseDeliveryAttemptsFailing',
  'HookwiseQueueGrowing',
  'HookwiseQueueNearlyFull',
  'HookwiseOldestPendingTooOld',
  'HookwiseCircuitOpen',
]

const tools = await useTools(t)
const promtool = tools && (await usePromtool(t))

if (tools && promtool) {
  const template = async (tt: TapTest, values: Record<string, unknown> = {}): Promise<Obj[]> => {
    const file = join(tt.testdir({ 'values.yaml': stringify(values) }), 'values.yaml')
    const { stdout } = await runFile(tools.helm, ['template', 'r', chart, '-n', 'hw', '-f', file])
    return parseAllDocuments(stdout)
      .map((d) => d.toJS() as Obj | null)
      .filter((o): o is Obj => o !== null)
  }
  const only = (objs: Obj[], kind: string): Obj => {
    const found = objs.filter((o) => o.kind === kind)
    if (found.length !== 1) throw new Error(`${found.length} objects of kind ${kind}`)
    return found[0]!
  }
  const chartLabels = {
    'helm.sh/chart': 'hookwise-0.1.0',
    'app.kubernetes.io/name': 'hookwise',
    'app.kubernetes.io/instance': 'r',
    'app.kubernetes.io/version': '0.1.0',
    'app.kubernetes.io/managed-by': 'Helm',
  }
  const rulesOf = (objs: Obj[]): Rule[] => only(objs, 'PrometheusRule').spec.groups[0].rules as Rule[]
  const both = { grafanaDashboard: { enabled: true }, prometheusRule: { enabled: true } }

  t.test('off by default: neither the dashboard ConfigMap nor the PrometheusRule renders', async (t) => {
    const objs = await template(t)
    t.same(
      objs.filter((o) => o.kind === 'ConfigMap' || o.kind === 'PrometheusRule'),
      [],
    )
    t.equal((await template(t, both)).filter((o) => o.kind === 'ConfigMap' || o.kind === 'PrometheusRule').length, 2, 'both when enabled')
  })

  t.test('values.schema.json rejects wrong monitoring values, naming them', async (t) => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ grafanaDashboard: { namespace: 'Bad_NS' } }, "at '/grafanaDashboard/namespace': 'Bad_NS' does not match pattern"],
      [{ grafanaDashboard: { label: '' } }, "at '/grafanaDashboard/label': minLength: got 0, want 1"],
      [{ prometheusRule: { queueFullRatio: 2 } }, "at '/prometheusRule/queueFullRatio': maximum: got 2, want 1"],
      [{ prometheusRule: { oldestPendingSeconds: 0 } }, "at '/prometheusRule/oldestPendingSeconds': minimum: got 0, want 1"],
      [{ prometheusRule: { severity: 'page' } }, "at '/prometheusRule': additional properties 'severity' not allowed"],
    ]
    for (const [values, message] of cases) {
      const failed = await template(t, values).then(
        () => '',
        (err: { stderr: string }) => err.stderr,
      )
      t.match(failed, message, JSON.stringify(values))
    }
  })

  t.test("the dashboard ConfigMap: the sidecar's label, the chart's labels, the dashboard JSON as shipped", async (t) => {
    const cm = only(await template(t, { grafanaDashboard: { enabled: true } }), 'ConfigMap')
    t.same(cm.metadata, { name: 'r-hookwise-dashboard', namespace: 'hw', labels: { ...chartLabels, grafana_dashboard: '1' } })
    t.same(Object.keys(cm.data), ['hookwise.json'])
    t.equal(cm.data['hookwise.json'], readFileSync(dashboardFile, 'utf8').trimEnd())
    const own = only(
      await template(t, {
        grafanaDashboard: {
          enabled: true,
          label: 'dashboards.example.com/grafana',
          labelValue: 'hookwise',
          namespace: 'monitoring',
          labels: { team: 'ml-platform' },
          annotations: { grafana_folder: 'ML platform' },
        },
      }),
      'ConfigMap',
    )
    t.same(own.metadata, {
      name: 'r-hookwise-dashboard',
      namespace: 'monitoring',
      labels: { ...chartLabels, team: 'ml-platform', 'dashboards.example.com/grafana': 'hookwise' },
      annotations: { grafana_folder: 'ML platform' },
    })
  })

  t.test('the dashboard: a Prometheus data source variable, namespace and job variables, every panel on them', async (t) => {
    const d = JSON.parse(readFileSync(dashboardFile, 'utf8'))
    t.equal(d.uid, 'hookwise-overview')
    t.same(
      d.templating.list.map((v: { name: string; type: string }) => `${v.name}:${v.type}`),
      ['datasource:datasource', 'namespace:query', 'job:query'],
    )
    t.equal(d.panels.length, 13)
    for (const p of d.panels) {
      t.same(p.datasource, { type: 'prometheus', uid: '${datasource}' }, p.title)
      for (const target of p.targets) t.match(target.expr, /\{namespace="\$namespace", job="\$job"/, `${p.title}: ${target.expr}`)
    }
  })

  t.test('the PrometheusRule: its labels, every alert with a severity, and the selector of the ServiceMonitor’s series', async (t) => {
    const objs = await template(t, { prometheusRule: { enabled: true, labels: { release: 'prom' }, alertLabels: { team: 'ml' } } })
    const rule = only(objs, 'PrometheusRule')
    t.same(rule.apiVersion, 'monitoring.coreos.com/v1')
    t.same(rule.metadata, { name: 'r-hookwise', namespace: 'hw', labels: { ...chartLabels, release: 'prom' } })
    const rules = rulesOf(objs)
    t.same(
      rules.map((r) => r.alert),
      ALERTS,
    )
    const critical = ['HookwiseNoLeader', 'HookwiseStoreUnwritable', 'HookwiseQueueNearlyFull']
    for (const r of rules) {
      t.same(r.labels, { severity: critical.includes(r.alert) ? 'critical' : 'warning', team: 'ml' }, r.alert)
      t.match(r.expr, /hookwise_\w+\{job="r-hookwise", namespace="hw"/, r.alert)
      t.match(r.annotations.description, `docs/alerts.md#${r.alert.toLowerCase()}`, r.alert)
    }
    const alertsDoc = readFileSync(join(root, 'docs', 'alerts.md'), 'utf8')
    t.same(
      [...alertsDoc.matchAll(/^### (Hookwise\w+)$/gm)].map((m) => m[1]),
      ALERTS,
      'docs/alerts.md explains every alert, under the heading the rule links to',
    )
    t.match(rules.find((r) => r.alert === 'HookwiseQueueNearlyFull')!.expr, /\) > 80000$/, '0.8 of delivery.maxPending (100000)')
    const own = rulesOf(
      await template(t, {
        prometheusRule: { enabled: true, selector: 'service="hookwise", cluster="prod"', oldestPendingSeconds: 600, queueFullRatio: 0.5 },
        delivery: { maxPending: 2000000 },
      }),
    )
    for (const r of own) t.notMatch(r.expr, 'job="r-hookwise"', r.alert)
    t.match(own.find((r) => r.alert === 'HookwiseStoreUnwritable')!.expr, 'hookwise_store_writable{service="hookwise", cluster="prod"}')
    t.match(own.find((r) => r.alert === 'HookwiseOldestPendingTooOld')!.expr, /\) > 600$/)
    t.match(own.find((r) => r.alert === 'HookwiseQueueNearlyFull')!.expr, /\) > 1000000$/, 'a whole number, not 1e+06')
  })

  /** The rendered rules as a Prometheus rule file (a PrometheusRule's spec is one). */
  const ruleFile = async (tt: TapTest, values: Record<string, unknown> = {}): Promise<{ dir: string; rules: Rule[] }> => {
    const objs = await template(tt, { prometheusRule: { enabled: true, ...values } })
    const dir = tt.testdir({ 'rules.yaml': stringify(only(objs, 'PrometheusRule').spec) })
    return { dir, rules: rulesOf(objs) }
  }

  t.test('promtool check rules accepts the rendered rules, with default and other values', async (t) => {
    for (const values of [{}, { selector: 'service=~"hookwise.*"', alertLabels: { team: 'ml' }, attemptFailureRatio: 0.2 }]) {
      const { dir } = await ruleFile(t, values)
      const r = await promtool.run(['check', 'rules', join(dir, 'rules.yaml')])
      t.equal(r.code, 0, r.stderr)
      t.match(r.stdout, 'SUCCESS: 8 rules found')
    }
    // And it does reject a broken expression: the check is not a formality.
    const dir = t.testdir({
      'bad.yaml': stringify({ groups: [{ name: 'g', rules: [{ alert: 'A', expr: 'sum(hookwise_queue_pending' }] }] }),
    })
    const bad = await promtool.run(['check', 'rules', join(dir, 'bad.yaml')])
    t.equal(bad.code, 1)
    t.match(bad.stderr, 'unclosed left parenthesis')
  })

  t.test('promtool test rules: each alert fires on synthetic series and stays quiet on healthy ones', async (t) => {
    const { dir, rules } = await ruleFile(t)
    const sel = 'job="r-hookwise", namespace="hw"'
    const ours = { job: 'r-hookwise', namespace: 'hw' }
    /** The alert as promtool should report it: its labels, and its annotations filled in as Prometheus does. */
    const fired = (alert: string, labels: Record<string, string>, value = '') => {
      const rule = rules.find((r) => r.alert === alert)!
      const fill = (text: string) =>
        text.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_m, l: string) => labels[l] ?? '').replace(/\{\{ \$value[^}]*\}\}/g, value)
      return {
        exp_labels: { ...rule.labels, ...labels },
        exp_annotations: Object.fromEntries(Object.entries(rule.annotations).map(([k, v]) => [k, fill(v)])),
      }
    }
    const series = (metric: string, labels: string, values: string) => ({ series: `${metric}{${sel}${labels}}`, values })
    const origin = 'https://hooks.example.com'
    const tests = [
      {
        name: 'only standbys',
        input_series: [series('hookwise_leader', ', pod="b"', '0x20')],
        alert_rule_test: [
          { eval_time: '4m', alertname: 'HookwiseNoLeader', exp_alerts: [] },
          { eval_time: '6m', alertname: 'HookwiseNoLeader', exp_alerts: [fired('HookwiseNoLeader', ours)] },
        ],
      },
      {
        name: 'nothing scraped',
        input_series: [{ series: 'up{job="other"}', values: '1x20' }],
        alert_rule_test: [{ eval_time: '6m', alertname: 'HookwiseNoLeader', exp_alerts: [fired('HookwiseNoLeader', ours)] }],
      },
      {
        name: 'healthy: a leader and a standby, an idle queue, a closed circuit',
        input_series: [
          series('hookwise_leader', ', pod="a"', '1x90'),
          series('hookwise_leader', ', pod="b"', '0x90'),
          series('hookwise_store_writable', '', '1x90'),
          series('hookwise_deliveries_total', ', outcome="succeeded"', '0+10x90'),
          series('hookwise_delivery_attempts_total', ', result="success"', '0+6x90'),
          series('hookwise_delivery_attempts_total', ', result="retry"', '0+2x90'),
          series('hookwise_queue_pending', '', '100x90'),
          series('hookwise_queue_oldest_pending_age_seconds', '', '0+10x90'),
          series('hookwise_circuit_state', `, origin="${origin}"`, '0 1 0 1 0x86'),
        ],
        alert_rule_test: ALERTS.map((alertname) => ({ eval_time: '90m', alertname, exp_alerts: [] })),
      },
      {
        name: 'the store cannot be written',
        input_series: [series('hookwise_store_writable', '', '1 0x10')],
        alert_rule_test: [
          { eval_time: '2m', alertname: 'HookwiseStoreUnwritable', exp_alerts: [] },
          { eval_time: '4m', alertname: 'HookwiseStoreUnwritable', exp_alerts: [fired('HookwiseStoreUnwritable', ours)] },
        ],
      },
      {
        name: 'deliveries fail for good',
        input_series: [
          series('hookwise_deliveries_total', ', outcome="failed"', '0 0 0 3 3 3'),
          series('hookwise_deliveries_total', ', outcome="succeeded"', '0+10x5'),
        ],
        alert_rule_test: [
          { eval_time: '2m', alertname: 'HookwiseDeliveriesFailing', exp_alerts: [] },
          { eval_time: '5m', alertname: 'HookwiseDeliveriesFailing', exp_alerts: [fired('HookwiseDeliveriesFailing', ours, '3')] },
        ],
      },
      {
        name: 'three attempts in four fail',
        input_series: [
          series('hookwise_delivery_attempts_total', ', result="retry"', '0+6x40'),
          series('hookwise_delivery_attempts_total', ', result="success"', '0+2x40'),
        ],
        alert_rule_test: [
          {
            eval_time: '20m',
            alertname: 'HookwiseDeliveryAttemptsFailing',
            exp_alerts: [fired('HookwiseDeliveryAttemptsFailing', ours, '75%')],
          },
        ],
      },
      {
        name: 'the queue grows by 5 a minute',
        input_series: [series('hookwise_queue_pending', '', '0+5x90')],
        alert_rule_test: [
          { eval_time: '20m', alertname: 'HookwiseQueueGrowing', exp_alerts: [] },
          { eval_time: '40m', alertname: 'HookwiseQueueGrowing', exp_alerts: [fired('HookwiseQueueGrowing', ours, '200')] },
        ],
      },
      {
        name: 'the queue passes 80% of delivery.maxPending',
        input_series: [series('hookwise_queue_pending', '', '79000 81000x10')],
        alert_rule_test: [
          { eval_time: '0m', alertname: 'HookwiseQueueNearlyFull', exp_alerts: [] },
          { eval_time: '7m', alertname: 'HookwiseQueueNearlyFull', exp_alerts: [fired('HookwiseQueueNearlyFull', ours, '81000')] },
        ],
      },
      {
        name: 'a delivery waits for more than an hour',
        input_series: [series('hookwise_queue_oldest_pending_age_seconds', '', '0+60x90')],
        alert_rule_test: [
          { eval_time: '60m', alertname: 'HookwiseOldestPendingTooOld', exp_alerts: [] },
          {
            eval_time: '70m',
            alertname: 'HookwiseOldestPendingTooOld',
            exp_alerts: [fired('HookwiseOldestPendingTooOld', ours, '1h 10m 0s')],
          },
        ],
      },
      {
        name: 'a circuit opens, probes half-open, and opens again',
        input_series: [series('hookwise_circuit_state', `, origin="${origin}"`, '0 2 1 2 1 2 1 2 1 2 1 2 1 2 1 2 1 2 1 2')],
        alert_rule_test: [
          { eval_time: '5m', alertname: 'HookwiseCircuitOpen', exp_alerts: [] },
          { eval_time: '15m', alertname: 'HookwiseCircuitOpen', exp_alerts: [fired('HookwiseCircuitOpen', { ...ours, origin })] },
        ],
      },
    ]
    writeFileSync(
      join(dir, 'tests.yaml'),
      stringify({ rule_files: ['rules.yaml'], evaluation_interval: '1m', tests: tests.map((x) => ({ interval: '1m', ...x })) }),
    )
    const r = await promtool.run(['test', 'rules', join(dir, 'tests.yaml')])
    t.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
    t.match(r.stdout, 'SUCCESS')
    t.ok(
      ALERTS.every((a) => tests.some((x) => x.alert_rule_test.some((c) => c.alertname === a && c.exp_alerts.length > 0))),
      'every alert fires in one test',
    )
  })

  t.test(
    'every metric the dashboard and the rules name is one a running hookwise lists, with HELP and TYPE before any sample',
    async (t) => {
      const token = 'scrape-token-helm-monitoring'
      const dir = t.testdir({ m: {}, token: `${token}\n` })
      const c = await startController(
        {
          dir: [join(dir, 'm')],
          state: join(dir, 's'),
          listen: '127.0.0.1:0',
          intakeTokenFile: join(dir, 'token'),
          logLevel: 'info',
          durability: 'normal',
          maxPending: 1000,
          retentionHours: 1,
        },
        createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) }),
        {},
      )
      t.teardown(() => c.stop())
      const res = await request(`http://127.0.0.1:${c.address.port}/metrics`, { headers: { authorization: `Bearer ${token}` } })
      t.equal(res.statusCode, 200)
      const text = await res.body.text()
      const declared = new Map<string, { help: boolean; type?: string }>()
      for (const m of text.matchAll(/^# (HELP|TYPE) (\S+) ?(.*)$/gm)) {
        const d = declared.get(m[2]!) ?? { help: false }
        if (m[1] === 'HELP') d.help = m[3] !== ''
        else d.type = m[3]
        declared.set(m[2]!, d)
      }
      /** The series names a family exposes: a histogram's _bucket, _sum and _count. */
      const exported = new Set<string>()
      for (const [name, d] of declared) {
        if (!d.help || !d.type) t.fail(`${name} lacks HELP or TYPE`)
        if (d.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(name + s)
        else exported.add(name)
      }
      const samples = (name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `)).length
      // A fresh hookwise has sent nothing: these families have no sample yet, and are listed all the same.
      for (const name of ['hookwise_deliveries_total', 'hookwise_delivery_attempts_total', 'hookwise_circuit_state']) {
        t.ok(exported.has(name), `${name} is listed`)
        t.equal(samples(name), 0, `${name} has no sample yet`)
      }

      const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8'))
      const dashboardExprs: string[] = [
        ...dashboard.panels.flatMap((p: { targets: Array<{ expr: string }> }) => p.targets.map((x) => x.expr)),
        // label_values(SELECTOR, label): the selector is PromQL.
        ...dashboard.templating.list
          .filter((v: { type: string }) => v.type === 'query')
          .map((v: { query: { query: string } }) => /^label_values\((.+), \w+\)$/.exec(v.query.query)![1]!),
      ]
      const { rules } = await ruleFile(t)
      // Grafana's interval variables are durations where Prometheus sees the query.
      const exprs = [...dashboardExprs, ...rules.map((r) => r.expr)].map((e) => e.replaceAll('$__rate_interval', '5m'))
      const named = await promtool.metricNames(exprs)
      const used = new Set<string>()
      for (const { expr, metrics } of named) {
        t.not(metrics.length, 0, `${expr} names a metric`)
        for (const m of metrics) {
          used.add(m)
          if (!exported.has(m)) t.fail(`${m} (in ${expr}) is not on hookwise's /metrics`)
        }
      }
      t.same(
        [...used].sort(),
        [
          'hookwise_circuit_state',
          'hookwise_deliveries_total',
          'hookwise_delivery_attempt_duration_seconds_bucket',
          'hookwise_delivery_attempt_duration_seconds_count',
          'hookwise_delivery_attempt_duration_seconds_sum',
          'hookwise_delivery_attempts_total',
          'hookwise_events_received_total',
          'hookwise_leader',
          'hookwise_queue_oldest_pending_age_seconds',
          'hookwise_queue_pending',
          'hookwise_store_writable',
        ],
        'the dashboard and the rules cover every hookwise metric',
      )
      await t.rejects(
        promtool.metricNames(['sum(hookwise_queue_pending']),
        /unclosed left parenthesis/,
        'a query that does not parse fails',
      )
    },
  )
}
