// `hookwise run --dir`: the controller in this process on a temporary folder, its HTTP API, and the
// CLI commands that talk to it or to its state folder.
import t from 'tap'
import { writeFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { request } from 'undici'
import { startController, type RunOptions } from '../controller/app/start-controller.js'
import { createLogger } from '../controller/log.js'
import { startReceiver, type Receiver } from './helpers/receiver.js'
import { hookwise, type TapTest } from './helpers/cli.js'
import { until } from './helpers/until.js'

const TOKEN = 'intake-token-0123456789'
const WEBHOOK_TOKEN = 'wh-bearer-secret-777'
const API_KEY = 'payload-secret-888'

const webhookYaml = (url: string): string => `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: hook}
spec:
  url: ${url}
  accessToken: {secretKeyRef: {name: creds, key: token}}
  secrets: [{name: API_KEY, secretKeyRef: {name: creds, key: api}}]
`
const automationYaml = (name: string, type = 'LINK_ARTIFACT'): string => `apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: ${name}}
spec:
  scope: {type: Registry, registry: model}
  event: {type: ${type}}
  action: {webhook: hook, payload: {version: "\${artifact_version_string}", key: "\${API_KEY}"}}
`
const secretYaml = `apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {token: ${WEBHOOK_TOKEN}, api: ${API_KEY}}\n`

const event = (id: string, over: Record<string, unknown> = {}): Record<string, unknown> => ({
  id,
  type: 'LINK_ARTIFACT',
  author: 'alice',
  entity: 'acme',
  project: 'p',
  registry: 'model',
  collection: 'churn',
  artifact: { id: 'QQ==', name: 'churn', version: 'v7' },
  ...over,
})

interface Running {
  base: string
  dir: string
  state: string
  receiver: Receiver
  logs: string[]
  post(
    path: string,
    body: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; headers: Record<string, unknown>; json: any }>
  get(path: string): Promise<{ status: number; headers: Record<string, unknown>; text: string }>
}

async function run(t: TapTest, extra: Partial<RunOptions> = {}): Promise<Running> {
  const receiver = await startReceiver(t)
  const root = t.testdir({
    manifests: { 'hook.yaml': webhookYaml(`${receiver.url}/hook`), 'deploy.yaml': automationYaml('deploy') },
    secrets: { 'creds.yaml': secretYaml },
  })
  const logs: string[] = []
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(...String(chunk).split('\n').filter(Boolean))
      cb()
    },
  })
  const tokenFile = join(root, 'token')
  writeFileSync(tokenFile, `# intake tokens\n${TOKEN}\n`)
  const controller = await startController(
    {
      dir: [join(root, 'manifests')],
      secrets: [join(root, 'secrets')],
      state: join(root, 'state'),
      listen: '127.0.0.1:0',
      intakeTokenFile: tokenFile,
      allowInsecureHttp: true,
      egressAllow: ['127.0.0.0/8'],
      logLevel: 'info',
      durability: 'normal',
      maxPending: 1000,
      retentionHours: 24,
      ...extra,
    },
    createLogger({ level: 'debug', destination: sink }),
    {},
  )
  t.teardown(() => controller.stop())
  const base = `http://127.0.0.1:${controller.address.port}`
  const auth = { authorization: `Bearer ${TOKEN}` }
  return {
    base,
    dir: join(root, 'manifests'),
    state: join(root, 'state'),
    receiver,
    logs,
    post: async (path, body, headers = auth) => {
      const res = await request(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      })
      const text = await res.body.text()
      return { status: res.statusCode, headers: res.headers, json: text ? JSON.parse(text) : undefined }
    },
    get: async (path) => {
      const res = await request(`${base}${path}`, { headers: auth })
      return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
    },
  }
}

