// `hookwise curl` scripts run for real with bash, curl and openssl against `hookwise listen` (and a
// plain test server where the raw Authorization header matters): the receiver must get the body
// byte for byte, the headers `render --show-headers` shows, and a signature that verifies.
import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { SigningScheme } from '../controller/delivery/signing.js'
import { hookwise, type TapTest } from './helpers/cli.js'
import { startServer } from './helpers/http-server.js'
import { startListen } from './helpers/listen.js'

const TOKEN = 'tok_live_0123456789'
const KEYS: Record<SigningScheme, string> = {
  wandb: 'wandb signing secret',
  github: "It's a Secret to Everybody",
  'standard-webhooks': 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
}
// Quotes of both kinds, backslashes, a newline, command substitution, backticks, parameter
// expansion, printf directives, a carriage return, a tab and non-ASCII text.
const HOSTILE = `it's "quoted" \\ back\\slash\nnew line $(touch pwned) \`touch pwned\` $HOME \${HOME} %s %% '\\'' \r\t żółć 🚀 end\\`

const event = (note = HOSTILE): string =>
  JSON.stringify({
    id: 'e-1',
    type: 'ADD_ARTIFACT_TAG',
    author: 'dave',
    entity: 'acme',
    project: 'p',
    registry: 'model',
    collection: 'churn',
    tag: 'candidate',
    artifact: { id: 'A1', name: 'churn', version: 'v1', metadata: { note, n: 1 } },
  })

interface Setup {
  url: string
  scheme: SigningScheme
  key: string
  /** Extra webhook secrets, by variable name: [Secret key, value]. */
  extra?: Record<string, string>
  /** The structured payload of automation `structured`. */
  payload?: unknown
}

/** Writes manifests/ (a webhook and two automations: structured and template) and secrets/; returns the folder. */
function fixture(t: TapTest, s: Setup): string {
  const dir = t.testdir({ 'event.json': event() })
  const extra = Object.entries(s.extra ?? {})
  const webhook = {
    apiVersion: 'hookwise.dev/v1alpha1',
    kind: 'Webhook',
    metadata: { name: 'hook' },
    spec: {
      url: s.url,
      accessToken: { secretKeyRef: { name: 'creds', key: 'token' } },
      secrets: [
        { name: 'SIGNING_KEY', secretKeyRef: { name: 'creds', key: 'signing' } },
        ...extra.map(([name]) => ({ name, secretKeyRef: { name: 'creds', key: name.toLowerCase() } })),
      ],
      signing: { secret: 'SIGNING_KEY', scheme: s.scheme },
      headers: { 'X-Team': 'ml', 'X-Note': `it's "fine" $HOME \\ 'x'`, 'X-Empty': '' },
      timeoutSeconds: 5,
    },
  }
  const automation = (name: string, action: object): object => ({
    apiVersion: 'hookwise.dev/v1alpha1',
    kind: 'Automation',
    metadata: { name },
    spec: { scope: { type: 'Registry', registry: 'model' }, event: { type: 'ADD_ARTIFACT_TAG' }, action: { webhook: 'hook', ...action } },
  })
  // A payloadTemplate keeps its own bytes: raw newlines, a literal $(...) and two trailing newlines.
  const template =
    '{\n  "note": "${artifact_metadata.note}",\n  "raw": "$(echo hi) `id` \'q\' \\\\ żółć $${literal}",\n  "n": ${json:artifact_metadata.n}\n}\n\n'
  const docs = [
    webhook,
    automation('structured', {
      payload: s.payload ?? {
        note: '${artifact_metadata.note}',
        metadata: '${json:artifact_metadata}',
        fixed: 'single \' and double " quotes, $(not run), \\ and ünïcödé',
      },
    }),
    automation('template', { payloadTemplate: template }),
  ]
  mkdirSync(join(dir, 'manifests'))
  mkdirSync(join(dir, 'secrets'))
  writeFileSync(join(dir, 'manifests', 'hooks.yaml'), docs.map((d) => JSON.stringify(d)).join('\n---\n'))
  const stringData = { token: TOKEN, signing: s.key, ...Object.fromEntries(extra.map(([name, value]) => [name.toLowerCase(), value])) }
  writeFileSync(
    join(dir, 'secrets', 'secrets.yaml'),
    JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds' }, stringData }),
  )
  return dir
}

