// Benchmark: events per second through an MLflow EventSource, enrichment included. A real MLflow
// server (the test harness's virtualenv, SQLite backend, one worker) holds a model version from a
// run with metrics and params; BENCH_EVENTS signed `model_version_alias.created` deliveries, as MLflow
// sends them, go to hookwise's intake with BENCH_IN_FLIGHT in flight; the time runs until every one
// is enriched (two REST calls to MLflow each) and accepted by the engine. In the same round, the
// baseline: the same two MLflow calls per event straight from this process with the same concurrency
// (MLflow's own ceiling), and the same events as plain hookwise JSON on /v1/events (no enrichment).
// Prints one JSON line per phase and a summary of medians over BENCH_ROUNDS rounds.
// Run: npm run bench:mlflow   (not part of npm test; installs MLflow first if the harness has not)
// Knobs (environment): BENCH_ROUNDS (3), BENCH_EVENTS (300), BENCH_IN_FLIGHT (16).
import { createHmac, randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Writable } from 'node:stream'
import { startController } from '../controller/app/start-controller.js'
import { createLogger } from '../controller/log.js'
import { useMlflow } from '../test/helpers/mlflow.js'
import { median, positiveEnv } from './measure.js'

const ROUNDS = positiveEnv('BENCH_ROUNDS', 3)
const EVENTS = positiveEnv('BENCH_EVENTS', 300)
const IN_FLIGHT = positiveEnv('BENCH_IN_FLIGHT', 16)
const SECRET = 'bench-mlflow-secret'
const log = (line: Record<string, unknown>): void => console.log(JSON.stringify({ bench: 'mlflow-intake', ...line }))

const cleanups: Array<() => unknown> = []
const t = {
  teardown: (fn: () => unknown) => void cleanups.push(fn),
  plan: () => {},
  fail: (m: string) => {
    throw new Error(m)
  },
  comment: () => {},
}
const mlflow = await useMlflow(t as never)
if (!mlflow) throw new Error('bench:mlflow needs Python 3 to install MLflow')
const server = await mlflow.serve(t as never)
// The last line: MLflow prints a "View run" line of its own first.
const seededOutput = (
  await mlflow.python(
    `import mlflow, json
from mlflow import MlflowClient
c = MlflowClient()
with mlflow.start_run() as run:
    mlflow.log_metric("accuracy", 0.93)
    mlflow.log_param("framework", "xgboost")
c.create_registered_model("churn")
mv = c.create_model_version("churn", source=run.info.artifact_uri + "/model", run_id=run.info.run_id)
print(json.dumps({"version": mv.version, "run": run.info.run_id}))`,
    { MLFLOW_TRACKING_URI: server.url },
  )
)
  .trim()
  .split('\n')
  .at(-1)!
const seeded = JSON.parse(seededOutput) as { version: string; run: string }

// A receiver that answers 200 at once: deliveries are not what is measured.
const receiver = createServer((req, res) => req.resume().on('end', () => res.end('{}')))
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
const receiverPort = (receiver.address() as { port: number }).port

async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 20))
}

async function pool<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < items.length) await work(items[next++]!)
    }),
  )
}

