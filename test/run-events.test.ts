// Run events end to end (issue 25): POST /v1/runs and `hookwise emit --run` into a real controller
// (its SQLite files in a temporary state folder) delivering to a real receiver. Windows and cooldowns
// survive restarts; a run's values go when it ends; each series is bounded.
import t from 'tap'
import Database from 'better-sqlite3'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { request } from 'undici'
import { startController, type RunningController } from '../controller/app/start-controller.js'
import { createLogger } from '../controller/log.js'
import { hookwise } from './helpers/cli.js'
import { startReceiver } from './helpers/receiver.js'

const TOKEN = 'intake-token-runs-0123456789'

const MANIFESTS = (url: string): string => `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: hook}
spec: {url: ${url}}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: loss-high}
spec:
  scope: {type: Project, entity: acme, project: churn}
  event: {type: RUN_METRIC, metric: val_loss, agg: AVERAGE, window: 3, op: gt, threshold: 0.5}
  action: {webhook: hook, payload: {text: "\${run_name} \${metric_agg}(\${metric_name})=\${metric_value} > \${threshold}", state: "\${run_state}", event: "\${event_type}"}}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: spike}
spec:
  scope: {type: Entity, entity: acme}
  event: {type: RUN_METRIC_ZSCORE, metric: val_loss, window: 5, threshold: 3, direction: INCREASE, cooldown: "0", runTags: [watched]}
  action: {webhook: hook, payload: {z: "\${json:metric_value}", run: "\${run_id}"}}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: failed}
spec:
  scope: {type: Project, entity: acme, project: churn}
  event: {type: RUN_STATE, states: [FAILED]}
  action: {webhook: hook, payload: {text: "\${run_id} \${run_state} by \${event_author}", url: "\${run_url}"}}
`

const RUN = {
  id: 'r1',
  name: 'sweep-1',
  entity: 'acme',
  project: 'churn',
  author: 'alice',
  tags: ['watched'],
  url: 'https://mlflow.example/r1',
}
const point = (step: number, val_loss: number | string) => ({ run: RUN, step, metrics: { val_loss, ignored_metric: 1 } })

