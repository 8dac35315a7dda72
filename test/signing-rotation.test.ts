// Standard Webhooks secrets read as the spec and its libraries read them (base64, with or without
// whsec_), refused at validation when they are not; and rotation: with signing.previousSecret a
// request carries a signature with each secret, so a receiver holding either one accepts it. Every
// request here is a real one (`hookwise test webhook`) to a real receiver on loopback, verified with
// the npm standardwebhooks library's defaults, @octokit/webhooks-methods and openssl's recipe.
import t from 'tap'
import { createHmac } from 'node:crypto'
import { join } from 'node:path'
import { verify as verifyGithub } from '@octokit/webhooks-methods'
import { Webhook as StandardWebhook } from 'standardwebhooks'
import { hookwise, type TapTest } from './helpers/cli.js'
import { startServer, type Received } from './helpers/http-server.js'
import { startListen } from './helpers/listen.js'

const NEW = `whsec_${Buffer.from('the new signing key, 32 bytes!!!').toString('base64')}`
const OLD = `whsec_${Buffer.from('the old signing key, 32 bytes!!!').toString('base64')}`

function webhook(url: string, scheme: string, signing: string): string {
  return `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: hook}
spec:
  url: ${url}
  secrets:
  - {name: SIGNING_KEY, secretKeyRef: {name: keys, key: new}}
  - {name: OLD_SIGNING_KEY, secretKeyRef: {name: keys, key: old}}
  signing: {${signing}, scheme: ${scheme}}
`
}

/** Sends `hookwise test webhook hook` once and returns what the receiver got. */
async function sendOne(t: TapTest, scheme: string, signing: string, keys: { new: string; old: string }): Promise<Received> {
  const server = await startServer(t, (_req, res) => res.writeHead(204).end())
  const dir = t.testdir({
    m: { 'hook.yaml': webhook(server.url('/hook'), scheme, signing) },
    s: { 'keys.yaml': `apiVersion: v1\nkind: Secret\nmetadata: {name: keys}\nstringData: {new: '${keys.new}', old: '${keys.old}'}\n` },
  })
  const r = await hookwise([
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
  ])
  t.equal(r.status, 0, r.stderr)
  return server.received[0]!
}

const headersOf = (r: Received): Record<string, string> => r.headers as Record<string, string>

t.test('a standard-webhooks secret is base64, with or without whsec_: the library default Webhook(secret) verifies', async (t) => {
  const bare = NEW.slice('whsec_'.length)
  for (const secret of [NEW, bare]) {
    const got = await sendOne(t, 'standard-webhooks', 'secret: SIGNING_KEY', { new: secret, old: OLD })
    t.match(headersOf(got)['webhook-signature'], /^v1,[A-Za-z0-9+/]{43}=$/, 'one signature without a previous secret')
    t.doesNotThrow(() => new StandardWebhook(secret).verify(got.body, headersOf(got)), `verifies with Webhook(${secret.slice(0, 10)}...)`)
    t.doesNotThrow(() => new StandardWebhook(NEW).verify(got.body, headersOf(got)), 'the same key as with whsec_')
  }
})

t.test('rotation, standard-webhooks: two signatures in webhook-signature; a receiver with either secret verifies', async (t) => {
  const got = await sendOne(t, 'standard-webhooks', 'secret: SIGNING_KEY, previousSecret: OLD_SIGNING_KEY', { new: NEW, old: OLD })
  t.match(headersOf(got)['webhook-signature'], /^v1,[A-Za-z0-9+/]{43}= v1,[A-Za-z0-9+/]{43}=$/)
  t.doesNotThrow(() => new StandardWebhook(NEW).verify(got.body, headersOf(got)), 'a receiver with the new secret')
  t.doesNotThrow(() => new StandardWebhook(OLD).verify(got.body, headersOf(got)), 'a receiver still on the old secret')
  const other = `whsec_${Buffer.from('some other key, also 32 bytes!!!').toString('base64')}`
  t.throws(() => new StandardWebhook(other).verify(got.body, headersOf(got)), /No matching signature found/, 'but not any secret')
})