async function round(n: number): Promise<Record<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), 'hookwise-bench-mlflow-'))
  await writeFile(
    join(dir, 'm.yaml'),
    `apiVersion: v1
kind: Secret
metadata: {name: mlflow}
stringData: {secret: ${SECRET}}
---
apiVersion: hookwise.dev/v1alpha1
kind: EventSource
metadata: {name: mlflow}
spec:
  mlflow: {trackingUri: "${server.url}", entity: acme, signingSecret: {secretKeyRef: {name: mlflow, key: secret}}}
---
apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: sink}
spec: {url: "http://127.0.0.1:${receiverPort}/"}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: deploy}
spec:
  scope: {type: Registry, registry: model}
  event:
    type: ADD_ARTIFACT_ALIAS
    aliasRegex: ^production$
    metadata: [{key: accuracy, op: gte, value: "0.9"}]
  action: {webhook: sink, payload: {v: "\${artifact_version_string}", a: "\${json:artifact_metadata.accuracy}"}}
`,
  )
  const c = await startController(
    {
      dir: [dir],
      state: join(dir, 'state'),
      listen: '127.0.0.1:0',
      allowInsecureHttp: true,
      egressAllow: ['127.0.0.0/8'],
      logLevel: 'error',
      durability: 'normal',
      maxPending: 100_000,
      retentionHours: 1,
    },
    createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) }),
    {},
  )
  const base = `http://127.0.0.1:${c.address.port}`
  const status = async () =>
    ((await (await fetch(`${base}/v1/status`)).json()) as { eventSources: Array<{ events: { accepted: number; waiting: number } }> })
      .eventSources[0]!.events
  const ids = Array.from({ length: EVENTS }, () => randomUUID())

  // Baseline 1: MLflow's REST API, the two calls enrichment makes, straight from here.
  let started = performance.now()
  await pool(ids, async () => {
    await (await fetch(`${server.url}/api/2.0/mlflow/model-versions/get?name=churn&version=${seeded.version}`)).text()
    await (await fetch(`${server.url}/api/2.0/mlflow/runs/get?run_id=${seeded.run}`)).text()
  })
  const direct = EVENTS / ((performance.now() - started) / 1000)

  // Baseline 2: the same events as hookwise JSON on /v1/events.
  started = performance.now()
  await pool(ids, async (id) => {
    const event = {
      id: `plain-${id}`,
      type: 'ADD_ARTIFACT_ALIAS',
      entity: 'acme',
      project: 'model',
      registry: 'model',
      collection: 'churn',
      alias: 'production',
      artifact: { id: 'QQ==', name: 'churn', version: `v${seeded.version}`, metadata: { accuracy: 0.93 } },
    }
    const res = await fetch(`${base}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(event),
    })
    await res.text()
  })
  const plain = EVENTS / ((performance.now() - started) / 1000)

  // The MLflow intake: signed deliveries, then until each is enriched and accepted.
  started = performance.now()
  await pool(ids, async (id) => {
    const body = JSON.stringify({
      entity: 'model_version_alias',
      action: 'created',
      timestamp: new Date().toISOString(),
      data: { name: 'churn', alias: 'production', version: seeded.version },
    })
    const ts = String(Math.floor(Date.now() / 1000))
    const signature = `v1,${createHmac('sha256', SECRET).update(`${id}.${ts}.${body}`).digest('base64')}`
    const res = await fetch(`${base}/v1/sources/default/mlflow`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-mlflow-delivery-id': id,
        'x-mlflow-timestamp': ts,
        'x-mlflow-signature': signature,
      },
      body,
    })
    if (res.status !== 202) throw new Error(`intake answered ${res.status}: ${await res.text()}`)
  })
  const received = performance.now()
  await until(async () => {
    const e = await status()
    return e.accepted === EVENTS && e.waiting === 0
  })
  const seconds = (performance.now() - started) / 1000
  const mlflowIntake = EVENTS / seconds
  await c.stop()
  await rm(dir, { recursive: true, force: true })
  const line = {
    round: n,
    events: EVENTS,
    inFlight: IN_FLIGHT,
    mlflowIntakePerSecond: Math.round(mlflowIntake),
    intakeAnsweredPerSecond: Math.round(EVENTS / ((received - started) / 1000)),
    mlflowRestPairsPerSecond: Math.round(direct),
    plainEventsPerSecond: Math.round(plain),
    ratioToMlflowRest: Number((mlflowIntake / direct).toFixed(2)),
    ratioToPlain: Number((mlflowIntake / plain).toFixed(3)),
  }
  log(line)
  return line
}

try {
  const rounds: Array<Record<string, number>> = []
  for (let i = 1; i <= ROUNDS; i++) rounds.push(await round(i))
  const med = (k: string) => median(rounds.map((r) => r[k]!))
  log({
    summary: 'medians',
    mlflowIntakePerSecond: med('mlflowIntakePerSecond'),
    intakeAnsweredPerSecond: med('intakeAnsweredPerSecond'),
    mlflowRestPairsPerSecond: med('mlflowRestPairsPerSecond'),
    plainEventsPerSecond: med('plainEventsPerSecond'),
    ratioToMlflowRest: med('ratioToMlflowRest'),
    ratioToPlain: med('ratioToPlain'),
  })
} finally {
  receiver.close()
  for (const fn of cleanups.reverse()) await fn()
}
