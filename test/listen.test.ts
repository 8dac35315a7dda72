// `hookwise listen` as a real process: requests built by delivery/request.ts for each scheme, signed
// with the right and a wrong secret, must be reported verified true and false; the body arrives exact.
import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { request } from 'undici'
import { buildRequest, type OutgoingRequest, type RequestWebhook } from '../controller/delivery/request.js'
import type { SigningScheme } from '../controller/delivery/signing.js'
import { startListen } from './helpers/listen.js'

const hostile = `{"note":"it's \\"quoted\\" \\\\ back\\\\slash\\nnew line $(touch /tmp/hw-pwned) \`id\` $HOME %s żółć 🚀"}`
const secrets: Record<SigningScheme, string> = {
  wandb: 'wandb-secret-value',
  github: "It's a Secret to Everybody",
  'standard-webhooks': 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
}
const wrong: Record<SigningScheme, string> = {
  wandb: 'wandb-secret-valuf',
  github: "It's a secret to everybody",
  'standard-webhooks': 'whsec_NfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
}

function signed(
  scheme: SigningScheme,
  url: string,
  secret: string,
  options: { body?: string; timestamp?: number; token?: string } = {},
): OutgoingRequest {
  const webhook: RequestWebhook = {
    url,
    secrets: [{ name: 'KEY', secretKeyRef: { name: 's', key: 'k' } }],
    signing: { secret: 'KEY', scheme },
    headers: { 'X-Team': 'ml' },
    ...(options.token ? { accessToken: { secretKeyRef: { name: 't', key: 'k' } } } : {}),
  }
  return buildRequest({
    webhook,
    secrets: { KEY: secret, ...(options.token ? { ACCESS_TOKEN: options.token } : {}) },
    body: options.body ?? hostile,
    deliveryId: `d-${scheme}`,
    timestamp: options.timestamp ?? Math.floor(Date.now() / 1000),
  })
}

async function send(req: OutgoingRequest): Promise<{ status: number; body: unknown }> {
  const res = await request(req.url, { method: req.method, headers: req.headers, body: req.body })
  const text = await res.body.text()
  return { status: res.statusCode, body: text ? JSON.parse(text) : null }
}

for (const scheme of ['wandb', 'github', 'standard-webhooks'] as const) {
  t.test(`${scheme}: the right secret verifies, a wrong one does not`, async (t) => {
    const listener = await startListen(t, ['--secret', secrets[scheme], '--scheme', scheme])
    const good = signed(scheme, `${listener.url}/hooks/${scheme}?x=1`, secrets[scheme], { token: 'tok_very_secret' })
    t.same(await send(good), { status: 200, body: { received: true, id: `d-${scheme}`, verified: true } })
    t.same(await send(signed(scheme, `${listener.url}/hooks/${scheme}`, wrong[scheme])), {
      status: 200,
      body: { received: true, id: `d-${scheme}`, verified: false },
    })
    const [ok, bad] = await listener.waitFor(2)
    t.match(ok, {
      method: 'POST',
      path: `/hooks/${scheme}?x=1`,
      body: hostile,
      bytes: Buffer.byteLength(hostile),
      signature: { scheme, verified: true },
      headers: {
        'webhook-id': `d-${scheme}`,
        'content-type': 'application/json',
        'user-agent': 'hookwise/0.1.0',
        'x-team': 'ml',
        authorization: 'Bearer ****',
      },
    })
    t.notOk(ok!.signature!.reason)
    t.match(bad, { signature: { scheme, verified: false, reason: /does not match/ } })
    t.notMatch(listener.stderr() + JSON.stringify(listener.received), /tok_very_secret/, 'the access token is never printed')
  })
}

t.test("a request without the expected signature header, or with another scheme's, does not verify", async (t) => {
  const listener = await startListen(t, ['--secret', secrets.wandb])
  await send(signed('github', `${listener.url}/`, secrets.wandb))
  const [r] = await listener.waitFor(1)
  t.match(r, {
    signature: { scheme: 'wandb', verified: false, reason: 'no x-wandb-signature header: the sender did not sign with the wandb scheme' },
  })
})

