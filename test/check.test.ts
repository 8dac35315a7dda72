// `hookwise check` on a real kube-apiserver + etcd: a missing CRD, a namespace no running controller
// watches, a Secret key that is not there, a missing RBAC verb (SelfSubjectAccessReview as a
// ServiceAccount), and a healthy setup; exit 1 for the broken ones, 0 for the healthy one.
import { writeFileSync } from 'node:fs'
import { Writable } from 'node:stream'
import { join } from 'node:path'
import t from 'tap'
import { stringify } from 'yaml'
import { startController } from '../controller/app/start-controller.js'
import { createLogger } from '../controller/log.js'
import { hookwise, type TapTest } from './helpers/cli.js'
import { kube } from './helpers/kube.js'
import { until } from './helpers/until.js'
import { useControlPlane } from './k8s/fixture.js'

const cluster = await useControlPlane(t)

const objects = (ns: string, key = 'token'): string => `apiVersion: v1
kind: Secret
metadata: {name: ci-bot, namespace: ${ns}}
stringData: {${key}: s3cr3t-value}
---
apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: local-listener, namespace: ${ns}}
spec:
  url: http://127.0.0.1:9000/hook
  accessToken: {secretKeyRef: {name: ci-bot, key: token}}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: notify-production, namespace: ${ns}}
spec:
  scope: {type: Registry, registry: model}
  event: {type: ADD_ARTIFACT_ALIAS, aliasRegex: ^production$}
  action: {webhook: local-listener, payloadTemplate: '{"model": "\${artifact_version_string}"}'}
`

/** Lines of the text report without the first (the server's random port) and with holder ids masked. */
const body = (out: string): string[] =>
  out
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((l) => l.replace(/held by [^)]+\)/, 'held by HOLDER)').replace(/https:\/\/127\.0\.0\.1:\d+/, 'https://127.0.0.1:PORT'))

