// The EventSource kind: loaded from a folder like Webhooks and Automations, validated schema then
// meaning with file:line errors; the MLflow mapping and signature check on their own.
import { createHmac } from 'node:crypto'
import { join } from 'node:path'
import t from 'tap'
import { enrichMlflowEvent, mapMlflowDelivery } from '../controller/api/mlflow-event.js'
import { verifyMlflowRequest, verifyWandbRequest } from '../controller/delivery/source-verify.js'
import { loadDesiredState } from '../controller/sources/load.js'
import { hookwise } from './helpers/cli.js'

const SOURCE = `apiVersion: hookwise.dev/v1alpha1
kind: EventSource
metadata: {name: mlflow-prod, namespace: mlops}
spec:
  mlflow:
    trackingUri: https://mlflow.mlops.svc:5000
    entity: acme
    signingSecret: {secretKeyRef: {name: mlflow, key: webhook-secret}}
`

t.test('a valid EventSource is loaded, its registry defaulted to model', async (t) => {
  const dir = t.testdir({ 's.yaml': SOURCE })
  const state = await loadDesiredState({ manifests: [dir] })
  t.same(state.diagnostics, [])
  t.same([...state.eventSources.keys()], ['mlops/mlflow-prod'])
  t.equal(state.eventSources.get('mlops/mlflow-prod')!.spec.mlflow!.registry, 'model')
})

t.test('both mlflow and wandb: HW_EVENT_SOURCE_KIND at spec, with file and line', async (t) => {
  const both = `${SOURCE}  wandb:
    signingSecret: {secretKeyRef: {name: wb, key: secret}}
    accessToken: {secretKeyRef: {name: wb, key: token}}
`
  const dir = t.testdir({ 's.yaml': both })
  const state = await loadDesiredState({ manifests: [dir] })
  t.same(state.diagnostics, [
    {
      file: join(dir, 's.yaml'),
      line: 4,
      column: 1,
      object: 'EventSource mlops/mlflow-prod',
      path: 'spec',
      code: 'HW_EVENT_SOURCE_KIND',
      severity: 'error',
      message: 'set exactly one of spec.mlflow and spec.wandb',
      hint: 'keep spec.mlflow for an MLflow server or spec.wandb for W&B automations, not both',
    },
  ])
  t.equal(state.eventSources.size, 0)
})

t.test('schema errors name the field: a trackingUri that is no URL, a missing entity', async (t) => {
  const bad = SOURCE.replace('https://mlflow.mlops.svc:5000', 'mlflow:5000').replace('    entity: acme\n', '')
  const dir = t.testdir({ 's.yaml': bad })
  const run = await hookwise(['validate', dir])
  t.equal(run.status, 1)
  const file = join(dir, 's.yaml')
  t.equal(
    run.stdout + run.stderr,
    `${file}:5:3: error HW_SCHEMA: EventSource mlops/mlflow-prod: spec.mlflow.entity: required field "entity" is missing
  hint: add spec.mlflow.entity: What events carry as entity (MLflow has none), e.g. your team.
${file}:6:5: error HW_SCHEMA: EventSource mlops/mlflow-prod: spec.mlflow.trackingUri: "mlflow:5000" does not match the pattern ^[hH][tT][tT][pP][sS]?://[^\\s]+$
  hint: write a value that matches (MLflow's base URL; its REST API enriches each event (author, tags, aliases, the run's metrics and params).)
invalid: 2 errors
`,
  )
})

t.test('MLflow events map to canonical events; version 3 becomes v3; enrichment fills author, tags, aliases, metadata', async (t) => {
  const target = { entity: 'acme', registry: 'model' }
  const alias = mapMlflowDelivery(
    {
      entity: 'model_version_alias',
      action: 'created',
      timestamp: '2026-12-03T10:00:00.123456+00:00',
      data: { name: 'churn', alias: 'production', version: '3' },
    },
    'd-1',
    target,
  )
  if (!alias.mapped) throw new Error('not mapped')
  t.same(alias.event, {
    id: 'mlflow-d-1',
    type: 'ADD_ARTIFACT_ALIAS',
    time: '2026-12-03T10:00:00.123Z',
    entity: 'acme',
    project: 'model',
    registry: 'model',
    collection: 'churn',
    artifact: { id: Buffer.from('MlflowModelVersion:churn/3').toString('base64'), name: 'churn', version: 'v3', type: 'model' },
    alias: 'production',
  })
  const enriched = enrichMlflowEvent(alias, {
    version: { user_id: '', run_id: 'r1', tags: [{ key: 'team', value: 'ml' }], aliases: ['champion'] },
    run: {
      info: { user_id: 'alice' },
      data: {
        metrics: [{ key: 'accuracy', value: 0.93 }],
        params: [
          { key: 'framework', value: 'xgboost' },
          { key: 'accuracy', value: 'x' },
        ],
      },
    },
  })
  t.same(enriched.author, 'alice')
  t.same(enriched.artifact, {
    id: alias.event.artifact.id,
    name: 'churn',
    version: 'v3',
    type: 'model',
    aliases: ['champion', 'production'],
    tags: ['team'],
    metadata: { framework: 'xgboost', accuracy: 0.93 },
  })
  t.same(mapMlflowDelivery({ entity: 'registered_model', action: 'created', data: { name: 'm' } }, 'd-2', target), {
    mapped: false,
    name: 'registered_model.created',
  })
  t.same(mapMlflowDelivery({ entity: 'model_version_alias', action: 'deleted', data: { name: 'm', alias: 'a' } }, 'd-3', target), {
    mapped: false,
    name: 'model_version_alias.deleted',
  })
})

