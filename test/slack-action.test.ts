// action.slack: the Block Kit message hookwise delivers, to an incoming webhook and to
// chat.postMessage, on a loopback receiver; compared with the request Slack's own clients
// (@slack/webhook, @slack/web-api) make for the same message.
import t from 'tap'
import { IncomingWebhook } from '@slack/webhook'
import { WebClient } from '@slack/web-api'
import { parseManifest } from '../controller/sources/manifest.js'
import { validateObjects } from '../controller/reconcile/validate.js'
import { DeliveryEngine } from '../controller/delivery/engine.js'
import { SqliteStore } from '../controller/delivery/sqlite-store.js'
import { UndiciSender } from '../controller/delivery/sender.js'
import { createBreaker, createRetryDecider } from '../controller/delivery/policies.js'
import type { ArtifactEvent } from '../controller/api/types.generated.js'
import { type Receiver, startReceiver } from './helpers/receiver.js'
import { until } from './helpers/until.js'
import type { TapTest } from './helpers/cli.js'

const event: ArtifactEvent = {
  id: 'e-1',
  type: 'ADD_ARTIFACT_ALIAS',
  author: 'alice',
  entity: 'acme',
  project: 'wandb-registry-model',
  registry: 'model',
  collection: 'churn',
  alias: 'production',
  artifact: { id: 'QQ==', name: 'churn', version: 'v7' },
}

function manifests(url: string, webhookExtra: string, slack: string): string {
  return `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: slack}
spec:
  url: ${url}
${webhookExtra}---
apiVersion: v1
kind: Secret
metadata: {name: slack-bot}
stringData: {token: xoxb-test-123}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: notify}
spec:
  scope: {type: Registry, registry: model}
  event: {type: ADD_ARTIFACT_ALIAS, filter: {alias: production}}
  action:
    webhook: slack
    slack: ${slack}
`
}

/** Delivers `event` once through a real engine, SQLite outbox and undici sender; returns what arrived. */
async function deliver(t: TapTest, text: (url: string) => string, script: Receiver['script'] = []) {
  const receiver = await startReceiver(t)
  receiver.script.push(...script)
  const parsed = parseManifest(text(receiver.url), 'm.yaml')
  const state = validateObjects(parsed.objects, parsed.diagnostics)
  t.same(
    state.diagnostics.filter((d) => d.severity === 'error'),
    [],
  )
  const store = new SqliteStore(t.testdir({}))
  const sender = new UndiciSender({ egress: { allowInsecureHttp: true, allow: ['127.0.0.0/8'] } })
  const engine = new DeliveryEngine({ store, sender, retry: createRetryDecider(() => 0.5), breaker: createBreaker(), pollIntervalMs: 10 })
  engine.setState(state)
  engine.start()
  t.teardown(async () => {
    await engine.stop()
    await sender.close()
    store.close()
  })
  await engine.acceptGrouped([event])
  const [got] = await receiver.waitFor(1)
  return { got: got!, receiver, store }
}

const EXPECTED_BLOCKS = [
  { type: 'header', text: { type: 'plain_text', text: 'Promoted: churn', emoji: true } },
  { type: 'section', text: { type: 'mrkdwn', text: '*acme/wandb-registry-model/churn:production* by alice' } },
  { type: 'context', elements: [{ type: 'mrkdwn', text: ':warning: WARN · ADD_ARTIFACT_ALIAS · hookwise' }] },
]
const SLACK = '{title: "Promoted: ${artifact_collection_name}", message: "*${artifact_version_string}* by ${event_author}", severity: WARN}'

t.test('an incoming webhook gets the Block Kit message as JSON, as @slack/webhook sends it', async (t) => {
  const { got, receiver } = await deliver(t, (url) => manifests(`${url}/services/T000/B000/XXXX`, '', SLACK))
  t.equal(got.method, 'POST')
  t.equal(got.path, '/services/T000/B000/XXXX')
  t.equal(got.headers['content-type'], 'application/json')
  t.equal(
    got.body,
    JSON.stringify({ text: 'Promoted: churn: *acme/wandb-registry-model/churn:production* by alice', blocks: EXPECTED_BLOCKS }),
  )
  // Slack's own client, sending the same message to the same receiver: the same JSON document.
  await new IncomingWebhook(`${receiver.url}/services/T000/B000/XXXX`).send(JSON.parse(got.body))
  const [, bySlack] = await receiver.waitFor(2)
  t.equal(bySlack!.path, got.path)
  t.match(bySlack!.headers['content-type'], /^application\/json/)
  t.same(JSON.parse(bySlack!.body), JSON.parse(got.body))
})