t.test('intake: 401, 400 naming the field, 413, 202, duplicates', async (t) => {
  const r = await run(t)
  const noAuth = await r.post('/v1/events', event('e-1'), {})
  t.equal(noAuth.status, 401)
  t.equal(noAuth.headers['content-type'], 'application/problem+json')
  t.match(noAuth.json, { title: 'Unauthorized', status: 401, detail: 'send Authorization: Bearer <intake token>' })
  t.equal((await r.post('/v1/events', event('e-1'), { authorization: 'Bearer wrong' })).status, 401)

  const notJson = await r.post('/v1/events', '{"type": ')
  t.match(notJson, {
    status: 400,
    json: { title: 'Bad Request', detail: 'the body is not valid JSON', errors: [{ code: 'HW_EVENT_JSON' }] },
  })

  const bad = await r.post('/v1/events', [event('ok-1'), event('bad', { type: 'LINK', artifact: { id: 'x', name: 'n' } })])
  t.equal(bad.status, 400)
  t.same(
    bad.json.errors.map((e: { path: string; message: string }) => [e.path, e.message]),
    [
      [
        '[1].type',
        '"LINK" is not one of LINK_ARTIFACT, UNLINK_ARTIFACT, CREATE_ARTIFACT, ADD_ARTIFACT_ALIAS, ADD_ARTIFACT_TAG, REMOVE_ARTIFACT_TAG, ADD_COLLECTION_TAG, REMOVE_COLLECTION_TAG',
      ],
      ['[1].artifact.version', 'required field "version" is missing'],
    ],
  )
  t.equal(bad.json.detail, 'fields are not valid; nothing was accepted')

  const big = await r.post('/v1/events', { ...event('big'), pad: 'x'.repeat(1024 * 1024 + 10) })
  t.match(big, {
    status: 413,
    json: { title: 'Payload Too Large', detail: 'the body is larger than 1048576 bytes; send fewer events per request' },
  })

  const ok = await r.post('/v1/events', event('e-1'))
  t.equal(ok.status, 202)
  t.match(ok.json, {
    accepted: 1,
    duplicates: 0,
    events: [{ id: 'e-1', duplicate: false, deliveries: [{ automation: 'default/deploy', webhook: 'default/hook' }] }],
  })
  const dup = await r.post('/v1/events', event('e-1'))
  t.match(dup, { status: 202, json: { accepted: 0, duplicates: 1, events: [{ id: 'e-1', duplicate: true, deliveries: [] }] } })
  await r.receiver.waitFor(1)
  await new Promise((res) => setTimeout(res, 300))
  t.equal(r.receiver.received.length, 1, 'delivered once')
  t.equal(r.receiver.received[0]!.headers['webhook-id'], ok.json.events[0].deliveries[0].id)
  t.equal(r.receiver.received[0]!.body, `{"version":"acme/p/churn:v7","key":"${API_KEY}"}`)
  t.equal(bad.status, 400)
  t.notOk(
    r.receiver.received.some((x) => x.body.includes('ok-1')),
    'a rejected batch stores nothing',
  )
})

t.test('history and redelivery over the API and the CLI; secrets never in logs or history', async (t) => {
  const r = await run(t)
  const ok = await r.post('/v1/events', event('e-h'))
  const id: string = ok.json.events[0].deliveries[0].id
  await r.receiver.waitFor(1)
  await until('success', async () => JSON.parse((await r.get(`/v1/deliveries/${id}`)).text).status === 'succeeded', 10_000, 25)
  const one = JSON.parse((await r.get(`/v1/deliveries/${id}`)).text)
  t.match(one, {
    id,
    eventId: 'e-h',
    automation: 'default/deploy',
    webhook: 'default/hook',
    status: 'succeeded',
    attempts: [
      {
        n: 1,
        statusCode: 200,
        responseHead: '{"ok":true}',
        requestHeaders: { Authorization: 'Bearer ****', 'webhook-id': id },
        body: '{"version":"acme/p/churn:v7","key":"****"}',
      },
    ],
  })
  const list = JSON.parse((await r.get('/v1/deliveries?status=succeeded')).text)
  t.same(
    list.map((d: { id: string }) => d.id),
    [id],
  )
  t.equal((await r.get('/v1/deliveries?status=weird')).status, 400)
  t.equal((await r.get('/v1/deliveries/nope')).status, 404)

  const again = await r.post(`/v1/deliveries/${id}/redeliver`, '')
  t.match(again, { status: 202, json: { id, status: 'pending' } })
  await r.receiver.waitFor(2)
  t.equal(r.receiver.received[1]!.headers['webhook-id'], id, 'redelivered with the same webhook-id')

  await until('redelivery success', async () => JSON.parse((await r.get(`/v1/deliveries/${id}`)).text).status === 'succeeded', 10_000, 25)
  const cli = await hookwise(['deliveries', '--state', r.state])
  t.match(
    cli.stdout,
    new RegExp(
      `^ID\\s+AUTOMATION\\s+STATUS\\s+ATTEMPTS\\s+CODE\\s+CREATED\\s+LAST ERROR\\n${id}\\s+default/deploy\\s+SUCCEEDED\\s+2\\s+200\\s+`,
    ),
  )
  const detail = await hookwise(['delivery', id, '--state', r.state])
  t.match(
    detail.stdout,
    `Delivery:    ${id}\nEvent:       e-h\nAutomation:  default/deploy\nWebhook:     default/hook\nStatus:      succeeded\nAttempts:    2\n`,
  )
  t.match(detail.stdout, 'Authorization: Bearer ****')

  const history = JSON.stringify(JSON.parse((await hookwise(['delivery', id, '--state', r.state, '--json'])).stdout))
  for (const secret of [WEBHOOK_TOKEN, API_KEY, TOKEN]) {
    t.notOk(history.includes(secret), `history has no ${secret}`)
    t.notOk(
      r.logs.some((l) => l.includes(secret)),
      `logs have no ${secret}`,
    )
  }
  t.ok(
    r.logs.some((l) => JSON.parse(l).msg === 'delivered'),
    'deliveries are logged',
  )
})

