// `hookwise run --git`: the controller follows a branch of a real repository served on 127.0.0.1 by
// `git daemon` (and by `git http-backend` behind a token-checking HTTP server): new commits,
// force-pushes, invalid commits, the repository going away and coming back, credentials kept out
// of logs and status.
import t from 'tap'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { createRepo, type TestRepo } from './helpers/git-repo.js'
import { hookwise, type TapTest } from './helpers/cli.js'
import { automationYaml, names, run, webhookYaml } from './helpers/git-run.js'
import { startReceiver } from './helpers/receiver.js'
import { accepting, freePort } from './helpers/ports.js'
import { until } from './helpers/until.js'

/** A bare repository `automations.git` served by `git daemon`, and a working clone that pushes to it. */
interface Remote {
  url: string
  work: TestRepo
  /** Commits the files (path → content, null deletes) and pushes (forced with force); returns the SHA. */
  push(files: Record<string, string | null>, message: string, force?: boolean): string
  startDaemon(): Promise<void>
  stopDaemon(): Promise<void>
}

async function serveRepository(t: TapTest): Promise<Remote> {
  const work = createRepo()
  t.teardown(() => work.remove())
  const srv = join(work.root, '.srv')
  mkdirSync(srv)
  work.git('init', '-q', '--bare', '-b', 'main', join(srv, 'automations.git'))
  work.write({ '.gitignore': '.srv/\n' })
  work.git('remote', 'add', 'origin', join(srv, 'automations.git'))
  const port = await freePort()
  let daemon: ChildProcess | undefined
  const remote: Remote = {
    url: `git://127.0.0.1:${port}/automations.git`,
    work,
    push(files, message, force = false) {
      work.write(files)
      const sha = work.commit(message)
      work.git('push', '-q', ...(force ? ['--force'] : []), 'origin', 'HEAD:refs/heads/main')
      return sha
    },
    async startDaemon() {
      daemon = spawn('git', ['daemon', '--reuseaddr', `--base-path=${srv}`, '--export-all', '--listen=127.0.0.1', `--port=${port}`, srv], {
        stdio: 'ignore',
      })
      await until('git daemon', () => accepting(port), 10_000, 50)
    },
    async stopDaemon() {
      const d = daemon
      daemon = undefined
      if (!d || d.exitCode !== null) return
      const gone = new Promise((r) => d.once('exit', r))
      d.kill('SIGTERM')
      await gone
      await until('git daemon to stop', async () => !(await accepting(port)), 10_000, 50)
    },
  }
  t.teardown(() => remote.stopDaemon())
  await remote.startDaemon()
  return remote
}

t.test('follows a branch: the initial state, POST /v1/sync, a force-push', async (t) => {
  const remote = await serveRepository(t)
  const receiver = await startReceiver(t)
  const first = remote.push(
    {
      'hooks/hook.yaml': webhookYaml(`${receiver.url}/hook`),
      'hooks/deploy.yaml': automationYaml('deploy'),
      'README.md': 'not a manifest\n',
    },
    'first',
  )
  const r = await run(t, { git: remote.url }, receiver)

  const initial = await r.status()
  t.equal(initial.revision, first, 'the revision is the commit of the branch')
  t.match(initial.source, {
    type: 'git',
    url: remote.url,
    branch: 'main',
    path: 'hooks',
    revision: first,
    consecutiveFailures: 0,
    condition: { status: 'True', reason: 'Synced' },
  })
  t.same(names(initial), ['deploy'])
  t.match(initial.automations[0], { ready: true, revision: first })
  t.match(initial.webhooks[0], { name: 'hook', ready: true, revision: first })

  t.equal(await r.emit('e-1'), 202)
  const [got] = await receiver.waitFor(1)
  t.equal(got!.body, '{"version":"acme/p/churn:v7","by":"deploy"}')

  const second = remote.push({ 'hooks/second.yaml': automationYaml('second') }, 'second')
  t.equal((await r.status()).revision, first, 'nothing changes before a fetch')
  const synced = await r.sync()
  t.equal(synced.status, 200)
  t.match(synced.json, { revision: second, condition: { reason: 'Synced' } })
  const after = await r.status()
  t.equal(after.revision, second)
  t.same(names(after), ['deploy', 'second'])

  // Rewrite history: drop `second`, add `third`, force-push. The checkout follows, nothing is merged.
  remote.work.git('reset', '-q', '--hard', first)
  const third = remote.push({ 'hooks/third.yaml': automationYaml('third') }, 'third', true)
  t.match((await r.sync()).json, { revision: third, condition: { status: 'True', reason: 'Synced' } })
  const forced = await r.status()
  t.equal(forced.revision, third)
  t.same(names(forced), ['deploy', 'third'], 'the force-pushed branch is applied as it is')

  t.equal(await r.emit('e-2'), 202)
  const all = await receiver.waitFor(3)
  t.same(
    all
      .slice(1)
      .map((x) => JSON.parse(x.body).by)
      .sort(),
    ['deploy', 'third'],
  )
  t.ok(
    r.logs.some((l) => l.includes(`"revision":"${third}`) && l.includes('desired state applied')),
    'the log names the applied revision',
  )
})

