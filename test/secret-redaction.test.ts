// Secret values never reach the state: a receiver that echoes the request (httpbin-style, many error
// pages) answers with the bearer token and the signing key, and hookwise masks them (and their
// base64, hex, JSON-escaped and URL-encoded forms) before the attempt is recorded. The state files
// are private to the user running hookwise.
import t from 'tap'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { request } from 'undici'
import { startController } from '../controller/app/start-controller.js'
import { secretRedactor } from '../controller/delivery/redact.js'
import { createLogger } from '../controller/log.js'
import { hookwise } from './helpers/cli.js'
import { startServer } from './helpers/http-server.js'
import { until } from './helpers/until.js'

const INTAKE = 'intake-token-0123456789'
const TOKEN = 'wh-bearer-secret-7f3a9c21'
const SIGNING = `whsec_${Buffer.from('the signing key, 32 bytes long!!').toString('base64')}`
const API_KEY = 'payload "secret" & key/888'

/** Every form of a secret the receiver below echoes; none may be stored. */
const forms = (v: string): string[] => [
  v,
  Buffer.from(v).toString('base64'),
  Buffer.from(v).toString('hex'),
  JSON.stringify(v).slice(1, -1),
  encodeURIComponent(v),
]

t.test('an echoing receiver: no secret in hookwise.db, its WAL, GET /v1/deliveries/ID or hookwise delivery ID; files 0600', async (t) => {
  // Answers like httpbin's /anything: the headers and body it got, the body also as base64 and hex,
  // the token URL-encoded as in a redirect's query string.
  const echo = await startServer(t, (req, res, body) => {
    const auth = String(req.headers.authorization)
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        headers: req.headers,
        data: body,
        base64: Buffer.from(body).toString('base64'),
        hex: Buffer.from(body).toString('hex'),
        tokenB64: Buffer.from(auth.slice('Bearer '.length)).toString('base64'),
        next: `https://example.com/login?token=${encodeURIComponent(auth.slice('Bearer '.length))}`,
      }),
    )
  })
  const root = t.testdir({
    manifests: {
      'hook.yaml': `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: hook}
spec:
  url: ${echo.url('/anything')}
  accessToken: {secretKeyRef: {name: creds, key: token}}
  secrets: [{name: SIGNING_KEY, secretKeyRef: {name: creds, key: signing}}, {name: API_KEY, secretKeyRef: {name: creds, key: api}}]
  signing: {secret: SIGNING_KEY, scheme: standard-webhooks}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: deploy}
spec:
  scope: {type: Registry, registry: model}
  event: {type: LINK_ARTIFACT}
  action: {webhook: hook, payload: {version: "\${artifact_version_string}", key: "\${API_KEY}", sig: "\${SIGNING_KEY}"}}
`,
    },
    secrets: {
      'creds.yaml': `apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {token: ${TOKEN}, signing: ${SIGNING}, api: '${API_KEY}'}\n`,
    },
    token: `${INTAKE}\n`,
  })
  const state = join(root, 'state')
  const logs: string[] = []
  const controller = await startController(
    {
      dir: [join(root, 'manifests')],
      secrets: [join(root, 'secrets')],
      state,
      listen: '127.0.0.1:0',
      intakeTokenFile: join(root, 'token'),
      allowInsecureHttp: true,
      egressAllow: ['127.0.0.0/8'],
      logLevel: 'info',
      durability: 'normal',
      maxPending: 1000,
      retentionHours: 24,
    },
    createLogger({
      level: 'debug',
      destination: new Writable({
        write(chunk, _enc, cb) {
          logs.push(String(chunk))
          cb()
        },
      }),
    }),
    {},
  )
  t.teardown(() => controller.stop())
  const base = `http://127.0.0.1:${controller.address.port}`
  const auth = { authorization: `Bearer ${INTAKE}` }
  const event = {
    id: 'e-echo',
    type: 'LINK_ARTIFACT',
    author: 'alice',
    entity: 'acme',
    project: 'p',
    registry: 'model',
    collection: 'churn',
    artifact: { id: 'QQ==', name: 'churn', version: 'v7' },
  }
  const posted = await request(`${base}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify(event),
  })
  const { events } = (await posted.body.json()) as { events: Array<{ deliveries: Array<{ id: string }> }> }
  const id = events[0]!.deliveries[0]!.id
  const get = async (): Promise<string> => (await request(`${base}/v1/deliveries/${id}`, { headers: auth })).body.text()
  await until('delivered', async () => JSON.parse(await get()).status === 'succeeded', 10_000, 25)
  t.equal(echo.received.length, 1)
  t.equal(echo.received[0]!.headers.authorization, `Bearer ${TOKEN}`, 'the receiver got the real token')

  const api = await get()
  const one = JSON.parse(api)
  const head = JSON.parse(one.attempts[0].responseHead)
  t.equal(head.headers.authorization, 'Bearer ****', 'the echoed header is masked')
  t.equal(head.data, '{"version":"acme/p/churn:v7","key":"****","sig":"****"}', 'the echoed body is masked')
  t.equal(head.tokenB64, '****')
  t.equal(head.next, 'https://example.com/login?token=****')

  const text = (await hookwise(['delivery', id, '--state', state])).stdout
  const json = (await hookwise(['delivery', id, '--state', state, '--json'])).stdout
  t.match(text, 'Bearer ****')
  const db = readFileSync(join(state, 'hookwise.db')).toString('latin1')
  const wal = readFileSync(join(state, 'hookwise.db-wal')).toString('latin1')
  for (const secret of [TOKEN, SIGNING, API_KEY]) {
    for (const form of forms(secret)) {
      t.notOk(api.includes(form), `GET /v1/deliveries/ID has no ${form}`)
      t.notOk(text.includes(form), `hookwise delivery ID has no ${form}`)
      t.notOk(json.includes(form), `hookwise delivery ID --json has no ${form}`)
      t.notOk(db.includes(form), `hookwise.db has no ${form}`)
      t.notOk(wal.includes(form), `hookwise.db-wal has no ${form}`)
      t.notOk(logs.join('').includes(form), `the log has no ${form}`)
    }
  }
  for (const file of ['hookwise.db', 'hookwise.db-wal', 'hookwise.db-shm'])
    t.equal((statSync(join(state, file)).mode & 0o777).toString(8), '600', `${file} is 0600`)
  t.equal((statSync(state).mode & 0o777).toString(8), '700', 'the state folder hookwise created is 0700')
})

t.test('the redactor: every form, longest first, errors too, a secret cut off at the end of the 4 KiB head', async (t) => {
  const redact = secretRedactor(['tok-ABCDEFGH', 'tok-ABCDEFGH-longer', 'a b/c"d'])
  t.equal(redact('plain ok'), 'plain ok')
  t.equal(redact('Bearer tok-ABCDEFGH-longer and tok-ABCDEFGH'), 'Bearer **** and ****')
  t.equal(redact(`x=${Buffer.from('tok-ABCDEFGH').toString('base64')}`), 'x=****')
  t.equal(redact(`x=${Buffer.from('tok-ABCDEFGH').toString('base64url')}`), 'x=****')
  t.equal(redact(`x=${Buffer.from('tok-ABCDEFGH').toString('hex').toUpperCase()}`), 'x=****')
  t.equal(redact('q=a%20b%2Fc%22d&r=a+b%2Fc%22d'), 'q=****&r=****')
  t.equal(redact('{"s":"a b/c\\"d"}'), '{"s":"****"}')
  // A secret inside a longer base64 text (an echoed "Bearer tok-..." header, base64-encoded) at any of the three alignments.
  for (const prefix of ['Bearer ', 'Bearer  ', 'Bearer   ']) {
    const b64 = Buffer.from(`${prefix}tok-ABCDEFGH-longer!`).toString('base64')
    t.match(redact(b64), /^[A-Za-z0-9+/]*\*\*\*\*[A-Za-z0-9+/]*=*$/, `base64 after ${prefix.length} bytes`)
  }
  const long = `${'x'.repeat(2000)}tok-ABCD`
  t.equal(redact(long), `${'x'.repeat(2000)}****`, 'a secret cut off by the 4 KiB limit is masked as far as it goes')
})

t.test('render --show-headers masks a secret the body inserts, as it masks Authorization; --reveal shows both', async (t) => {
  const dir = t.testdir({
    'm.yaml': `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: hook}
