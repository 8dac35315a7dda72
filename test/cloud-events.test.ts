// CloudEvents 1.0 on POST /v1/events: structured, binary and batch requests, made with the
// `cloudevents` SDK as a Knative or Argo Events sink makes them, reach a loopback receiver as the
// automation's payload; a CloudEvent sent twice is delivered once; one that is no hookwise event gets
// a 400 naming why. A real controller on loopback.
import { Writable } from 'node:stream'
import t from 'tap'
import { CloudEvent, HTTP } from 'cloudevents'
import { join } from 'node:path'
import { startController } from '../controller/app/start-controller.js'
import { createLogger } from '../controller/log.js'
import { startReceiver } from './helpers/receiver.js'

const event = (version: string) => ({
  type: 'LINK_ARTIFACT',
  entity: 'acme',
  project: 'wandb-registry-model',
  registry: 'model',
  collection: 'churn-classifier',
  author: 'bob',
  artifact: { id: 'QXJ0aWZhY3Q6MQ==', name: 'churn-classifier', version },
})

t.test('structured, binary and batch CloudEvents carrying hookwise events', async (t) => {
  const receiver = await startReceiver(t)
  const root = t.testdir({
    m: {
      'hook.yaml': `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: hook}
spec: {url: "${receiver.url}/hook"}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: link}
spec:
  scope: {type: Registry, registry: model}
  event: {type: LINK_ARTIFACT}
  action: {webhook: hook, payload: {v: "\${artifact_version_string}", id: "\${event_id}"}}
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
  const url = `http://127.0.0.1:${c.address.port}/v1/events`
  const post = async (message: { headers: Record<string, unknown>; body: unknown }) => {
    const res = await fetch(url, { method: 'POST', headers: message.headers as Record<string, string>, body: String(message.body) })
    return { status: res.status, body: (await res.json()) as Record<string, any> }
  }
  const ce = (id: string, version: string) =>
    new CloudEvent({
      specversion: '1.0',
      id,
      source: '/knative/sink',
      type: 'dev.hookwise.artifact',
      datacontenttype: 'application/json',
      data: event(version),
    })

  const structured = await post(HTTP.structured(ce('a-1', 'v1')))
  t.match(structured, { status: 202, body: { accepted: 1, duplicates: 0, events: [{ id: 'ce-/knative/sink-a-1' }] } })
  const binary = HTTP.binary(ce('a-2', 'v2'))
  t.equal(binary.headers['ce-id'], 'a-2', 'binary mode: attributes in ce-* headers')
  t.match(await post(binary), { status: 202, body: { accepted: 1 } })
  t.match(await post(binary), { status: 202, body: { accepted: 0, duplicates: 1 } }, 'the same CloudEvent again is a duplicate')
  const batch = {
    headers: { 'content-type': 'application/cloudevents-batch+json' },
    body: JSON.stringify([ce('a-3', 'v3'), ce('a-4', 'v4')].map((e) => e.toJSON())),
  }
  t.match(await post(batch), { status: 202, body: { accepted: 2 } })
  await receiver.waitFor(4)
  t.same(
    receiver.received.map((r) => JSON.parse(r.body)).sort((a, b) => (a.v < b.v ? -1 : 1)),
    [1, 2, 3, 4].map((n) => ({ v: `acme/wandb-registry-model/churn-classifier:v${n}`, id: `ce-/knative/sink-a-${n}` })),
  )

  const notHookwise = await post(HTTP.structured(new CloudEvent({ id: 'b-1', source: '/x', type: 't', data: { hello: 'world' } })))
  t.equal(notHookwise.status, 400)
  t.equal(notHookwise.body.detail, 'fields are not valid; nothing was accepted')
  t.same(
    notHookwise.body.errors.map((e: { code: string }) => e.code),
    ['HW_EVENT_INVALID', 'HW_EVENT_INVALID', 'HW_EVENT_INVALID', 'HW_EVENT_INVALID', 'HW_EVENT_INVALID', 'HW_EVENT_INVALID'],
  )
  const noData = await post({
    headers: { 'content-type': 'application/cloudevents+json' },
    body: JSON.stringify({ specversion: '1.0', id: 'c', source: '/x', type: 't' }),
  })
  t.same(noData, {
    status: 400,
    body: {
      type: 'https://hookwise.dev/problems/bad-request',
      title: 'Bad Request',
      status: 400,
      detail: 'not a CloudEvent hookwise reads; nothing was accepted',
      errors: [
        {
          code: 'HW_EVENT_INVALID',
          message: 'CloudEvent c: its data is not a hookwise event (a JSON object)',
          hint: 'send a CloudEvents 1.0 event (structured, binary or a batch) whose data is a hookwise event (docs/events.md#cloudevents)',
        },
      ],
    },
  })
})