t.test('X-MLflow-Signature: v1 HMAC over id.timestamp.body, 5 minutes either way; W&B: signature and bearer token', async (t) => {
  const body = Buffer.from('{"entity":"model_version","action":"created"}')
  const now = 1_764_000_000_000
  const sign = (secret: string, id: string, ts: number) =>
    `v1,${createHmac('sha256', secret).update(`${id}.${ts}.${body}`).digest('base64')}`
  const headers = (ts: number, secret = 's3cret') => ({
    'x-mlflow-delivery-id': 'd-9',
    'x-mlflow-timestamp': String(ts),
    'x-mlflow-signature': sign(secret, 'd-9', ts),
  })
  t.same(verifyMlflowRequest(headers(now / 1000), body, 's3cret', now), { ok: true, deliveryId: 'd-9' })
  t.same(verifyMlflowRequest(headers(now / 1000 + 300), body, 's3cret', now), { ok: true, deliveryId: 'd-9' })
  t.match(verifyMlflowRequest(headers(now / 1000 - 301), body, 's3cret', now), { ok: false, reason: /^X-MLflow-Timestamp is 301 s away/ })
  t.match(verifyMlflowRequest(headers(now / 1000, 'other'), body, 's3cret', now), {
    ok: false,
    reason: /^X-MLflow-Signature does not match/,
  })
  t.match(verifyMlflowRequest({}, body, 's3cret', now), { ok: false, reason: /are required/ })
  const wb = createHmac('sha256', 'wsecret').update(body).digest('base64')
  t.same(verifyWandbRequest({ authorization: 'Bearer tok', 'x-wandb-signature': wb }, body, 'wsecret', 'tok'), { ok: true })
  t.match(verifyWandbRequest({ authorization: 'Bearer nope', 'x-wandb-signature': wb }, body, 'wsecret', 'tok'), {
    ok: false,
    reason: /^Authorization/,
  })
  t.match(verifyWandbRequest({ authorization: 'Bearer tok', 'x-wandb-signature': 'AAAA' }, body, 'wsecret', 'tok'), {
    ok: false,
    reason: /^X-Wandb-Signature does not match/,
  })
})

t.test('hookwise sources mlflow-command prints the create_webhook call, the secret read from the environment', async (t) => {
  const dir = t.testdir({ 's.yaml': SOURCE })
  const run = await hookwise([
    'sources',
    'mlflow-command',
    '--manifests',
    dir,
    '--source',
    'mlops/mlflow-prod',
    '--public-url',
    'https://hookwise.example.com',
  ])
  t.equal(run.status, 0)
  t.equal(
    run.stdout,
    `# The value of key webhook-secret of Secret mlops/mlflow in MLFLOW_WEBHOOK_SECRET, then:
import os
from mlflow import MlflowClient

webhook = MlflowClient("https://mlflow.mlops.svc:5000").create_webhook(
    name="hookwise-mlops-mlflow-prod",
    url="https://hookwise.example.com/v1/sources/mlops/mlflow-prod",
    events=["model_version.created", "model_version_alias.created", "model_version_tag.set", "model_version_tag.deleted"],
    secret=os.environ["MLFLOW_WEBHOOK_SECRET"],
)
print(webhook.webhook_id)
`,
  )
  const missing = await hookwise(['sources', 'mlflow-command', '--manifests', dir, '--source', 'nope', '--public-url', 'https://h.example'])
  t.equal(missing.status, 1)
  t.match(missing.stderr, /^error HW_EVENT_SOURCE_NOT_FOUND: no valid MLflow EventSource default\/nope in /)
})
