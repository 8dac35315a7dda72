// `hookwise run --git ssh://... --ssh-key-file F` against a real SSH server on 127.0.0.1
// (test/tools/git-sshd: golang.org/x/crypto/ssh in front of the real git-upload-pack): a branch is
// followed over ssh, a refused key and a changed host key are reported as GitUnavailable, the host
// key is recorded in <state>/known_hosts (never in ~/.ssh), and the key stays out of logs, status
// and process arguments. Skipped without Go (failed in CI).
import t from 'tap'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import { join, relative, resolve } from 'node:path'
import type { TapTest } from './helpers/cli.js'
import { createRepo, type TestRepo } from './helpers/git-repo.js'
import { automationYaml, names, run, webhookYaml } from './helpers/git-run.js'
import { useGitSshd, type GitSshd, type GitSshdTool, type KeyPair } from './helpers/git-sshd.js'
import { startReceiver } from './helpers/receiver.js'

const sshd = await useGitSshd(t)

interface SshRemote {
  /** This test's folder (t.testdir()). */
  dir: string
  /** `ssh://git@127.0.0.1:PORT/automations.git` */
  url: string
  server: GitSshd
  /** The key the server accepts, in a folder named `keys dir%` (ssh reads `%` and spaces specially). */
  key: KeyPair
  /** A key it does not know. */
  otherKey: KeyPair
  work: TestRepo
  /** Commits the files and pushes them to the served repository; returns the SHA. */
  push(files: Record<string, string>, message: string): string
}

async function serveOverSsh(t: TapTest, tool: GitSshdTool): Promise<SshRemote> {
  const work = createRepo()
  t.teardown(() => work.remove())
  const srv = join(work.root, '.srv')
  mkdirSync(srv)
  work.git('init', '-q', '--bare', '-b', 'main', join(srv, 'automations.git'))
  work.write({ '.gitignore': '.srv/\n' })
  work.git('remote', 'add', 'origin', join(srv, 'automations.git'))
  const dir = t.testdir()
  const keys = join(dir, 'keys dir%')
  mkdirSync(keys)
  const key = await tool.keygen(join(keys, 'id'))
  const otherKey = await tool.keygen(join(keys, 'other'))
  const server = await tool.serve(t, { root: srv, authorizedKeys: key.publicKeyFile, processes: true })
  return {
    url: `ssh://git@127.0.0.1:${server.port}/automations.git`,
    dir,
    server,
    key,
    otherKey,
    work,
    push(files, message) {
      work.write(files)
      const sha = work.commit(message)
      work.git('push', '-q', 'origin', 'HEAD:refs/heads/main')
      return sha
    },
  }
}

/** The base64 lines of an OpenSSH private key. */
const keyMaterial = (key: KeyPair): string[] => key.privateKey.split('\n').filter((l) => l && !l.startsWith('-----'))

const leaks = (text: string, key: KeyPair): string[] =>
  [...keyMaterial(key), resolve(key.privateKeyFile), relative(process.cwd(), key.privateKeyFile)].filter((s) => text.includes(s))

