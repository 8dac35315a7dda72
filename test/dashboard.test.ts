// The dashboard at /ui in a real browser (Debian's Chromium, playwright-core) against `hookwise run`
// with real deliveries to real loopback receivers: one succeeded, one failed (400), one held because
// its endpoint answered 410. Screenshots go to test/artifacts/dashboard/ (git-ignored).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { launchBrowser } from './helpers/browser.js'
import { startHookwise } from './helpers/hookwise-process.js'
import { startReceiver } from './helpers/receiver.js'
import { until } from './helpers/until.js'
import { chromiumSkipReason } from './tools/chromium.js'

const skip = chromiumSkipReason()
if (skip) {
  t.plan(0, skip)
  process.exit(0)
}

const ARTIFACTS = join(import.meta.dirname, 'artifacts', 'dashboard')
mkdirSync(ARTIFACTS, { recursive: true })
const TOKEN = 'dashboard-test-token-3f9a'
const XSS = '<img src=x onerror=document.title="pwned">'

void t.test('the dashboard of a running hookwise with three deliveries', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hookwise-dashboard-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const ok = await startReceiver(t)
  const failing = await startReceiver(t)
  failing.fallback = 400
  const gone = await startReceiver(t)
  gone.fallback = 410

  const hook = (
    name: string,
    url: string,
    automation: string,
    on = "{type: ADD_ARTIFACT_ALIAS, aliasRegex: '^<'}",
  ) => `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: ${name}}
spec:
  url: ${url}/hook
  accessToken: {secretKeyRef: {name: deploy-bot, key: token}}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: ${automation}}
spec:
  scope: {type: Registry, registry: model}
  event: ${on}
  action:
    webhook: ${name}
    payload:
      text: "\${event_author} set \${alias} on \${artifact_version_string}"
      token: \${ACCESS_TOKEN}
---
`
  mkdirSync(join(dir, 'manifests'))
  mkdirSync(join(dir, 'secrets'))
  writeFileSync(
    join(dir, 'manifests', 'hooks.yaml'),
    hook('deploy', ok.url, 'deploy-production') +
      hook('audit', failing.url, 'audit-aliases') +
      hook('retired', gone.url, 'notify-retired', "{type: ADD_ARTIFACT_ALIAS, aliasRegex: '^staging$'}"),
  )
  writeFileSync(
    join(dir, 'secrets', 'secrets.yaml'),
    'apiVersion: v1\nkind: Secret\nmetadata: {name: deploy-bot}\nstringData: {token: s3cr3t-bearer-value}\n',
  )
  const hw = startHookwise(
    [
      ...['run', '--dir', join(dir, 'manifests'), '--secrets', join(dir, 'secrets'), '--state', join(dir, 'state')],
      ...['--listen', '127.0.0.1:0', '--allow-insecure-http', '--egress-allow', '127.0.0.0/8'],
    ],
    t,
    { ...process.env, HOOKWISE_INTAKE_TOKEN: TOKEN },
  )
  const base = await hw.url()
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, { redirect: 'manual', ...init, headers: { Authorization: `Bearer ${TOKEN}`, ...init.headers } })

  const event = (id: string, type: string, alias?: string) => ({
    id,
    type,
    time: '2026-12-03T16:00:00Z',
    author: 'alice',
    entity: 'acme',
    project: 'wandb-registry-model',
    registry: 'model',
    collection: 'churn-classifier',
    artifact: { id: 'QXJ0aWZhY3Q6MQ==', name: 'churn-classifier', version: 'v7', type: 'model', aliases: alias ? [alias] : [], tags: [] },
    ...(alias ? { alias } : {}),
  })
  const post = (events: unknown[]) =>
    api('/v1/events', { method: 'POST', body: JSON.stringify(events), headers: { 'Content-Type': 'application/json' } })
  type Row = { id: string; eventId: string; automation: string; status: string; attempts: number; lastError: string | null }
  const list = async () => (await (await api('/v1/deliveries')).json()) as Row[]
  // e-dash-0 sets `staging` (only notify-retired, whose endpoint answers 410), e-dash-1 the hostile alias (the other two).
  const first = await post([event('e-dash-0', 'ADD_ARTIFACT_ALIAS', 'staging'), event('e-dash-1', 'ADD_ARTIFACT_ALIAS', XSS)])
  t.match(await first.json(), { accepted: 2, events: [{ deliveries: [{}] }, { deliveries: [{}, {}] }] }, 'one delivery, then two')
  await Promise.all([ok.waitFor(1, 60_000), failing.waitFor(1, 60_000), gone.waitFor(1, 60_000)])
  await until('three deliveries with an attempt each', async () => (await list()).filter((d) => d.attempts > 0).length === 3)
  // Made after the 410: held, not sent.
  t.equal((await post([event('e-dash-2', 'ADD_ARTIFACT_ALIAS', 'staging')])).status, 202)
  const rows = await until('the delivery to the gone webhook is held', async () => {
    const all = await list()
    return all.find((d) => d.eventId === 'e-dash-2')?.lastError ? all : undefined
  })
  const of = (eventId: string, automation: string) => rows.find((d) => d.eventId === eventId && d.automation === `default/${automation}`)!
  const audit = of('e-dash-1', 'audit-aliases')
  t.equal(of('e-dash-1', 'deploy-production').status, 'succeeded')
  t.equal(audit.status, 'failed')
  t.equal(of('e-dash-0', 'notify-retired').status, 'failed', 'the 410 itself')
  t.match(of('e-dash-2', 'notify-retired'), { status: 'pending', attempts: 0, lastError: /answered 410 Gone/ }, 'held')
  t.equal(gone.received.length, 1, 'the held delivery was not sent')

  await t.test('the dashboard needs the intake token: /ui redirects to the login page, which takes it', async (t) => {
    const anonymous = await fetch(`${base}/ui/deliveries`, { redirect: 'manual' })
    t.equal(anonymous.status, 303)
    t.equal(anonymous.headers.get('location'), '/ui/login')
    const wrongBearer = await fetch(`${base}/ui`, { redirect: 'manual', headers: { Authorization: 'Bearer nope' } })
    t.equal(wrongBearer.status, 303)
    const page = await api('/ui')
    t.equal(page.status, 200, 'a bearer token works too (curl)')
    t.equal(page.headers.get('cache-control'), 'no-store')
    t.match(page.headers.get('content-security-policy'), /default-src 'none'; script-src 'self'; style-src 'self'/)
    const login = await fetch(`${base}/ui/login`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ token: TOKEN }),
    })
    t.equal(login.status, 303)
    t.match(login.headers.get('set-cookie'), /^hookwise_session=[A-Za-z0-9_-]{43}; Path=\/ui; HttpOnly; SameSite=Strict; Max-Age=43200$/)
    t.notMatch(login.headers.get('set-cookie'), TOKEN, 'the cookie is a session id, not the token')
    const badLogin = await fetch(`${base}/ui/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ token: 'guess' }) })
    t.equal(badLogin.status, 401)
    t.match(await badLogin.text(), 'That is not an intake token of this hookwise.')
    t.equal((await fetch(`${base}/ui/assets/dashboard.css`)).status, 200, 'the stylesheet is public (the login page uses it)')
  })

  await t.test('the time filter reads UTC minutes and names a malformed one', async (t) => {
    const html = async (q: string) => (await api(`/ui/deliveries?${q}`)).text()
    t.match(await html('since=2099-01-01T00:00'), 'No deliveries match.')
    t.equal((await html('until=2099-01-01T00:00')).match(/<tbody>[\s\S]*?<\/tbody>/)![0].split('<tr>').length - 1, 4)
    const bad = await api('/ui/deliveries?since=yesterday&status=lost')
    t.equal(bad.status, 400)
    t.match(
      await bad.text(),
      'status must be one of pending, succeeded, failed, cancelled; &quot;from&quot; must be a date and time like 2026-12-03T16:30; got &quot;yesterday&quot;',
    )
  })

  await t.test('redelivery is a POST with the CSRF token of the session, from the same origin', async (t) => {
    const id = encodeURIComponent(audit.id)
    const login = await fetch(`${base}/ui/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ token: TOKEN }) })
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!
    const post = (body: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(`${base}/ui/deliveries/${id}/redeliver`, {
        method: 'POST',
        redirect: 'manual',
        body: new URLSearchParams(body),
        headers: { cookie, ...headers },
      })
    const noToken = await post({})
    t.equal(noToken.status, 403)
    t.match(await noToken.text(), 'the form has expired or was not sent from this dashboard')
    const confirm = await (await fetch(`${base}/ui/deliveries/${id}/redeliver`, { headers: { cookie } })).text()
    const csrf = /name="csrf" value="([^"]+)"/.exec(confirm)![1]!
    const crossSite = await post({ csrf }, { origin: 'http://evil.example' })
    t.equal(crossSite.status, 403, 'a form posted from another site is refused')
    t.equal((await post({ csrf: `${csrf.slice(0, -1)}A` })).status, 403, 'a wrong token is refused')
    t.equal(failing.received.length, 1, 'none of them redelivered')
  })

  await t.test('in Chromium: overview, deliveries, an attempt, the event, and redeliver', async (t) => {
    const context = await launchBrowser(t)
    const page = await context.newPage()
    const titles: string[] = []
    page.on('dialog', (d) => void d.dismiss())
    await page.goto(`${base}/ui`)
    t.equal(new URL(page.url()).pathname, '/ui/login', 'sent to the login page')
    await page.getByLabel('Intake token').fill('wrong')
    await page.getByRole('button', { name: 'Log in' }).click()
    t.equal(await page.getByRole('alert').textContent(), 'That is not an intake token of this hookwise.')
    await page.getByLabel('Intake token').fill(TOKEN)
    await page.keyboard.press('Enter')
    await page.waitForURL(`${base}/ui`)
    t.equal(await page.locator('h1').textContent(), 'Overview')
    const cookies = await context.cookies()
    t.match(cookies, [{ name: 'hookwise_session', httpOnly: true, sameSite: 'Strict', path: '/ui' }])

    const webhookRow = (name: string) =>
      page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: new RegExp(`^default/${name} http`) }) })
    t.match(
      await webhookRow('deploy').textContent(),
      /Ready: True[\s\S]*Healthy: True[\s\S]*Succeeded \(200\)[\s\S]*Success rate: 100% \(1 of 1 attempts\)/,
    )
    t.match(await webhookRow('audit').textContent(), /Failed \(400\)[\s\S]*Success rate: 0% \(0 of 1 attempts\)/)
    t.match(await webhookRow('retired').textContent(), /Healthy: False\s+Gone/)
    t.match(await webhookRow('retired').textContent(), /the endpoint answered 410 Gone: deliveries wait until the Webhook spec changes/)
    const automation = await page
      .getByRole('row')
      .filter({ has: page.getByRole('rowheader', { name: 'default/audit-aliases' }) })
      .textContent()
    t.match(automation, /ADD_ARTIFACT_ALIAS\s+audit\s/)
    t.same((automation ?? '').trim().split(/\s+/).slice(-3), ['0', '1', '0'], 'succeeded, failed, pending')
    const retired = await page
      .getByRole('row')
      .filter({ has: page.getByRole('rowheader', { name: 'default/notify-retired' }) })
      .textContent()
    t.same((retired ?? '').trim().split(/\s+/).slice(-3), ['0', '1', '1'], 'the 410, and the delivery held since')
    t.equal(await page.locator('svg.chart').count(), 6, 'a success-rate and a latency chart per webhook')
    await page.screenshot({ path: join(ARTIFACTS, 'overview.png'), fullPage: true })

    await page.getByRole('link', { name: 'Deliveries' }).click()
    t.equal(await page.locator('#delivery-list tbody tr').count(), 4)
    await page.getByLabel('Status').selectOption('failed')
    await page.getByRole('button', { name: 'Filter' }).click()
    t.equal(new URL(page.url()).searchParams.get('status'), 'failed')
    t.equal(await page.locator('#delivery-list tbody tr').count(), 2, 'the 400 and the 410')
    await page.screenshot({ path: join(ARTIFACTS, 'deliveries.png'), fullPage: true })

    await page.getByRole('link', { name: audit.id }).click()
    const attempt = await page.locator('.attempt').textContent()
    t.match(attempt, /Attempt 1: 400/)
    t.match(attempt, /Latency\s*\d+ ms/)
    t.match(attempt, `POST ${failing.url}/hook`)
    t.match(attempt, /authorization: Bearer \*+/i, 'the access token is masked')
    t.notMatch(await page.content(), 's3cr3t-bearer-value', 'the secret is nowhere on the page')
    t.match(
      attempt,
      `"text": ${JSON.stringify(`alice set ${XSS} on acme/wandb-registry-model/churn-classifier:${XSS}`)}`,
      'the alias renders as text',
    )
    t.equal(await page.locator('main img').count(), 0, 'no <img> was made from the alias')

    await page.getByRole('link', { name: 'e-dash-1' }).click()
    t.equal(await page.locator('h1').textContent(), 'Event e-dash-1')
    t.match(await page.locator('pre').textContent(), `"alias": ${JSON.stringify(XSS)}`)
    t.equal(await page.locator('#event-deliveries tbody tr').count(), 2, 'the alias event made two deliveries')
    t.equal(await page.locator('main img').count(), 0)
    await page.screenshot({ path: join(ARTIFACTS, 'event.png'), fullPage: true })
    await page.goBack()

    failing.fallback = 200
    await page.getByRole('link', { name: 'Redeliver…' }).click()
    t.match(
      await page.locator('main').textContent(),
      /Send delivery .+ of automation default\/audit-aliases to webhook default\/audit again\?/,
    )
    await page.getByRole('button', { name: 'Redeliver' }).click()
    t.match(await page.getByRole('status').textContent(), 'Redelivery queued')
    const [, second] = await failing.waitFor(2)
    t.equal(second!.headers['webhook-id'], audit.id, 'the receiver got the same delivery again')
    await page.locator('#attempt-2').waitFor({ timeout: 15_000 })
    t.equal(await page.locator('#attempt-2').textContent(), 'Attempt 2: 200', 'the new attempt appeared without a reload')
    titles.push(await page.title())
    t.notMatch(titles, ['pwned'], 'no script ran from the alias')
    await page.screenshot({ path: join(ARTIFACTS, 'delivery.png'), fullPage: true })
  })

  await t.test(
    'readable at 400 px: nothing scrolls sideways but the tables inside their regions; keyboard first stop skips to content',
    async (t) => {
      const context = await launchBrowser(t, { width: 400 })
      const page = await context.newPage()
      await page.goto(`${base}/ui/login`)
      await page.getByLabel('Intake token').fill(TOKEN)
      await page.keyboard.press('Enter')
      await page.waitForURL(`${base}/ui`)
      t.ok((await page.evaluate<number>('document.documentElement.scrollWidth')) <= 400, 'the page is no wider than the window')
      await page.keyboard.press('Tab')
      t.equal(await page.evaluate<string>('document.activeElement.textContent'), 'Skip to content')
      t.ok(await page.getByRole('main').isVisible())
      t.ok(await page.getByRole('navigation', { name: 'Dashboard' }).isVisible())
      await page.screenshot({ path: join(ARTIFACTS, 'overview-400px.png'), fullPage: true })
    },
  )
})
