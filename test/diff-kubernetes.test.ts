// hookwise diff --kubernetes against a real kube-apiserver: objects applied with kubectl compared with
// a folder — added / changed / removed / unchanged, field diffs, before/after requests, validation
// errors with file:line, the namespaces read, markdown and json, exit codes 0, 1 and 2, secret values
// never printed, nothing written to the cluster, and what it says when the CRDs are missing, the
// server is unreachable or RBAC forbids the list.
import t from 'tap'
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse, stringify } from 'yaml'
import type { ClusterDiff } from '../controller/cli/diff.js'
import { hookwise, type CliRun } from './helpers/cli.js'
import { deploy, WEBHOOK_CI } from './helpers/plan-manifests.js'
import { useControlPlane } from './k8s/fixture.js'

const crds = join(dirname(fileURLToPath(import.meta.url)), '..', 'crds')

const SLACK = `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata:
  name: slack
  namespace: ml
spec:
  url: https://hooks.slack.example/T0/B0
`
const NOTIFY = `---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata:
  name: notify
  namespace: ml
spec:
  scope: {type: Registry, registry: model}
  event: {type: LINK_ARTIFACT}
  action:
    webhook: slack
    payload: {text: "\${artifact_version_string} linked"}
`
const AUDIT = `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata:
  name: audit
  namespace: other
spec:
  url: https://audit.example.com/in
`
const EVALUATE = `apiVersion: hookwise.dev/v1alpha1
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
const FOLDER_SECRET = `apiVersion: v1
kind: Secret
metadata:
  name: ci-credentials
stringData:
  token: ghp_TOPSECRET_FOLDER
data:
  signing-key: ${Buffer.from('sk_TOPSECRET_SIGNING').toString('base64')}