t.test('folder changes: a new automation matches, an invalid one is reported and inactive, a removed one is cancelled', async (t) => {
  const r = await run(t)
  writeFileSync(
    join(r.dir, 'alias.yaml'),
    automationYaml('on-alias', 'ADD_ARTIFACT_ALIAS').replace(
      'event: {type: ADD_ARTIFACT_ALIAS}',
      'event: {type: ADD_ARTIFACT_ALIAS, aliasRegex: "^prod$"}',
    ),
  )
  writeFileSync(join(r.dir, 'broken.yaml'), automationYaml('broken').replace('type: Registry', 'type: Galaxy'))
  await until('reload', async () => JSON.parse((await r.get('/v1/status')).text).automations.length === 3, 10_000, 25)
  const status = JSON.parse((await r.get('/v1/status')).text)
  t.same(
    status.automations.map((a: { name: string; ready: boolean }) => [a.name, a.ready]),
    [
      ['broken', false],
      ['deploy', true],
      ['on-alias', true],
    ],
  )
  t.match(status.automations[0].errors, [{ code: 'HW_SCHEMA', path: 'spec.scope.type', line: 5 }])
  t.ok(
    r.logs.some((l) => JSON.parse(l).code === 'HW_SCHEMA'),
    'the invalid object is logged',
  )

  const alias = await r.post('/v1/events', event('e-alias', { type: 'ADD_ARTIFACT_ALIAS', alias: 'prod' }))
  t.same(
    alias.json.events[0].deliveries.map((d: { automation: string }) => d.automation),
    ['default/on-alias'],
  )
  await r.receiver.waitFor(1)

  r.receiver.fallback = 503
  const pending = await r.post('/v1/events', event('e-pending'))
  await r.receiver.waitFor(2)
  rmSync(join(r.dir, 'deploy.yaml'))
  const id = pending.json.events[0].deliveries[0].id
  await until('cancellation', async () => JSON.parse((await r.get(`/v1/deliveries/${id}`)).text).status === 'cancelled', 10_000, 25)
  t.match(JSON.parse((await r.get(`/v1/deliveries/${id}`)).text), { status: 'cancelled', lastError: 'automation removed' })
})