t.test('a bot token posts to chat.postMessage with the channel, as @slack/web-api does', async (t) => {
  const { got, receiver } = await deliver(t, (url) =>
    manifests(
      `${url}/api/chat.postMessage`,
      '  accessToken: {secretKeyRef: {name: slack-bot, key: token}}\n',
      SLACK.replace('severity: WARN}', 'severity: WARN, channel: C0123ML}'),
    ),
  )
  t.equal(got.path, '/api/chat.postMessage')
  t.equal(got.headers.authorization, 'Bearer xoxb-test-123')
  t.equal(got.headers['content-type'], 'application/json')
  const sent = JSON.parse(got.body)
  t.same(sent, {
    channel: 'C0123ML',
    text: 'Promoted: churn: *acme/wandb-registry-model/churn:production* by alice',
    blocks: EXPECTED_BLOCKS,
  })
  // WebClient's chat.postMessage with the same arguments: same method, token and fields (it sends
  // them form-encoded, blocks as JSON text; Slack takes both).
  const client = new WebClient('xoxb-test-123', { slackApiUrl: `${receiver.url}/api/`, retryConfig: { retries: 0 } })
  await client.chat.postMessage(sent)
  const [, bySlack] = await receiver.waitFor(2)
  t.equal(bySlack!.path, '/api/chat.postMessage')
  t.equal(bySlack!.headers.authorization, 'Bearer xoxb-test-123')
  const form = Object.fromEntries(new URLSearchParams(bySlack!.body))
  t.same({ channel: form.channel, text: form.text, blocks: JSON.parse(form.blocks!) }, sent)
})

t.test('validation: Slack limits, one body only, the severity list', async (t) => {
  const check = (slack: string, extra = '') => {
    const parsed = parseManifest(
      manifests('https://hooks.slack.com/services/T/B/X', '', slack).replace('    slack:', `${extra}    slack:`),
      's.yaml',
    )
    return validateObjects(parsed.objects, parsed.diagnostics).diagnostics.filter((d) => d.severity === 'error')
  }
  t.match(check(`{title: "${'x'.repeat(151)}", message: m}`), [
    { line: 20, path: 'spec.action.slack.title', code: 'HW_SCHEMA', message: /150/ },
  ])
  t.match(check(`{message: "${'x'.repeat(3001)}"}`), [{ path: 'spec.action.slack.message', code: 'HW_SCHEMA', message: /3000/ }])
  t.match(check('{message: m, severity: DEBUG}'), [{ path: 'spec.action.slack.severity', code: 'HW_SCHEMA' }])
  t.match(check('{message: m}', '    payload: {a: b}\n'), [
    {
      path: 'spec.action',
      code: 'HW_PAYLOAD_CHOICE',
      message: 'set exactly one of action.payload, action.payloadTemplate, action.slack and action.noop',
    },
  ])
  t.match(check('{message: "${no_such_variable}"}'), [{ path: 'spec.action.slack.message', code: 'HW_TEMPLATE_UNKNOWN_VARIABLE' }])
})

t.test('what variables insert is cut to Slack limits when rendering, never refused by Slack', async (t) => {
  const { slackMessage } = await import('../controller/template/slack-message.js')
  const m = slackMessage('t'.repeat(400), 'm'.repeat(5000), { message: '', severity: 'ERROR' }, 'LINK_ARTIFACT') as {
    blocks: Array<{ text?: { text: string } }>
  }
  t.equal([...m.blocks[0]!.text!.text].length, 150)
  t.ok(m.blocks[0]!.text!.text.endsWith('…'))
  t.equal([...m.blocks[1]!.text!.text].length, 3000)
})

t.test('chat.postMessage answering 200 with "ok": false is a failed attempt naming Slack\'s error, not a success', async (t) => {
  const bot = (url: string) =>
    manifests(
      `${url}/api/chat.postMessage`,
      '  accessToken: {secretKeyRef: {name: slack-bot, key: token}}\n',
      SLACK.replace('severity: WARN}', 'severity: WARN, channel: C0123ML}'),
    )
  // What Slack's Web API answers for a channel the bot cannot see (api.slack.com/methods/chat.postMessage).
  const answer = '{"ok":false,"error":"channel_not_found"}'
  const { store } = await deliver(t, bot, [{ status: 200, body: answer }])
  const [row] = await until('the delivery finished', () => store.list().find((d) => d.status !== 'pending') && store.list())
  t.equal(row!.status, 'failed')
  t.equal(row!.attempts, 1)
  t.equal(row!.lastStatusCode, 200)
  const because =
    'SLACK_REFUSED: Slack answered 200 with "ok": false, error "channel_not_found": not posted; check the Webhook\'s bot token (accessToken) and action.slack.channel (the bot must be in the channel), then hookwise redeliver'
  t.equal(row!.lastError, `${because.slice('SLACK_REFUSED: '.length)} (not retried)`)
  const [attempt] = store.attempts(row!.id)
  t.equal(attempt!.statusCode, 200)
  t.equal(attempt!.responseHead, answer)
  t.equal(attempt!.error, because)

  // Slack's retryable errors are retried; "ok": true is a success.
  const quick = (url: string) => bot(url).replace('  accessToken:', '  retry: {maxBackoffSeconds: 1}\n  accessToken:')
  const retried = await deliver(t, quick, [
    { status: 200, body: '{"ok":false,"error":"service_unavailable"}' },
    { status: 200, body: '{"ok":true,"ts":"1.2"}' },
  ])
  const [done] = await until(
    'the retried delivery finished',
    () => retried.store.list().find((d) => d.status !== 'pending') && retried.store.list(),
  )
  t.equal(done!.status, 'succeeded')
  t.equal(done!.attempts, 2)
  t.match(
    retried.store.attempts(done!.id)[0]!.error,
    /^SLACK_UNAVAILABLE: Slack answered 200 with "ok": false, error "service_unavailable": retried$/,
  )
})
