// Symbolic links never take hookwise out of the folder (or repository) it was given: a link whose
// real path is outside is refused with a warning naming the link and where it points; a link that
// stays inside is read. Covers --dir (loadDesiredState, as `hookwise validate` and `run --dir` read
// it), --secrets folders, `hookwise validate` and a real git repository followed with --git.
import t from 'tap'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadDesiredState } from '../controller/sources/load.js'
import { hookwise, type TapTest } from './helpers/cli.js'
import { createRepo } from './helpers/git-repo.js'
import { run } from './helpers/git-run.js'
import { accepting, freePort } from './helpers/ports.js'
import { until } from './helpers/until.js'

const OUTSIDE_VALUE = 'host-secret-value-4242'
const INSIDE_VALUE = 'inside-secret-value-1717'

const secretYaml = (name: string, value: string): string =>
  `apiVersion: v1\nkind: Secret\nmetadata: {name: ${name}}\nstringData: {token: ${value}}\n`

const webhookYaml = (secret: string): string => `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: hook}
spec:
  url: http://127.0.0.1:9/hook
  accessToken: {secretKeyRef: {name: ${secret}, key: token}}
`

/** A folder outside every manifests folder holding a Secret (the host file a link must not reach). */
function outsideFolder(t: TapTest): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'hookwise-outside-')))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'secret.yaml'), secretYaml('outside', OUTSIDE_VALUE))
  mkdirSync(join(dir, 'more'))
  writeFileSync(join(dir, 'more', 'more.yaml'), secretYaml('outside-dir', OUTSIDE_VALUE))
  return dir
}

const warning = (link: string, target: string, root: string) => ({
  code: 'HW_SYMLINK_OUTSIDE',
  severity: 'warning',
  file: link,
  message: `${link} is a symbolic link to ${target}, outside ${root}: not read`,
  hint: 'copy the file into the folder (or point the link at a file inside it); hookwise reads nothing outside the folders it is given',
})

t.test('--dir: links to a file or folder outside are refused with a warning; links inside are read', async (t) => {
  const outside = outsideFolder(t)
  const root = realpathSync(t.testdir({ 'hook.yaml': webhookYaml('inside'), real: { 'inside.yaml': secretYaml('inside', INSIDE_VALUE) } }))
  symlinkSync(join(outside, 'secret.yaml'), join(root, 'passwd.yaml'))
  symlinkSync(join(outside, 'more'), join(root, 'linked-dir'))
  symlinkSync(join(root, 'real', 'inside.yaml'), join(root, 'alias.yml'))
  symlinkSync('real', join(root, 'linked-real'))

  const state = await loadDesiredState({ manifests: [join(root, 'hook.yaml'), root] })
  t.same(
    state.diagnostics.filter((d) => d.code === 'HW_SYMLINK_OUTSIDE'),
    [
      warning(join(root, 'linked-dir'), join(outside, 'more'), root),
      warning(join(root, 'passwd.yaml'), join(outside, 'secret.yaml'), root),
    ],
  )
  t.notOk(state.secrets.has('default/outside'), 'the Secret behind the link is not loaded')
  t.notOk(state.secrets.has('default/outside-dir'), 'nor the one in the linked folder')
  t.same(
    state.files.filter((f) => f.includes('passwd') || f.includes('linked-dir')),
    [],
  )
  // The inside links resolve to the same Secret as real/inside.yaml: read, and reported as the duplicate they are.
  t.ok(
    state.files.includes(join(root, 'alias.yml')) && state.files.includes(join(root, 'linked-real', 'inside.yaml')),
    'inside links are read',
  )
})

t.test('--secrets: a link out of the secrets folder is refused; the webhook waits for its Secret', async (t) => {
  const outside = outsideFolder(t)
  const root = realpathSync(t.testdir({ m: { 'hook.yaml': webhookYaml('outside') }, s: { 'ok.yaml': secretYaml('inside', INSIDE_VALUE) } }))
  symlinkSync(join(outside, 'secret.yaml'), join(root, 's', 'outside.yaml'))
  const state = await loadDesiredState({ manifests: [join(root, 'm')], secrets: [join(root, 's')] })
  t.same(state.diagnostics, [warning(join(root, 's', 'outside.yaml'), join(outside, 'secret.yaml'), join(root, 's'))])
  t.same([...state.secrets.keys()], ['default/inside'])
})

