// An MLflow EventSource end to end: a real MLflow server (PyPI mlflow, SQLite backend, loopback)
// sends its model registry webhooks to `hookwise run`, driven by the MLflow Python client; a
// loopback receiver gets what hookwise's Automations deliver. MLflow's REST API is reached through
// a TCP proxy, so a test can cut hookwise off from it while MLflow still sends webhooks.
import { createHmac } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { hookwise as cli } from './helpers/cli.js'
import { startHookwise, type HookwiseProcess } from './helpers/hookwise-process.js'
import { type MlflowServer, useMlflow } from './helpers/mlflow.js'
import { freePort } from './helpers/ports.js'
import { type Received, startReceiver } from './helpers/receiver.js'
import { tcpProxy } from './helpers/tcp-proxy.js'
import { until } from './helpers/until.js'

const mlflow = await useMlflow(t)
if (mlflow) {
  const SECRET = 'mlflow-webhook-secret-1'
  const server: MlflowServer = await mlflow.serve(t)
  const proxy = await tcpProxy(t, server.port)
  const receiver = await startReceiver(t)
  const dir = await mkdtemp(join(tmpdir(), 'hookwise-mlflow-source-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const port = await freePort()
  const hookwiseUrl = `http://127.0.0.1:${port}`
  const intake = `${hookwiseUrl}/v1/sources/default/mlflow-prod`

  const webhook = (name: string) => `
apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: ${name}}
spec: {url: "${receiver.url}/${name}", timeoutSeconds: 5}
`
  await writeFile(
    join(dir, 'mlflow.yaml'),
    `apiVersion: v1
kind: Secret
metadata: {name: mlflow}
stringData: {webhook-secret: ${SECRET}}
---
apiVersion: hookwise.dev/v1alpha1
kind: EventSource
metadata: {name: mlflow-prod}
spec:
  mlflow:
    trackingUri: http://127.0.0.1:${proxy.port}
    entity: acme
    registry: model
    signingSecret: {secretKeyRef: {name: mlflow, key: webhook-secret}}
---${webhook('deploy')}---${webhook('announce')}---${webhook('tags')}---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: deploy-production}
spec:
  scope: {type: Collection, registry: model, collection: churn-classifier}
  event:
    type: ADD_ARTIFACT_ALIAS
    aliasRegex: ^production$
    metadata:
      - {key: accuracy, op: gte, value: "0.9"}
  action:
    webhook: deploy
    payload:
      event_type: BUILD_AND_DEPLOY
      client_payload:
        version: \${artifact_version_string}
        artifact: \${artifact_version}
        alias: \${alias}
        author: \${event_author}
        accuracy: \${json:artifact_metadata.accuracy}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: announce}
spec:
  scope: {type: Registry, registry: model}
  event: {type: LINK_ARTIFACT}
  action:
    webhook: announce
    payload:
      text: "\${event_author} linked \${artifact_version_string}"
      metadata: \${json:artifact_metadata}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: tag-set}
spec:
  scope: {type: Registry, registry: model}
  event: {type: ADD_ARTIFACT_TAG, tagRegex: ^candidate$}
  action:
    webhook: tags
    payload:
      change: set
      tag: \${tag}
      value: \${artifact_metadata.candidate}
      tags: \${json:artifact_tags}
      id: \${event_id}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: tag-deleted}
spec:
  scope: {type: Registry, registry: model}
  event: {type: REMOVE_ARTIFACT_TAG, tagRegex: ^candidate$}
  action:
    webhook: tags
    payload:
      change: deleted
      tag: \${tag}
      tags: \${json:artifact_tags}
`,
  )

  const run = (): HookwiseProcess =>
    startHookwise(
      [
        'run',
        '--dir',
        dir,
        '--state',
        join(dir, 'state'),
        '--listen',
        `127.0.0.1:${port}`,
        '--allow-insecure-http',
        '--egress-allow',
        '127.0.0.1/32',
      ],
      t,
    )
  let hookwise = run()
  await hookwise.url()

  // The MLflow client, as a user runs it. USER names the run's user (MLflow's default author).
  const py = (body: string): Promise<string> =>
    mlflow.python(`import mlflow, os, json\nfrom mlflow import MlflowClient\nc = MlflowClient()\n${body}`, {
      MLFLOW_TRACKING_URI: server.url,
      USER: 'alice',
      LOGNAME: 'alice',
    })
  // Webhooks are created through MLflow's REST API (quicker than starting Python for each).
  const createWebhook = async (name: string, url: string, events: string[]) => {
    const res = await fetch(`${server.url}/api/2.0/mlflow/webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name,
        url,
        secret: SECRET,
        events: events.map((e) => ({ entity: e.split('.')[0]!.toUpperCase(), action: e.split('.')[1]!.toUpperCase() })),
      }),
    })
    if (!res.ok) throw new Error(`create webhook: ${res.status} ${await res.text()}`)
  }
  await createWebhook('hookwise', intake, [
    'model_version.created',
    'model_version_alias.created',
    'model_version_tag.set',
    'model_version_tag.deleted',
  ])

  const bodies = (path: string): unknown[] => receiver.received.filter((r) => r.path === path).map((r) => JSON.parse(r.body))
  const status = async () => {
    const res = await fetch(`${hookwiseUrl}/v1/status`)
    return ((await res.json()) as { eventSources: Array<Record<string, any>> }).eventSources[0]!
  }

  await t.test('a version registered, aliased production, tagged and untagged: the exact bodies delivered', async (t) => {
    const artifactId = Buffer.from('MlflowModelVersion:churn-classifier/1').toString('base64')
    await py(`
with mlflow.start_run() as run:
    mlflow.log_metric("accuracy", 0.93)
    mlflow.log_param("framework", "xgboost")
c.create_registered_model("churn-classifier")
mv = c.create_model_version("churn-classifier", source=run.info.artifact_uri + "/model", run_id=run.info.run_id)
c.set_registered_model_alias("churn-classifier", "production", mv.version)
c.set_model_version_tag("churn-classifier", mv.version, "candidate", "yes")
c.delete_model_version_tag("churn-classifier", mv.version, "candidate")
`)
    await receiver.waitFor(4, 60_000)
    t.same(bodies('/announce'), [
      { text: 'alice linked acme/model/churn-classifier:v1', metadata: { framework: 'xgboost', accuracy: 0.93 } },
    ])
    t.same(bodies('/deploy'), [
      {
        event_type: 'BUILD_AND_DEPLOY',
        client_payload: {
          version: 'acme/model/churn-classifier:production',
          artifact: `wandb-artifact://_id/${artifactId}`,
          alias: 'production',
          author: 'alice',
          accuracy: 0.93,
        },
      },
    ])
    const tags = (bodies('/tags') as Array<Record<string, unknown>>).sort((a, b) => (a.change === 'set' ? -1 : b.change === 'set' ? 1 : 0))
    t.match(tags[0], { change: 'set', tag: 'candidate', value: 'yes', tags: ['candidate'] })
    t.match(String(tags[0]!.id), /^mlflow-[0-9a-f-]{36}$/)
    t.same(tags[1], { change: 'deleted', tag: 'candidate', tags: [] })
    const s = await status()
    t.match(s, {
      name: 'mlflow-prod',
      ready: true,
      registry: 'mlflow',
      events: { accepted: 4, duplicates: 0, rejected: 0, waiting: 0 },
      lastEvent: { type: 'model_version_tag.deleted' },
    })
  })

  await t.test('accuracy below 0.9: the alias event arrives and matches nothing', async (t) => {
    const before = receiver.received.length
    await py(`
with mlflow.start_run() as run:
    mlflow.log_metric("accuracy", 0.71)
mv = c.create_model_version("churn-classifier", source=run.info.artifact_uri + "/model", run_id=run.info.run_id)
c.set_registered_model_alias("churn-classifier", "production", mv.version)
`)
    await until('two more events accepted', async () => (await status()).events.accepted === 6)
    await receiver.waitFor(before + 1, 30_000)
    await new Promise((r) => setTimeout(r, 1500))
    t.same(
      receiver.received.slice(before).map((r) => r.path),
      ['/announce'],
      'only the LINK_ARTIFACT of version 2 is delivered; the production alias of a 0.71 model is not',
    )
  })

  await t.test("MLflow's own request replayed, re-signed with a wrong secret or an old timestamp", async (t) => {
    // What MLflow sends, captured by a second webhook pointing at the receiver.
    await createWebhook('capture', `${receiver.url}/capture`, ['registered_model.created'])
    await new Promise((r) => setTimeout(r, 1500)) // MLFLOW_WEBHOOK_CACHE_TTL
    await py('c.create_registered_model("fraud-detector")')
    const captured: Received = await until('MLflow posting to /capture', () => receiver.received.find((r) => r.path === '/capture'))
    const headers = (h: Record<string, string>) => ({ 'content-type': 'application/json', ...h })
    const sent = {
      'x-mlflow-delivery-id': String(captured.headers['x-mlflow-delivery-id']),
      'x-mlflow-timestamp': String(captured.headers['x-mlflow-timestamp']),
      'x-mlflow-signature': String(captured.headers['x-mlflow-signature']),
    }
    const post = async (h: Record<string, string>, body = captured.body) => {
      const res = await fetch(intake, { method: 'POST', headers: headers(h), body })
      return { status: res.status, body: (await res.json()) as Record<string, any> }
    }
    const before = await status()
    const first = await post(sent)
    t.same(first, {
      status: 202,
      body: { deliveryId: sent['x-mlflow-delivery-id'], recorded: 'registered_model.created', matched: false },
    })
    t.same(await post(sent), { status: 200, body: { duplicate: true, deliveryId: sent['x-mlflow-delivery-id'] } })

    const sign = (secret: string, id: string, ts: string, body: string) =>
      `v1,${createHmac('sha256', secret).update(`${id}.${ts}.${body}`).digest('base64')}`
    const fresh = String(Math.floor(Date.now() / 1000))
    const wrong = await post({
      ...sent,
      'x-mlflow-delivery-id': 'd-wrong',
      'x-mlflow-timestamp': fresh,
      'x-mlflow-signature': sign('not-the-secret', 'd-wrong', fresh, captured.body),
    })
    t.equal(wrong.status, 401)
    t.equal(wrong.body.detail, "X-MLflow-Signature does not match the body and the EventSource's signingSecret; nothing was stored")
    t.equal(wrong.body.errors[0].code, 'HW_SOURCE_UNVERIFIED')
    const old = String(Math.floor(Date.now() / 1000) - 600)
    const replay = await post({
      ...sent,
      'x-mlflow-delivery-id': 'd-old',
      'x-mlflow-timestamp': old,
      'x-mlflow-signature': sign(SECRET, 'd-old', old, captured.body),
    })
    t.equal(replay.status, 401)
    t.match(replay.body.detail, /^X-MLflow-Timestamp is 60\d s away from hookwise's clock \(at most 300 s\)/)
    const tampered = await post(sent, captured.body.replace('fraud-detector', 'fraud-detectorX'))
    t.equal(tampered.status, 401, 'a changed body with the real signature')
    const after = await status()
    t.equal(after.events.accepted, before.events.accepted + 1)
    t.equal(after.events.duplicates, before.events.duplicates + 1)
    t.equal(after.events.rejected, before.events.rejected + 3)
  })

  await t.test(
    'MLflow unreachable for enrichment, and hookwise killed before delivering: the event waits, then arrives once',
    async (t) => {
      const before = receiver.received.length
      proxy.cut()
      await py(`
with mlflow.start_run() as run:
    mlflow.log_metric("accuracy", 0.95)
mv = c.create_model_version("churn-classifier", source=run.info.artifact_uri + "/model", run_id=run.info.run_id)
`)
      await until('one request waiting for enrichment', async () => (await status()).events.waiting === 1)
      const waiting = await status()
      t.match(waiting.lastError, /^GET http:\/\/127\.0\.0\.1:\d+\/api\/2\.0\/mlflow\/model-versions\/get: /)
      await hookwise.kill('SIGKILL')
      hookwise = run()
      await hookwise.url()
      t.equal((await status()).events.waiting, 1, 'the request outlived the crash in the inbox')
      proxy.restore()
      await receiver.waitFor(before + 1, 60_000)
      await new Promise((r) => setTimeout(r, 1000))
      t.same(
        receiver.received.slice(before).map((r) => JSON.parse(r.body)),
        [{ text: 'alice linked acme/model/churn-classifier:v3', metadata: { accuracy: 0.95 } }],
      )
      t.equal((await status()).events.waiting, 0)
    },
  )

  await t.test(
    'spec.mlflow.register: hookwise creates the webhook in MLflow, status shows its id, removing the EventSource deletes it',
    async (t) => {
      const listed = async () =>
        ((await (await fetch(`${server.url}/api/2.0/mlflow/webhooks`)).json()) as { webhooks: Array<Record<string, any>> }).webhooks
      const registeredSource = async () => {
        const res = await fetch(`${hookwiseUrl}/v1/status`)
        return ((await res.json()) as { eventSources: Array<Record<string, any>> }).eventSources.find((e) => e.name === 'mlflow-registered')
      }
      await writeFile(
        join(dir, 'register.yaml'),
        `apiVersion: hookwise.dev/v1alpha1
kind: EventSource
metadata: {name: mlflow-registered}
spec:
  mlflow:
    trackingUri: ${server.url}
    entity: acme
    signingSecret: {secretKeyRef: {name: mlflow, key: webhook-secret}}
    register: {publicUrl: "${hookwiseUrl}"}
`,
      )
      const registered = await until('the registered webhook in status', async () => {
        const found = await registeredSource()
        return found?.mlflowWebhookId ? found : undefined
      })
      const inMlflow = (await listed()).find((w) => w.name === 'hookwise-default-mlflow-registered')
      t.match(inMlflow, {
        webhook_id: registered.mlflowWebhookId,
        url: `${hookwiseUrl}/v1/sources/default/mlflow-registered`,
        status: 'ACTIVE',
      })
      t.same(
        inMlflow!.events.map((e: { entity: string; action: string }) => `${e.entity}.${e.action}`).sort(),
        ['MODEL_VERSION.CREATED', 'MODEL_VERSION_ALIAS.CREATED', 'MODEL_VERSION_TAG.DELETED', 'MODEL_VERSION_TAG.SET'],
        "the events hookwise maps, as MLflow's REST API writes them",
      )
      const describe = await cli(['describe', 'eventsource', 'mlflow-registered', '--server', hookwiseUrl])
      t.match(describe.stdout, `MLflow webhook: ${registered.mlflowWebhookId}\n`)
      // MLflow signs with the secret hookwise gave it: its next event is accepted by the registered source.
      await new Promise((r) => setTimeout(r, 1500)) // MLFLOW_WEBHOOK_CACHE_TTL
      await py('c.set_model_version_tag("churn-classifier", "1", "stage", "qa")')
      await until('an event on the registered source', async () => {
        const found = await registeredSource()
        return found?.events.accepted === 1 && found.events.rejected === 0
      })
      await rm(join(dir, 'register.yaml'))
      await until(
        'the webhook deleted in MLflow',
        async () => !(await listed()).some((w) => w.name === 'hookwise-default-mlflow-registered'),
      )
      t.pass('deleted with the EventSource')
    },
  )
}
