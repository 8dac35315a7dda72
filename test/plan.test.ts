// hookwise plan against real git repositories in temporary folders: added / changed / removed /
// unchanged objects, field-level diffs, the head's validation errors with file:line, masked request
// previews, markdown and json output, and exit codes 0, 1 and 2.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { planCommand, type PlanOptions } from '../controller/cli/plan.js'
import type { Plan } from '../controller/plan/plan.js'
import { formatMarkdown } from '../controller/plan/markdown.js'
import { sampleEvent, textMatching, fires } from '../controller/plan/sample-events.js'
import { loadTree } from '../controller/sources/folder.js'
import { loadDesiredState } from '../controller/sources/load.js'
import { parse } from 'yaml'
import type { TapTest } from './helpers/cli.js'
import { createRepo, type TestRepo } from './helpers/git-repo.js'
import { deploy, WEBHOOK_CI } from './helpers/plan-manifests.js'

const OLD = `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata:
  name: slack
spec:
  url: https://hooks.slack.example/T0/B0
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata:
  name: notify
spec:
  scope: {type: Registry, registry: model}
  event: {type: LINK_ARTIFACT}
  action:
    webhook: slack
    payload: {text: "\${artifact_version_string} linked"}
`
const NEW = `apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata:
  name: evaluate
spec:
  scope: {type: Project, entity: acme, project: churn, collectionRegex: ^churn-}
  event: {type: ADD_ARTIFACT_TAG, tagRegex: ^candidate$}
  action:
    webhook: ci
    payloadTemplate: '{"model": "\${artifact_version_string}", "tag": "\${tag}"}'
`
const secret = (token: string): string => `apiVersion: v1
kind: Secret
metadata:
  name: ci-credentials
stringData:
  token: ${token}
data:
  signing-key: ${Buffer.from('sk_TOPSECRET_SIGNING').toString('base64')}
`
const SECRET_VALUES = [
  'ghp_TOPSECRET_ONE',
  'ghp_TOPSECRET_TWO',
  'sk_TOPSECRET_SIGNING',
  Buffer.from('sk_TOPSECRET_SIGNING').toString('base64'),
  'TOPSECRET',
]

/** A repository whose main branch has hw/hooks.yaml (ci + deploy), hw/old.yaml (slack + notify) and hw/secret.yaml. */
function baseRepo(t: TapTest): { repo: TestRepo; base: string } {
  const repo = createRepo()
  t.teardown(repo.remove)
  repo.write({
    'hw/hooks.yaml': WEBHOOK_CI + deploy('production'),
    'hw/old.yaml': OLD,
    'hw/secret.yaml': secret('ghp_TOPSECRET_ONE'),
    'README.md': '# automations\n',
  })
  return { repo, base: repo.commit('base') }
}

async function plan(
  repo: TestRepo,
  options: Partial<PlanOptions>,
  cwd = repo.root,
): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const io = {
    out: (s: string) => {
      stdout += s
    },
    err: (s: string) => {
      stderr += s
    },
    stdin: async () => '',
  }
  const status = await planCommand({ base: 'main', path: 'hw', format: 'markdown', cwd, ...options }, io)
  return { status, stdout, stderr }
}

const HEAD_CHANGES = {
  'hw/hooks.yaml': WEBHOOK_CI + deploy('staging', '\n      stage: staging'),
  'hw/new.yaml': NEW,
  'hw/old.yaml': null,
  'hw/secret.yaml': secret('ghp_TOPSECRET_TWO'),
}

const CI_HEADERS = [
  'POST https://ci.example.com/hooks',
  'Content-Type: application/json',
  'User-Agent: hookwise/0.1.0',
  'webhook-id: plan-preview',
  'X-Team: ml',
  'Authorization: Bearer ****',
  'X-Hub-Signature-256: sha256=****',
]
const http = (lines: string[]): string[] => ['```http', ...lines, '```']