t.test('new commits are applied on the interval', async (t) => {
  const remote = await serveRepository(t)
  remote.push({ 'hooks/hook.yaml': webhookYaml('http://127.0.0.1:9/hook'), 'hooks/deploy.yaml': automationYaml('deploy') }, 'first')
  const r = await run(t, { git: remote.url, interval: 1000 })
  const next = remote.push({ 'hooks/later.yaml': automationYaml('later') }, 'later')
  await until('the interval fetch', async () => (await r.status()).revision === next, 8000, 50)
  t.same(names(await r.status()), ['deploy', 'later'])
})

t.test('a commit with an invalid object applies the valid ones and reports the rest with file:line', async (t) => {
  const remote = await serveRepository(t)
  const receiver = await startReceiver(t)
  remote.push({ 'hooks/hook.yaml': webhookYaml(`${receiver.url}/hook`), 'hooks/deploy.yaml': automationYaml('deploy') }, 'first')
  const r = await run(t, { git: remote.url }, receiver)
  const bad = remote.push({ 'hooks/broken.yaml': automationYaml('broken', 'LINK') }, 'a typo')
  t.match((await r.sync()).json, { revision: bad, condition: { reason: 'Synced' } })
  const status = await r.status()
  t.equal(status.revision, bad)
  const broken = status.automations.find((a: { name: string }) => a.name === 'broken')
  t.match(broken, { ready: false, errors: [{ code: 'HW_SCHEMA', line: 6 }] })
  t.match(broken.errors[0].file, /hooks\/broken\.yaml$/)
  t.match(
    status.automations.find((a: { name: string }) => a.name === 'deploy'),
    { ready: true, errors: [] },
  )
  t.ok(
    r.logs.some((l) => /broken\.yaml:6:\d+: error HW_SCHEMA/.test(l)),
    'logged with file:line',
  )

  t.equal(await r.emit('e-1'), 202)
  const [got] = await receiver.waitFor(1)
  t.equal(JSON.parse(got!.body).by, 'deploy', 'the valid automation still delivers')
})

t.test('the repository going away keeps the last state serving (GitUnavailable), and coming back syncs', async (t) => {
  const remote = await serveRepository(t)
  const receiver = await startReceiver(t)
  const first = remote.push(
    { 'hooks/hook.yaml': webhookYaml(`${receiver.url}/hook`), 'hooks/deploy.yaml': automationYaml('deploy') },
    'first',
  )
  const r = await run(t, { git: remote.url }, receiver)
  await remote.stopDaemon()
  const later = remote.push({ 'hooks/later.yaml': automationYaml('later') }, 'later')

  const failed = await r.sync()
  t.equal(failed.status, 200)
  t.match(failed.json, {
    revision: first,
    consecutiveFailures: 1,
    condition: {
      status: 'False',
      reason: 'GitUnavailable',
      message: /^cannot fetch main from git:\/\/127\.0\.0\.1:\d+\/automations\.git: /,
    },
  })
  const nextFetch = Date.parse(failed.json.nextFetch) - Date.now()
  t.ok(nextFetch > 60_000 && nextFetch <= 120_000, `backs off: next fetch in ${nextFetch} ms (interval 60 s, doubled)`)
  t.match((await r.sync()).json, { consecutiveFailures: 2 })
  const down = await r.status()
  t.match(down, { revision: first, source: { condition: { reason: 'GitUnavailable' } } })
  t.same(names(down), ['deploy'], 'the last applied state keeps serving')
  t.equal(await r.emit('e-1'), 202)
  await receiver.waitFor(1)
  t.ok(r.logs.some((l) => l.includes('"reason":"GitUnavailable"') && l.includes('keeping the last state')))

  await remote.startDaemon()
  t.match((await r.sync()).json, { revision: later, consecutiveFailures: 0, condition: { status: 'True', reason: 'Synced' } })
  t.same(names(await r.status()), ['deploy', 'later'])
})