t.test('status, health, metrics; get and describe print them', async (t) => {
  const r = await run(t)
  t.match(await r.get('/healthz'), { status: 200, text: '{"ok":true}' })
  t.match(await r.get('/readyz'), { status: 200, text: '{"ready":true}' })
  await r.post('/v1/events', event('e-s'))
  await r.receiver.waitFor(1)
  await until('status', async () => JSON.parse((await r.get('/v1/status')).text).automations[0].deliveries.succeeded === 1, 10_000, 25)
  const metrics = (await r.get('/metrics')).text
  t.match(metrics, /^hookwise_events_received_total\{duplicate="false"\} 1$/m)
  t.match(metrics, /^hookwise_deliveries_total\{outcome="succeeded"\} 1$/m)
  t.match(metrics, /^hookwise_queue_pending 0$/m)
  t.match(metrics, /^hookwise_delivery_attempt_duration_seconds_count 1$/m)

  const env = { HOOKWISE_INTAKE_TOKEN: TOKEN }
  const { getCommand, describeCommand } = await import('../controller/cli/status.js')
  let out = ''
  const io = {
    out: (s: string) => {
      out += s
    },
    err: () => {},
    stdin: async () => '',
  }
  t.equal(await getCommand('automations', { server: r.base }, io, env), 0)
  t.match(
    out,
    /^NAMESPACE\s+NAME\s+READY\s+EVENT\s+WEBHOOK\s+LAST DELIVERY\s+FAILURES\ndefault\s+deploy\s+True\s+LINK_ARTIFACT\s+hook\s+\d+s\s+0$/m,
  )
  out = ''
  t.equal(await getCommand('webhooks', { server: r.base }, io, env), 0)
  t.match(out, /^default\s+hook\s+True\s+True\s+\d+s\s+0\s+http:\/\/127\.0\.0\.1:\d+\/hook$/m)
  out = ''
  t.equal(await describeCommand('automation', 'deploy', { server: r.base }, io, env), 0)
  t.match(out, /Ready:\s+True\n/)
  t.match(out, /Last delivery: msg_\S+ Succeeded 200 after 1 attempt\(s\)/)
  t.match(out, 'Deliveries:    1 succeeded, 0 failed, 0 pending, 0 cancelled')
  await t.rejects(getCommand('automations', { server: r.base }, io, {}), { message: /answered 401/ })
})

t.test(
  'conditions: a disabled automation is Ready False/Disabled and a gone webhook Healthy False/Gone in /v1/status, get and describe',
  async (t) => {
    const r = await run(t)
    writeFileSync(join(r.dir, 'off.yaml'), `${automationYaml('off')}  enabled: false\n`)
    await until('reload', async () => JSON.parse((await r.get('/v1/status')).text).automations.length === 2, 10_000, 25)
    r.receiver.fallback = 410
    await r.post('/v1/events', event('e-gone'))
    await r.receiver.waitFor(1)
    await until('gone', async () => JSON.parse((await r.get('/v1/status')).text).webhooks[0].gone, 10_000, 25)
    const status = JSON.parse((await r.get('/v1/status')).text)
    const disabled = 'spec.enabled is false: the automation does not fire (set it to true to resume)'
    const gone =
      'the endpoint answered 410 Gone: deliveries wait until the Webhook spec changes (update the URL, or remove the Automations)'
    t.same(
      status.automations.map((a: { name: string; ready: boolean; enabled: boolean; conditions: unknown }) => [
        a.name,
        a.ready,
        a.enabled,
        a.conditions,
      ]),
      [
        [
          'deploy',
          true,
          true,
          [{ type: 'Ready', status: 'True', reason: 'Valid', message: 'fires on LINK_ARTIFACT and delivers to Webhook hook' }],
        ],
        ['off', false, false, [{ type: 'Ready', status: 'False', reason: 'Disabled', message: disabled }]],
      ],
    )
    t.match(status.webhooks, [
      {
        name: 'hook',
        ready: true,
        healthy: false,
        gone: true,
        consecutiveFailures: 1,
        conditions: [
          { type: 'Ready', status: 'True', reason: 'Valid', message: `ready to deliver to ${r.receiver.url}/hook` },
          { type: 'Healthy', status: 'False', reason: 'Gone', message: gone },
        ],
      },
    ])

    writeFileSync(join(r.dir, '..', 'client-token'), `${TOKEN}\n`)
    const server = ['--server', r.base, '--token-file', join(r.dir, '..', 'client-token')]
    const automations = await hookwise(['get', 'automations', ...server])
    t.match(automations.stdout, /^default\s+off\s+False\s+LINK_ARTIFACT\s+hook\s+-\s+0$/m)
    t.match(
      (await hookwise(['get', 'webhooks', ...server])).stdout,
      /^default\s+hook\s+True\s+False\s+\d+s\s+1\s+http:\/\/127\.0\.0\.1:\d+\/hook$/m,
    )
    const off = (await hookwise(['describe', 'automation', 'off', ...server])).stdout
    t.match(off, 'Enabled:       false\nReady:         False\n')
    t.match(off, `Conditions:\n  Type    Status   Reason     Message\n  Ready   False    Disabled   ${disabled}\n`)
    const hook = (await hookwise(['describe', 'webhook', 'hook', ...server])).stdout
    t.match(hook, 'Ready:         True\nHealthy:       False\n')
    t.match(
      hook,
      new RegExp(
        `Conditions:\\n  Type      Status   Reason   Message\\n  Ready     True     Valid    ready to deliver to http://127\\.0\\.0\\.1:\\d+/hook\\n  Healthy   False    Gone     ${gone.replace(/[()]/g, '\\$&')}\\n`,
      ),
    )
  },
)