t.test('added, changed, removed and unchanged objects: the markdown comment, exactly', async (t) => {
  const { repo, base } = baseRepo(t)
  repo.write(HEAD_CHANGES)
  const r = await plan(repo, {})
  t.equal(r.status, 0)
  t.equal(r.stderr, '')
  t.equal(
    r.stdout,
    [
      '### hookwise plan',
      '',
      `\`main\` (\`${base.slice(0, 12)}\`) → working tree, manifests in \`hw\``,
      '',
      '**1 added, 2 changed, 2 removed, 1 unchanged.** The head is valid.',
      '',
      '| object | kind | change |',
      '|---|---|---|',
      '| `default/ci` | Webhook | unchanged |',
      '| `default/slack` | Webhook | removed |',
      '| `default/deploy` | Automation | changed |',
      '| `default/evaluate` | Automation | added |',
      '| `default/notify` | Automation | removed |',
      '| `default/ci-credentials` | Secret | changed |',
      '',
      '<details>',
      '<summary>Webhook <code>default/slack</code>: removed</summary>',
      '',
      '`hw/old.yaml:1`',
      '',
      '</details>',
      '',
      '<details>',
      '<summary>Automation <code>default/deploy</code>: changed</summary>',
      '',
      '`hw/hooks.yaml:16`',
      '',
      '```diff',
      '+ spec.action.payload.stage: "staging"',
      '- spec.event.aliasRegex: "^production$"',
      '+ spec.event.aliasRegex: "^staging$"',
      '```',
      '',
      'Request for this `ADD_ARTIFACT_ALIAS` event (built-in sample; shown because changed). Secrets are shown as `****`; the body is sent compact.',
      '',
      '**Before** — this event does not fire it:',
      '',
      ...http(CI_HEADERS),
      '',
      '```json',
      '{',
      '  "version": "acme/wandb-registry-model/churn:staging",',
      '  "alias": "staging",',
      '  "key": "****"',
      '}',
      '```',
      '',
      '**After** — this event fires it:',
      '',
      ...http(CI_HEADERS),
      '',
      '```json',
      '{',
      '  "version": "acme/wandb-registry-model/churn:staging",',
      '  "alias": "staging",',
      '  "key": "****",',
      '  "stage": "staging"',
      '}',
      '```',
      '',
      '</details>',
      '',
      '<details>',
      '<summary>Automation <code>default/evaluate</code>: added</summary>',
      '',
      '`hw/new.yaml:1`',
      '',
      'Request for this `ADD_ARTIFACT_TAG` event (built-in sample; shown because added). Secrets are shown as `****`; the body is sent compact.',
      '',
      '**Request** — this event fires it:',
      '',
      ...http(CI_HEADERS),
      '',
      '```json',
      '{',
      '  "model": "acme/churn/churn-example-collection:v7",',
      '  "tag": "candidate"',
      '}',
      '```',
      '',
      '</details>',
      '',
      '<details>',
      '<summary>Automation <code>default/notify</code>: removed</summary>',
      '',
      '`hw/old.yaml:8`',
      '',
      '</details>',
      '',
      '<details>',
      '<summary>Secret <code>default/ci-credentials</code>: changed</summary>',
      '',
      '`hw/secret.yaml:1`',
      '',
      'Keys (values are never shown): `signing-key` unchanged, `token` changed',
      '',
      '</details>',
      '',
    ].join('\n'),
  )
})