t.test('POST /v1/runs: exact deliveries, windows and cooldowns across restarts, runs trimmed when they end', async (t) => {
  const receiver = await startReceiver(t)
  const root = t.testdir({ manifests: { 'all.yaml': MANIFESTS(`${receiver.url}/hook`) } })
  const tokenFile = join(root, 'token')
  writeFileSync(tokenFile, `${TOKEN}\n`)
  const state = join(root, 'state')
  let controller: RunningController | undefined
  const start = async (): Promise<string> => {
    const sink = new Writable({ write: (_c, _e, cb) => cb() })
    controller = await startController(
      {
        dir: [join(root, 'manifests')],
        state,
        listen: '127.0.0.1:0',
        intakeTokenFile: tokenFile,
        allowInsecureHttp: true,
        egressAllow: ['127.0.0.0/8'],
        logLevel: 'info',
        durability: 'normal',
        maxPending: 1000,
        retentionHours: 24,
      },
      createLogger({ level: 'info', destination: sink }),
      {},
    )
    return `http://127.0.0.1:${controller.address.port}`
  }
  t.teardown(() => controller?.stop())
  let base = await start()
  const post = async (body: unknown, auth = true) => {
    const res = await request(`${base}/v1/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${TOKEN}` } : {}) },
      body: JSON.stringify(body),
    })
    return { status: res.statusCode, json: (await res.body.json()) as any }
  }

  t.equal((await post([point(0, 0.4)], false)).status, 401, 'the intake token, as /v1/events')
  const bad = await post([point(0, 0.4), { run: { id: 'r1', project: 'churn' }, metrics: { val_loss: 'high' } }])
  t.equal(bad.status, 400)
  t.same(
    bad.json.errors.map((e: { path: string; message: string }) => `${e.path}: ${e.message}`),
    [
      '[1].run.entity: required field "entity" is missing',
      '[1].metrics.val_loss: must be a number, not string "high"',
      '[1].metrics.val_loss: "high" is not one of NaN, Infinity, -Infinity',
      '[1].metrics.val_loss: must match a schema in anyOf',
    ],
  )
  t.same(await post({ run: RUN }), {
    status: 400,
    json: {
      type: 'https://hookwise.dev/problems/bad-request',
      title: 'Bad Request',
      status: 400,
      detail: 'a field is not valid; nothing was accepted',
      errors: [
        {
          code: 'HW_EVENT_INVALID',
          message: 'a run message needs metrics, a state, or both',
          hint: 'add "metrics": {"val_loss": 0.4} or "state": "FAILED"',
        },
      ],
    },
  })

  // 0.4, 0.45, 0.5: the average of 3 is 0.45, nothing fires; NaN is no value.
  t.same(await post([point(0, 0.4), point(1, 0.45), point(2, 'NaN'), point(2, 0.5)]), {
    status: 202,
    json: { messages: 4, points: 3, fired: [] },
  })

  // After a restart the window still holds 0.45, 0.5: with 0.9 the average is 0.6166... > 0.5.
  await controller!.stop()
  base = await start()
  const fired = await post([point(3, 0.9)])
  t.equal(fired.status, 202)
  t.equal(fired.json.fired.length, 1)
  t.match(fired.json.fired[0], {
    id: /^run_[0-9a-f]{32}$/,
    duplicate: false,
    deliveries: [{ automation: 'default/loss-high', webhook: 'default/hook' }],
  })
  await receiver.waitFor(1)
  t.equal(
    receiver.received[0]!.body,
    `{"text":"sweep-1 AVERAGE(val_loss)=${(0.45 + 0.5 + 0.9) / 3} > 0.5","state":"RUNNING","event":"RUN_METRIC"}`,
  )
  t.equal(
    receiver.received[0]!.body,
    '{"text":"sweep-1 AVERAGE(val_loss)=0.6166666666666667 > 0.5","state":"RUNNING","event":"RUN_METRIC"}',
  )

  // The 24h cooldown is in runs.db: after another restart, 1.0 (average 0.8) does not fire again.
  await controller!.stop()
  base = await start()
  t.same((await post([point(4, 1.0)])).json, { messages: 1, points: 1, fired: [] })

  // The same point again is the same event: a duplicate, not a second delivery. 0.4 0.45 0.5 0.9 1.0 then 10: z = 3.6 >= 3.
  const spike = await post([point(5, 10)])
  t.equal(spike.json.fired.length, 1)
  t.match(spike.json.fired[0].deliveries, [{ automation: 'default/spike' }])
  await receiver.waitFor(2)
  t.equal(receiver.received[1]!.body, '{"z":10,"run":"r1"}')
  t.match(
    (await post([point(5, 10)])).json.fired,
    [{ id: spike.json.fired[0].id, duplicate: true, deliveries: [] }],
    'cooldown 0: evaluated again, same id',
  )

  // CRASHED counts as FAILED; RUN_STATE fires once per run and state.
  const crashed = await post({ run: RUN, state: 'CRASHED' })
  t.match(crashed.json.fired, [{ deliveries: [{ automation: 'default/failed' }] }])
  t.same((await post({ run: RUN, state: 'FAILED' })).json.fired, [])
  await receiver.waitFor(3)
  t.equal(receiver.received[2]!.body, '{"text":"r1 FAILED by alice","url":"https://mlflow.example/r1"}')
  t.equal(receiver.received.length, 3, 'exactly three deliveries')

  // The ended run's values are gone; a long run keeps at most 1,000 values per metric.
  const db = () => new Database(join(state, 'runs.db'), { readonly: true })
  const count = (run: string): number => {
    const d = db()
    const n = (d.prepare('SELECT COUNT(*) AS n FROM run_points WHERE run = ?').get(run) as { n: number }).n
    d.close()
    return n
  }
  t.equal(count('acme/churn/r1'), 0)
  const long = { ...RUN, id: 'r2', tags: [] }
  for (let batch = 0; batch < 2; batch++)
    t.equal(
      (await post(Array.from({ length: 600 }, (_, i) => ({ run: long, step: batch * 600 + i, metrics: { val_loss: 0.1 } })))).status,
      202,
    )
  t.equal(count('acme/churn/r2'), 1000)
})

t.test('hookwise emit --run sends examples/events/run-val-loss.json and prints what fired', async (t) => {
  const receiver = await startReceiver(t)
  const root = t.testdir({ manifests: { 'all.yaml': MANIFESTS(`${receiver.url}/hook`).replace('window: 3', 'window: 5') } })
  const controller = await startController(
    {
      dir: [join(root, 'manifests')],
      state: join(root, 'state'),
      listen: '127.0.0.1:0',
      allowInsecureHttp: true,
      egressAllow: ['127.0.0.0/8'],
      logLevel: 'info',
      durability: 'normal',
      maxPending: 1000,
      retentionHours: 24,
    },
    createLogger({ level: 'info', destination: new Writable({ write: (_c, _e, cb) => cb() }) }),
    {},
  )
  t.teardown(() => controller.stop())
  const r = await hookwise(['emit', '--to', `http://127.0.0.1:${controller.address.port}`, '--run', 'examples/events/run-val-loss.json'])
  t.equal(r.stderr, '')
  t.match(
    r.stdout,
    /^run messages: 6 accepted, 5 metric values kept, 2 run events fired\nevent run_[0-9a-f]{32}: accepted, 1 delivery\nevent run_[0-9a-f]{32}: accepted, 1 delivery\n$/,
  )
  t.equal(r.status, 0)
  await receiver.waitFor(2)
  t.same(receiver.received.map((x) => x.body).sort(), [
    '{"text":"3xk9q2ab FAILED by bob","url":"https://mlflow.example/#/runs/3xk9q2ab"}',
    '{"text":"sweep-7 AVERAGE(val_loss)=0.55 > 0.5","state":"RUNNING","event":"RUN_METRIC"}',
  ])
})