spec:
  url: https://hooks.example.com/in
  accessToken: {secretKeyRef: {name: creds, key: token}}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {token: ${TOKEN}}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: deploy}
spec:
  scope: {type: Registry, registry: model}
  event: {type: LINK_ARTIFACT}
  action: {webhook: hook, payloadTemplate: '{"token": "\${ACCESS_TOKEN}", "v": "\${artifact_version_string}"}'}
`,
  })
  const args = ['render', '--manifests', dir, '--automation', 'deploy', '--event', 'examples/events/link-artifact.json', '--show-headers']
  const shown = await hookwise([...args, '--delivery-id', 'd-1'])
  t.equal(shown.status, 0, shown.stderr)
  t.equal(
    shown.stdout,
    [
      'POST https://hooks.example.com/in',
      'Content-Type: application/json',
      'User-Agent: hookwise/0.1.0',
      'webhook-id: d-1',
      'Authorization: Bearer ****',
      '',
      '{"token": "****", "v": "acme/wandb-registry-model/churn-classifier:v7"}',
    ].join('\n'),
  )
  const revealed = await hookwise([...args, '--delivery-id', 'd-1', '--reveal'])
  t.equal(revealed.status, 0, revealed.stderr)
  t.match(revealed.stdout, `\nAuthorization: Bearer ${TOKEN}\n`)
  t.match(revealed.stdout, `\n\n{"token": "${TOKEN}", "v": "acme/wandb-registry-model/churn-classifier:v7"}`)
  const bodyOnly = await hookwise(args.filter((a) => a !== '--show-headers'))
  t.equal(
    bodyOnly.stdout,
    `{"token": "${TOKEN}", "v": "acme/wandb-registry-model/churn-classifier:v7"}`,
    'without --show-headers: the body as sent',
  )
})