t.test('json: the same plan as an object', async (t) => {
  const { repo, base } = baseRepo(t)
  repo.write(HEAD_CHANGES)
  const r = await plan(repo, { format: 'json' })
  t.equal(r.status, 0)
  const p = JSON.parse(r.stdout) as Plan
  t.same(Object.keys(p), ['base', 'head', 'path', 'valid', 'counts', 'objects', 'diagnostics'])
  t.same(p.base, { ref: 'main', commit: base })
  t.same(p.head, { ref: 'working tree' })
  t.same(
    { path: p.path, valid: p.valid, counts: p.counts, diagnostics: p.diagnostics },
    { path: 'hw', valid: true, counts: { added: 1, changed: 2, removed: 2, unchanged: 1 }, diagnostics: [] },
  )
  t.same(
    p.objects.map((o) => [o.kind, o.key, o.change, o.location]),
    [
      ['Webhook', 'default/ci', 'unchanged', 'hw/hooks.yaml:1'],
      ['Webhook', 'default/slack', 'removed', 'hw/old.yaml:1'],
      ['Automation', 'default/deploy', 'changed', 'hw/hooks.yaml:16'],
      ['Automation', 'default/evaluate', 'added', 'hw/new.yaml:1'],
      ['Automation', 'default/notify', 'removed', 'hw/old.yaml:8'],
      ['Secret', 'default/ci-credentials', 'changed', 'hw/secret.yaml:1'],
    ],
  )
  const deployPlan = p.objects[2]!
  t.same(deployPlan.diff, [
    { path: 'spec.action.payload.stage', change: 'added', after: 'staging' },
    { path: 'spec.event.aliasRegex', change: 'changed', before: '^production$', after: '^staging$' },
  ])
  const headers = {
    'Content-Type': 'application/json',
    'User-Agent': 'hookwise/0.1.0',
    'webhook-id': 'plan-preview',
    'X-Team': 'ml',
    Authorization: 'Bearer ****',
    'X-Hub-Signature-256': 'sha256=****',
  }
  t.same(deployPlan.preview, {
    event: { type: 'ADD_ARTIFACT_ALIAS', id: 'plan-sample' },
    reason: 'changed',
    before: {
      fires: false,
      request: {
        method: 'POST',
        url: 'https://ci.example.com/hooks',
        headers,
        body: '{"version":"acme/wandb-registry-model/churn:staging","alias":"staging","key":"****"}',
      },
    },
    after: {
      fires: true,
      request: {
        method: 'POST',
        url: 'https://ci.example.com/hooks',
        headers,
        body: '{"version":"acme/wandb-registry-model/churn:staging","alias":"staging","key":"****","stage":"staging"}',
      },
    },
  })
  t.same(p.objects[3]!.preview?.after?.request?.body, '{"model": "acme/churn/churn-example-collection:v7", "tag": "candidate"}')
  t.notOk(p.objects[3]!.preview?.before, 'an added automation has no before')
  t.notOk(p.objects[4]!.preview, 'a removed automation has no request')
  t.same(p.objects[5]!.keys, [
    { key: 'signing-key', change: 'unchanged' },
    { key: 'token', change: 'changed' },
  ])
})

t.test('secret values never appear, in either format, with or without --secrets', async (t) => {
  const { repo } = baseRepo(t)
  repo.write(HEAD_CHANGES)
  const outside = mkdtempSync(join(tmpdir(), 'hookwise-secrets-'))
  t.teardown(() => rmSync(outside, { recursive: true, force: true }))
  writeFileSync(join(outside, 'other.yaml'), secret('ghp_TOPSECRET_THREE').replace('ci-credentials', 'other'))
  for (const format of ['markdown', 'json'] as const) {
    for (const secrets of [undefined, [outside]]) {
      const r = await plan(repo, { format, ...(secrets ? { secrets } : {}) })
      t.equal(r.status, 0)
      for (const value of [...SECRET_VALUES, 'ghp_TOPSECRET_THREE']) {
        t.notOk(r.stdout.includes(value) || r.stderr.includes(value), `${format}${secrets ? ' --secrets' : ''}: ${value} not printed`)
      }
      t.ok(r.stdout.includes('****'))
    }
  }
})

t.test('nothing changed: exit 0, the table and no sections', async (t) => {
  const { repo, base } = baseRepo(t)
  const r = await plan(repo, {})
  t.same(r, {
    status: 0,
    stderr: '',
    stdout: [
      '### hookwise plan',
      '',
      `\`main\` (\`${base.slice(0, 12)}\`) → working tree, manifests in \`hw\``,
      '',
      '**0 added, 0 changed, 0 removed, 5 unchanged.** The head is valid.',
      '',
      '| object | kind | change |',
      '|---|---|---|',
      '| `default/ci` | Webhook | unchanged |',
      '| `default/slack` | Webhook | unchanged |',
      '| `default/deploy` | Automation | unchanged |',
      '| `default/notify` | Automation | unchanged |',
      '| `default/ci-credentials` | Secret | unchanged |',
      '',
    ].join('\n'),
  })
})

