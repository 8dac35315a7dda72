// The CI examples (examples/ci/) run as written: their validate and plan steps are executed with
// bash in a real git repository laid out like a pull request (a bare origin with main, a checkout
// of the branch), with `npx hookwise` resolving to this checkout through node_modules/.bin as a
// devDependency would. Posting the comment needs GitHub's or GitLab's API and is not run here.
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { parse } from 'yaml'
import { createRepo, type TestRepo } from './helpers/git-repo.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')

const webhook = `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: ci}
spec:
  url: https://ci.example.com/hooks
`
const automation = (stage: string, extra = ''): string => `---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: deploy}
spec:
  scope: {type: Registry, registry: model}
  event: {type: LINK_ARTIFACT${extra}}
  action:
    webhook: ci
    payload: {stage: ${stage}, version: "\${artifact_version_string}"}
`

/** A pull request: origin (bare) has main with the base manifests; the checkout is on `pr` with `head` committed. */
function pullRequest(t: { teardown(fn: () => void): void }, head: string): TestRepo {
  const origin = createRepo()
  origin.write({ 'automations/hooks.yaml': webhook + automation('staging'), 'package.json': '{"name": "automations", "private": true}\n' })
  origin.commit('base')
  const repo = createRepo()
  t.teardown(() => {
    origin.remove()
    repo.remove()
  })
  repo.git('remote', 'add', 'origin', origin.root)
  repo.git('fetch', '-q', 'origin')
  repo.git('checkout', '-q', '-b', 'pr', 'origin/main')
  repo.write({ 'automations/hooks.yaml': head })
  repo.commit('change')
  // hookwise as a devDependency: npx finds node_modules/.bin/hookwise and runs it offline.
  const bin = join(repo.root, 'node_modules', '.bin')
  mkdirSync(bin, { recursive: true })
  const tsx = import.meta.resolve('tsx')
  writeFileSync(
    join(bin, 'hookwise'),
    `#!/bin/sh\nexec "${process.execPath}" --import "${tsx}" "${join(ROOT, 'controller', 'cli', 'main.ts')}" "$@"\n`,
  )
  chmodSync(join(bin, 'hookwise'), 0o755)
  writeFileSync(join(repo.root, '.git', 'info', 'exclude'), 'node_modules\n')
  return repo
}

/** Runs a script as GitHub Actions runs a `run:` step (bash -eo pipefail) or GitLab a job's lines. */
function bash(script: string, cwd: string, env: Record<string, string>): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
    cwd,
    env: { ...process.env, ...env, HOME: cwd, npm_config_update_notifier: 'false' },
    encoding: 'utf8',
  })
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

interface Step {
  name?: string
  run?: string
  if?: string
}
const github = parse(readFileSync(join(ROOT, 'examples/ci/github/.github/workflows/hookwise.yaml'), 'utf8')) as {
  jobs: { plan: { env: Record<string, string>; steps: Step[] } }
}
const step = (name: string): string => github.jobs.plan.steps.find((s) => s.name === name)!.run!

t.test('GitHub Actions: the validate and plan steps of the workflow, on a valid and an invalid pull request', async (t) => {
  const valid = pullRequest(t, webhook + automation('production'))
  const files = { out: join(valid.root, '.git', 'out'), summary: join(valid.root, '.git', 'summary') }
  writeFileSync(files.out, '')
  writeFileSync(files.summary, '')
  const env = { MANIFESTS: 'automations', BASE_REF: 'main', PR: '7', GITHUB_OUTPUT: files.out, GITHUB_STEP_SUMMARY: files.summary }
  const validated = bash(step('Validate (annotations on the changed files)'), valid.root, env)
  t.equal(validated.status, 0, validated.stderr)
  t.equal(validated.stdout, '', 'no annotations for a valid head')
  const planned = bash(step('Plan'), valid.root, env)
  t.equal(planned.status, 0, planned.stderr)
  const plan = readFileSync(join(valid.root, 'plan.md'), 'utf8')
  t.match(plan, /^### hookwise plan/)
  t.match(plan, '| `default/deploy` | Automation | changed |')
  t.match(plan, '- spec.action.payload.stage: "staging"\n+ spec.action.payload.stage: "production"')
  t.equal(readFileSync(files.out, 'utf8'), 'status=0\n')
  t.equal(readFileSync(files.summary, 'utf8'), plan, 'the plan is the job summary too')

  const invalid = pullRequest(t, webhook + automation('production', ', aliasRegex: "^(prod"'))
  writeFileSync(files.out, '')
  const bad = bash(step('Validate (annotations on the changed files)'), invalid.root, {
    ...env,
    GITHUB_OUTPUT: join(invalid.root, '.git', 'out'),
    GITHUB_STEP_SUMMARY: join(invalid.root, '.git', 'summary'),
  })
  t.equal(bad.status, 0, 'validate does not stop the job (|| true)')
  t.match(bad.stdout, /^::error file=automations\/hooks\.yaml,line=\d+,col=\d+,title=HW_EVENT_FILTER_FIELDS::/m)
  writeFileSync(join(invalid.root, '.git', 'out'), '')
  writeFileSync(join(invalid.root, '.git', 'summary'), '')
  const badPlan = bash(step('Plan'), invalid.root, {
    ...env,
    GITHUB_OUTPUT: join(invalid.root, '.git', 'out'),
    GITHUB_STEP_SUMMARY: join(invalid.root, '.git', 'summary'),
  })
  t.equal(badPlan.status, 0, 'an invalid head still gets its plan posted')
  t.equal(readFileSync(join(invalid.root, '.git', 'out'), 'utf8'), 'status=1\n', 'the last step then fails the job')
  t.match(readFileSync(join(invalid.root, 'plan.md'), 'utf8'), /HW_EVENT_FILTER_FIELDS/)
  t.equal(github.jobs.plan.steps.at(-1)!.if, "steps.plan.outputs.status != '0'")
})

t.test('GitLab CI: the job lines up to posting the note, on a merge request', async (t) => {
  const job = (
    parse(readFileSync(join(ROOT, 'examples/ci/gitlab/.gitlab/hookwise.gitlab-ci.yml'), 'utf8')) as Record<
      string,
      { script: string[]; variables: Record<string, string> }
    >
  )['hookwise-plan']!
  const lines = job.script.filter((l) => l !== 'npm ci' && !l.includes('merge_requests') && !l.startsWith('exit'))
  t.equal(lines.length, job.script.length - 3, 'all but npm ci, posting the note and the final exit')
  const mr = pullRequest(t, webhook + automation('production'))
  // The runner's clone has origin but not the target branch fetched: the job fetches it.
  execFileSync('git', ['update-ref', '-d', 'refs/remotes/origin/main'], { cwd: mr.root })
  const r = bash(`${lines.join('\n')}\necho "status=$status"`, mr.root, {
    MANIFESTS: job.variables.MANIFESTS!,
    CI_MERGE_REQUEST_TARGET_BRANCH_NAME: 'main',
  })
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout, /status=0$/m)
  t.match(readFileSync(join(mr.root, 'plan.md'), 'utf8'), '| `default/deploy` | Automation | changed |')
})
