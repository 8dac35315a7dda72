// Signatures verified by third-party verifiers: the npm standardwebhooks and @octokit/webhooks-methods
// packages, and openssl as W&B's troubleshooting guide computes X-Wandb-Signature.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { Webhook as StandardWebhook } from 'standardwebhooks'
import { verify as verifyGithub } from '@octokit/webhooks-methods'
import { buildRequest, maskedHeaders, type RequestWebhook } from '../controller/delivery/request.js'

const body = '{"event_type":"BUILD_AND_DEPLOY","client_payload":{"note":"żółć \\"quoted\\" 🚀"}}'
const spec = (scheme: 'wandb' | 'standard-webhooks' | 'github'): RequestWebhook => ({
  url: 'https://example.com/hook',
  secrets: [{ name: 'KEY', secretKeyRef: { name: 's', key: 'k' } }],
  signing: { secret: 'KEY', scheme },
})

t.test('standard-webhooks with a whsec_ secret verifies with the standardwebhooks package', async (t) => {
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
  const timestamp = Math.floor(Date.now() / 1000)
  const req = buildRequest({
    webhook: spec('standard-webhooks'),
    secrets: { KEY: secret },
    body,
    deliveryId: 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W',
    timestamp,
  })
  t.equal(req.headers['webhook-id'], 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W')
  t.equal(req.headers['webhook-timestamp'], String(timestamp))
  t.match(req.headers['webhook-signature'], /^v1,[A-Za-z0-9+/]{43}=$/)
  t.same(new StandardWebhook(secret).verify(req.body, req.headers), JSON.parse(body))
  t.throws(() => new StandardWebhook(secret).verify(`${req.body} `, req.headers), /No matching signature found/)
})

t.test(
  'standard-webhooks: a secret without whsec_ is base64 too, as the libraries read it; one that is not base64 signs nothing',
  async (t) => {
    const secret = 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
    const req = buildRequest({
      webhook: spec('standard-webhooks'),
      secrets: { KEY: secret },
      body,
      deliveryId: 'd-1',
      timestamp: Math.floor(Date.now() / 1000),
    })
    t.same(new StandardWebhook(secret).verify(req.body, req.headers), JSON.parse(body))
    t.same(new StandardWebhook(`whsec_${secret}`).verify(req.body, req.headers), JSON.parse(body))
    t.throws(
      () =>
        buildRequest({ webhook: spec('standard-webhooks'), secrets: { KEY: 'plain-secret-value' }, body, deliveryId: 'd-1', timestamp: 0 }),
      { code: 'HW_SIGNING_SECRET_INVALID' },
    )
  },
)

t.test('github X-Hub-Signature-256 verifies with @octokit/webhooks-methods', async (t) => {
  const req = buildRequest({
    webhook: spec('github'),
    secrets: { KEY: "It's a Secret to Everybody" },
    body,
    deliveryId: 'd-2',
    timestamp: 0,
  })
  t.match(req.headers['X-Hub-Signature-256'], /^sha256=[0-9a-f]{64}$/)
  t.equal(await verifyGithub("It's a Secret to Everybody", req.body, req.headers['X-Hub-Signature-256']!), true)
  t.equal(await verifyGithub('wrong', req.body, req.headers['X-Hub-Signature-256']!), false)
})

t.test('wandb X-Wandb-Signature equals openssl dgst -sha256 -hmac ... -binary | base64', async (t) => {
  const secret = 'my-wandb-secret'
  const req = buildRequest({ webhook: spec('wandb'), secrets: { KEY: secret }, body, deliveryId: 'd-3', timestamp: 0 })
  const openssl = execFileSync('sh', ['-c', 'openssl dgst -sha256 -hmac "$SECRET" -binary | base64'], {
    input: req.body,
    env: { ...process.env, SECRET: secret },
  })
    .toString()
    .trim()
  t.equal(req.headers['X-Wandb-Signature'], openssl)
})

t.test('the request: method, headers in order, bearer token, static headers; masking for display', async (t) => {
  const webhook: RequestWebhook = { ...spec('wandb'), accessToken: { secretKeyRef: { name: 't', key: 'k' } }, headers: { 'X-Team': 'ml' } }
  const req = buildRequest({ webhook, secrets: { KEY: 'k', ACCESS_TOKEN: 'ghp_secret' }, body: '{}', deliveryId: 'd-4', timestamp: 0 })
  t.same(req, {
    method: 'POST',
    url: 'https://example.com/hook',
    headers: {
      'Content-Type': 'application/json',
      'User-Agent': 'hookwise/0.1.0',
      'webhook-id': 'd-4',
      'X-Team': 'ml',
      Authorization: 'Bearer ghp_secret',
      'X-Wandb-Signature': 'rdhTsQP7zJNqGU+esV4pxP8Ir25H1dG8pPICGOMeT/8=', // printf '{}' | openssl dgst -sha256 -hmac k -binary | base64
    },
    body: '{}',
  })
  t.equal(maskedHeaders(req.headers).Authorization, 'Bearer ****')
})