t.test('a Secret in both the manifests and --secrets: the Webhook is Ready False (SecretDuplicated) and deliveries wait', async (t) => {
  const r = await run(t)
  const copy = join(r.dir, 'creds-copy.yaml')
  writeFileSync(copy, secretYaml)
  const inSecrets = join(r.dir, '..', 'secrets', 'creds.yaml')
  const why = (path: string): string =>
    `${path}: Secret default/creds is defined twice (${copy}:1, ${inSecrets}:1), so hookwise uses neither: deliveries to this webhook wait ` +
    '(remove one of the copies: a Secret belongs either in the manifests or in the --secrets folder)'
  await until('reload', async () => !JSON.parse((await r.get('/v1/status')).text).webhooks[0].ready, 10_000, 25)
  const status = JSON.parse((await r.get('/v1/status')).text)
  const message = `${why('spec.accessToken.secretKeyRef.name')}; ${why('spec.secrets[0].secretKeyRef.name')}`
  t.match(status.webhooks, [
    {
      name: 'hook',
      ready: false,
      conditions: [{ type: 'Ready', status: 'False', reason: 'SecretDuplicated', message }],
      errors: [
        { code: 'HW_SECRET_DUPLICATE', object: 'Webhook default/hook', path: 'spec.accessToken.secretKeyRef.name' },
        { code: 'HW_SECRET_DUPLICATE', object: 'Webhook default/hook', path: 'spec.secrets[0].secretKeyRef.name' },
      ],
    },
  ])
  t.match(status.automations, [
    { name: 'deploy', ready: false, conditions: [{ type: 'Ready', status: 'False', reason: 'WebhookNotReady' }] },
  ])
  t.match(status.errors, [{ code: 'HW_DUPLICATE_NAME', object: 'Secret default/creds', file: inSecrets }])

  writeFileSync(join(r.dir, '..', 'client-token'), `${TOKEN}\n`)
  const server = ['--server', r.base, '--token-file', join(r.dir, '..', 'client-token')]
  t.match((await hookwise(['get', 'webhooks', ...server])).stdout, /^default\s+hook\s+False\s+/m)
  const hook = (await hookwise(['describe', 'webhook', 'hook', ...server])).stdout
  t.match(hook, 'Ready:         False\n')
  t.match(hook, `  Ready     False     SecretDuplicated   ${message}\n`)

  const accepted = await r.post('/v1/events', event('e-dup'))
  t.equal(accepted.status, 202)
  t.equal(accepted.json.events[0].deliveries.length, 1, 'the event is queued')
  await new Promise((res) => setTimeout(res, 500))
  t.equal(r.receiver.received.length, 0, 'and waits: nothing is sent without the Secret')
})