t.test('invalid head: exit 1, errors with file:line relative to the repository root, from a subfolder too', async (t) => {
  const { repo, base } = baseRepo(t)
  repo.write({ 'hw/hooks.yaml': WEBHOOK_CI + deploy('production').replace('type: ADD_ARTIFACT_ALIAS', 'type: ADD_ALIAS') })
  const r = await plan(repo, { path: '.' }, join(repo.root, 'hw'))
  t.equal(r.status, 1)
  const lines = r.stdout.split('\n')
  t.equal(lines[4], '**0 added, 1 changed, 0 removed, 4 unchanged.** The head has 1 validation error: fix it before merging.')
  const at = lines.indexOf('#### Validation of the head')
  t.ok(at > 0)
  t.equal(
    lines[at + 2],
    '- `hw/hooks.yaml:23:5` **error** `HW_SCHEMA`: Automation default/deploy: spec.event.type: "ADD_ALIAS" is not one of LINK_ARTIFACT, UNLINK_ARTIFACT, CREATE_ARTIFACT, ADD_ARTIFACT_ALIAS, ADD_ARTIFACT_TAG, REMOVE_ARTIFACT_TAG, ADD_COLLECTION_TAG, REMOVE_COLLECTION_TAG, RUN_METRIC, RUN_METRIC_CHANGE, RUN_METRIC_ZSCORE, RUN_STATE — hint: use one of LINK_ARTIFACT, UNLINK_ARTIFACT, CREATE_ARTIFACT, ADD_ARTIFACT_ALIAS, ADD_ARTIFACT_TAG, REMOVE_ARTIFACT_TAG, ADD_COLLECTION_TAG, REMOVE_COLLECTION_TAG, RUN_METRIC, RUN_METRIC_CHANGE, RUN_METRIC_ZSCORE, RUN_STATE',
  )
  t.ok(r.stdout.includes('```diff\n- spec.event.type: "ADD_ARTIFACT_ALIAS"\n+ spec.event.type: "ADD_ALIAS"\n```'))
  t.ok(
    r.stdout.includes(
      '**After**: no request — automation default/deploy is not valid at the head (working tree); see the validation errors',
    ),
  )
  t.ok(r.stdout.includes('**Before** — this event fires it:'), 'the base request is still shown')
  t.ok(
    r.stdout.startsWith(`### hookwise plan\n\n\`main\` (\`${base.slice(0, 12)}\`) → working tree, manifests in \`hw\`\n`),
    'the path is named from the repository root',
  )

  const j = JSON.parse((await plan(repo, { format: 'json' })).stdout) as Plan
  t.equal(j.valid, false)
  t.match(j.diagnostics, [
    {
      file: 'hw/hooks.yaml',
      line: 23,
      column: 5,
      code: 'HW_SCHEMA',
      severity: 'error',
      object: 'Automation default/deploy',
      path: 'spec.event.type',
    },
  ])
})

t.test('--head REF compares two commits and ignores the working tree', async (t) => {
  const { repo, base } = baseRepo(t)
  repo.git('checkout', '-q', '-b', 'feature')
  repo.write({ 'hw/new.yaml': NEW })
  const head = repo.commit('add evaluate')
  repo.write({ 'hw/old.yaml': null }) // not committed: not part of the plan
  const p = JSON.parse((await plan(repo, { format: 'json', head: 'feature' })).stdout) as Plan
  t.same(p.base, { ref: 'main', commit: base })
  t.same(p.head, { ref: 'feature', commit: head })
  t.same(p.counts, { added: 1, changed: 0, removed: 0, unchanged: 5 })
  t.same(
    p.objects.filter((o) => o.change !== 'unchanged').map((o) => o.key),
    ['default/evaluate'],
  )
  const md = await plan(repo, { head: 'feature' })
  t.ok(md.stdout.includes(`\`main\` (\`${base.slice(0, 12)}\`) → \`feature\` (\`${head.slice(0, 12)}\`), manifests in \`hw\``))
})