t.test('rotation, github and wandb: their header holds one signature; the previous secret signs a second header', async (t) => {
  const gh = await sendOne(t, 'github', 'secret: SIGNING_KEY, previousSecret: OLD_SIGNING_KEY', {
    new: 'new-gh-secret',
    old: 'old-gh-secret',
  })
  t.equal(await verifyGithub('new-gh-secret', gh.body, headersOf(gh)['x-hub-signature-256']!), true)
  t.equal(await verifyGithub('old-gh-secret', gh.body, headersOf(gh)['x-hub-signature-256-previous']!), true)
  const wb = await sendOne(t, 'wandb', 'secret: SIGNING_KEY, previousSecret: OLD_SIGNING_KEY', {
    new: 'new-wb-secret',
    old: 'old-wb-secret',
  })
  const wandb = (secret: string): string => createHmac('sha256', secret).update(wb.body).digest('base64')
  t.equal(headersOf(wb)['x-wandb-signature'], wandb('new-wb-secret'))
  t.equal(headersOf(wb)['x-wandb-signature-previous'], wandb('old-wb-secret'))
  const without = await sendOne(t, 'wandb', 'secret: SIGNING_KEY', { new: 'new-wb-secret', old: 'old-wb-secret' })
  t.equal(headersOf(without)['x-wandb-signature-previous'], undefined, 'no second header without a previous secret')
})

t.test('validation refuses a standard-webhooks secret that is not base64 or too short, and an unknown previousSecret', async (t) => {
  const dir = t.testdir({
    'hook.yaml': webhook('https://ci.example.com/hook', 'standard-webhooks', 'secret: SIGNING_KEY, previousSecret: OLD_SIGNING_KEY'),
    'keys.yaml': `apiVersion: v1\nkind: Secret\nmetadata: {name: keys}\nstringData:\n  new: plain-secret-value\n  old: whsec_c2hvcnQ=\n`,
    'other.yaml': webhook('https://ci.example.com/other', 'standard-webhooks', 'secret: SIGNING_KEY, previousSecret: NOPE').replace(
      'name: hook',
      'name: other',
    ),
  })
  const r = await hookwise(['validate', dir])
  t.equal(r.status, 1)
  t.equal(
    r.stdout + r.stderr,
    [
      `${join(dir, 'other.yaml')}:9:34: error HW_SIGNING_SECRET_UNKNOWN: Webhook default/other: spec.signing.previousSecret: signing.previousSecret must name one of spec.secrets[].name, not "NOPE"`,
      '  hint: name one of SIGNING_KEY, OLD_SIGNING_KEY, or add NOPE to spec.secrets',
      `${join(dir, 'keys.yaml')}:5:3: error HW_SIGNING_SECRET_INVALID: Secret default/keys: stringData.new: the signing.secret of Webhook default/hook (scheme standard-webhooks) is not base64 (A-Z, a-z, 0-9, + and /, padded with = to a multiple of 4)`,
      `  hint: generate one with: echo "whsec_$(openssl rand -base64 32)" (the receiver's standardwebhooks library reads the same value)`,
      `${join(dir, 'keys.yaml')}:6:3: error HW_SIGNING_SECRET_INVALID: Secret default/keys: stringData.old: the signing.previousSecret of Webhook default/hook (scheme standard-webhooks) decodes to 5 bytes; standard-webhooks keys are 24 to 64 bytes`,
      `  hint: generate one with: echo "whsec_$(openssl rand -base64 32)" (the receiver's standardwebhooks library reads the same value)`,
      'invalid: 3 errors',
      '',
    ].join('\n'),
  )
})

t.test('hookwise listen with the old secret during a rotation: verified, and it says by which header', async (t) => {
  const listener = await startListen(t, ['--secret', 'old-wb-secret', '--scheme', 'wandb'])
  const dir = t.testdir({
    m: { 'hook.yaml': webhook(`${listener.url}/hook`, 'wandb', 'secret: SIGNING_KEY, previousSecret: OLD_SIGNING_KEY') },
    s: { 'keys.yaml': 'apiVersion: v1\nkind: Secret\nmetadata: {name: keys}\nstringData: {new: new-wb-secret, old: old-wb-secret}\n' },
  })
  const r = await hookwise([
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
  ])
  t.equal(r.status, 0, r.stderr)
  const [got] = await listener.waitFor(1)
  t.same(got!.signature, { scheme: 'wandb', verified: true, header: 'x-wandb-signature-previous' })
})