t.test('hookwise validate prints the warning with the link and its target', async (t) => {
  const outside = outsideFolder(t)
  const root = realpathSync(t.testdir({ 'hook.yaml': webhookYaml('inside'), 'inside.yaml': secretYaml('inside', INSIDE_VALUE) }))
  symlinkSync(join(outside, 'secret.yaml'), join(root, 'passwd.yaml'))
  const out = await hookwise(['validate', root])
  t.equal(out.status, 0)
  t.equal(
    out.stdout,
    `${join(root, 'passwd.yaml')}: warning HW_SYMLINK_OUTSIDE: ${join(root, 'passwd.yaml')} is a symbolic link to ${join(outside, 'secret.yaml')}, outside ${root}: not read\n` +
      '  hint: copy the file into the folder (or point the link at a file inside it); hookwise reads nothing outside the folders it is given\n' +
      'valid (1 warning)\n',
  )
  t.notMatch(out.stdout, OUTSIDE_VALUE)
})

/** Serves `repo` (a bare clone of it) with git daemon on 127.0.0.1; stopped at teardown. */
async function serve(t: TapTest, work: ReturnType<typeof createRepo>): Promise<string> {
  const srv = realpathSync(mkdtempSync(join(tmpdir(), 'hookwise-srv-')))
  t.teardown(() => rmSync(srv, { recursive: true, force: true }))
  execFileSync('git', ['clone', '-q', '--bare', work.root, join(srv, 'repo.git')])
  const port = await freePort()
  const daemon: ChildProcess = spawn(
    'git',
    ['daemon', '--reuseaddr', `--base-path=${srv}`, '--export-all', '--listen=127.0.0.1', `--port=${port}`, srv],
    { stdio: 'ignore' },
  )
  t.teardown(async () => {
    if (daemon.exitCode !== null) return
    const gone = new Promise((r) => daemon.once('exit', r))
    daemon.kill('SIGTERM')
    await gone
  })
  await until('git daemon', () => accepting(port), 10_000, 50)
  return `git://127.0.0.1:${port}/repo.git`
}

t.test('--git: a committed link to a host file is refused with a warning; a link inside the repository is read', async (t) => {
  const outside = outsideFolder(t)
  const work = createRepo()
  t.teardown(() => work.remove())
  work.write({
    'hooks/hook.yaml': webhookYaml('outside'),
    'hooks/inside-hook.yaml': webhookYaml('inside').replace('name: hook', 'name: inside-hook'),
    'shared/inside.yaml': secretYaml('inside', INSIDE_VALUE),
  })
  symlinkSync(join(outside, 'secret.yaml'), join(work.root, 'hooks', 'passwd.yaml'))
  symlinkSync('../shared/inside.yaml', join(work.root, 'hooks', 'inside.yaml'))
  const sha = work.commit('links')
  const url = await serve(t, work)

  const r = await run(t, { git: url })
  const status = await r.status()
  t.equal(status.revision, sha)
  const hook = status.webhooks.find((w: { name: string }) => w.name === 'hook')
  t.match(hook, { ready: false, conditions: [{ type: 'Ready', status: 'False', reason: 'SecretNotFound' }] })
  t.match(
    status.webhooks.find((w: { name: string }) => w.name === 'inside-hook'),
    { ready: true },
    'the Secret behind the link inside the repository is loaded',
  )
  const checkout = join(r.state, 'git')
  const line = r.logs.find((l) => l.includes('HW_SYMLINK_OUTSIDE'))
  t.ok(line, 'the warning is logged')
  t.match(
    line,
    `${join(checkout, 'hooks', 'passwd.yaml')}: warning HW_SYMLINK_OUTSIDE: ${join(checkout, 'hooks', 'passwd.yaml')} is a symbolic link to ${join(outside, 'secret.yaml')}, outside ${checkout}: not read`,
  )
  t.notOk(
    r.logs.some((l) => l.includes(OUTSIDE_VALUE) || l.includes(INSIDE_VALUE)),
    'no secret value in the logs',
  )
})

t.test('--git --path naming a link out of the repository reads nothing there', async (t) => {
  const outside = outsideFolder(t)
  const work = createRepo()
  t.teardown(() => work.remove())
  work.write({ 'README.md': 'links only\n' })
  writeFileSync(join(outside, 'hook.yaml'), webhookYaml('outside'))
  symlinkSync(outside, join(work.root, 'hooks'))
  work.commit('a folder link')
  const url = await serve(t, work)
  const r = await run(t, { git: url })
  const status = await r.status()
  t.same(status.webhooks, [], 'the Webhook in the folder the link points to is not loaded')
  const checkout = join(r.state, 'git')
  t.ok(
    r.logs.some((l) => l.includes(`${join(checkout, 'hooks')} is a symbolic link to ${outside}, outside ${checkout}: not read`)),
    'the link is named in the warning',
  )
})