/** `git http-backend` behind an HTTP server on 127.0.0.1 that answers 401 unless the request carries `authorization`. */
async function serveOverHttp(
  t: TapTest,
  repoRoot: string,
  authorization: string,
): Promise<{ url: string; seen: IncomingHttpHeaders[]; processes: string[] }> {
  const seen: IncomingHttpHeaders[] = []
  const processes: string[] = []
  const server = createServer((req, res) => {
    seen.push(req.headers)
    // The client's git is running now: record every process's arguments.
    processes.push(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }))
    if (req.headers.authorization !== authorization) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' })
      res.end()
      return
    }
    const url = new URL(req.url!, 'http://x')
    const cgi = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: repoRoot,
        GIT_HTTP_EXPORT_ALL: '1',
        REQUEST_METHOD: req.method!,
        PATH_INFO: url.pathname,
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
        GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        REMOTE_ADDR: '127.0.0.1',
      },
    })
    req.pipe(cgi.stdin)
    const out: Buffer[] = []
    cgi.stdout.on('data', (c: Buffer) => out.push(c))
    cgi.on('close', () => {
      const all = Buffer.concat(out)
      const end = all.indexOf('\r\n\r\n')
      const head = all.subarray(0, end).toString('utf8').split('\r\n')
      let status = 200
      const headers: Record<string, string> = {}
      for (const line of head) {
        const [k, ...v] = line.split(':')
        if (k!.toLowerCase() === 'status') status = Number(v.join(':').trim().split(' ')[0])
        else headers[k!] = v.join(':').trim()
      }
      res.writeHead(status, headers)
      res.end(all.subarray(end + 4))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/automations.git`, seen, processes }
}

t.test('a token reaches git as a header, never in logs, status or arguments', async (t) => {
  const remote = await serveRepository(t)
  await remote.stopDaemon()
  const secret = 'ghp_s3cr3tT0ken4567890'
  const basic = `Basic ${Buffer.from(`x-access-token:${secret}`).toString('base64')}`
  const http = await serveOverHttp(t, join(remote.work.root, '.srv'), basic)
  const sha = remote.push(
    { 'hooks/hook.yaml': webhookYaml('http://127.0.0.1:9/hook'), 'hooks/deploy.yaml': automationYaml('deploy') },
    'first',
  )
  const dir = t.testdir({ token: `${secret}\n`, wrong: 'not-the-token\n' })

  const r = await run(t, { git: http.url, tokenFile: join(dir, 'token') })
  const status = await r.status()
  t.match(status, { revision: sha, source: { url: http.url, condition: { reason: 'Synced' } } })
  t.ok(http.seen.length >= 1 && http.seen.every((h) => h.authorization === basic), 'every request carried the token header')
  const printed = JSON.stringify(status) + r.logs.join('\n')
  t.notOk(printed.includes(secret) || printed.includes(basic.slice(6)), 'the token is in neither status nor logs')
  t.ok(
    http.processes.length >= 1 && http.processes.every((ps) => ps.includes('git') && !ps.includes(secret) && !ps.includes(basic.slice(6))),
    'nor in the arguments of any process while git fetched',
  )
  t.ok(
    http.processes.some((ps) => /git.*(fetch|remote-http|upload-pack)/.test(ps)),
    'ps saw the fetching git',
  )

  const denied = await run(t, { git: http.url, tokenFile: join(dir, 'wrong') })
  const deniedStatus = await denied.status()
  t.match(deniedStatus.source, { condition: { status: 'False', reason: 'GitUnavailable' } })
  t.same(deniedStatus.automations, [], 'nothing was ever applied')
  const deniedText = JSON.stringify(deniedStatus) + denied.logs.join('\n')
  t.notOk(
    deniedText.includes('not-the-token') || deniedText.includes(Buffer.from('x-access-token:not-the-token').toString('base64')),
    'a rejected token is not echoed either',
  )
})

t.test('a key file reaches git as GIT_SSH_COMMAND; a URL with credentials is refused', async (t) => {
  const { gitEnvironment, displayUrl } = await import('../controller/sources/git-follow.js')
  const dir = t.testdir({ key: 'PRIVATE KEY\n', token: 'tok-123\n', pair: 'bot:tok-456\n' })
  const ssh = gitEnvironment({ sshKeyFile: join(dir, 'key') }, { PATH: '/bin', GIT_DIR: '/elsewhere', EDITOR: 'vi' })
  t.same(
    ssh,
    {
      PATH: '/bin',
      GIT_TERMINAL_PROMPT: '0',
      GIT_SSH_COMMAND: `ssh -o 'IdentityFile="${join(dir, 'key')}"' -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new -o BatchMode=yes -o LogLevel=ERROR`,
    },
    'ambient GIT_* variables are dropped',
  )
  t.match(gitEnvironment({ tokenFile: join(dir, 'pair') }, {}), {
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.extraHeader',
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from('bot:tok-456').toString('base64')}`,
  })
  t.equal(displayUrl('https://bot@example.com/a.git'), 'https://example.com/a.git')

  const cred = await hookwise(['run', '--git', 'https://bot:tok-123@example.com/a.git', '--state', join(dir, 'state')])
  t.equal(cred.status, 2)
  t.match(cred.stderr, /--git https:\/\/example\.com\/a\.git: the URL embeds credentials/)
  t.match(cred.stderr, /--token-file/)
  t.notOk(cred.stderr.includes('tok-123'))
})

