// The Webhooks and Automations in a cluster, listed (never written) through the Kubernetes API and
// validated like a folder: the cluster side of `hookwise diff --kubernetes`. Secrets are not read.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node'
import { API_GROUP, API_VERSION } from '../api/schemas.js'
import { HookwiseError } from '../errors.js'
import { validateObjects } from '../reconcile/validate.js'
import type { RevisionState } from '../sources/revision-state.js'
import { toManifestObject, type ClusterObject } from './cluster-object.js'
import { apiErrorMessage, apiStatusCode } from './api-error.js'

const PLURALS = ['webhooks', 'automations'] as const
const PAGE_SIZE = 500

/** The namespaces to read, or `all` of them. */
export type NamespaceScope = readonly string[] | 'all'

interface ListTarget {
  plural: (typeof PLURALS)[number]
  /** Absent: every namespace. */
  namespace?: string
}

interface ListPage {
  items?: ClusterObject[]
  metadata?: { continue?: string }
}

/** The Webhooks and Automations of `scope`, as manifest objects (no file), validated. */
export async function readClusterRevision(kc: KubeConfig, scope: NamespaceScope): Promise<RevisionState> {
  const api = kc.makeApiClient(CustomObjectsApi)
  const server = kc.getCurrentCluster()?.server ?? 'the API server'
  const targets: ListTarget[] =
    scope === 'all' ? PLURALS.map((plural) => ({ plural })) : scope.flatMap((namespace) => PLURALS.map((plural) => ({ plural, namespace })))
  const lists = await Promise.allSettled(targets.map((target) => listAll(api, target, server)))
  // The first failure in target order, not in time, so the same problem gives the same message.
  const failed = lists.find((l) => l.status === 'rejected')
  if (failed) throw failed.reason
  const objects = lists.flatMap((l) => (l.status === 'fulfilled' ? l.value : [])).map(toManifestObject)
  return { state: validateObjects(objects), objects }
}

async function listAll(api: CustomObjectsApi, target: ListTarget, server: string): Promise<ClusterObject[]> {
  const items: ClusterObject[] = []
  let cont: string | undefined
  do {
    const request = {
      group: API_GROUP,
      version: API_VERSION,
      plural: target.plural,
      limit: PAGE_SIZE,
      ...(cont ? { _continue: cont } : {}),
    }
    let page: ListPage
    try {
      page = (await (target.namespace === undefined
        ? api.listClusterCustomObject(request)
        : api.listNamespacedCustomObject({ ...request, namespace: target.namespace }))) as ListPage
    } catch (err) {
      throw listFailed(err, target, server)
    }
    items.push(...(page.items ?? []))
    cont = page.metadata?.continue || undefined
  } while (cont)
  return items
}

/** Why a list failed, and what to do about it. */
function listFailed(err: unknown, target: ListTarget, server: string): HookwiseError {
  const resource = `${target.plural}.${API_GROUP}`
  const where = target.namespace === undefined ? 'in all namespaces' : `in namespace ${target.namespace}`
  const detail = apiErrorMessage(err)
  const options = (hint: string) => ({ hint, cause: err })
  switch (apiStatusCode(err)) {
    case undefined:
      return new HookwiseError(
        'HW_KUBERNETES_API',
        `cannot reach the Kubernetes API server at ${server}: ${detail}`,
        options('check that the cluster is up and that the kubeconfig points at it (kubectl cluster-info), or pass --kubeconfig FILE'),
      )
    case 401:
      return new HookwiseError(
        'HW_KUBERNETES_API',
        `the Kubernetes API server at ${server} did not accept the kubeconfig's credentials: ${detail}`,
        options('log in to the cluster again (the credentials may have expired), or pass --kubeconfig FILE'),
      )
    case 403:
      return new HookwiseError(
        'HW_KUBERNETES_API',
        `you may not list ${resource} ${where}: ${detail}`,
        options(
          `hookwise diff needs the verb list on webhooks.${API_GROUP} and automations.${API_GROUP}${target.namespace === undefined ? ' in the whole cluster; or name the namespaces with --namespace NS instead of --all-namespaces' : ` in namespace ${target.namespace}`}; ask an administrator for a Role (or ClusterRole) that grants it`,
        ),
      )
    case 404:
      return new HookwiseError(
        'HW_KUBERNETES_API',
        `the cluster at ${server} does not serve ${resource}/${API_VERSION}: the hookwise CRDs are not installed (${detail})`,
        options('install them with kubectl apply -f crds/ (or the Helm chart), or point --kubeconfig at the cluster that has them'),
      )
    default:
      return new HookwiseError(
        'HW_KUBERNETES_API',
        `listing ${resource} ${where} at ${server} failed: ${detail}`,
        options('try again; if it keeps failing, check the API server (kubectl get --raw /readyz)'),
      )
  }
}
