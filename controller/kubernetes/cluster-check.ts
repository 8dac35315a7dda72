// `hookwise check`, as `flux check`: whether a cluster is ready for hookwise and what stands in the
// way. Reads only (and asks SelfSubjectAccessReviews): the API server, the CRDs against those this
// hookwise ships, the current identity's permissions, the running controllers (their Leases) and
// the namespaces they watch, objects nobody reconciles, and Secrets referenced but missing. Secret
// values are never read into the report: key names only.
import {
  ApiextensionsV1Api,
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  VersionApi,
  type KubeConfig,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node'
import { API_GROUP } from '../api/schemas.js'
import { jsonEqual } from '../model/json-equal.js'
import { apiErrorMessage, apiStatusCode } from './api-error.js'
import { API_VERSION } from './cluster-source.js'
import { WATCHES_ANNOTATION } from './leader-election.js'

export type CheckLevel = 'ok' | 'warning' | 'error'

export interface CheckFinding {
  /** Which check: api-server, crds, rbac, controllers, namespaces, secrets. */
  check: string
  level: CheckLevel
  message: string
  hint?: string
}

export interface CheckReport {
  ok: boolean
  context: string
  server: string
  findings: CheckFinding[]
}

export interface CheckOptions {
  kubeConfig: KubeConfig
  /** The CRDs this hookwise ships (crds/), to compare with the installed ones. */
  expectedCrds: readonly V1CustomResourceDefinition[]
  /** Namespaces to check (as `run --kubernetes --namespace`); none: the whole cluster. */
  namespaces?: readonly string[]
  now?: () => number
}

/** What `hookwise run --kubernetes` needs (docs/kubernetes.md#permissions), checked with SelfSubjectAccessReviews. */
const NEEDED: ReadonlyArray<{ group: string; resource: string; subresource?: string; verbs: string[] }> = [
  { group: API_GROUP, resource: 'webhooks', verbs: ['list', 'watch'] },
  { group: API_GROUP, resource: 'automations', verbs: ['list', 'watch'] },
  { group: API_GROUP, resource: 'eventsources', verbs: ['list', 'watch'] },
  { group: API_GROUP, resource: 'webhooks', subresource: 'status', verbs: ['patch'] },
  { group: API_GROUP, resource: 'automations', subresource: 'status', verbs: ['patch'] },
  { group: API_GROUP, resource: 'eventsources', subresource: 'status', verbs: ['patch'] },
  { group: '', resource: 'secrets', verbs: ['list', 'watch'] },
  { group: 'events.k8s.io', resource: 'events', verbs: ['create', 'patch'] },
  { group: 'coordination.k8s.io', resource: 'leases', verbs: ['get', 'create', 'update'] },
]

interface Controller {
  lease: string
  holder: string
  /** Namespaces watched; undefined: every namespace. */
  watches: string[] | undefined
}

interface HookwiseObject {
  kind: 'Webhook' | 'Automation'
  metadata?: { name?: string; namespace?: string }
  spec?: {
    accessToken?: { secretKeyRef?: { name?: string; key?: string } }
    secrets?: Array<{ name?: string; secretKeyRef?: { name?: string; key?: string } }>
  }
  status?: { controller?: string }
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`

export async function checkCluster(o: CheckOptions): Promise<CheckReport> {
  const kc = o.kubeConfig
  const findings: CheckFinding[] = []
  const add = (check: string, level: CheckLevel, message: string, hint?: string): void => {
    findings.push({ check, level, message, ...(hint ? { hint } : {}) })
  }
  const report = (): CheckReport => ({
    ok: !findings.some((f) => f.level === 'error'),
    context: kc.getCurrentContext(),
    server: kc.getCurrentCluster()?.server ?? '',
    findings,
  })
  const scope = o.namespaces?.length ? [...o.namespaces] : undefined
  const inScope = (ns: string): boolean => !scope || scope.includes(ns)

  // The API server: nothing else can be checked without it.
  try {
    const version = await kc.makeApiClient(VersionApi).getCode()
    add('api-server', 'ok', `${kc.getCurrentCluster()?.server ?? ''} answers (Kubernetes ${version.gitVersion})`)
  } catch (err) {
    add(
      'api-server',
      'error',
      `cannot reach the API server ${kc.getCurrentCluster()?.server ?? ''} of context ${kc.getCurrentContext()}: ${apiErrorMessage(err)}`,
      'start the cluster (without one: npm run k8s:up), or pass --kubeconfig',
    )
    return report()
  }

  // The CRDs, against those this hookwise ships.
  const crdApi = kc.makeApiClient(ApiextensionsV1Api)
  const crdsReady = new Set<string>()
  for (const expected of o.expectedCrds) {
    const name = expected.metadata?.name ?? ''
    let installed: V1CustomResourceDefinition
    try {
      installed = await crdApi.readCustomResourceDefinition({ name })
    } catch (err) {
      const missing = apiStatusCode(err) === 404
      add(
        'crds',
        'error',
        missing ? `CRD ${name} is not installed` : `cannot read CRD ${name}: ${apiErrorMessage(err)}`,
        missing ? 'kubectl apply --server-side -f crds/' : 'check with an identity that may read CustomResourceDefinitions',
      )
      continue
    }
    const served = installed.spec.versions.find((v) => v.name === API_VERSION && v.served)
    const want = expected.spec.versions.find((v) => v.name === API_VERSION)
    const established = installed.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')
    if (!served) {
      add('crds', 'error', `CRD ${name} does not serve ${API_GROUP}/${API_VERSION}`, 'kubectl apply --server-side -f crds/')
    } else if (
      !jsonEqual(fields(served.schema?.openAPIV3Schema), fields(want?.schema?.openAPIV3Schema)) ||
      !jsonEqual(columns(served), columns(want))
    ) {
      add(
        'crds',
        'error',
        `CRD ${name} is another version than this hookwise's (its schema or columns differ)`,
        'apply the CRDs of this version: kubectl apply --server-side -f crds/ (Helm never upgrades CRDs)',
      )
    } else if (!established) {
      add('crds', 'error', `CRD ${name} is not Established yet`, `kubectl wait --for=condition=Established crd/${name}`)
    } else {
      add('crds', 'ok', `CRD ${name} serves ${API_VERSION} and matches this hookwise`)
      crdsReady.add(expected.spec.names.plural)
    }
  }

  // What the current identity may do, where a controller run with it would need it.
  const authz = kc.makeApiClient(AuthorizationV1Api)
  const leaseNamespace = scope?.[0] ?? 'default'
  const missing: string[] = []
  for (const need of NEEDED) {
    const namespaces = need.resource === 'leases' ? [leaseNamespace] : (scope ?? [''])
    for (const namespace of namespaces) {
      for (const verb of need.verbs) {
        const review = await authz.createSelfSubjectAccessReview({
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: {
              resourceAttributes: {
                group: need.group,
                resource: need.resource,
                verb,
                ...(need.subresource ? { subresource: need.subresource } : {}),
                ...(namespace ? { namespace } : {}),
              },
            },
          },
        })
        if (review.status?.allowed) continue
        const what = `${need.resource}${need.subresource ? `/${need.subresource}` : ''}${need.group ? `.${need.group}` : ''}`
        missing.push(`${verb} ${what} ${namespace ? `in namespace ${namespace}` : 'in every namespace'}`)
      }
    }
  }
  if (missing.length)
    for (const m of missing)
      add(
        'rbac',
        'error',
        `this identity may not ${m}, which hookwise run --kubernetes needs`,
        'grant it (docs/kubernetes.md#permissions; the Helm chart grants exactly these), or check with the kubeconfig the controller uses',
      )
  else
    add('rbac', 'ok', `this identity may do all hookwise run --kubernetes needs ${scope ? `in ${scope.join(', ')}` : 'in every namespace'}`)

  // Running controllers: the Leases they hold, and what they watch.
  const now = (o.now ?? Date.now)()
  const controllers: Controller[] = []
  let leasesRead = true
  try {
    const leases = await kc.makeApiClient(CoordinationV1Api).listLeaseForAllNamespaces()
    for (const lease of leases.items) {
      const watches = lease.metadata?.annotations?.[WATCHES_ANNOTATION]
      if (watches === undefined) continue
      const holder = lease.spec?.holderIdentity
      const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : NaN
      if (!holder || !(renewed + (lease.spec?.leaseDurationSeconds ?? 0) * 1000 > now)) continue
      controllers.push({
        lease: `${lease.metadata?.namespace}/${lease.metadata?.name}`,
        holder,
        watches: watches === '*' ? undefined : watches.split(',').filter(Boolean),
      })
    }
  } catch (err) {
    leasesRead = false
    add('controllers', 'warning', `cannot list Leases to find running controllers: ${apiErrorMessage(err)}`)
  }
  for (const c of controllers)
    add(
      'controllers',
      'ok',
      `controller ${c.lease} runs (held by ${c.holder}) and watches ${c.watches ? c.watches.join(', ') : 'every namespace'}`,
    )
  for (const [i, a] of controllers.entries()) {
    for (const b of controllers.slice(i + 1)) {
      const shared = !a.watches
        ? (b.watches ?? ['every namespace'])
        : !b.watches
          ? a.watches
          : a.watches.filter((n) => b.watches!.includes(n))
      if (shared.length)
        add(
          'controllers',
          'warning',
          `controllers ${a.lease} and ${b.lease} both watch ${shared.join(', ')}: each object stays with the first that wrote its status`,
          'stop one of them (docs/kubernetes.md#one-controller-per-object)',
        )
    }
  }
  if (leasesRead && controllers.length === 0)
    add(
      'controllers',
      'error',
      'no hookwise controller is running (none holds a Lease)',
      'start one: hookwise run --kubernetes, or install the Helm chart (a controller run with --no-leader-elect has no Lease and is not seen)',
    )

  // Objects: in a namespace no running controller watches, or written by one that is gone.
  const custom = kc.makeApiClient(CustomObjectsApi)
  const objects: HookwiseObject[] = []
  for (const [kind, resource] of [
    ['Webhook', 'webhooks'],
    ['Automation', 'automations'],
  ] as const) {
    if (!crdsReady.has(resource)) continue
    try {
      const lists = scope
        ? await Promise.all(
            scope.map((namespace) =>
              custom.listNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace, plural: resource }),
            ),
          )
        : [await custom.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural: resource })]
      for (const list of lists) for (const item of (list as { items: HookwiseObject[] }).items) objects.push({ ...item, kind })
    } catch (err) {
      add('namespaces', 'warning', `cannot list ${resource}: ${apiErrorMessage(err)}`)
    }
  }
  if (leasesRead && controllers.length > 0) {
    const watched = (ns: string): boolean => controllers.some((c) => !c.watches || c.watches.includes(ns))
    const unwatched = new Map<string, HookwiseObject[]>()
    for (const obj of objects) {
      const ns = obj.metadata?.namespace ?? ''
      if (!watched(ns)) unwatched.set(ns, [...(unwatched.get(ns) ?? []), obj])
    }
    for (const [ns, list] of [...unwatched].sort(([a], [b]) => a.localeCompare(b))) {
      const names = list.map((x) => `${x.kind} ${x.metadata?.name}`).join(', ')
      add(
        'namespaces',
        'error',
        `namespace ${ns} is watched by no running controller, so its objects are never reconciled (READY stays empty): ${names}`,
        `add --namespace ${ns} to the controller's arguments (Helm: watchNamespaces), or move the objects to a watched namespace`,
      )
    }
    if (unwatched.size === 0)
      add('namespaces', 'ok', `every namespace with hookwise objects is watched (${plural(objects.length, 'object')})`)
    const running = new Set(controllers.map((c) => c.lease))
    const stale = new Map<string, number>()
    for (const obj of objects) {
      const by = obj.status?.controller
      if (by && !running.has(by)) stale.set(by, (stale.get(by) ?? 0) + 1)
    }
    for (const [by, n] of stale)
      add(
        'controllers',
        'warning',
        `${plural(n, 'object')} last written by controller ${by}, which no longer runs: another controller takes them over`,
      )
  }

  // Secrets that Webhooks refer to.
  const core = kc.makeApiClient(CoreV1Api)
  const secretKeys = new Map<string, Map<string, string[]>>()
  const problems: string[] = []
  for (const obj of objects) {
    if (obj.kind !== 'Webhook') continue
    const ns = obj.metadata?.namespace ?? ''
    if (!inScope(ns)) continue
    if (!secretKeys.has(ns)) {
      try {
        const list = await core.listNamespacedSecret({ namespace: ns })
        // Key names only: the values are dropped at once.
        secretKeys.set(ns, new Map(list.items.map((s) => [s.metadata?.name ?? '', Object.keys({ ...s.data, ...s.stringData }).sort()])))
      } catch (err) {
        add('secrets', 'warning', `cannot list the Secrets of namespace ${ns}: ${apiErrorMessage(err)}`)
        secretKeys.set(ns, new Map())
        continue
      }
    }
    const refs = [
      ...(obj.spec?.accessToken?.secretKeyRef ? [obj.spec.accessToken.secretKeyRef] : []),
      ...(obj.spec?.secrets ?? []).map((s) => s.secretKeyRef ?? {}),
    ]
    for (const ref of refs) {
      const keys = secretKeys.get(ns)!.get(ref.name ?? '')
      const who = `Webhook ${ns}/${obj.metadata?.name}`
      if (!keys) problems.push(`${who} refers to Secret ${ns}/${ref.name}, which does not exist`)
      else if (!keys.includes(ref.key ?? ''))
        problems.push(
          `${who} refers to key \`${ref.key}\` of Secret ${ns}/${ref.name}, which has ${keys.length ? `keys ${keys.map((k) => `\`${k}\``).join(', ')}` : 'no keys'}`,
        )
    }
  }
  for (const p of problems)
    add(
      'secrets',
      'error',
      p,
      'create the Secret or key (kubectl -n NAMESPACE create secret generic NAME --from-literal=KEY=VALUE), or fix the secretKeyRef',
    )
  if (!problems.length && objects.some((x) => x.kind === 'Webhook'))
    add('secrets', 'ok', 'every Secret and key the Webhooks refer to exists')

  return report()
}

/**
 * Every field path of a schema with its type, sorted: what tells two versions of the CRDs apart.
 * (The client's typed CRD renames keywords such as x-kubernetes-list-type, so schemas are not compared whole.)
 */
function fields(schema: unknown, at = '', out: string[] = []): string[] {
  const node = schema as { type?: string; properties?: Record<string, unknown>; items?: unknown } | undefined
  if (!node || typeof node !== 'object') return out
  out.push(`${at}:${node.type ?? ''}`)
  for (const [k, v] of Object.entries(node.properties ?? {})) fields(v, `${at}.${k}`, out)
  if (node.items) fields(node.items, `${at}[]`, out)
  return at === '' ? out.sort() : out
}

function columns(v: { additionalPrinterColumns?: Array<{ name: string; jsonPath: string; priority?: number }> } | undefined): unknown {
  return (v?.additionalPrinterColumns ?? []).map((c) => [c.name, c.jsonPath, c.priority ?? 0])
}