t.test('usage errors: one of --dir, --git, --kubernetes; --interval; git and kubernetes flags need their mode', async (t) => {
  const dir = t.testdir({ m: {} })
  const cases: Array<[string[], RegExp]> = [
    [['run'], /give --dir DIR, --git URL or --kubernetes/],
    [['run', '--kubernetes', '--git', 'git://127.0.0.1:1/a.git'], /--git and --kubernetes cannot be used together/],
    [['run', '--dir', join(dir, 'm'), '--namespace', 'ml'], /--namespace needs --kubernetes/],
    [['run', '--dir', join(dir, 'm'), '--no-leader-elect'], /--no-leader-elect needs --kubernetes/],
    [['run', '--kubernetes', '--secrets', join(dir, 'm')], /--secrets cannot be used with --kubernetes/],
    [['run', '--kubernetes', '--tenancy', 'teams'], /argument 'teams' is invalid. Allowed choices are none, namespace-label/],
    [['run', '--dir', join(dir, 'm'), '--git', 'git://127.0.0.1:1/a.git'], /--dir and --git cannot be used together/],
    [
      ['run', '--git', 'git://127.0.0.1:1/a.git', '--interval', '5x'],
      /--interval.*expected a duration of at least 1s, e\.g\. 30s, 5m or 1h/,
    ],
    [['run', '--git', 'git://127.0.0.1:1/a.git', '--interval', '500ms'], /at least 1s/],
    [['run', '--dir', join(dir, 'm'), '--branch', 'dev'], /--branch needs --git/],
    [
      ['run', '--git', 'git://127.0.0.1:1/a.git', '--ssh-key-file', 'k', '--token-file', 't'],
      /--ssh-key-file and --token-file cannot be used together/,
    ],
  ]
  for (const [args, message] of cases) {
    const res = await hookwise([...args, '--state', join(dir, 'state')])
    t.equal(res.status, 2, args.join(' '))
    t.match(res.stderr, message)
  }
  const { parseInterval } = await import('../controller/cli/run.js')
  t.same(['30s', '5m', '1h', '1500ms'].map(parseInterval), [30_000, 300_000, 3_600_000, 1500])
})