if (sshd) {
  t.test('follows a branch over ssh: the initial commit, a new one after POST /v1/sync', async (t) => {
    const remote = await serveOverSsh(t, sshd)
    const receiver = await startReceiver(t)
    const first = remote.push(
      { 'hooks/hook.yaml': webhookYaml(`${receiver.url}/hook`), 'hooks/deploy.yaml': automationYaml('deploy') },
      'first',
    )
    // A relative path: git runs ssh in the checkout, so hookwise has to make it absolute.
    const keyFile = relative(process.cwd(), remote.key.privateKeyFile)
    const r = await run(t, { git: remote.url, sshKeyFile: keyFile }, receiver)

    const initial = await r.status()
    const url = `ssh://127.0.0.1:${remote.server.port}/automations.git`
    t.match(initial.source, {
      type: 'git',
      url,
      branch: 'main',
      path: 'hooks',
      revision: first,
      consecutiveFailures: 0,
      condition: { status: 'True', reason: 'Synced', message: `applied ${first.slice(0, 12)} of main` },
    })
    t.same(names(initial), ['deploy'])
    t.equal(await r.emit('e-1'), 202)
    const [got] = await receiver.waitFor(1)
    t.equal(got!.body, '{"version":"acme/p/churn:v7","by":"deploy"}')

    const second = remote.push({ 'hooks/second.yaml': automationYaml('second') }, 'second')
    t.equal((await r.status()).revision, first, 'nothing changes before a fetch')
    const synced = await r.sync()
    t.equal(synced.status, 200)
    t.match(synced.json, { url, revision: second, condition: { status: 'True', reason: 'Synced' } })
    t.same(names(await r.status()), ['deploy', 'second'])

    const { events } = remote.server
    const auths = events.filter((e) => e.event === 'auth')
    const execs = events.filter((e) => e.event === 'exec')
    t.same(
      execs.map((e) => [e.command, e.accepted]),
      [
        ["git-upload-pack '/automations.git'", true],
        ["git-upload-pack '/automations.git'", true],
      ],
      'one git-upload-pack per fetch',
    )
    t.same(
      auths.map((e) => [e.user, e.key, e.accepted]),
      [
        ['git', remote.key.fingerprint, true],
        ['git', remote.key.fingerprint, true],
      ],
      'only the given key was offered (IdentitiesOnly)',
    )

    const hostKey = remote.server.hostKey.split(' ')[1]!
    t.ok(readFileSync(join(r.state, 'known_hosts'), 'utf8').includes(hostKey), "the server's host key is recorded in <state>/known_hosts")
    const userKnownHosts = join(userInfo().homedir, '.ssh', 'known_hosts')
    t.notOk(existsSync(userKnownHosts) && readFileSync(userKnownHosts, 'utf8').includes(hostKey), 'and not in ~/.ssh/known_hosts')

    // git-sshd ran `ps -eo args` while each fetch's ssh client waited for git-upload-pack.
    for (const e of execs) {
      const ssh = e.processes!.split('\n').find((l) => /^ssh .*git-upload-pack/.test(l))
      t.ok(ssh?.includes(`IdentityFile="${resolve(keyFile).replace(/%/g, '%%')}"`), `ps saw ssh with the key's path: ${ssh}`)
      t.same(
        keyMaterial(remote.key).filter((l) => e.processes!.includes(l)),
        [],
        'no process has the key itself in its arguments',
      )
    }
    t.same(
      leaks(JSON.stringify(await r.status()) + r.logs.join('\n'), remote.key),
      [],
      'neither the key nor its path is in the status or the logs',
    )
  })

  t.test("a key the server refuses: GitUnavailable with ssh's reason, nothing applied, nothing of the key printed", async (t) => {
    const remote = await serveOverSsh(t, sshd)
    remote.push({ 'hooks/hook.yaml': webhookYaml('http://127.0.0.1:9/hook'), 'hooks/deploy.yaml': automationYaml('deploy') }, 'first')
    const r = await run(t, { git: remote.url, sshKeyFile: remote.otherKey.privateKeyFile })

    const status = await r.status()
    const prefix = `cannot fetch main from ssh://127.0.0.1:${remote.server.port}/automations.git: `
    t.equal(
      status.source.condition.message,
      `${prefix}git@127.0.0.1: Permission denied (publickey). / fatal: Could not read from remote repository.`,
    )
    t.match(status.source, { revision: undefined, consecutiveFailures: 1, condition: { status: 'False', reason: 'GitUnavailable' } })
    t.same(status.automations, [], 'nothing was ever applied')
    t.ok(
      r.logs.some((l) => l.includes('"reason":"GitUnavailable"') && l.includes('Permission denied (publickey)')),
      'the log says why',
    )
    t.same(
      remote.server.events.map((e) => [e.event, (e as { key?: string }).key, e.accepted]),
      [['auth', remote.otherKey.fingerprint, false]],
      'the server refused the key and ran nothing',
    )
    t.same(
      leaks(JSON.stringify(status) + r.logs.join('\n'), remote.otherKey),
      [],
      'neither the key nor its path is in the status or the logs',
    )
  })

  t.test('a host key other than the one in <state>/known_hosts is refused; the right one is accepted', async (t) => {
    const remote = await serveOverSsh(t, sshd)
    const first = remote.push(
      { 'hooks/hook.yaml': webhookYaml('http://127.0.0.1:9/hook'), 'hooks/deploy.yaml': automationYaml('deploy') },
      'first',
    )
    const state = join(remote.dir, 'state')
    mkdirSync(state)
    const host = `[127.0.0.1]:${remote.server.port}`
    // Pinned before the first run, as a user would: here a key the server does not have.
    writeFileSync(join(state, 'known_hosts'), `${host} ${remote.otherKey.publicKey}\n`)
    const r = await run(t, { git: remote.url, sshKeyFile: remote.key.privateKeyFile, state })

    const refused = await r.status()
    t.match(refused.source, { revision: undefined, condition: { status: 'False', reason: 'GitUnavailable' } })
    t.equal(
      refused.source.condition.message,
      `cannot fetch main from ssh://127.0.0.1:${remote.server.port}/automations.git: Host key for ${host} has changed and you have requested strict checking. / Host key verification failed. / fatal: Could not read from remote repository.`,
    )
    t.same(names(refused), [])
    t.same(remote.server.events, [], 'ssh hung up before authenticating')

    writeFileSync(join(state, 'known_hosts'), `${host} ${remote.server.hostKey}\n`)
    t.match((await r.sync()).json, { revision: first, consecutiveFailures: 0, condition: { status: 'True', reason: 'Synced' } })
    t.same(names(await r.status()), ['deploy'])
    t.equal(readFileSync(join(state, 'known_hosts'), 'utf8'), `${host} ${remote.server.hostKey}\n`, 'a known host is not added again')
  })
}