t.test('a folder the base does not have: everything in it is added', async (t) => {
  const { repo } = baseRepo(t)
  repo.write({ 'team-b/hooks.yaml': WEBHOOK_CI + deploy('production') })
  const p = JSON.parse((await plan(repo, { format: 'json', path: 'team-b' })).stdout) as Plan
  t.same(
    p.objects.map((o) => [o.key, o.change, o.location]),
    [
      ['default/ci', 'added', 'team-b/hooks.yaml:1'],
      ['default/deploy', 'added', 'team-b/hooks.yaml:16'],
    ],
  )
  t.equal(p.valid, true, 'the Secret the webhook refers to is not required without --secrets')
})

t.test('--events: the first event of the type that fires the automation', async (t) => {
  const { repo } = baseRepo(t)
  repo.write({ 'hw/hooks.yaml': WEBHOOK_CI + deploy('production', '\n      stage: prod') })
  const event = (alias: string, accuracy: number): string =>
    JSON.stringify({
      type: 'ADD_ARTIFACT_ALIAS',
      entity: 'acme',
      project: 'wandb-registry-model',
      registry: 'model',
      collection: 'churn',
      artifact: { id: 'QQ==', name: 'churn', version: 'v3', metadata: { accuracy } },
      alias,
      time: '2026-05-01T00:00:00Z',
    })
  const dir = mkdtempSync(join(tmpdir(), 'hookwise-events-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(
    join(dir, 'a-link.json'),
    JSON.stringify({
      type: 'LINK_ARTIFACT',
      entity: 'acme',
      project: 'p',
      registry: 'model',
      collection: 'churn',
      artifact: { id: 'QQ==', name: 'churn', version: 'v1' },
    }),
  )
  writeFileSync(join(dir, 'b-staging.json'), event('staging', 0.99))
  writeFileSync(join(dir, 'c-low-accuracy.json'), event('production', 0.5))
  writeFileSync(join(dir, 'd-production.json'), event('production', 0.95))
  writeFileSync(join(dir, 'e-broken.json'), '{"type": ')
  const r = await plan(repo, { format: 'json', events: dir })
  t.equal(r.status, 0)
  t.match(r.stderr, /e-broken\.json:1:\d+: error HW_EVENT_JSON.*\nnote: skipping .*e-broken\.json\n$/s)
  const deployPlan = (JSON.parse(r.stdout) as Plan).objects.find((o) => o.key === 'default/deploy')!
  t.same(deployPlan.preview?.event, { type: 'ADD_ARTIFACT_ALIAS', file: join(dir, 'd-production.json') })
  t.equal(
    deployPlan.preview?.after?.request?.body,
    '{"version":"acme/wandb-registry-model/churn:production","alias":"production","key":"****","stage":"prod"}',
  )
  t.equal(
    deployPlan.preview?.before?.request?.body,
    '{"version":"acme/wandb-registry-model/churn:production","alias":"production","key":"****"}',
  )

  // None of the files fires it: the built-in sample, filled in to fit the automation, does.
  rmSync(join(dir, 'd-production.json'))
  const sample = (JSON.parse((await plan(repo, { format: 'json', events: dir })).stdout) as Plan).objects.find(
    (o) => o.key === 'default/deploy',
  )!
  t.same(sample.preview?.event, { type: 'ADD_ARTIFACT_ALIAS', id: 'plan-sample' })
  t.equal(sample.preview?.after?.fires, true)

  // Nothing fires it (a regex too complex to fill in): the first of the type, and the plan says so plainly.
  repo.write({ 'hw/hooks.yaml': WEBHOOK_CI + deploy('v[0-9]+-prod') })
  const none = await plan(repo, { events: dir })
  const deployed = (JSON.parse((await plan(repo, { format: 'json', events: dir })).stdout) as Plan).objects.find(
    (o) => o.key === 'default/deploy',
  )!
  t.same(deployed.preview?.event, { type: 'ADD_ARTIFACT_ALIAS', file: join(dir, 'b-staging.json') })
  t.equal(deployed.preview?.after?.fires, false)
  t.match(
    none.stdout,
    '**None of the sample events fires this automation** (neither the built-in sample nor the events given with `--events`): the request is what it would send, but check its scope and filters.',
  )
})

t.test('a changed webhook previews the automations that use it', async (t) => {
  const { repo } = baseRepo(t)
  repo.write({ 'hw/hooks.yaml': WEBHOOK_CI.replace('X-Team: ml', 'X-Team: platform') + deploy('production') })
  const p = JSON.parse((await plan(repo, { format: 'json' })).stdout) as Plan
  t.same(
    p.objects.map((o) => [o.key, o.change]).filter(([, c]) => c !== 'unchanged'),
    [['default/ci', 'changed']],
  )
  t.same(p.objects[0]!.diff, [{ path: 'spec.headers.X-Team', change: 'changed', before: 'ml', after: 'platform' }])
  const deployPlan = p.objects.find((o) => o.key === 'default/deploy')!
  t.equal(deployPlan.change, 'unchanged')
  t.equal(deployPlan.preview?.reason, 'webhook default/ci changed')
  t.equal(deployPlan.preview?.before?.request?.headers['X-Team'], 'ml')
  t.equal(deployPlan.preview?.after?.request?.headers['X-Team'], 'platform')
  t.notOk(p.objects.find((o) => o.key === 'default/notify')!.preview, 'automations of other webhooks are not previewed')
})

t.test('--secrets: a webhook secret the Secrets do not provide is a warning, never a value', async (t) => {
  const { repo } = baseRepo(t)
  repo.write({ 'hw/secret.yaml': null })
  const outside = mkdtempSync(join(tmpdir(), 'hookwise-secrets-'))
  t.teardown(() => rmSync(outside, { recursive: true, force: true }))
  writeFileSync(
    join(outside, 'ci.yaml'),
    'apiVersion: v1\nkind: Secret\nmetadata: {name: ci-credentials}\nstringData: {token: ghp_TOPSECRET_THREE}\n',
  )
  const r = await plan(repo, { format: 'json', secrets: [outside] })
  t.equal(r.status, 0, 'a missing secret is a warning')
  const p = JSON.parse(r.stdout) as Plan
  t.match(p.diagnostics, [
    {
      code: 'HW_SECRET_NOT_FOUND',
      severity: 'warning',
      file: 'hw/hooks.yaml',
      line: 1,
      object: 'Webhook default/ci',
      message: 'webhook default/ci needs SIGNING_KEY: Secret default/ci-credentials has no key `signing-key` (keys: `token`)',
    },
  ])
  t.notOk(r.stdout.includes('TOPSECRET'))
})

t.test('usage errors exit 2: not a git repository, unknown ref, path outside the repository', async (t) => {
  const { repo } = baseRepo(t)
  const plain = mkdtempSync(join(tmpdir(), 'hookwise-nogit-'))
  t.teardown(() => rmSync(plain, { recursive: true, force: true }))
  await t.rejects(plan(repo, {}, plain), { code: 'HW_USAGE', message: /is not inside a git repository/ })
  await t.rejects(plan(repo, { base: 'no-such-branch' }), { code: 'HW_USAGE', message: 'git does not know the ref no-such-branch' })
  await t.rejects(plan(repo, { base: '--output=/tmp/x' }), { code: 'HW_USAGE' })
  await t.rejects(plan(repo, { path: '..' }), { code: 'HW_USAGE', message: /outside the repository/ })
})

t.test('the hookwise binary: exit 0 (valid head), 1 (invalid head), 2 (usage)', async (t) => {
  const { repo } = baseRepo(t)
  const tsx = pathToFileURL(resolve('node_modules/tsx/dist/loader.mjs')).href
  const main = resolve('controller/cli/main.ts')
  const run = (cwd: string, ...args: string[]) =>
    spawnSync(process.execPath, [`--import=${tsx}`, main, 'plan', ...args], { cwd, encoding: 'utf8' })
  const ok = run(repo.root, '--base', 'main', '--path', 'hw')
  t.equal(ok.status, 0, ok.stderr)
  t.ok(ok.stdout.startsWith('### hookwise plan\n'))
  repo.write({ 'hw/hooks.yaml': WEBHOOK_CI + deploy('production').replace('type: ADD_ARTIFACT_ALIAS', 'type: ADD_ALIAS') })
  const invalid = run(repo.root, '--base', 'main', '--path', 'hw', '--format', 'json')
  t.equal(invalid.status, 1)
  t.equal((JSON.parse(invalid.stdout) as Plan).valid, false)
  const unknown = run(repo.root, '--base', 'nope')
  t.equal(unknown.status, 2)
  t.match(unknown.stderr, /^error HW_USAGE: git does not know the ref nope\n {2}hint: fetch it first/)
  const plain = mkdtempSync(join(tmpdir(), 'hookwise-nogit-'))
  t.teardown(() => rmSync(plain, { recursive: true, force: true }))
  t.equal(run(plain, '--base', 'main').status, 2)
  t.equal(run(repo.root).status, 2, '--base is required')
  t.equal(run(repo.root, '--base', 'main', '--format', 'yaml').status, 2)
})

t.test('built-in sample events fit the scope and filters', async (t) => {
  t.equal(textMatching('^production$', 'x'), 'production')
  t.equal(textMatching('^churn-', 'example'), 'churn-example')
  t.equal(textMatching('^churn', 'example'), 'churn-example')
  t.equal(textMatching('-rc$', 'v1'), 'v1-rc')
  t.equal(textMatching('\\.onnx$', 'model'), 'model.onnx')
  t.equal(textMatching('^(prod|staging)$', 'prod'), 'prod', 'not a literal: the fallback when it matches')
  t.equal(textMatching(undefined, 'candidate'), 'candidate')
  const state = await loadDesiredState({ manifests: ['examples'] })
  t.ok(state.automations.length >= 5)
  for (const a of state.automations) t.ok(fires(a, sampleEvent(a.spec)), `the sample ${a.spec.event.type} event fires ${a.key}`)
})

t.test('a plan too long for a pull-request comment leaves out the previews, then the sections', async (t) => {
  const { repo } = baseRepo(t)
  repo.write(HEAD_CHANGES)
  const p = JSON.parse((await plan(repo, { format: 'json' })).stdout) as Plan
  const full = formatMarkdown(p)
  t.equal(full, (await plan(repo, {})).stdout)
  const noRequests = formatMarkdown(p, full.length - 1)
  t.ok(noRequests.length < full.length)
  t.ok(noRequests.includes('_The request previews are left out'))
  t.notOk(noRequests.includes('```http'))
  t.ok(noRequests.includes('```diff\n+ spec.action.payload.stage: "staging"'), 'diffs stay')
  const table = formatMarkdown(p, noRequests.length - 1)
  t.ok(table.includes('_The diffs and request previews are left out'))
  t.notOk(table.includes('<details>'))
  t.ok(table.includes('| `default/deploy` | Automation | changed |'))
})

t.test('the CI examples are YAML that runs validate and plan, and hookwise validate examples skips them', async (t) => {
  const github = readFileSync('examples/ci/github/.github/workflows/hookwise.yaml', 'utf8')
  const gitlab = readFileSync('examples/ci/gitlab/.gitlab/hookwise.gitlab-ci.yml', 'utf8')
  const workflow = parse(github) as { on: { pull_request: unknown }; permissions: Record<string, string> }
  t.ok(workflow.on.pull_request)
  t.equal(workflow.permissions['pull-requests'], 'write')
  t.ok(github.includes('npx hookwise validate "$MANIFESTS" --format github'))
  t.ok(github.includes('npx hookwise plan --base "origin/$BASE_REF" --path "$MANIFESTS" --format markdown'))
  t.ok(github.includes('gh pr comment "$PR" --body-file plan.md --edit-last || gh pr comment "$PR" --body-file plan.md'))
  const job = (parse(gitlab) as Record<string, { script: string[] }>)['hookwise-plan']!
  t.ok(job.script.some((l) => l.includes('npx hookwise plan --base "origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME"')))
  t.ok(job.script.some((l) => l.includes('/merge_requests/$CI_MERGE_REQUEST_IID/notes')))
  const files = (await loadTree(['examples'])).files
  t.notOk(
    files.some((f) => f.includes(`${join('examples', 'ci')}`)),
    'the loader does not read examples/ci',
  )
})
