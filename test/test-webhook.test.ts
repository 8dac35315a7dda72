// `hookwise test webhook --payload`: the payload inserts the webhook's granted secrets as a delivery
// does, the receiver gets their values, and what the command prints never holds them.
import t from 'tap'
import { createHmac } from 'node:crypto'
import { join } from 'node:path'
import { hookwise, type TapTest } from './helpers/cli.js'
import { startServer, type TestServer } from './helpers/http-server.js'

const TOKEN = 'tok-live-0123456789'
const MY_SECRET = 'my-secret-value-42'
const SIGNING = 'signing-key-value'

/** A receiver that answers 200 with the request body it got: an endpoint that echoes what it is sent. */
const echo = (t: TapTest): Promise<TestServer> =>
  startServer(t, (_req, res, body) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(body)
  })

function fixture(t: TapTest, url: string): string[] {
  const dir = t.testdir({
    m: {
      'hook.yaml': `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: hook}
spec:
  url: ${url}
  accessToken: {secretKeyRef: {name: creds, key: token}}
  secrets:
  - {name: MY_SECRET, secretKeyRef: {name: creds, key: mine}}
  - {name: SIGNING_KEY, secretKeyRef: {name: creds, key: signing}}
  signing: {secret: SIGNING_KEY}
`,
    },
    s: {
      'creds.yaml': `apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {token: ${TOKEN}, mine: ${MY_SECRET}, signing: ${SIGNING}}\n`,
    },
  })
  return [
    'test',
    'webhook',
    'hook',
    '--manifests',
    join(dir, 'm'),
    '--secrets',
    join(dir, 's'),
    '--allow-insecure-http',
    '--egress-allow',
    '127.0.0.0/8',
  ]
}

t.test('--payload inserts the granted secrets; the receiver gets the values, the output shows ****', async (t) => {
  const server = await echo(t)
  const args = fixture(t, server.url('/hook'))
  const r = await hookwise([...args, '--payload', '{"k":"${MY_SECRET}", "t": "${ACCESS_TOKEN}"}'])
  t.equal(r.status, 0, r.stderr)
  const got = server.received[0]!
  const sent = `{"k":"${MY_SECRET}", "t": "${TOKEN}"}`
  t.equal(got.body, sent, 'the body the receiver gets holds the secret values')
  t.equal(got.headers.authorization, `Bearer ${TOKEN}`)
  t.equal(got.headers['x-wandb-signature'], createHmac('sha256', SIGNING).update(sent).digest('base64'), 'signed over the body as sent')
  t.match(
    r.stdout,
    new RegExp(`^POST ${server.url('/hook')}\\nstatus: 200 in \\d+ ms\\nbody: \\{"k":"\\*\\*\\*\\*", "t": "\\*\\*\\*\\*"\\}\\n$`),
  )
  t.notMatch(r.stdout + r.stderr, MY_SECRET)
  t.notMatch(r.stdout + r.stderr, TOKEN)

  const json = await hookwise([...args, '--json', '--payload', '-'], '{"k":"${MY_SECRET}"}')
  t.equal(json.status, 0, json.stderr)
  t.equal(server.received[1]!.body, `{"k":"${MY_SECRET}"}`)
  t.match(JSON.parse(json.stdout), { ok: true, statusCode: 200, body: '{"k":"****"}' })
  t.notMatch(json.stdout, MY_SECRET)
})

t.test('an answer that echoes a secret JSON-escaped is masked too', async (t) => {
  // An httpbin-like endpoint: the request body as a JSON string inside its answer.
  const server = await startServer(t, (_req, res, body) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ data: body }))
  })
  const r = await hookwise([...fixture(t, server.url('/hook')), '--payload', '{"k":"${MY_SECRET}"}'])
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout, /\nbody: \{"data":"\{\\"k\\":\\"\*\*\*\*\\"\}"\}\n$/)
  t.notMatch(r.stdout, MY_SECRET)
})

t.test('a payload using a secret the webhook does not grant, or an event variable, is refused before sending', async (t) => {
  const server = await echo(t)
  const args = fixture(t, server.url('/hook'))
  const other = await hookwise([...args, '--payload', '{"k":"${OTHER_SECRET}"}'])
  t.same(other, {
    status: 1,
    stdout: '',
    stderr:
      'error HW_TEMPLATE_SECRET_NOT_GRANTED: the --payload JSON uses ${OTHER_SECRET}, which is not a secret of webhook default/hook\n' +
      '  hint: add {name: OTHER_SECRET, secretKeyRef: ...} to spec.secrets of webhook default/hook, or fix the name\n',
  })
  const variable = await hookwise([...args, '--payload', '{"v":"${artifact_version_string}"}'])
  t.same(variable, {
    status: 1,
    stdout: '',
    stderr:
      "error HW_TEMPLATE_UNKNOWN_VARIABLE: the --payload JSON uses ${artifact_version_string}, but a test has no event: only the webhook's secrets can be inserted\n" +
      '  hint: write the value itself, or use hookwise render or hookwise curl to build the request of an automation for an event; secrets of webhook default/hook: ACCESS_TOKEN, MY_SECRET, SIGNING_KEY\n',
  })
  const notJson = await hookwise([...args, '--payload', '-'], '{"k": ')
  t.equal(notJson.status, 1)
  t.match(notJson.stderr, /^error HW_EVENT_JSON: --payload - is not JSON: /)
  t.equal(server.received.length, 0, 'nothing was sent')
})
