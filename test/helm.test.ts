// The Helm chart (charts/hookwise) with the real helm and kubectl on a real kube-apiserver + etcd:
// lint, the objects `helm template` renders (default and non-default values), values.schema.json
// rejecting wrong values, `helm install`, then `hookwise run` with the Deployment's own arguments,
// authenticated as the chart's ServiceAccount (a TokenRequest token), through the whole flow — the
// chart's RBAC is enough — and `kubectl auth can-i` proving it is no more; upgrade and uninstall
// leave no stray objects.
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { request } from 'undici'
import { parseAllDocuments, parse, stringify } from 'yaml'
import { VERSION } from '../controller/version.js'
import type { TapTest } from './helpers/cli.js'
import { startHookwise } from './helpers/hookwise-process.js'
import { condition, kube, type Kube } from './helpers/kube.js'
import { until } from './helpers/until.js'
import { startReceiver } from './helpers/receiver.js'
import { useControlPlane } from './k8s/fixture.js'

const root = join(import.meta.dirname, '..')
const runFile = promisify(execFile)
const chart = join(root, 'charts', 'hookwise')

interface Obj {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; deletionTimestamp?: string; finalizers?: string[] }
  [key: string]: any
}

const cluster = await useControlPlane(t)

t.test("the chart's CRDs are crds/ byte for byte, and its appVersion is the package version", async (t) => {
  for (const file of ['hookwise.dev_webhooks.yaml', 'hookwise.dev_automations.yaml']) {
    t.equal(readFileSync(join(chart, 'crds', file), 'utf8'), readFileSync(join(root, 'crds', file), 'utf8'), file)
  }
  const meta = parse(readFileSync(join(chart, 'Chart.yaml'), 'utf8')) as { appVersion: string; name: string }
  t.equal(meta.appVersion, VERSION)
  t.equal(meta.name, 'hookwise')
})