t.test(
  'a webhook whose URL egress refuses (documentation, benchmarking, IETF ranges) is Ready False EgressDenied; --egress-allow re-allows',
  async (t) => {
    const urls: Record<string, string> = {
      'doc-v4': 'http://192.0.2.1/hook',
      bench: 'http://198.19.255.255/hook',
      ietf: 'http://192.0.0.255/hook',
      'doc-v6': 'http://[2001:db8::1]/hook',
    }
    const webhooks = (dir: string): void => {
      for (const [name, url] of Object.entries(urls))
        writeFileSync(join(dir, `${name}.yaml`), webhookYaml(url).replace('name: hook', `name: ${name}`))
    }
    const r = await run(t)
    webhooks(r.dir)
    await until('reload', async () => JSON.parse((await r.get('/v1/status')).text).webhooks.length === 5, 10_000, 25)
    const status = JSON.parse((await r.get('/v1/status')).text)
    const ready = (s: any): Record<string, unknown> =>
      Object.fromEntries(s.webhooks.map((w: any) => [w.name, [w.ready, w.conditions[0].reason, w.conditions[0].message]]))
    const what: Record<string, [string, string]> = {
      'doc-v4': ['192.0.2.1', 'reserved for documentation'],
      bench: ['198.19.255.255', 'reserved for benchmarking'],
      ietf: ['192.0.0.255', 'an IETF protocol assignment, not globally reachable'],
      'doc-v6': ['2001:db8::1', 'reserved for documentation'],
    }
    t.same(ready(status), {
      hook: [true, 'Valid', `ready to deliver to ${r.receiver.url}/hook`],
      ...Object.fromEntries(
        Object.entries(what).map(([name, [address, why]]) => [
          name,
          [
            false,
            'EgressDenied',
            `the egress policy refuses ${urls[name]}: address ${address} is ${why}; the egress policy refuses it (allow it with --egress-allow CIDR if this receiver is trusted)`,
          ],
        ]),
      ),
    })
    writeFileSync(join(r.dir, '..', 'client-token'), `${TOKEN}\n`)
    const server = ['--server', r.base, '--token-file', join(r.dir, '..', 'client-token')]
    const get = (await hookwise(['get', 'webhooks', ...server])).stdout
    for (const name of Object.keys(urls))
      t.match(get, new RegExp(`^default\\s+${name}\\s+False\\s`, 'm'), `${name} is not Ready in hookwise get`)
    t.match(
      (await hookwise(['describe', 'webhook', 'bench', ...server])).stdout,
      /Ready\s+False\s+EgressDenied\s+the egress policy refuses http:\/\/198\.19\.255\.255\/hook: address 198\.19\.255\.255 is reserved for benchmarking/,
    )

    await t.test('with --egress-allow for those ranges every webhook is Ready', async (t) => {
      const allowed = await run(t, { egressAllow: ['127.0.0.0/8', '192.0.2.0/24', '198.18.0.0/15', '192.0.0.0/24', '2001:db8::/32'] })
      webhooks(allowed.dir)
      await until('reload', async () => JSON.parse((await allowed.get('/v1/status')).text).webhooks.length === 5, 10_000, 25)
      t.same(ready(JSON.parse((await allowed.get('/v1/status')).text)), {
        hook: [true, 'Valid', `ready to deliver to ${allowed.receiver.url}/hook`],
        ...Object.fromEntries(Object.entries(urls).map(([name, url]) => [name, [true, 'Valid', `ready to deliver to ${url}`]])),
      })
    })
  },
)

t.test('hookwise emit sends an event built from flags, with the token', async (t) => {
  const r = await run(t)
  const dir = t.testdir({ token: `${TOKEN}\n` })
  const sent = await hookwise([
    'emit',
    '--to',
    r.base,
    '--token-file',
    join(dir, 'token'),
    '--id',
    'ci-42',
    '--type',
    'LINK_ARTIFACT',
    '--entity',
    'acme',
    '--project',
    'p',
    '--registry',
    'model',
    '--collection',
    'churn',
    '--artifact-version',
    'v9',
    '--metadata',
    'accuracy=0.97',
    '--metadata',
    'note=fresh',
  ])
  t.same(sent, { status: 0, stdout: 'event ci-42: accepted, 1 delivery\n', stderr: '' })
  await r.receiver.waitFor(1)
  t.equal(r.receiver.received[0]!.body, `{"version":"acme/p/churn:v9","key":"${API_KEY}"}`)
  const again = await hookwise(['emit', '--to', r.base, '--token-file', join(dir, 'token'), '--event', '-'], JSON.stringify(event('ci-42')))
  t.same(again, { status: 0, stdout: 'event ci-42: duplicate, already accepted\n', stderr: '' })
  const invalid = await hookwise(['emit', '--to', r.base, '--type', 'LINK_ARTIFACT', '--entity', 'acme'])
  t.equal(invalid.status, 1)
  t.match(invalid.stderr, 'error HW_EVENT_INVALID: --project: required field "project" is missing')
  const unauthorized = await hookwise(['emit', '--to', r.base, '--event', '-'], JSON.stringify(event('x')))
  t.equal(unauthorized.status, 1)
  t.match(unauthorized.stderr, /answered 401/)
})