const args = (dir: string, automation: string): string[] => [
  '--manifests',
  join(dir, 'manifests'),
  '--automation',
  automation,
  '--event',
  join(dir, 'event.json'),
]

/** The body and headers (lower-case names) `hookwise render --show-headers` shows. */
async function rendered(dir: string, automation: string, extra: string[]): Promise<{ body: string; headers: Record<string, string> }> {
  const r = await hookwise(['render', ...args(dir, automation), '--secrets', join(dir, 'secrets'), '--show-headers', ...extra])
  if (r.status !== 0) throw new Error(r.stderr)
  const split = r.stdout.indexOf('\n\n')
  const headers: Record<string, string> = {}
  for (const line of r.stdout.slice(0, split).split('\n').slice(1)) {
    const colon = line.indexOf(': ')
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 2)
  }
  return { body: r.stdout.slice(split + 2), headers }
}

/** Writes the script to a file and runs it with bash in `dir`, with only PATH and `env` set. */
function runScript(dir: string, script: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = join(dir, `script-${Math.random().toString(36).slice(2)}.sh`)
  writeFileSync(file, script)
  return new Promise((resolve) => {
    execFile(
      'bash',
      [file],
      { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent-home', ...env } },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })
      },
    )
  })
}

for (const scheme of ['wandb', 'github', 'standard-webhooks'] as const) {
  t.test(`${scheme}: the script delivers the exact body and headers, and the signature verifies`, async (t) => {
    const listener = await startListen(t, ['--secret', KEYS[scheme], '--scheme', scheme])
    const dir = fixture(t, { url: `${listener.url}/hook?scheme=${scheme}`, scheme, key: KEYS[scheme] })
    const timestamp = String(Math.floor(Date.now() / 1000))
    for (const [i, automation] of ['structured', 'template'].entries()) {
      const pin = ['--delivery-id', `msg-${automation}`, '--timestamp', timestamp]
      const expected = await rendered(dir, automation, pin)
      const curl = await hookwise(['curl', ...args(dir, automation), ...pin])
      t.equal(curl.status, 0, curl.stderr)
      t.notMatch(curl.stdout, TOKEN, 'the access token is not in the script')
      t.notMatch(curl.stdout, KEYS[scheme], 'the signing secret is not in the script')

      const run = await runScript(dir, curl.stdout, { ACCESS_TOKEN: TOKEN, SIGNING_KEY: KEYS[scheme] })
      t.equal(run.code, 0, run.stderr)
      t.match(run.stdout, /^HTTP\/1\.1 200 OK\r\n/)
      const got = (await listener.waitFor(i + 1))[i]!
      t.equal(got.body, expected.body, `${automation}: the body, byte for byte`)
      t.equal(got.bytes, Buffer.byteLength(expected.body))
      t.same(got.signature, { scheme, verified: true }, `${automation}: the signature verifies`)
      const { host, 'content-length': length, ...headers } = got.headers
      t.equal(host, new URL(listener.url).host)
      t.equal(length, String(got.bytes))
      t.same(headers, expected.headers, `${automation}: exactly the headers render shows, Authorization masked on both sides`)
    }
    t.notOk(existsSync(join(dir, 'pwned')), 'nothing in the body or headers ran as a command')
  })
}

t.test("the raw Authorization header, HOOKWISE_URL, and signatures equal to hookwise's own", async (t) => {
  const server = await startServer(t, (_req, res) => res.writeHead(202).end('{"ok":true}'))
  for (const scheme of ['wandb', 'github', 'standard-webhooks'] as const) {
    const dir = fixture(t, { url: 'https://receiver.example/never-used', scheme, key: KEYS[scheme] })
    const pin = ['--delivery-id', 'msg-raw', '--timestamp', '1764241200']
    const expected = await rendered(dir, 'structured', pin)
    const curl = await hookwise(['curl', ...args(dir, 'structured'), ...pin])
    const run = await runScript(dir, curl.stdout, {
      ACCESS_TOKEN: TOKEN,
      SIGNING_KEY: KEYS[scheme],
      HOOKWISE_URL: server.url(`/${scheme}`),
    })
    t.equal(run.code, 0, run.stderr)
    t.match(run.stdout, /^HTTP\/1\.1 202 Accepted\r\n[\s\S]*\{"ok":true\}$/)
    const r = server.received.at(-1)!
    t.equal(r.url, `/${scheme}`)
    t.equal(r.body, expected.body)
    t.equal(r.headers.authorization, `Bearer ${TOKEN}`)
    t.equal(r.headers['x-note'], `it's "fine" $HOME \\ 'x'`)
    t.equal(r.headers['x-empty'], '')
    t.notOk('accept' in r.headers, "curl's Accept header is left out")
    for (const name of ['x-wandb-signature', 'x-hub-signature-256', 'webhook-timestamp', 'webhook-signature']) {
      t.equal(r.headers[name], expected.headers[name], `${scheme}: ${name} is the one hookwise computes`)
    }
  }
})