if (cluster) {
  const k = kube(cluster)
  const helm = async (args: string[]): Promise<string> => {
    const r = await cluster.helm(args)
    if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed (${r.code}): ${r.stderr}`)
    return r.stdout
  }
  const helmFails = async (args: string[]): Promise<string> => {
    const r = await cluster.helm(args)
    if (r.code === 0) throw new Error(`helm ${args.join(' ')} succeeded; expected it to fail`)
    return r.stderr
  }
  const objects = (yaml: string): Obj[] =>
    parseAllDocuments(yaml)
      .map((d) => d.toJS() as Obj | null)
      .filter((o): o is Obj => o !== null)
  /** `helm template` of the chart as release `r` in namespace `hw`, with values files written from `values`. */
  const template = async (tt: TapTest, values: Record<string, unknown> = {}, extra: string[] = []): Promise<Obj[]> => {
    const file = join(tt.testdir({ 'values.yaml': stringify(values) }), 'values.yaml')
    return objects(await helm(['template', 'r', chart, '-n', 'hw', '-f', file, ...extra]))
  }
  const find = (objs: Obj[], kind: string, name: string, namespace?: string): Obj => {
    const o = objs.find(
      (o) => o.kind === kind && o.metadata.name === name && (namespace === undefined || o.metadata.namespace === namespace),
    )
    if (!o) throw new Error(`no ${kind} ${namespace ?? ''}/${name} among ${objs.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`)
    return o
  }
  const kinds = (objs: Obj[]): string[] =>
    objs.map((o) => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`).sort()
  const watchRules = [
    { apiGroups: ['hookwise.dev'], resources: ['webhooks', 'automations', 'eventsources'], verbs: ['list', 'watch'] },
    { apiGroups: ['hookwise.dev'], resources: ['webhooks/status', 'automations/status', 'eventsources/status'], verbs: ['patch'] },
    { apiGroups: [''], resources: ['secrets'], verbs: ['list', 'watch'] },
    { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get'] },
  ]

  t.test('helm lint passes with the default and with non-default values', async (t) => {
    t.match(await helm(['lint', '--strict', chart]), /1 chart\(s\) linted, 0 chart\(s\) failed/)
    const file = join(
      t.testdir({
        'v.yaml': stringify({
          watchNamespaces: ['a'],
          tenancy: 'namespace-label',
          persistence: { enabled: false },
          networkPolicy: { enabled: true, egress: { apiServer: { cidrs: ['10.0.0.1/32'] } } },
        }),
      }),
      'v.yaml',
    )
    t.match(await helm(['lint', '--strict', chart, '-f', file]), /0 chart\(s\) failed/)
  })

  t.test(
    'helm template, default values: a cluster-wide install with a PVC, a generated intake token and a hardened Deployment',
    async (t) => {
      const objs = await template(t)
      t.same(kinds(objs), [
        'ClusterRole r-hookwise',
        'ClusterRoleBinding r-hookwise',
        'Deployment hw/r-hookwise',
        'Lease hw/r-hookwise',
        'PersistentVolumeClaim hw/r-hookwise-state',
        'Role hw/r-hookwise-leader-election',
        'RoleBinding hw/r-hookwise-leader-election',
        'Secret hw/r-hookwise-intake',
        'Service hw/r-hookwise',
        'ServiceAccount hw/r-hookwise',
      ])
      t.same(find(objs, 'ClusterRole', 'r-hookwise').rules, watchRules)
      const subject = [{ kind: 'ServiceAccount', name: 'r-hookwise', namespace: 'hw' }]
      t.same(find(objs, 'ClusterRoleBinding', 'r-hookwise').subjects, subject)
      t.same(find(objs, 'Role', 'r-hookwise-leader-election').rules, [
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['r-hookwise'], verbs: ['get', 'update'] },
      ])
      t.same(find(objs, 'RoleBinding', 'r-hookwise-leader-election').subjects, subject)
      t.equal(find(objs, 'ServiceAccount', 'r-hookwise').automountServiceAccountToken, false)
      t.match(Buffer.from(find(objs, 'Secret', 'r-hookwise-intake').data.token, 'base64').toString(), /^[A-Za-z0-9]{48}$/)
      t.same(find(objs, 'PersistentVolumeClaim', 'r-hookwise-state').spec, {
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: '1Gi' } },
      })
      t.same(find(objs, 'Service', 'r-hookwise').spec.ports, [{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }])

      const deployment = find(objs, 'Deployment', 'r-hookwise')
      t.equal(deployment.spec.replicas, 1)
      t.same(deployment.spec.strategy, { type: 'Recreate' })
      const pod = deployment.spec.template.spec
      t.equal(pod.serviceAccountName, 'r-hookwise')
      t.equal(pod.automountServiceAccountToken, true)
      t.match(pod.securityContext, { runAsNonRoot: true, runAsUser: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } })
      const [container, more] = pod.containers
      t.notOk(more)
      t.equal(container.image, `hookwise:${VERSION}`)
      t.same(container.args, [
        'run',
        '--kubernetes',
        '--listen=0.0.0.0:8080',
        '--state=/var/lib/hookwise',
        '--intake-token-file=/etc/hookwise/intake/token',
        '--log-level=info',
        '--tenancy=none',
        '--lease-name=r-hookwise',
        '--lease-duration=15s',
        '--status-interval=5s',
        '--api-timeout=30s',
        '--max-pending=100000',
        '--retention-hours=168',
      ])
      t.same(container.securityContext, {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      })
      t.match(container.livenessProbe, { httpGet: { path: '/healthz', port: 'http' } })
      t.match(container.readinessProbe, { httpGet: { path: '/readyz', port: 'http' } })
      t.match(container.startupProbe, { httpGet: { path: '/healthz', port: 'http' } })
      t.same(container.resources, { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } })
      t.same(
        container.env.map((e: { name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }) => [
          e.name,
          e.valueFrom?.fieldRef.fieldPath ?? e.value,
        ]),
        [
          ['POD_NAME', 'metadata.name'],
          ['POD_NAMESPACE', 'metadata.namespace'],
          ['HOOKWISE_HELM_RELEASE', 'r'],
        ],
      )
      t.same(
        container.volumeMounts.map((m: { mountPath: string }) => m.mountPath),
        ['/var/lib/hookwise', '/tmp', '/etc/hookwise/intake'],
      )
      t.same(
        pod.volumes.find((v: { name: string }) => v.name === 'state'),
        { name: 'state', persistentVolumeClaim: { claimName: 'r-hookwise-state' } },
      )
      t.same(pod.volumes.find((v: { name: string }) => v.name === 'intake-token').secret, {
        secretName: 'r-hookwise-intake',
        defaultMode: 0o440,
        items: [{ key: 'token', path: 'token' }],
      })
    },
  )

  t.test(
    'helm template, non-default values: Roles per watched namespace, tenancy, emptyDir, existing token, flags, ServiceMonitor, PDB, NetworkPolicy',
    async (t) => {
      const objs = await template(t, {
        watchNamespaces: ['team-a', 'team-b'],
        tenancy: 'namespace-label',
        logLevel: 'debug',
        leaderElection: { enabled: false },
        persistence: { enabled: false },
        intake: { existingSecret: 'my-intake', existingSecretKey: 'tokens' },
        egress: { allowInsecureHttp: true, allowCIDRs: ['10.20.0.0/16'] },
        retry: { maxAttempts: 5, maxBackoff: '1h' },
        delivery: { concurrency: 64, perWebhookConcurrency: 4, connectionsPerOrigin: 8, maxPending: 5000, retentionHours: 48 },
        image: { repository: 'registry.example.com/hookwise', tag: '0.1.0-rc1' },
        extraArgs: ['--durability=full'],
        extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=384' }],
        extraVolumes: [{ name: 'ca', configMap: { name: 'corp-ca' } }],
        extraVolumeMounts: [{ name: 'ca', mountPath: '/etc/ssl/corp' }],
        serviceMonitor: { enabled: true, labels: { release: 'prom' } },
        podDisruptionBudget: { enabled: true },
        networkPolicy: {
          enabled: true,
          ingressFrom: [{ namespaceSelector: { matchLabels: { ci: 'true' } } }],
          egress: { apiServer: { cidrs: ['172.18.0.2/32'] } },
        },
      })
      t.same(
        kinds(objs),
        [
          'ClusterRole r-hookwise-namespaces',
          'ClusterRoleBinding r-hookwise-namespaces',
          'Deployment hw/r-hookwise',
          'NetworkPolicy hw/r-hookwise',
          'PodDisruptionBudget hw/r-hookwise',
          'Role team-a/r-hookwise',
          'Role team-b/r-hookwise',
          'RoleBinding team-a/r-hookwise',
          'RoleBinding team-b/r-hookwise',
          'Service hw/r-hookwise',
          'ServiceAccount hw/r-hookwise',
          'ServiceMonitor hw/r-hookwise',
        ],
        'no ClusterRole over Secrets, no Lease, no PVC, no generated Secret',
      )
      for (const ns of ['team-a', 'team-b']) {
        t.same(find(objs, 'Role', 'r-hookwise', ns).rules, watchRules)
        t.same(find(objs, 'RoleBinding', 'r-hookwise', ns).subjects, [{ kind: 'ServiceAccount', name: 'r-hookwise', namespace: 'hw' }])
      }
      t.same(find(objs, 'ClusterRole', 'r-hookwise-namespaces').rules, [
        { apiGroups: [''], resources: ['namespaces'], resourceNames: ['team-a', 'team-b'], verbs: ['list', 'watch'] },
      ])
      const container = find(objs, 'Deployment', 'r-hookwise').spec.template.spec.containers[0]
      t.equal(container.image, 'registry.example.com/hookwise:0.1.0-rc1')
      t.same(container.args, [
        'run',
        '--kubernetes',
        '--listen=0.0.0.0:8080',
        '--state=/var/lib/hookwise',
        '--intake-token-file=/etc/hookwise/intake/token',
        '--log-level=debug',
        '--namespace=team-a',
        '--namespace=team-b',
        '--tenancy=namespace-label',
        '--no-leader-elect',
        '--status-interval=5s',
        '--api-timeout=30s',
        '--allow-insecure-http',
        '--egress-allow=10.20.0.0/16',
        '--retry-max-attempts=5',
        '--retry-max-backoff=1h',
        '--max-pending=5000',
        '--retention-hours=48',
        '--concurrency=64',
        '--per-webhook-concurrency=4',
        '--connections-per-origin=8',
        '--durability=full',
      ])
      t.same(container.env.at(-1), { name: 'NODE_OPTIONS', value: '--max-old-space-size=384' })
      t.same(container.volumeMounts.at(-1), { name: 'ca', mountPath: '/etc/ssl/corp' })
      const volumes = find(objs, 'Deployment', 'r-hookwise').spec.template.spec.volumes
      t.same(
        volumes.find((v: { name: string }) => v.name === 'state'),
        { name: 'state', emptyDir: {} },
      )
      t.same(volumes.find((v: { name: string }) => v.name === 'intake-token').secret.secretName, 'my-intake')
      t.same(volumes.find((v: { name: string }) => v.name === 'intake-token').secret.items, [{ key: 'tokens', path: 'token' }])
      t.same(find(objs, 'ServiceMonitor', 'r-hookwise').spec.endpoints, [
        {
          port: 'http',
          path: '/metrics',
          interval: '30s',
          scrapeTimeout: '10s',
          authorization: { type: 'Bearer', credentials: { name: 'my-intake', key: 'tokens' } },
        },
      ])
      const own = await template(t, { serviceMonitor: { enabled: true, tokenSecret: { name: 'scrape', key: 'one' } } })
      t.same(
        find(own, 'ServiceMonitor', 'r-hookwise').spec.endpoints[0].authorization,
        { type: 'Bearer', credentials: { name: 'scrape', key: 'one' } },
        'serviceMonitor.tokenSecret: a Secret with one token, for an intake Secret with several',
      )
      t.equal(find(objs, 'ServiceMonitor', 'r-hookwise').metadata.labels!.release, 'prom')
      t.same(find(objs, 'PodDisruptionBudget', 'r-hookwise').spec, {
        selector: { matchLabels: { 'app.kubernetes.io/name': 'hookwise', 'app.kubernetes.io/instance': 'r' } },
        maxUnavailable: 1,
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
      })
      const policy = find(objs, 'NetworkPolicy', 'r-hookwise').spec
      t.same(policy.policyTypes, ['Ingress', 'Egress'])
      t.same(policy.ingress, [
        { ports: [{ port: 'http', protocol: 'TCP' }], from: [{ namespaceSelector: { matchLabels: { ci: 'true' } } }] },
      ])
      t.same(policy.egress, [
        {
          ports: [
            { port: 53, protocol: 'UDP' },
            { port: 53, protocol: 'TCP' },
          ],
        },
        {
          to: [{ ipBlock: { cidr: '172.18.0.2/32' } }],
          ports: [
            { port: 443, protocol: 'TCP' },
            { port: 6443, protocol: 'TCP' },
          ],
        },
        { to: [{ ipBlock: { cidr: '10.20.0.0/16' } }] },
        {
          to: [
            { ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '127.0.0.0/8'] } },
          ],
          ports: [{ port: 443, protocol: 'TCP' }],
        },
      ])
    },
  )

  t.test('image.digest: the image is pulled by digest (the tag is ignored); anything but sha256:<64 hex> is refused', async (t) => {
    const digest = `sha256:${'ab12'.repeat(16)}`
    const objs = await template(t, { image: { repository: 'registry.example.com/team/hookwise', tag: '0.1.0', digest } })
    t.equal(find(objs, 'Deployment', 'r-hookwise').spec.template.spec.containers[0].image, `registry.example.com/team/hookwise@${digest}`)
    const message = await helmFails(['template', 'r', chart, '--set', 'image.digest=latest'])
    t.ok(message.includes("- at '/image/digest': 'latest' does not match pattern"), message)
  })

  t.test("values.schema.json and the chart's checks reject wrong values with a message naming them", async (t) => {
    const twoReplicaArgs = ['--set', 'replicaCount=2', '--set', 'persistence.accessModes={ReadWriteMany}']
    const cases: Array<[string[], string]> = [
      [['--set', 'tenancy=teams'], "- at '/tenancy': value must be one of 'none', 'namespace-label'"],
      [['--set', 'logLevel=verbose'], "- at '/logLevel': value must be one of 'trace', 'debug', 'info', 'warn', 'error'"],
      [['--set', 'replicaCount=0'], "- at '/replicaCount': minimum: got 0, want 1"],
      [['--set', 'retry.maxAttempts=21'], "- at '/retry/maxAttempts': maximum: got 21, want 20"],
      [['--set', 'retry.maxBackoff=12'], "  - at '/retry/maxBackoff': got number, want string"],
      [['--set', 'leaderElection.leaseDuration=15'], "- at '/leaderElection/leaseDuration': got number, want string"],
      [['--set', 'egress.allowCIDRs={10.0.0.1}'], "- at '/egress/allowCIDRs/0': '10.0.0.1' does not match pattern"],
      [['--set', 'watchNamespaces={Team_A}'], "- at '/watchNamespaces/0': 'Team_A' does not match pattern"],
      [['--set', 'replicas=2'], "- at '': additional properties 'replicas' not allowed"],
      [
        ['--set', 'persistence.accessModes={ReadWriteSometimes}'],
        "- at '/persistence/accessModes/0': value must be one of 'ReadWriteOnce', 'ReadWriteOncePod', 'ReadWriteMany'",
      ],
      [['--set', 'extraArgs={-v}'], "- at '/extraArgs/0': '-v' does not match pattern '^--'"],
      [
        ['--set', 'replicaCount=2'],
        "replicaCount > 1 needs persistence.accessModes [ReadWriteMany] (or an existingClaim every replica can mount): a standby takes over the leader's queue",
      ],
      [
        ['--set', 'replicaCount=2', '--set', 'leaderElection.enabled=false'],
        'replicaCount > 1 needs leaderElection.enabled: replicas without a Lease would deliver every event more than once',
      ],
      [
        ['--set', 'networkPolicy.enabled=true'],
        "networkPolicy.enabled needs networkPolicy.egress.apiServer.cidrs: the API server's addresses (kubectl get endpoints kubernetes -n default)",
      ],
      [
        ['--set', 'intake.existingSecretKey=tokens'],
        'intake.existingSecretKey only applies with intake.existingSecret: the Secret the chart generates keeps its token under the key token',
      ],
      [
        ['--set', 'podDisruptionBudget.enabled=true', '--set', 'podDisruptionBudget.minAvailable=1'],
        'podDisruptionBudget: set exactly one of minAvailable and maxUnavailable (the other null)',
      ],
      [['--set', 'leaderElection.leaseDuration=500ms'], "- at '/leaderElection/leaseDuration': '500ms' does not match pattern"],
      [['--set', 'statusInterval=0s'], "- at '/statusInterval': '0s' does not match pattern"],
      [['--set', 'retry.maxBackoff=25h'], "retry.maxBackoff 25h is over 24h, the bound of a Webhook's spec.retry.maxBackoffSeconds"],
      [['--set', 'retry.maxBackoff=86401000ms'], 'retry.maxBackoff 86401000ms is over 24h'],
      [
        [...twoReplicaArgs, '--set', 'podDisruptionBudget.enabled=true'],
        'podDisruptionBudget keeps 1 pod(s) available, but only the leader replica is ever Ready, so the leader could never be evicted and draining its node would hang: set maxUnavailable to replicaCount (2) or more, or minAvailable to 0',
      ],
      [
        [
          '--set',
          'podDisruptionBudget.enabled=true',
          '--set',
          'podDisruptionBudget.maxUnavailable=null',
          '--set',
          'podDisruptionBudget.minAvailable=1%',
        ],
        'podDisruptionBudget keeps 1 pod(s) available',
      ],
      [
        [...twoReplicaArgs, '--set', 'podDisruptionBudget.enabled=true', '--set', 'podDisruptionBudget.maxUnavailable=50%'],
        'podDisruptionBudget keeps 1 pod(s) available',
      ],
    ]
    for (const [args, message] of cases)
      t.ok((await helmFails(['template', 'r', chart, ...args])).includes(message), `${args.join(' ')}: ${message}`)
    const twoReplicas = objects(await helm(['template', 'r', chart, ...twoReplicaArgs]))
    t.equal(find(twoReplicas, 'Deployment', 'r-hookwise').spec.replicas, 2)
    // What the checks let through: budgets that let the leader go, and the bounds themselves.
    const allowed: Array<[string[], Record<string, unknown> | undefined]> = [
      [
        [...twoReplicaArgs, '--set', 'podDisruptionBudget.enabled=true', '--set', 'podDisruptionBudget.maxUnavailable=2'],
        { maxUnavailable: 2 },
      ],
      [
        [...twoReplicaArgs, '--set', 'podDisruptionBudget.enabled=true', '--set', 'podDisruptionBudget.maxUnavailable=100%'],
        { maxUnavailable: '100%' },
      ],
      [
        [
          '--set',
          'podDisruptionBudget.enabled=true',
          '--set',
          'podDisruptionBudget.maxUnavailable=null',
          '--set',
          'podDisruptionBudget.minAvailable=0',
        ],
        { minAvailable: 0 },
      ],
      [['--set', 'retry.maxBackoff=24h', '--set', 'leaderElection.leaseDuration=1000ms', '--set', 'statusInterval=1s'], undefined],
      [['--set', 'retry.maxBackoff=1.5h'], undefined],
    ]
    for (const [args, budget] of allowed) {
      const objs = objects(await helm(['template', 'r', chart, ...args]))
      if (budget) t.match(find(objs, 'PodDisruptionBudget', 'r-hookwise').spec, budget, args.join(' '))
      else t.ok(find(objs, 'Deployment', 'r-hookwise'), args.join(' '))
    }
  })

  await k.kubectl(['create', 'namespace', 'hookwise-system'])

  /** A kubeconfig for the chart's ServiceAccount, with a token from the TokenRequest API. */
  const serviceAccountKubeconfig = async (tt: TapTest, dir: string, namespace: string, sa: string): Promise<string> => {
    const token = (await k.kubectl(['create', 'token', sa, '-n', namespace, '--duration=1h'])).trim()
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'sa',
      clusters: [{ name: 'test', cluster: { server: cluster.server, 'certificate-authority': join(cluster.dir, 'pki', 'ca.crt') } }],
      users: [{ name: sa, user: { token } }],
      contexts: [{ name: 'sa', context: { cluster: 'test', user: sa } }],
    }
    const file = join(dir, 'kubeconfig.yaml')
    writeFileSync(file, stringify(config))
    const whoami = await k.kubectl(['--kubeconfig', file, 'auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'])
    tt.equal(whoami, `system:serviceaccount:${namespace}:${sa}`, "the kubeconfig authenticates as the chart's ServiceAccount")
    return file
  }

  /**
   * `hookwise run` with the installed Deployment's arguments, as a local process: only the paths
   * (state, intake token) and the listen address change, and --kubeconfig is the ServiceAccount's.
   */
  const runAsDeployment = async (
    tt: TapTest,
    release: string,
    namespace: string,
  ): Promise<{ url: string; token: string; lines: string[] }> => {
    const manifest = objects(await helm(['get', 'manifest', release, '-n', namespace]))
    const deployment = manifest.find((o) => o.kind === 'Deployment')!
    const pod = deployment.spec.template.spec
    const token = Buffer.from(
      JSON.parse(await k.kubectl(['get', 'secret', `${release}-hookwise-intake`, '-n', namespace, '-o', 'json'])).data.token,
      'base64',
    ).toString()
    const dir = tt.testdir({ token: `${token}\n` })
    const kubeconfig = await serviceAccountKubeconfig(tt, dir, namespace, pod.serviceAccountName)
    const args = (pod.containers[0].args as string[]).map((a) =>
      a
        .replace(/^--listen=.*/, '--listen=127.0.0.1:0')
        .replace(/^--state=.*/, `--state=${join(dir, 'state')}`)
        .replace(/^--intake-token-file=.*/, `--intake-token-file=${join(dir, 'token')}`),
    )
    const values = Object.fromEntries(
      (pod.containers[0].env as Array<{ name: string; value?: string }>).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]),
    )
    const p = startHookwise([...args, '--kubeconfig', kubeconfig], tt, {
      ...process.env,
      ...values,
      POD_NAME: `${release}-hookwise-7d9f-abcde`,
      POD_NAMESPACE: namespace,
    })
    return { url: await p.url(), token, lines: p.lines }
  }

  const post = async (url: string, token: string, body: unknown): Promise<number> => {
    const res = await request(`${url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    })
    await res.body.text()
    return res.statusCode
  }
  const manifests = (url: string): string => `apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {token: tok-1}
---
apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: hook}
spec:
  url: ${url}/hook
  accessToken: {secretKeyRef: {name: creds, key: token}}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: deploy}
