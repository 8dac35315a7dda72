// The W&B bridge: `hookwise sources wandb-template` prints the payload template; the test renders
// it from W&B's variables as W&B does (text substitution) and sends it with the headers of W&B's
// webhook troubleshooting script (Authorization: Bearer, X-Wandb-Signature = base64 HMAC-SHA256 of
// the body) to the EventSource's intake; a loopback receiver gets the README's deploy payload.
import { createHmac } from 'node:crypto'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import t from 'tap'
import { startController } from '../controller/app/start-controller.js'
import { createLogger } from '../controller/log.js'
import { hookwise } from './helpers/cli.js'
import { startReceiver } from './helpers/receiver.js'

const SECRET = 'wandb-webhook-secret'
const TOKEN = 'wandb-access-token'

t.test('a W&B alias automation bridged in: template, signature, token, the exact body delivered', async (t) => {
  const template = await hookwise(['sources', 'wandb-template', '--event', 'ADD_ARTIFACT_ALIAS', '--metadata', 'accuracy'])
  t.equal(template.status, 0)
  // W&B replaces each ${variable} with its text.
  const variables: Record<string, string> = {
    event_author: 'alice',
    entity_name: 'acme',
    project_name: 'wandb-registry-model',
    artifact_collection_name: 'churn-classifier',
    artifact_version: 'wandb-artifact://_id/QXJ0aWZhY3Q6NTE3ODg5ODg3',
    artifact_version_string: 'acme/wandb-registry-model/churn-classifier:production',
    'artifact_metadata.accuracy': '0.93',
    alias: 'production',
  }
  const body = template.stdout.replace(/\$\{([^}]+)\}/g, (_, name: string) => variables[name] ?? '')

  const receiver = await startReceiver(t)
  const root = t.testdir({
    m: {
      'wandb.yaml': `apiVersion: v1
kind: Secret
metadata: {name: wandb}
stringData: {secret: ${SECRET}, token: ${TOKEN}}
---
apiVersion: hookwise.dev/v1alpha1
kind: EventSource
metadata: {name: wandb-bridge}
spec:
  wandb:
    signingSecret: {secretKeyRef: {name: wandb, key: secret}}
    accessToken: {secretKeyRef: {name: wandb, key: token}}
---
apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: deploy}
spec: {url: "${receiver.url}/deploy"}
---
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
`,
    },
  })
  const c = await startController(
    {
      dir: [join(root, 'm')],
      state: join(root, 's'),
      listen: '127.0.0.1:0',
      allowInsecureHttp: true,
      egressAllow: ['127.0.0.0/8'],
      logLevel: 'info',
      durability: 'normal',
      maxPending: 5000,
      retentionHours: 1,
    },
    createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }) }),
    {},
  )
  t.teardown(() => c.stop())
  const intake = `http://127.0.0.1:${c.address.port}/v1/sources/default/wandb-bridge`
  const signature = (text: string, secret = SECRET) => createHmac('sha256', secret).update(text).digest('base64')
  const post = async (headers: Record<string, string>, text = body) => {
    const res = await fetch(intake, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: text })
    return { status: res.status, body: (await res.json()) as Record<string, any> }
  }

  const wrongToken = await post({ Authorization: 'Bearer nope', 'X-Wandb-Signature': signature(body) })
  t.equal(wrongToken.status, 401)
  t.equal(wrongToken.body.detail, "Authorization is not Bearer <the EventSource's accessToken>; nothing was stored")
  const wrongSecret = await post({ Authorization: `Bearer ${TOKEN}`, 'X-Wandb-Signature': signature(body, 'other') })
  t.equal(wrongSecret.body.detail, "X-Wandb-Signature does not match the body and the EventSource's signingSecret; nothing was stored")

  const first = await post({ Authorization: `Bearer ${TOKEN}`, 'X-Wandb-Signature': signature(body) })
  t.match(first, { status: 202, body: { event: /^wandb-[0-9a-f]{32}$/, deliveries: 1 } })
  t.match(await post({ Authorization: `Bearer ${TOKEN}`, 'X-Wandb-Signature': signature(body) }), {
    status: 200,
    body: { duplicate: true },
  })
  await receiver.waitFor(1)
  await new Promise((r) => setTimeout(r, 500))
  t.same(
    receiver.received.map((r) => JSON.parse(r.body)),
    [
      {
        event_type: 'BUILD_AND_DEPLOY',
        client_payload: {
          version: 'acme/wandb-registry-model/churn-classifier:production',
          artifact: 'wandb-artifact://_id/QXJ0aWZhY3Q6NTE3ODg5ODg3',
          alias: 'production',
          author: 'alice',
          accuracy: '0.93',
        },
      },
    ],
  )
  const status = (await (await fetch(`http://127.0.0.1:${c.address.port}/v1/status`)).json()) as { eventSources: unknown[] }
  t.match(status.eventSources, [
    { name: 'wandb-bridge', ready: true, registry: 'wandb', events: { accepted: 1, duplicates: 1, rejected: 2, waiting: 0 } },
  ])
  const get = await hookwise(['get', 'eventsources', '--server', `http://127.0.0.1:${c.address.port}`])
  t.match(
    get.stdout,
    /^NAMESPACE +NAME +READY +REGISTRY +LAST EVENT +ACCEPTED +DUPLICATES +REJECTED +WAITING\ndefault +wandb-bridge +True +wandb +ADD_ARTIFACT_ALIAS \d+s +1 +1 +2 +0\n$/,
  )
})

t.test('wandb-template for a tag event carries ${tag}; an unknown event type is a usage error', async (t) => {
  const tag = await hookwise(['sources', 'wandb-template', '--event', 'REMOVE_ARTIFACT_TAG'])
  t.equal(
    tag.stdout,
    `{
  "type": "REMOVE_ARTIFACT_TAG",
  "author": "\${event_author}",
  "entity": "\${entity_name}",
  "project": "\${project_name}",
  "collection": "\${artifact_collection_name}",
  "artifact": {
    "id": "\${artifact_version}",
    "name": "\${artifact_collection_name}",
    "version": "\${artifact_version_string}"
  },
  "tag": "\${tag}"
}
`,
  )
  const bad = await hookwise(['sources', 'wandb-template', '--event', 'LINK_MODEL'])
  t.equal(bad.status, 2)
  t.match(bad.stderr, /--event LINK_MODEL is not an event type/)
})