if (cluster) {
  const k = kube(cluster)
  const check = (args: string[] = []) => hookwise(['check', '--kubeconfig', cluster.kubeconfig, ...args])

  const runController = async (t: TapTest, namespaces: string[]) => {
    const controller = await startController(
      {
        kubernetes: true,
        kubeconfig: cluster.kubeconfig,
        namespace: namespaces,
        leaseDuration: 5000,
        state: join(t.testdir({}), 'state'),
        listen: '127.0.0.1:0',
        allowInsecureHttp: true,
        egressAllow: ['127.0.0.0/8'],
        logLevel: 'info',
        durability: 'normal',
        maxPending: 1000,
        retentionHours: 24,
      },
      createLogger({ level: 'info', destination: new Writable({ write: (_c, _e, cb) => cb() }) }),
      {},
    )
    t.teardown(() => controller.stop())
  }

  t.test('no CRDs yet: check says which are missing and how to install them; exit 1', async (t) => {
    const r = await check()
    t.equal(r.status, 1)
    t.match(r.stdout, /^cluster https:\/\/127\.0\.0\.1:\d+ \(context \S+\)\n/)
    t.same(body(r.stdout), [
      'ok   api-server: https://127.0.0.1:PORT answers (Kubernetes v1.37.2)',
      'FAIL crds: CRD automations.hookwise.dev is not installed',
      '     hint: kubectl apply --server-side -f crds/',
      'FAIL crds: CRD eventsources.hookwise.dev is not installed',
      '     hint: kubectl apply --server-side -f crds/',
      'FAIL crds: CRD webhooks.hookwise.dev is not installed',
      '     hint: kubectl apply --server-side -f crds/',
      'ok   rbac: this identity may do all hookwise run --kubernetes needs in every namespace',
      'FAIL controllers: no hookwise controller is running (none holds a Lease)',
      '     hint: start one: hookwise run --kubernetes, or install the Helm chart (a controller run with --no-leader-elect has no Lease and is not seen)',
      'check failed: 4 errors',
    ])
  })

  t.test('an unwatched namespace and a missing Secret key are found; fixed, every check passes', async (t) => {
    await k.kubectl(['apply', '--server-side', '-f', join(import.meta.dirname, '..', 'crds')])
    await k.kubectl(['wait', '--for=condition=Established', 'crd/webhooks.hookwise.dev', 'crd/automations.hookwise.dev', '--timeout=60s'])
    await k.createNamespace('ml-team')
    await k.createNamespace('research')
    await k.apply(objects('ml-team', 'tokn'))
    await k.apply(objects('research'))
    await runController(t, ['ml-team'])

    const broken = await until('check sees the controller', async () => {
      const r = await check()
      return r.stdout.includes('controller ml-team/hookwise-controller runs') ? r : undefined
    })
    t.comment(`broken:\n$ hookwise check\n${broken.stdout}`)
    t.equal(broken.status, 1)
    t.same(body(broken.stdout), [
      'ok   api-server: https://127.0.0.1:PORT answers (Kubernetes v1.37.2)',
      'ok   crds: CRD automations.hookwise.dev serves v1alpha1 and matches this hookwise',
      'ok   crds: CRD eventsources.hookwise.dev serves v1alpha1 and matches this hookwise',
      'ok   crds: CRD webhooks.hookwise.dev serves v1alpha1 and matches this hookwise',
      'ok   rbac: this identity may do all hookwise run --kubernetes needs in every namespace',
      'ok   controllers: controller ml-team/hookwise-controller runs (held by HOLDER) and watches ml-team',
      'FAIL namespaces: namespace research is watched by no running controller, so its objects are never reconciled (READY stays empty): Webhook local-listener, Automation notify-production',
      "     hint: add --namespace research to the controller's arguments (Helm: watchNamespaces), or move the objects to a watched namespace",
      'FAIL secrets: Webhook ml-team/local-listener refers to key `token` of Secret ml-team/ci-bot, which has keys `tokn`',
      '     hint: create the Secret or key (kubectl -n NAMESPACE create secret generic NAME --from-literal=KEY=VALUE), or fix the secretKeyRef',
      'check failed: 2 errors',
    ])
    t.notMatch(broken.stdout, /s3cr3t/, 'key names only')

    const json = await check(['--format', 'json'])
    t.equal(json.status, 1)
    const report = JSON.parse(json.stdout)
    t.equal(report.ok, false)
    t.match(report.findings, [
      { check: 'api-server', level: 'ok' },
      { check: 'crds', level: 'ok' },
      { check: 'crds', level: 'ok' },
      { check: 'crds', level: 'ok' },
      { check: 'rbac', level: 'ok' },
      { check: 'controllers', level: 'ok' },
      { check: 'namespaces', level: 'error', message: /^namespace research is watched by no running controller/ },
      { check: 'secrets', level: 'error' },
    ])

    // Fixed: the key is there, and the research team's objects move to a watched namespace.
    await k.apply(objects('ml-team'))
    await k.kubectl(['delete', '-n', 'research', 'automation/notify-production', 'webhook/local-listener'])
    const healthy = await check()
    t.comment(`healthy:\n$ hookwise check\n${healthy.stdout}`)
    t.equal(healthy.status, 0)
    t.same(body(healthy.stdout).slice(5), [
      'ok   controllers: controller ml-team/hookwise-controller runs (held by HOLDER) and watches ml-team',
      'ok   namespaces: every namespace with hookwise objects is watched (2 objects)',
      'ok   secrets: every Secret and key the Webhooks refer to exists',
      'all checks passed',
    ])

    // CRDs of another hookwise version (here: one without the REASON column): found, with the fix.
    await k.kubectl([
      'patch',
      'crd',
      'automations.hookwise.dev',
      '--type=json',
      '-p',
      '[{"op": "remove", "path": "/spec/versions/0/additionalPrinterColumns/1"}]',
    ])
    const stale = await check()
    t.equal(stale.status, 1)
    t.same(
      body(stale.stdout).filter((l) => / crds: |hint: apply/.test(l)),
      [
        "FAIL crds: CRD automations.hookwise.dev is another version than this hookwise's (its schema or columns differ)",
        '     hint: apply the CRDs of this version: kubectl apply --server-side -f crds/ (Helm never upgrades CRDs)',
        'ok   crds: CRD eventsources.hookwise.dev serves v1alpha1 and matches this hookwise',
        'ok   crds: CRD webhooks.hookwise.dev serves v1alpha1 and matches this hookwise',
      ],
    )
    await k.kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(import.meta.dirname, '..', 'crds')])
    t.equal((await check()).status, 0, 'the CRDs applied again: healthy')
  })

  t.test('a ServiceAccount lacking one verb: check names it, and where; exit 1', async (t) => {
    // Everything hookwise needs in ml-team but patch on automations/status; reading CRDs and Leases for check itself.
    await k.apply(`apiVersion: v1
kind: ServiceAccount
metadata: {name: partial, namespace: ml-team}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: partial, namespace: ml-team}
rules:
  - {apiGroups: [hookwise.dev], resources: [webhooks, automations, eventsources], verbs: [list, watch]}
  - {apiGroups: [hookwise.dev], resources: [webhooks/status, eventsources/status], verbs: [patch]}
  - {apiGroups: [""], resources: [secrets], verbs: [list, watch]}
  - {apiGroups: [events.k8s.io], resources: [events], verbs: [create, patch]}
  - {apiGroups: [coordination.k8s.io], resources: [leases], verbs: [get, create, update]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: partial, namespace: ml-team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: partial}
subjects: [{kind: ServiceAccount, name: partial, namespace: ml-team}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: partial-check}
rules:
  - {apiGroups: [apiextensions.k8s.io], resources: [customresourcedefinitions], verbs: [get]}
  - {apiGroups: [coordination.k8s.io], resources: [leases], verbs: [list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: partial-check}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: partial-check}
subjects: [{kind: ServiceAccount, name: partial, namespace: ml-team}]
`)
    const token = (await k.kubectl(['create', 'token', 'partial', '-n', 'ml-team', '--duration=1h'])).trim()
    const dir = t.testdir({})
    const kubeconfig = join(dir, 'kubeconfig.yaml')
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'sa',
        clusters: [{ name: 'test', cluster: { server: cluster.server, 'certificate-authority': join(cluster.dir, 'pki', 'ca.crt') } }],
        users: [{ name: 'partial', user: { token } }],
        contexts: [{ name: 'sa', context: { cluster: 'test', user: 'partial' } }],
      }),
    )
    const r = await hookwise(['check', '--kubeconfig', kubeconfig, '--namespace', 'ml-team'])
    t.equal(r.status, 1)
    t.same(
      body(r.stdout).filter((l) => l.includes(' rbac: ')),
      [
        'FAIL rbac: this identity may not patch automations/status.hookwise.dev in namespace ml-team, which hookwise run --kubernetes needs',
      ],
    )
    const admin = await check(['--namespace', 'ml-team'])
    t.match(admin.stdout, /^ok {3}rbac: this identity may do all hookwise run --kubernetes needs in ml-team$/m, 'the admin may')
  })
}
