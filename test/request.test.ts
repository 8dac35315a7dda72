// buildDeliveryRequest: the exact request of a delivery and its masked twin, built in one place for
// the engine's attempts and history, render, curl and the plan preview.
import t from 'tap'
import { createHmac } from 'node:crypto'
import { join } from 'node:path'
import type { ArtifactEvent } from '../controller/api/types.generated.js'
import { buildDeliveryRequest, type RequestWebhook } from '../controller/delivery/request.js'
import type { CompiledTemplate } from '../controller/model/compiled-template.js'
import { compilePayload } from '../controller/template/compile.js'
import { loadDesiredState } from '../controller/sources/load.js'
import { hookwise } from './helpers/cli.js'

const event: ArtifactEvent = {
  id: 'e-1',
  type: 'ADD_ARTIFACT_ALIAS',
  author: 'alice',
  entity: 'acme',
  project: 'p',
  collection: 'churn',
  alias: 'production',
  artifact: { id: 'QQ==', name: 'churn', version: 'v7' },
}
const webhook: RequestWebhook = {
  url: 'https://ci.example.com/hooks?x=1',
  accessToken: { secretKeyRef: { name: 'creds', key: 'token' } },
  secrets: [
    { name: 'API_KEY', secretKeyRef: { name: 'creds', key: 'api' } },
    { name: 'SIGNING_KEY', secretKeyRef: { name: 'creds', key: 'sign' } },
  ],
  signing: { secret: 'SIGNING_KEY', scheme: 'github' },
  headers: { 'X-Team': 'ml' },
}
const secrets = { ACCESS_TOKEN: 'tok-live-123', API_KEY: 'api-key-456', SIGNING_KEY: 'sign-key-789' }

/** The compiled template, counting its renders. */
function template(payload: unknown): CompiledTemplate & { renders: number } {
  const compiled = compilePayload(payload)
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.problems))
  const counted = {
    placeholders: compiled.template.placeholders,
    renders: 0,
    render: (c: Parameters<CompiledTemplate['render']>[0]) => {
      counted.renders++
      return compiled.template.render(c)
    },
  }
  return counted
}

const hmac = (body: string): string => `sha256=${createHmac('sha256', secrets.SIGNING_KEY).update(body).digest('hex')}`

t.test('a template that inserts secrets: the exact request, and a twin with the token and the secrets as ****', async (t) => {
  const tpl = template({ version: '${artifact_version_string}', key: '${API_KEY}', token: '${ACCESS_TOKEN}' })
  const { request, masked } = buildDeliveryRequest({ webhook, secrets, template: tpl, event, deliveryId: 'd-1', timestamp: 1764241200 })
  const body = '{"version":"acme/p/churn:production","key":"api-key-456","token":"tok-live-123"}'
  t.same(request, {
    method: 'POST',
    url: 'https://ci.example.com/hooks?x=1',
    headers: {
      'Content-Type': 'application/json',
      'User-Agent': 'hookwise/0.1.0',
      'webhook-id': 'd-1',
      'X-Team': 'ml',
      Authorization: 'Bearer tok-live-123',
      'X-Hub-Signature-256': hmac(body),
    },
    body,
  })
  t.same(masked, {
    method: 'POST',
    url: 'https://ci.example.com/hooks?x=1',
    headers: { ...request.headers, Authorization: 'Bearer ****' },
    body: '{"version":"acme/p/churn:production","key":"****","token":"****"}',
  })
  t.equal(tpl.renders, 2, 'rendered again with **** for the twin')
})

t.test('a template without secrets is rendered once; its twin differs only in the Authorization value', async (t) => {
  const tpl = template({ version: '${artifact_version_string}' })
  const { request, masked } = buildDeliveryRequest({ webhook, secrets, template: tpl, event, deliveryId: 'd-2', timestamp: 0 })
  t.equal(request.body, '{"version":"acme/p/churn:production"}')
  t.equal(masked.body, request.body)
  t.equal(request.headers.Authorization, 'Bearer tok-live-123')
  t.same(masked.headers, { ...request.headers, Authorization: 'Bearer ****' })
  t.equal(masked.headers['X-Hub-Signature-256'], hmac(request.body), 'the signature stays as sent')
  t.equal(tpl.renders, 1)
})

t.test('a body sent as it is; a missing secret value is HW_SECRET_NOT_FOUND naming it', async (t) => {
  const { request, masked } = buildDeliveryRequest({ webhook, secrets, body: '{"test":true}', deliveryId: 'd-3', timestamp: 0 })
  t.equal(request.body, '{"test":true}')
  t.same(masked, { ...request, headers: { ...request.headers, Authorization: 'Bearer ****' } })
  t.throws(
    () => buildDeliveryRequest({ webhook, secrets: {}, template: template({ key: '${API_KEY}' }), event, deliveryId: 'd-4', timestamp: 0 }),
    {
      code: 'HW_SECRET_NOT_FOUND',
      message: "the payload uses ${API_KEY} but the webhook's secret API_KEY has no value",
    },
  )
})

t.test('defaults come from the schema: a webhook without timeoutSeconds and signing.scheme gets 15 and wandb', async (t) => {
  const dir = t.testdir({
    m: {
      'hook.yaml': [
        'apiVersion: hookwise.dev/v1alpha1',
        'kind: Webhook',
        'metadata: {name: hook}',
        'spec: {url: "https://ci.example.com/hooks", secrets: [{name: KEY, secretKeyRef: {name: creds, key: k}}], signing: {secret: KEY}}',
        '---',
        'apiVersion: hookwise.dev/v1alpha1',
        'kind: Automation',
        'metadata: {name: deploy}',
        'spec: {scope: {type: Registry, registry: model}, event: {type: ADD_ARTIFACT_ALIAS, aliasRegex: "^production$"}, action: {webhook: hook, payload: {v: "${artifact_version_string}"}}}',
        '',
      ].join('\n'),
    },
    s: { 'creds.yaml': 'apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {k: the-key}\n' },
    'event.json': JSON.stringify(event),
  })
  const state = await loadDesiredState({ manifests: [join(dir, 'm')], secrets: [join(dir, 's')] })
  t.match(state.webhooks.get('default/hook')!.spec, { timeoutSeconds: 15, suspend: false, signing: { secret: 'KEY', scheme: 'wandb' } })

  const args = [
    '--manifests',
    join(dir, 'm'),
    '--secrets',
    join(dir, 's'),
    '--automation',
    'deploy',
    '--event',
    join(dir, 'event.json'),
    '--delivery-id',
    'd-5',
  ]
  const curl = await hookwise(['curl', ...args])
  t.equal(curl.status, 0, curl.stderr)
  t.match(curl.stdout, /--max-time 15 --request POST/)
  t.match(curl.stdout, /--header "X-Wandb-Signature: \$hw_signature"/)
  const render = await hookwise(['render', ...args, '--show-headers', '--timestamp', '0'])
  const signature = createHmac('sha256', 'the-key').update('{"v":"acme/p/churn:production"}').digest('base64')
  t.match(render.stdout, `\nX-Wandb-Signature: ${signature}\n`)
})