`
const SECRET_VALUES = [
  'ghp_TOPSECRET_CLUSTER',
  'ghp_TOPSECRET_FOLDER',
  'sk_TOPSECRET_SIGNING',
  Buffer.from('sk_TOPSECRET_SIGNING').toString('base64'),
  Buffer.from('ghp_TOPSECRET_CLUSTER').toString('base64'),
  'TOPSECRET',
]

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

/** Folders below one temp folder, the current folder of every run (so paths print as `hw`). */
const work = realpathSync(mkdtempSync(join(tmpdir(), 'hookwise-diff-')))
t.teardown(() => rmSync(work, { recursive: true, force: true }))
function folder(name: string, files: Record<string, string>): string {
  mkdirSync(join(work, name), { recursive: true })
  for (const [file, text] of Object.entries(files)) writeFileSync(join(work, name, file), text)
  return name
}
// What is applied to the cluster; unchanged, it is also the folder that matches it.
const applied = folder('applied', { 'hooks.yaml': WEBHOOK_CI + deploy('production'), 'ml.yaml': SLACK + NOTIFY, 'other.yaml': AUDIT })
// The change under review: deploy changed, evaluate added, notify removed, a Secret manifest.
const changes = folder('hw', {
  'hooks.yaml': WEBHOOK_CI + deploy('staging', '\n      stage: staging'),
  'new.yaml': EVALUATE,
  'ml.yaml': SLACK,
  'secret.yaml': FOLDER_SECRET,
})

const cluster = await useControlPlane(t)

if (cluster) {
  const { kubectl } = cluster

  /** `hookwise diff --kubernetes ARGS` in `work`, with the control plane's kubeconfig unless ARGS name one. */
  const diff = async (args: string[], kubeconfig = cluster.kubeconfig): Promise<CliRun> => {
    const previous = process.cwd()
    process.chdir(work)
    try {
      return await hookwise(['diff', '--kubernetes', '--kubeconfig', kubeconfig, ...args])
    } finally {
      process.chdir(previous)
    }
  }
  /** Every Webhook, Automation and Secret with its resourceVersion, and the list's own. */
  const snapshot = async (): Promise<Record<string, string>> => {
    const got = await kubectl(['get', 'webhooks,automations,secrets', '--all-namespaces', '-o', 'json'])
    if (got.code !== 0) throw new Error(got.stderr)
    const items = (
      JSON.parse(got.stdout) as { items: Array<{ kind: string; metadata: { namespace: string; name: string; resourceVersion: string } }> }
    ).items
    return Object.fromEntries(items.map((i) => [`${i.kind}/${i.metadata.namespace}/${i.metadata.name}`, i.metadata.resourceVersion]))
  }
  /** A copy of the admin kubeconfig with `edit` applied to it. */
  const kubeconfigWith = (name: string, edit: (config: Record<string, any>) => void): string => {
    const config = parse(readFileSync(cluster.kubeconfig, 'utf8')) as Record<string, any>
    edit(config)
    const file = join(work, name)
    writeFileSync(file, stringify(config), { mode: 0o600 })
    return file
  }

  t.test('before the CRDs are installed: HW_KUBERNETES_API says to install them, exit 1', async (t) => {
    const r = await diff(['--path', applied])
    t.same(r, {
      status: 1,
      stdout: '',
      stderr: [
        `error HW_KUBERNETES_API: the cluster at ${cluster.server} does not serve webhooks.hookwise.dev/v1alpha1: the hookwise CRDs are not installed (not found (404): 404 page not found)`,
        '  hint: install them with kubectl apply -f crds/ (or the Helm chart), or point --kubeconfig at the cluster that has them',
        '',
      ].join('\n'),
    })
  })

  t.test('setup: CRDs, namespaces, a Secret and the applied folder', async (t) => {
    t.equal((await kubectl(['apply', '-f', crds])).code, 0)
    const wait = await kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/webhooks.hookwise.dev',
      'crd/automations.hookwise.dev',
    ])
    t.equal(wait.code, 0, wait.stderr)
    for (const ns of ['ml', 'other']) t.equal((await kubectl(['create', 'namespace', ns])).code, 0)
    const secret = await kubectl([
      'create',
      'secret',
      'generic',
      'ci-credentials',
      '--from-literal=token=ghp_TOPSECRET_CLUSTER',
      '--from-literal=signing-key=sk_TOPSECRET_SIGNING',
    ])
    t.equal(secret.code, 0, secret.stderr)
    const apply = await kubectl(['apply', '-f', join(work, applied)])
    t.equal(apply.code, 0, apply.stderr)
    t.equal(apply.stderr, '')
  })

  t.test(
    'the folder that was applied: everything unchanged, exit 0 (schema defaults the API server filled in are no change)',
    async (t) => {
      const r = await diff(['--path', applied])
      t.same(r, {
        status: 0,
        stderr: '',
        stdout: [
          '### hookwise diff',
          '',
          'cluster `hookwise-test` (namespaces `default`, `ml`, `other`) → folder `applied`',
          '',
          '**0 added, 0 changed, 0 removed, 5 unchanged.** The folder is valid.',
          '',
          '| object | kind | change |',
          '|---|---|---|',
          '| `default/ci` | Webhook | unchanged |',
          '| `ml/slack` | Webhook | unchanged |',
          '| `other/audit` | Webhook | unchanged |',
          '| `default/deploy` | Automation | unchanged |',
          '| `ml/notify` | Automation | unchanged |',
          '',
        ].join('\n'),
      })
      // The cluster's copies do have the defaults the files leave out.
      const stored = await kubectl(['get', 'webhook', 'ci', '-o', 'jsonpath={.spec.timeoutSeconds} {.spec.suspend} {.spec.signing.scheme}'])
      t.equal(stored.stdout, '15 false github')
    },
  )

  t.test('added, changed and removed: the markdown, exactly; nothing in the cluster changes', async (t) => {
    const before = await snapshot()
    const r = await diff(['--path', changes])
    t.equal(r.status, 0)
    t.equal(r.stderr, '')
    t.equal(
      r.stdout,
      [
        '### hookwise diff',
        '',
        'cluster `hookwise-test` (namespaces `default`, `ml`) → folder `hw`',
        '',
        '**1 added, 1 changed, 1 removed, 2 unchanged.** The folder is valid.',
        '',
        '_Secrets are not compared: `hookwise diff` does not read Secrets from the cluster._',
        '',
        '| object | kind | change |',
        '|---|---|---|',
        '| `default/ci` | Webhook | unchanged |',
        '| `ml/slack` | Webhook | unchanged |',
        '| `default/deploy` | Automation | changed |',
        '| `default/evaluate` | Automation | added |',
        '| `ml/notify` | Automation | removed |',
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
        '  "alias": "staging",',
        '  "key": "****",',
        '  "version": "acme/wandb-registry-model/churn:staging"',
        '}',
        '```',
        '',
        '**After** — this event fires it:',
        '',
        ...http(CI_HEADERS),
        '',
        '```json',
        '{',
        '  "alias": "staging",',
        '  "key": "****",',
        '  "stage": "staging",',
        '  "version": "acme/wandb-registry-model/churn:staging"',
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
        '<summary>Automation <code>ml/notify</code>: removed</summary>',
        '',
        '`cluster`',
        '',
        '</details>',
        '',
      ].join('\n'),
    )
    const after = await snapshot()
    t.equal(Object.keys(before).length, 6, '5 hookwise objects and the Secret')
    t.same(after, before, 'every resourceVersion is as it was')
  })

  t.test('json: the same comparison as an object, with the cluster and namespaces read', async (t) => {
    const r = await diff(['--path', changes, '--format', 'json'])
    t.equal(r.status, 0)
    const d = JSON.parse(r.stdout) as ClusterDiff
    t.same(Object.keys(d), ['base', 'head', 'path', 'valid', 'counts', 'objects', 'diagnostics', 'cluster'])
    t.same(
      { base: d.base, head: d.head, path: d.path, valid: d.valid, counts: d.counts, diagnostics: d.diagnostics, cluster: d.cluster },
      {
        base: { ref: 'cluster hookwise-test' },
        head: { ref: 'folder hw' },
        path: 'hw',
        valid: true,
        counts: { added: 1, changed: 1, removed: 1, unchanged: 2 },
        diagnostics: [],
        cluster: { context: 'hookwise-test', server: cluster.server, namespaces: ['default', 'ml'] },
      },
    )
    t.same(
      d.objects.map((o) => [o.kind, o.key, o.change, o.location]),
      [
        ['Webhook', 'default/ci', 'unchanged', 'hw/hooks.yaml:1'],
        ['Webhook', 'ml/slack', 'unchanged', 'hw/ml.yaml:1'],
        ['Automation', 'default/deploy', 'changed', 'hw/hooks.yaml:16'],
        ['Automation', 'default/evaluate', 'added', 'hw/new.yaml:1'],
        ['Automation', 'ml/notify', 'removed', 'cluster'],
      ],
    )
    t.same(d.objects[2]!.diff, [
      { path: 'spec.action.payload.stage', change: 'added', after: 'staging' },
      { path: 'spec.event.aliasRegex', change: 'changed', before: '^production$', after: '^staging$' },
    ])
    // The API server keeps mappings with sorted keys: a payload's keys are sent in that order, on both sides.
    t.same(
      d.objects[2]!.preview?.before?.request?.body,
      '{"alias":"staging","key":"****","version":"acme/wandb-registry-model/churn:staging"}',
    )
    t.same(
      d.objects[2]!.preview?.after?.request?.body,
      '{"alias":"staging","key":"****","stage":"staging","version":"acme/wandb-registry-model/churn:staging"}',
    )
    t.notOk(d.objects[4]!.preview, 'a removed automation has no request')
  })

  t.test('secret values never appear, in either format', async (t) => {
    for (const format of ['markdown', 'json']) {
      const r = await diff(['--path', changes, '--format', format])
      t.equal(r.status, 0)
      for (const value of SECRET_VALUES) t.notOk(r.stdout.includes(value) || r.stderr.includes(value), `${format}: ${value} not printed`)
      t.ok(r.stdout.includes('****'), `${format}: secrets are masked`)
    }
  })

  t.test('invalid folder: exit 1, errors with file:line:column, the cluster request still shown', async (t) => {
    const invalid = folder('invalid', {
      'hooks.yaml': WEBHOOK_CI + deploy('production').replace('type: ADD_ARTIFACT_ALIAS', 'type: ADD_ALIAS'),
    })
    const r = await diff(['--path', invalid])
    t.equal(r.status, 1)
    t.equal(r.stderr, '')
    const lines = r.stdout.split('\n')
    t.same(lines.slice(0, 5), [
      '### hookwise diff',
      '',
      'cluster `hookwise-test` (namespace `default`) → folder `invalid`',
      '',
      '**0 added, 1 changed, 0 removed, 1 unchanged.** The folder has 1 validation error: fix it before applying.',
    ])
    const at = lines.indexOf('#### Validation of the folder')
    t.ok(at > 0)
    t.equal(
      lines[at + 2],
      '- `invalid/hooks.yaml:23:5` **error** `HW_SCHEMA`: Automation default/deploy: spec.event.type: "ADD_ALIAS" is not one of LINK_ARTIFACT, UNLINK_ARTIFACT, CREATE_ARTIFACT, ADD_ARTIFACT_ALIAS, ADD_ARTIFACT_TAG, REMOVE_ARTIFACT_TAG, ADD_COLLECTION_TAG, REMOVE_COLLECTION_TAG, RUN_METRIC, RUN_METRIC_CHANGE, RUN_METRIC_ZSCORE, RUN_STATE — hint: use one of LINK_ARTIFACT, UNLINK_ARTIFACT, CREATE_ARTIFACT, ADD_ARTIFACT_ALIAS, ADD_ARTIFACT_TAG, REMOVE_ARTIFACT_TAG, ADD_COLLECTION_TAG, REMOVE_COLLECTION_TAG, RUN_METRIC, RUN_METRIC_CHANGE, RUN_METRIC_ZSCORE, RUN_STATE',
    )
    t.ok(r.stdout.includes('```diff\n- spec.event.type: "ADD_ARTIFACT_ALIAS"\n+ spec.event.type: "ADD_ALIAS"\n```'), r.stdout)
    t.ok(r.stdout.includes('**Before** — this event fires it:'), 'the cluster request is shown')
    t.ok(
      r.stdout.includes(
        '**After**: no request — automation default/deploy is not valid at the head (folder invalid); see the validation errors',
      ),
    )
    const j = JSON.parse((await diff(['--path', invalid, '--format', 'json'])).stdout) as ClusterDiff
    t.equal(j.valid, false)
    t.match(j.diagnostics, [
      {
        file: 'invalid/hooks.yaml',
        line: 23,
        column: 5,
        code: 'HW_SCHEMA',
        severity: 'error',
        object: 'Automation default/deploy',
        path: 'spec.event.type',
      },
    ])
  })

  t.test("namespaces: the folder's by default; --namespace adds one; --all-namespaces reads all", async (t) => {
    const table = (r: CliRun) => r.stdout.split('\n').filter((l) => l.startsWith('| `'))
    const row = '| `other/audit` | Webhook | removed |'
    const plain = await diff(['--path', changes])
    t.notOk(table(plain).includes(row), 'other is not read')
    for (const args of [['--namespace', 'other'], ['--all-namespaces']]) {
      const r = await diff(['--path', changes, ...args])
      t.equal(r.status, 0, args.join(' '))
      t.same(table(r), [...table(plain).slice(0, 2), row, ...table(plain).slice(2)], args.join(' '))
      t.equal(
        r.stdout.split('\n')[2],
        `cluster \`hookwise-test\` (${args[0] === '--namespace' ? 'namespaces `default`, `ml`, `other`' : 'all namespaces'}) → folder \`hw\``,
      )
    }
    // An empty folder is compared with the context's namespace: everything there would be missing.
    const empty = folder('empty', {})
    const r = await diff(['--path', empty])
    t.equal(r.status, 0)
    t.same(table(r), ['| `default/ci` | Webhook | removed |', '| `default/deploy` | Automation | removed |'])
  })

  t.test('objects without metadata.namespace while the context has another namespace: a note on standard error', async (t) => {
    const kubeconfig = kubeconfigWith('kubeconfig-ml', (c) => {
      c.contexts[0].context.namespace = 'ml'
    })
    const r = await diff(['--path', applied], kubeconfig)
    t.equal(r.status, 0)
    t.equal(
      r.stderr,
      'note: 2 objects have no metadata.namespace: hookwise reads them as namespace default, but kubectl apply with context hookwise-test puts them in namespace ml; set metadata.namespace in the files\n',
    )
  })

  t.test('usage errors exit 2: no --kubernetes, a missing --path, --namespace with --all-namespaces', async (t) => {
    const none = await hookwise(['diff', '--path', work])
    t.equal(none.status, 2)
    t.match(none.stderr, "error: required option '--kubernetes' not specified")
    const missing = await diff(['--path', 'nowhere'])
    t.same(missing, {
      status: 2,
      stdout: '',
      stderr: 'error HW_USAGE: --path nowhere does not exist\n  hint: give the folder of manifests, relative to the current folder\n',
    })
    const both = await diff(['--path', changes, '--namespace', 'ml', '--all-namespaces'])
    t.equal(both.status, 2)
    t.match(both.stderr, "error: option '--all-namespaces' cannot be used with option '--namespace <ns>'")
  })

  t.test('a kubeconfig that cannot be read: HW_KUBECONFIG, exit 1', async (t) => {
    const r = await diff(['--path', changes], join(work, 'no-such-kubeconfig'))
    t.equal(r.status, 1)
    t.equal(r.stdout, '')
    t.match(r.stderr, `error HW_KUBECONFIG: cannot load Kubernetes configuration from ${join(work, 'no-such-kubeconfig')}`)
  })

  t.test('an API server that does not answer: HW_KUBERNETES_API names it and says what to check', async (t) => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number }
        s.close(() => resolve(port))
      })
    })
    const server = `https://127.0.0.1:${port}`
    const kubeconfig = kubeconfigWith('kubeconfig-down', (c) => {
      c.clusters[0].cluster.server = server
    })
    const r = await diff(['--path', changes], kubeconfig)
    t.equal(r.status, 1)
    t.equal(r.stdout, '')
    t.equal(
      r.stderr,
      [
        `error HW_KUBERNETES_API: cannot reach the Kubernetes API server at ${server}: request to ${server}/apis/hookwise.dev/v1alpha1/namespaces/default/webhooks?limit=500 failed, reason: connect ECONNREFUSED 127.0.0.1:${port}`,
        '  hint: check that the cluster is up and that the kubeconfig points at it (kubectl cluster-info), or pass --kubeconfig FILE',
        '',
      ].join('\n'),
    )
  })

  t.test(
    'RBAC: list on webhooks and automations is enough (no Secrets); a namespace without it is a 403 that says what to ask for',
    async (t) => {
      const sa = 'reviewer'
      const subject = `system:serviceaccount:default:${sa}`
      t.equal((await kubectl(['create', 'serviceaccount', sa])).code, 0)
      const token = await kubectl(['create', 'token', sa, '--duration=10m'])
      t.equal(token.code, 0, token.stderr)
      const kubeconfig = kubeconfigWith('kubeconfig-reviewer', (c) => {
        c.users = [{ name: sa, user: { token: token.stdout.trim() } }]
        c.contexts[0].context.user = sa
      })
      t.equal(
        (
          await kubectl([
            'create',
            'clusterrole',
            'hookwise-viewer',
            '--verb=list',
            '--resource=webhooks.hookwise.dev,automations.hookwise.dev',
          ])
        ).code,
        0,
      )
      t.equal(
        (
          await kubectl([
            'create',
            'rolebinding',
            'hookwise-viewer',
            '--clusterrole=hookwise-viewer',
            `--serviceaccount=default:${sa}`,
            '-n',
            'default',
          ])
        ).code,
        0,
      )

      const denied = await diff(['--path', changes], kubeconfig)
      t.equal(denied.status, 1)
      t.equal(denied.stdout, '')
      t.equal(
        denied.stderr,
        [
          `error HW_KUBERNETES_API: you may not list webhooks.hookwise.dev in namespace ml: forbidden (403): webhooks.hookwise.dev is forbidden: User "${subject}" cannot list resource "webhooks" in API group "hookwise.dev" in the namespace "ml"`,
          '  hint: hookwise diff needs the verb list on webhooks.hookwise.dev and automations.hookwise.dev in namespace ml; ask an administrator for a Role (or ClusterRole) that grants it',
          '',
        ].join('\n'),
      )

      t.equal(
        (
          await kubectl([
            'create',
            'rolebinding',
            'hookwise-viewer',
            '--clusterrole=hookwise-viewer',
            `--serviceaccount=default:${sa}`,
            '-n',
            'ml',
          ])
        ).code,
        0,
      )
      t.equal(
        (await kubectl(['auth', 'can-i', 'list', 'secrets', `--as=${subject}`])).stdout.trim(),
        'no',
        'the reviewer may not read Secrets',
      )
      const admin = await diff(['--path', changes])
      const allowed = await diff(['--path', changes], kubeconfig)
      t.equal(allowed.status, 0, allowed.stderr)
      t.equal(allowed.stdout, admin.stdout, 'the same diff as the admin sees')

      const everywhere = await diff(['--path', changes, '--all-namespaces'], kubeconfig)
      t.equal(everywhere.status, 1)
      t.equal(
        everywhere.stderr,
        [
          `error HW_KUBERNETES_API: you may not list webhooks.hookwise.dev in all namespaces: forbidden (403): webhooks.hookwise.dev is forbidden: User "${subject}" cannot list resource "webhooks" in API group "hookwise.dev" at the cluster scope`,
          '  hint: hookwise diff needs the verb list on webhooks.hookwise.dev and automations.hookwise.dev in the whole cluster; or name the namespaces with --namespace NS instead of --all-namespaces; ask an administrator for a Role (or ClusterRole) that grants it',
          '',
        ].join('\n'),
      )
    },
  )
}