t.test('without an intake token the API listens on loopback only and says so', async (t) => {
  const receiver = await startReceiver(t)
  const root = t.testdir({ m: { 'hook.yaml': webhookYaml(`${receiver.url}/hook`) } })
  const logs: string[] = []
  const sink = new Writable({
    write(chunk, _e, cb) {
      logs.push(String(chunk))
      cb()
    },
  })
  const c = await startController(
    {
      dir: [join(root, 'm')],
      state: join(root, 's'),
      listen: '0.0.0.0:0',
      logLevel: 'info',
      durability: 'normal',
      maxPending: 10,
      retentionHours: 1,
    },
    createLogger({ destination: sink }),
    {},
  )
  t.teardown(() => c.stop())
  t.equal(c.address.host, '127.0.0.1')
  t.ok(
    logs.some((l) => l.includes('no intake token configured (--intake-token-file or HOOKWISE_INTAKE_TOKEN): listening on 127.0.0.1 only')),
  )
})

t.test('the queue bound answers 503 with Retry-After', async (t) => {
  const r = await run(t, { maxPending: 1 })
  r.receiver.fallback = 503
  t.equal((await r.post('/v1/events', event('q-1'))).status, 202)
  const full = await r.post('/v1/events', event('q-2'))
  t.match(full, {
    status: 503,
    headers: { 'retry-after': '5' },
    json: { title: 'Service Unavailable', detail: 'the delivery queue holds 1 pending deliveries (limit 1); retry later' },
  })
})

t.test('the per-webhook bound (half of --max-pending by default) answers 503 with Retry-After naming the webhook', async (t) => {
  const r = await run(t, { maxPending: 4 })
  r.receiver.fallback = 503
  t.equal((await r.post('/v1/events', [event('w-1'), event('w-2')])).status, 202)
  const full = await r.post('/v1/events', event('w-3'))
  t.match(full, {
    status: 503,
    headers: { 'retry-after': '5' },
    json: { title: 'Service Unavailable', detail: 'webhook default/hook holds 2 pending deliveries (limit 2 per webhook); retry later' },
  })
})

t.test('hookwise test webhook sends a one-off payload with the credentials and prints the answer', async (t) => {
  const receiver = await startReceiver(t)
  const root = t.testdir({
    m: { 'hook.yaml': webhookYaml(`${receiver.url}/hook`) },
    s: { 'creds.yaml': secretYaml },
    'payload.json': '{"hello": "world"}',
  })
  const args = ['test', 'webhook', 'hook', '--manifests', join(root, 'm'), '--secrets', join(root, 's')]
  const ok = await hookwise([...args, '--payload', join(root, 'payload.json'), '--allow-insecure-http', '--egress-allow', '127.0.0.0/8'])
  t.equal(ok.status, 0)
  t.match(ok.stdout, new RegExp(`^POST ${receiver.url}/hook\\nstatus: 200 in \\d+ ms\\nbody: \\{"ok":true\\}\\n$`))
  t.equal(receiver.received[0]!.body, '{"hello": "world"}')
  t.equal(receiver.received[0]!.headers.authorization, `Bearer ${WEBHOOK_TOKEN}`)
  t.match(receiver.received[0]!.headers['webhook-id'], /^test_/)

  receiver.fallback = 500
  const failed = await hookwise([...args, '--allow-insecure-http', '--egress-allow', '127.0.0.0/8', '--json'])
  t.equal(failed.status, 1)
  t.match(JSON.parse(failed.stdout), { ok: false, statusCode: 500, body: '{"ok":false}' })
  t.match(JSON.parse(receiver.received[1]!.body), { test: true, source: 'hookwise/0.1.0', webhook: 'default/hook' })

  const refused = await hookwise(args)
  t.equal(refused.status, 1)
  t.match(refused.stdout, /^POST http:\/\/127\.0\.0\.1:\d+\/hook\nerror: EGRESS_DENIED: /)
  t.equal(receiver.received.length, 2, 'a refused URL is never contacted')
})