spec:
  scope: {type: Registry, registry: model}
  event: {type: LINK_ARTIFACT}
  action: {webhook: hook, payloadTemplate: '{"event": "\${event_id}", "version": "\${artifact_version_string}"}'}
`
  const event = (id: string) => ({
    id,
    type: 'LINK_ARTIFACT',
    entity: 'acme',
    project: 'p',
    registry: 'model',
    collection: 'churn',
    artifact: { id: 'QQ==', name: 'churn', version: 'v7' },
  })
  const readyObject = (resource: string, ns: string, name: string) =>
    until(`${resource} ${ns}/${name} Ready`, async () => {
      const o = await k.get(resource, ns, name)
      return condition(o, 'Ready')?.status === 'True' && o?.status?.observedGeneration === o?.metadata.generation ? o : undefined
    })

  /** The whole flow, as seen from the cluster: status, delivery, Events, the test annotation, the Lease. */
  const flow = async (
    tt: TapTest,
    k: Kube,
    ns: string,
    run: { url: string; token: string; lines: string[] },
    leaseNamespace?: string,
    leaseName?: string,
  ): Promise<void> => {
    const receiver = await startReceiver(tt)
    await k.apply(manifests(receiver.url), ns)
    await readyObject('webhook', ns, 'hook')
    await readyObject('automation', ns, 'deploy')
    tt.equal(await post(run.url, run.token, event(`${ns}-1`)), 202)
    const [got] = await receiver.waitFor(1)
    tt.equal(got!.body, `{"event": "${ns}-1", "version": "acme/p/churn:v7"}`)
    tt.equal(got!.headers.authorization, 'Bearer tok-1', 'the Secret was read through the informer')
    const delivered = await until('status.lastDelivery', async () => {
      const o = await k.get('automation', ns, 'deploy')
      return o?.status?.lastDelivery?.outcome === 'Succeeded' ? o : undefined
    })
    tt.match(delivered.status, {
      lastDelivery: { outcome: 'Succeeded', statusCode: 200, attempts: 1 },
      counters: { triggered: 1, succeeded: 1, failed: 0 },
    })

    await k.apply(
      `apiVersion: hookwise.dev/v1alpha1\nkind: Webhook\nmetadata: {name: broken}\nspec:\n  url: ${receiver.url}/x\n  accessToken: {secretKeyRef: {name: missing, key: token}}\n`,
      ns,
    )
    tt.match(await until('a SecretNotFound Event', async () => (await k.events(ns)).find((e) => e.reason === 'SecretNotFound')), {
      type: 'Warning',
      regarding: { kind: 'Webhook', name: 'broken' },
      reportingController: 'hookwise.dev/controller',
    })

    await k.kubectl(['annotate', 'webhook', 'hook', '-n', ns, 'hookwise.dev/test-requested-at=1700000000', '--overwrite'])
    const tested = await until('status.lastTest', async () => {
      const o = await k.get('webhook', ns, 'hook')
      return o?.status?.lastTest?.requestedAt === '1700000000' ? o : undefined
    })
    tt.match(tested.status.lastTest, { statusCode: 200 })
    tt.match(await until('a TestSucceeded Event', async () => (await k.events(ns)).find((e) => e.reason === 'TestSucceeded')), {
      type: 'Normal',
    })

    if (leaseNamespace) {
      const lease = JSON.parse(await k.kubectl(['get', 'lease', leaseName!, '-n', leaseNamespace, '-o', 'json'])) as Obj
      tt.match(lease.spec.holderIdentity, /^[a-z0-9-]+-7d9f-abcde_[0-9a-f]{8}$/, "the chart's Lease is held by the controller")
      tt.equal(lease.metadata.labels!['app.kubernetes.io/managed-by'], 'Helm')
    }
    tt.notMatch(run.lines.join('\n'), /forbidden|\b403\b/i, 'no request was refused')
  }

  /** `kubectl auth can-i VERB RESOURCE` as the ServiceAccount: true for yes. */
  const can = async (subject: string, args: string[]): Promise<boolean> => {
    const r = await cluster.kubectl(['auth', 'can-i', ...args, `--as=${subject}`])
    if (r.stdout.trim() !== 'yes' && r.stdout.trim() !== 'no') throw new Error(`kubectl auth can-i ${args.join(' ')}: ${r.stderr}`)
    return r.stdout.trim() === 'yes'
  }
  const checkAll = async (tt: TapTest, subject: string, cases: Array<[string[], boolean]>): Promise<void> => {
    for (const [args, expected] of cases) tt.equal(await can(subject, args), expected, `${expected ? 'can' : 'cannot'} ${args.join(' ')}`)
  }
  /** `kubectl auth can-i --list` in a namespace as rows `resource | non-resource URLs | names | verbs`. */
  const canList = async (subject: string, namespace: string): Promise<string[]> =>
    (await k.kubectl(['auth', 'can-i', '--list', '-n', namespace, `--as=${subject}`]))
      .trim()
      .split('\n')
      .slice(1)
      .map((l) =>
        l
          .trim()
          .split(/\s{2,}/)
          .join(' | '),
      )
  /** The rules a subject has in a namespace beyond those every service account has (self reviews, discovery, ClusterTrustBundles). */
  const rulesIn = async (subject: string, namespace: string): Promise<string[]> => {
    const everyone = new Set(await canList('system:serviceaccount:elsewhere:nobody', namespace))
    return (await canList(subject, namespace)).filter((row) => !everyone.has(row)).sort()
  }

  t.test("cluster-wide install: the controller works as the chart's ServiceAccount, which may do nothing else", async (t) => {
    const install = await helm([
      'install',
      'hw',
      chart,
      '-n',
      'hookwise-system',
      '--set',
      'egress.allowInsecureHttp=true',
      '--set',
      'egress.allowCIDRs={127.0.0.0/8}',
      '--set',
      'leaderElection.leaseDuration=3s',
    ])
    t.match(install, /STATUS: deployed/)
    t.match(install, /kubectl -n hookwise-system port-forward service\/hw-hookwise 8080:8080/)
    t.match(install, /get secret hw-hookwise-intake -o jsonpath='\{\.data\.token\}'/)
    // NOTES step 1 waits for the one Ready replica (rollout status would wait for every replica,
    // and standbys are never Ready). No kubelet runs pods here: the leader's readiness is written
    // into the Deployment's status as the Deployment controller would.
    const wait =
      /^ *(kubectl -n hookwise-system wait deployment\/hw-hookwise --for=jsonpath='\{\.status\.readyReplicas\}'=1 --timeout=5m)$/m.exec(
        install,
      )
    t.ok(wait, 'NOTES: how to wait for the leader')
    await k.kubectl([
      'patch',
      'deployment',
      'hw-hookwise',
      '-n',
      'hookwise-system',
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{"replicas":2,"readyReplicas":1}}',
    ])
    const waited = await cluster.kubectl(
      wait![1]!
        .split(' ')
        .slice(1)
        .map((a) => a.replaceAll("'", '')),
    )
    t.same(
      [waited.code, waited.stdout.trim()],
      [0, 'deployment.apps/hw-hookwise condition met'],
      'the NOTES command returns once one replica is Ready',
    )

    // NOTES step 2's token command, run as printed, for an existing Secret whose key has a dot
    // and whose first line is a comment (the controller skips comment lines too).
    await k.kubectl([
      'create',
      'secret',
      'generic',
      'own-intake',
      '-n',
      'hookwise-system',
      '--from-literal=tokens.txt=# CI token\ntok-from-file\n',
    ])
    const notes = await helm([
      'install',
      'notes',
      chart,
      '-n',
      'hookwise-system',
      '--dry-run=server',
      '--set',
      'intake.existingSecret=own-intake',
      '--set',
      'intake.existingSecretKey=tokens.txt',
    ])
    const exportLine = /^ *(export HOOKWISE_INTAKE_TOKEN=.*)$/m.exec(notes)![1]!
    const printed = await runFile('bash', ['-c', `${exportLine}\nprintf %s "$HOOKWISE_INTAKE_TOKEN"`], {
      env: { ...cluster.env, PATH: `${dirname(cluster.tools.kubectl)}:${process.env.PATH}` },
    })
    t.equal(printed.stdout, 'tok-from-file', 'the NOTES command exports the first token of a key with a dot')
    await k.kubectl(['wait', '--for=condition=Established', 'crd/webhooks.hookwise.dev', 'crd/automations.hookwise.dev', '--timeout=60s'])
    await k.createNamespace('ml')
    const run = await runAsDeployment(t, 'hw', 'hookwise-system')
    await flow(t, k, 'ml', run, 'hookwise-system', 'hw-hookwise')

    // /metrics needs the intake token: a ServiceMonitor of this release sends the one in its credentials Secret.
    const monitor = find(
      objects(await helm(['template', 'hw', chart, '-n', 'hookwise-system', '--set', 'serviceMonitor.enabled=true'])),
      'ServiceMonitor',
      'hw-hookwise',
    )
    const { name, key } = monitor.spec.endpoints[0].authorization.credentials as { name: string; key: string }
    const secret = JSON.parse(await k.kubectl(['get', 'secret', name, '-n', 'hookwise-system', '-o', 'json']))
    const scrape = async (headers: Record<string, string>): Promise<[number, string]> => {
      const res = await request(`${run.url}/metrics`, { headers })
      return [res.statusCode, await res.body.text()]
    }
    const [status, metrics] = await scrape({ authorization: `Bearer ${Buffer.from(secret.data[key], 'base64').toString()}` })
    t.equal(status, 200, "the ServiceMonitor's token opens /metrics")
    t.match(metrics, /^hookwise_deliveries_total\{outcome="succeeded"\} 1$/m)
    t.equal((await scrape({}))[0], 401, 'without it: 401')

    const sa = 'system:serviceaccount:hookwise-system:hw-hookwise'
    await checkAll(t, sa, [
      [['list', 'webhooks.hookwise.dev', '-A'], true],
      [['watch', 'automations.hookwise.dev', '-A'], true],
      [['get', 'webhooks.hookwise.dev', '-n', 'ml'], false],
      [['patch', 'webhooks.hookwise.dev', '--subresource=status', '-n', 'ml'], true],
      [['patch', 'automations.hookwise.dev', '--subresource=status', '-n', 'ml'], true],
      [['update', 'webhooks.hookwise.dev', '--subresource=status', '-n', 'ml'], false],
      [['list', 'secrets', '-A'], true],
      [['watch', 'secrets', '-A'], true],
      [['get', 'secrets', '-n', 'ml'], false],
      [['create', 'events.events.k8s.io', '-n', 'ml'], true],
      [['patch', 'events.events.k8s.io', '-n', 'ml'], true],
      [['create', 'events', '-n', 'ml'], false],
      [['delete', 'events.events.k8s.io', '-n', 'ml'], false],
      [['get', 'leases/hw-hookwise', '-n', 'hookwise-system'], true],
      [['update', 'leases/hw-hookwise', '-n', 'hookwise-system'], true],
      [['create', 'leases', '-n', 'hookwise-system'], false],
      [['update', 'leases/other', '-n', 'hookwise-system'], false],
      [['get', 'leases/hw-hookwise', '-n', 'ml'], true],
      [['update', 'leases/hw-hookwise', '-n', 'ml'], false],
      [['list', 'namespaces'], false],
      ...(['update', 'patch', 'create', 'delete'].flatMap((verb) => [
        [[verb, 'webhooks.hookwise.dev', '-n', 'ml'], false],
        [[verb, 'automations.hookwise.dev', '-n', 'ml'], false],
      ]) as Array<[string[], boolean]>),
      [['update', 'secrets', '-n', 'ml'], false],
      [['delete', 'customresourcedefinitions.apiextensions.k8s.io'], false],
      [['list', 'pods', '-n', 'ml'], false],
      [['get', 'configmaps', '-n', 'ml'], false],
      [['create', 'deployments', '-n', 'hookwise-system'], false],
      [['list', 'serviceaccounts', '-n', 'ml'], false],
    ])
    t.same(
      await rulesIn(sa, 'ml'),
      [
        'automations.hookwise.dev | [] | [] | [list watch]',
        'automations.hookwise.dev/status | [] | [] | [patch]',
        'events.events.k8s.io | [] | [] | [create patch]',
        'eventsources.hookwise.dev | [] | [] | [list watch]',
        'eventsources.hookwise.dev/status | [] | [] | [patch]',
        'leases.coordination.k8s.io | [] | [] | [get]',
        'secrets | [] | [] | [list watch]',
        'webhooks.hookwise.dev | [] | [] | [list watch]',
        'webhooks.hookwise.dev/status | [] | [] | [patch]',
      ],
      'kubectl auth can-i --list: exactly these rules in a watched namespace',
    )
  })

  t.test('namespaced install with tenancy: Roles in the watched namespaces only; nothing outside them', async (t) => {
    for (const ns of ['team-a', 'team-b', 'team-other'])
      await k.createNamespace(ns, ns === 'team-a' ? 'annotations: {hookwise.dev/entities: acme}\n' : '')
    await k.kubectl(['create', 'namespace', 'hw-teams'])
    await helm([
      'install',
      'teams',
      chart,
      '-n',
      'hw-teams',
      '--set',
      'watchNamespaces={team-a,team-b}',
      '--set',
      'tenancy=namespace-label',
      '--set',
      'egress.allowInsecureHttp=true',
      '--set',
      'egress.allowCIDRs={127.0.0.0/8}',
    ])
    const run = await runAsDeployment(t, 'teams', 'hw-teams')
    await flow(t, k, 'team-a', run, 'hw-teams', 'teams-hookwise')

    const sa = 'system:serviceaccount:hw-teams:teams-hookwise'
    await checkAll(t, sa, [
      [['list', 'secrets', '-n', 'team-a'], true],
      [['list', 'secrets', '-n', 'team-b'], true],
      [['list', 'secrets', '-n', 'team-other'], false],
      [['list', 'secrets', '-n', 'hw-teams'], false],
      [['list', 'secrets', '-A'], false],
      [['list', 'webhooks.hookwise.dev', '-n', 'team-other'], false],
      [['list', 'webhooks.hookwise.dev', '-A'], false],
      [['patch', 'automations.hookwise.dev', '--subresource=status', '-n', 'team-other'], false],
      [['create', 'events.events.k8s.io', '-n', 'team-other'], false],
      [['list', 'namespaces/team-a'], true],
      [['watch', 'namespaces/team-b'], true],
      [['list', 'namespaces/team-other'], false],
      [['list', 'namespaces'], false],
      [['get', 'namespaces/team-a'], false],
      [['update', 'leases/teams-hookwise', '-n', 'hw-teams'], true],
      [['update', 'leases/hw-hookwise', '-n', 'hookwise-system'], false],
      [['patch', 'webhooks.hookwise.dev', '-n', 'team-a'], false],
      [['update', 'automations.hookwise.dev', '-n', 'team-a'], false],
      [['list', 'pods', '-n', 'team-a'], false],
      [['get', 'configmaps', '-n', 'team-a'], false],
    ])
    t.same(
      await rulesIn(sa, 'team-other'),
      ['namespaces | [] | [team-a] | [list watch]', 'namespaces | [] | [team-b] | [list watch]'],
      'kubectl auth can-i --list: in a namespace not watched, only the (cluster-scoped) watched Namespaces by name',
    )
    t.same(await rulesIn(sa, 'team-a'), [
      'automations.hookwise.dev | [] | [] | [list watch]',
      'automations.hookwise.dev/status | [] | [] | [patch]',
      'events.events.k8s.io | [] | [] | [create patch]',
      'eventsources.hookwise.dev | [] | [] | [list watch]',
      'eventsources.hookwise.dev/status | [] | [] | [patch]',
      'leases.coordination.k8s.io | [] | [] | [get]',
      'namespaces | [] | [team-a] | [list watch]',
      'namespaces | [] | [team-b] | [list watch]',
      'secrets | [] | [] | [list watch]',
      'webhooks.hookwise.dev | [] | [] | [list watch]',
      'webhooks.hookwise.dev/status | [] | [] | [patch]',
    ])
    t.same(
      await rulesIn(sa, 'hw-teams'),
      [
        'leases.coordination.k8s.io | [] | [teams-hookwise] | [get update]',
        'namespaces | [] | [team-a] | [list watch]',
        'namespaces | [] | [team-b] | [list watch]',
      ],
      'in its own namespace: the Lease by name, and not the intake Secret',
    )
  })

  t.test(
    'helm upgrade keeps the intake token and removes what the new values drop; uninstall leaves no object behind but the CRDs',
    async (t) => {
      const secret = async () =>
        JSON.parse(await k.kubectl(['get', 'secret', 'teams-hookwise-intake', '-n', 'hw-teams', '-o', 'json'])).data.token as string
      const before = await secret()
      const owned = async (release: string): Promise<Obj[]> =>
        (
          JSON.parse(
            await k.kubectl([
              'get',
              'deployments,services,serviceaccounts,secrets,persistentvolumeclaims,leases,roles,rolebindings,clusterroles,clusterrolebindings,networkpolicies,poddisruptionbudgets',
              '-A',
              '-l',
              `app.kubernetes.io/instance=${release}`,
              '-o',
              'json',
            ]),
          ) as { items: Obj[] }
        ).items
      const names = (objs: Obj[]) =>
        objs.map((o) => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`).sort()
      t.same(names(await owned('teams')), [
        'ClusterRole teams-hookwise-namespaces',
        'ClusterRoleBinding teams-hookwise-namespaces',
        'Deployment hw-teams/teams-hookwise',
        'Lease hw-teams/teams-hookwise',
        'PersistentVolumeClaim hw-teams/teams-hookwise-state',
        'Role hw-teams/teams-hookwise-leader-election',
        'Role team-a/teams-hookwise',
        'Role team-b/teams-hookwise',
        'RoleBinding hw-teams/teams-hookwise-leader-election',
        'RoleBinding team-a/teams-hookwise',
        'RoleBinding team-b/teams-hookwise',
        'Secret hw-teams/teams-hookwise-intake',
        'Service hw-teams/teams-hookwise',
        'ServiceAccount hw-teams/teams-hookwise',
      ])
      const holder = JSON.parse(await k.kubectl(['get', 'lease', 'teams-hookwise', '-n', 'hw-teams', '-o', 'json'])).spec
        .holderIdentity as string

      const upgraded = await helm([
        'upgrade',
        'teams',
        chart,
        '-n',
        'hw-teams',
        '--reuse-values',
        '--set',
        'watchNamespaces={team-a}',
        '--set',
        'tenancy=none',
        '--set',
        'logLevel=debug',
        '--set',
        'networkPolicy.enabled=true',
        '--set',
        'networkPolicy.egress.apiServer.cidrs={10.0.0.1/32}',
      ])
      t.match(upgraded, /REVISION: 2/)
      t.equal(await secret(), before, 'the generated intake token survives the upgrade')
      t.same(
        names(await owned('teams')),
        [
          'Deployment hw-teams/teams-hookwise',
          'Lease hw-teams/teams-hookwise',
          'NetworkPolicy hw-teams/teams-hookwise',
          'PersistentVolumeClaim hw-teams/teams-hookwise-state',
          'Role hw-teams/teams-hookwise-leader-election',
          'Role team-a/teams-hookwise',
          'RoleBinding hw-teams/teams-hookwise-leader-election',
          'RoleBinding team-a/teams-hookwise',
          'Secret hw-teams/teams-hookwise-intake',
          'Service hw-teams/teams-hookwise',
          'ServiceAccount hw-teams/teams-hookwise',
        ],
        "team-b's Role and the namespaces ClusterRole are gone",
      )
      t.equal(
        JSON.parse(await k.kubectl(['get', 'lease', 'teams-hookwise', '-n', 'hw-teams', '-o', 'json'])).spec.holderIdentity,
        holder,
        "the upgrade leaves the Lease's holder alone",
      )
      t.match((await k.get('deployment', 'hw-teams', 'teams-hookwise'))!.spec.template.spec.containers[0].args, [
        'run',
        '--kubernetes',
        String,
        String,
        String,
        '--log-level=debug',
        '--namespace=team-a',
        '--tenancy=none',
      ])

      for (const release of [
        ['teams', 'hw-teams'],
        ['hw', 'hookwise-system'],
      ] as const) {
        t.match(await helm(['uninstall', release[0], '-n', release[1]]), /uninstalled/)
        // Without a controller-manager nothing removes the PVC's protection finalizer: it stays
        // Terminating here, as it would in a cluster only until no pod uses it.
        const left = (await owned(release[0])).filter(
          (o) =>
            !(
              o.kind === 'PersistentVolumeClaim' &&
              o.metadata.deletionTimestamp &&
              o.metadata.finalizers?.join() === 'kubernetes.io/pvc-protection'
            ),
        )
        t.same(names(left), [], `nothing of ${release[0]} is left`)
      }
      t.same(
        (JSON.parse(await k.kubectl(['get', 'crd', '-o', 'json'])) as { items: Obj[] }).items.map((o) => o.metadata.name).sort(),
        ['automations.hookwise.dev', 'eventsources.hookwise.dev', 'webhooks.hookwise.dev'],
        'the CRDs stay, as Helm keeps crds/',
      )
      t.equal((await k.list('automations', 'ml')).length, 1, "and so do the users' objects")
      t.same(JSON.parse(await helm(['list', '-A', '-o', 'json'])), [])
    },
  )
}