t.test(
  'standard-webhooks keys: base64 with + / and padding, with or without whsec_, sign as hookwise does; a key that is not base64 stops the script',
  async (t) => {
    const server = await startServer(t, (_req, res) => res.writeHead(200).end())
    const keys = [
      `whsec_${Buffer.from([0xfb, 0xff, 0xbf, 0x00, 0x01, 0x3e, 0x3f, 0xfe, ...Buffer.from('and 16 more bytes')]).toString('base64')}`, // '+', '/', '='
      'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    ]
    const pin = ['--delivery-id', 'msg-k', '--timestamp', '1764241200']
    for (const key of keys) {
      const dir = fixture(t, { url: server.url('/'), scheme: 'standard-webhooks', key })
      const expected = await rendered(dir, 'template', pin)
      const run = await runScript(dir, (await hookwise(['curl', ...args(dir, 'template'), ...pin])).stdout, {
        ACCESS_TOKEN: TOKEN,
        SIGNING_KEY: key,
      })
      t.equal(run.code, 0, run.stderr)
      t.equal(server.received.at(-1)!.headers['webhook-signature'], expected.headers['webhook-signature'], key)
    }
    const dir = fixture(t, { url: server.url('/'), scheme: 'standard-webhooks', key: keys[1]! })
    const sent = server.received.length
    const run = await runScript(dir, (await hookwise(['curl', ...args(dir, 'template'), ...pin])).stdout, {
      ACCESS_TOKEN: TOKEN,
      SIGNING_KEY: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa',
    })
    t.equal(run.code, 1)
    t.equal(run.stderr, 'SIGNING_KEY is not base64 (with or without whsec_): not a standard-webhooks key\n')
    t.equal(server.received.length, sent, 'nothing sent')
  },
)

t.test('the user puts in another secret: the script signs with it', async (t) => {
  const real = `whsec_${Buffer.from('the production key, 32 bytes!!!!').toString('base64')}`
  const listener = await startListen(t, ['--secret', real, '--scheme', 'standard-webhooks'])
  const dir = fixture(t, { url: `${listener.url}/`, scheme: 'standard-webhooks', key: KEYS['standard-webhooks'] })
  const curl = await hookwise(['curl', ...args(dir, 'structured'), '--secrets', join(dir, 'secrets')])
  t.match(curl.stdout, /hw_timestamp="\$\(date \+%s\)"/, 'without --timestamp the script signs with the time it runs')
  t.equal((await runScript(dir, curl.stdout, { ACCESS_TOKEN: TOKEN, SIGNING_KEY: real })).code, 0)
  const [r] = await listener.waitFor(1)
  t.same(r!.signature, { scheme: 'standard-webhooks', verified: true })
  t.equal(r!.headers['webhook-id'], 'curl-preview')
})

t.test('a secret not exported stops the script before anything is sent; --reveal-secrets puts them in it', async (t) => {
  const listener = await startListen(t, ['--secret', KEYS.wandb, '--scheme', 'wandb'])
  const dir = fixture(t, { url: `${listener.url}/`, scheme: 'wandb', key: KEYS.wandb })
  const masked = await hookwise(['curl', ...args(dir, 'structured')])
  t.equal(masked.status, 0, 'no --secrets needed when the body uses none')
  t.match(masked.stdout, ': "${ACCESS_TOKEN:?export ACCESS_TOKEN first: key token of Secret default/creds}"')
  t.match(masked.stdout, ': "${SIGNING_KEY:?export SIGNING_KEY first: key signing of Secret default/creds}"')
  const missing = await runScript(dir, masked.stdout, { ACCESS_TOKEN: TOKEN })
  t.not(missing.code, 0)
  t.match(missing.stderr, /SIGNING_KEY: export SIGNING_KEY first/)

  const noSecrets = await hookwise(['curl', ...args(dir, 'structured'), '--reveal-secrets'])
  t.equal(noSecrets.status, 1)
  t.match(noSecrets.stderr, /^error HW_SECRET_NOT_FOUND: .*\n {2}hint: .*pass the folder of Secret manifests with --secrets DIR\n$/)

  const revealed = await hookwise(['curl', ...args(dir, 'template'), '--secrets', join(dir, 'secrets'), '--reveal-secrets'])
  t.equal(revealed.status, 0, revealed.stderr)
  t.match(revealed.stdout, `\nACCESS_TOKEN='${TOKEN}'  # key token of Secret default/creds\n`)
  t.match(revealed.stdout, `\nSIGNING_KEY='${KEYS.wandb}'  # key signing of Secret default/creds\n`)
  t.equal((await runScript(dir, revealed.stdout, {})).code, 0)
  const [r] = await listener.waitFor(1)
  t.same(r!.signature, { scheme: 'wandb', verified: true })
  t.equal(r!.body, (await hookwise(['render', ...args(dir, 'template')])).stdout)
})

t.test('secrets the body uses become shell variables too; JSON-escaped ones need --reveal-secrets', async (t) => {
  const listener = await startListen(t, ['--secret', KEYS.github, '--scheme', 'github'])
  const api = "k3y-'quoted'-$(x)"
  const dir = fixture(t, {
    url: `${listener.url}/`,
    scheme: 'github',
    key: KEYS.github,
    extra: { API_KEY: api, PATH: 'path-secret-value' },
    payload: { auth: '${API_KEY}', again: 'x${API_KEY}y', path: '${PATH}', token: '${ACCESS_TOKEN}' },
  })
  const curl = await hookwise(['curl', ...args(dir, 'structured'), '--secrets', join(dir, 'secrets')])
  t.equal(curl.status, 0, curl.stderr)
  t.notMatch(curl.stdout, api)
  t.notMatch(curl.stdout, 'path-secret-value')
  t.notMatch(curl.stdout, TOKEN)
  t.match(
    curl.stdout,
    ': "${HOOKWISE_PATH:?export HOOKWISE_PATH first: key path of Secret default/creds}"',
    'a secret named like a shell variable gets a prefix',
  )
  const run = await runScript(dir, curl.stdout, {
    ACCESS_TOKEN: TOKEN,
    SIGNING_KEY: KEYS.github,
    API_KEY: api,
    HOOKWISE_PATH: 'path-secret-value',
  })
  t.equal(run.code, 0, run.stderr)
  const [r] = await listener.waitFor(1)
  t.equal(r!.body, `{"auth":"${api}","again":"x${api}y","path":"path-secret-value","token":"${TOKEN}"}`)
  t.same(r!.signature, { scheme: 'github', verified: true })

  const escaped = fixture(t, {
    url: `${listener.url}/`,
    scheme: 'github',
    key: KEYS.github,
    extra: { API_KEY: 'has "quotes"' },
    payload: { auth: '${API_KEY}' },
  })
  const refused = await hookwise(['curl', ...args(escaped, 'structured'), '--secrets', join(escaped, 'secrets')])
  t.same(refused, {
    status: 1,
    stdout: '',
    stderr:
      'error HW_CURL_UNSUPPORTED: the body holds the secret API_KEY JSON-escaped, so the script cannot take it from a shell variable\n  hint: run hookwise curl with --reveal-secrets to put the secret in the script, and keep the script private\n',
  })
  const shown = await hookwise(['curl', ...args(escaped, 'structured'), '--secrets', join(escaped, 'secrets'), '--reveal-secrets'])
  t.equal((await runScript(escaped, shown.stdout, {})).code, 0)
  const [, s] = await listener.waitFor(2)
  t.equal(s!.body, '{"auth":"has \\"quotes\\""}')
  t.same(s!.signature, { scheme: 'github', verified: true })
})

t.test('usage and input errors', async (t) => {
  const dir = fixture(t, { url: 'https://x.example/', scheme: 'wandb', key: 'k' })
  t.equal((await hookwise(['curl', '--manifests', dir])).status, 2)
  t.equal((await hookwise(['curl', ...args(dir, 'structured'), '--timestamp', 'soon'])).status, 2)
  const unknown = await hookwise(['curl', ...args(dir, 'nope')])
  t.equal(unknown.status, 1)
  t.match(
    unknown.stderr,
    /^error HW_AUTOMATION_NOT_FOUND: automation default\/nope is not in .*\n {2}hint: automations found: default\/structured, default\/template\n$/,
  )
})