t.test('standard-webhooks: secrets without whsec_ (base64 all the same), stale timestamps, secrets that are not keys', async (t) => {
  // As the standardwebhooks libraries read a secret: base64, with or without the whsec_ prefix.
  const bare = Buffer.from('a bare base64 key of 32 bytes!!!').toString('base64')
  const plain = await startListen(t, ['--secret', bare, '--scheme', 'standard-webhooks'])
  await send(signed('standard-webhooks', `${plain.url}/`, `whsec_${bare}`))
  await send(signed('standard-webhooks', `${plain.url}/`, bare, { timestamp: Math.floor(Date.now() / 1000) - 3600 }))
  const [fresh, stale] = await plain.waitFor(2)
  t.match(fresh, { signature: { verified: true } })
  t.match(stale, { signature: { verified: false, reason: /Message timestamp too old: .*5 minutes/ } })

  for (const secret of ['whsec_', 'plain secret żółć']) {
    const broken = await startListen(t, ['--secret', secret, '--scheme', 'standard-webhooks'])
    await send(signed('standard-webhooks', `${broken.url}/`, secrets['standard-webhooks']))
    const [r] = await broken.waitFor(1)
    t.match(r, { signature: { verified: false, reason: /cannot be used as a standard-webhooks key/ } }, secret)
  }
})

t.test('without --secret: signatures not checked; --status answers; empty bodies; other methods get 405', async (t) => {
  const listener = await startListen(t, ['--status', '503'])
  t.same(await send(signed('wandb', `${listener.url}/x`, 'k')), { status: 503, body: { received: true, id: 'd-wandb', verified: null } })
  const empty = await request(`${listener.url}/empty`, { method: 'POST' })
  t.equal(empty.statusCode, 503)
  await empty.body.dump()
  const [r, e] = await listener.waitFor(2)
  t.match(r, { signature: null, headers: { 'x-wandb-signature': /^[A-Za-z0-9+/]{43}=$/ } })
  t.match(e, { path: '/empty', body: '', bytes: 0 })
  const get = await request(`${listener.url}/`)
  t.equal(get.statusCode, 405)
  t.equal(get.headers.allow, 'POST')
  await get.body.dump()
  const noBody = await startListen(t, ['--status', '204'])
  const res = await request(`${noBody.url}/`, { method: 'POST', body: '{}' })
  t.equal(res.statusCode, 204)
  t.equal(await res.body.text(), '')
})

t.test('text output, and a clean stop on SIGINT and SIGTERM', async (t) => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'controller/cli/main.ts', 'listen', '--port', '0', '--secret', secrets.github, '--scheme', 'github'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c
    })
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c
    })
    while (!/listening on/.test(stderr)) {
      if (child.exitCode !== null) throw new Error(stderr)
      await new Promise((r) => setTimeout(r, 50))
    }
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+) \(verifying github signatures\)\n/.exec(stderr)![1]!
    await send(signed('github', `${url}/gh`, secrets.github, { token: 'tok_x', body: '{"a":1}' }))
    await send(signed('github', `${url}/gh`, 'wrong', { body: '{"a":2}\n' }))
    while (stdout.split('\n\n').length < 3) await new Promise((r) => setTimeout(r, 50))
    const exited = once(child, 'exit')
    child.kill(signal)
    const [code] = await exited
    t.equal(code, 0, `${signal}: exit 0`)
    t.match(stderr, /\nstopped\n$/)
    const [first, second] = stdout.split('\n\n')
    t.match(first, /^\d{4}-\d\d-\d\dT[\d:.]+Z POST \/gh\n/)
    t.match(
      first,
      [
        '  webhook-id: d-github',
        '  content-type: application/json',
        '  user-agent: hookwise/0.1.0',
        '  authorization: Bearer ****',
        '  x-hub-signature-256: sha256=',
      ].join('\n'),
    )
    t.match(first, /\n {2}signature: verified \(github, x-hub-signature-256\)\n {2}body: 7 bytes\n\{"a":1\}$/)
    t.match(
      second,
      /\n {2}signature: NOT verified \(github\): x-hub-signature-256 does not match the body and this secret: .*\n {2}body: 8 bytes\n\{"a":2\}$/,
    )
    t.notMatch(stdout, /tok_x/)
  }
})

t.test('usage errors exit 2; a port in use exits 1 and says what to do', async (t) => {
  const run = async (args: string[]): Promise<{ code: number | null; stderr: string }> => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'controller/cli/main.ts', 'listen', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c
    })
    const [code] = (await once(child, 'exit')) as [number | null]
    return { code, stderr }
  }
  t.match(await run(['--port', '0', '--scheme', 'github']), { code: 2, stderr: /--scheme needs --secret/ })
  t.match(await run(['--port', '70000']), { code: 2, stderr: /expected a port number from 0 to 65535/ })
  t.match(await run(['--port', '0', '--status', '99']), { code: 2, stderr: /expected an HTTP status from 200 to 599/ })
  t.match(await run(['--port', '0', '--secret', 'k', '--scheme', 'sha1']), { code: 2 })

  const busy = createServer()
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    busy.close()
  })
  const port = (busy.address() as { port: number }).port
  t.match(await run(['--port', String(port)]), {
    code: 1,
    stderr: new RegExp(`^error HW_LISTEN_FAILED: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE.*\\n  hint: choose another --port`),
  })
})
