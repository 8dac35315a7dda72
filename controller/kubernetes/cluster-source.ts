// Desired state from the cluster: informers on Webhooks, Automations, EventSources, the Secrets of the watched
// namespaces (and, with namespace tenancy, the Namespaces), turned into the same DesiredState as a
// folder gives. Every change rebuilds the state (debounced); objects are reconciled against a state
// that already holds them, never against one built before they changed. A change of a Webhook's or
// Automation's status alone (hookwise's own writes) changes nothing hookwise reads, so it rebuilds
// nothing.
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Namespace,
  type V1Secret,
} from '@kubernetes/client-node'
import { API_GROUP } from '../api/schemas.js'
import type { Logger } from '../log.js'
import { objectKey, type DesiredState, type SecretEntry } from '../model/desired-state.js'
import type { ManifestObject } from '../model/manifest-object.js'
import type { SecretLookup } from '../model/secrets.js'
import { ValidationCache, validateObjects } from '../reconcile/validate.js'
import { emptyState, type DesiredStateSource } from '../sources/desired-state-source.js'
import { clusterSource, toManifestObject, type ClusterObject } from './cluster-object.js'
import { startInformer, type Informer } from './informer.js'

export const API_VERSION = 'v1alpha1'
/** Annotation (or label) of a Namespace listing the entities whose events it receives (--tenancy=namespace-label). */
export const ENTITIES_KEY = `${API_GROUP}/entities`
/** Secrets hookwise never needs: leaving them out keeps the cache small. */
const SECRET_FIELD_SELECTOR = 'type!=kubernetes.io/service-account-token,type!=helm.sh/release.v1'

export type Tenancy = 'none' | 'namespace-label'
export type ResourceKind = 'Webhook' | 'Automation' | 'EventSource'

export interface KubernetesSourceOptions {
  kubeConfig: KubeConfig
  /** Namespaces watched; empty: all. */
  namespaces: readonly string[]
  tenancy: Tenancy
  log: Logger
  debounceMs?: number
}

/** What the source tells the status writer (attached once it may act: a standby watches without it). */
export interface SourceHandlers {
  /** A new desired state (after changes settle for debounceMs), called after start's onState got it. */
  onState: (state: DesiredState) => void
  /** An object was deleted. (Other changes come as a new state, after which every object is reconciled.) */
  onDeleted: (kind: ResourceKind, key: string) => void
}

type CustomObject = ClusterObject & KubernetesObject

export class KubernetesSource implements DesiredStateSource {
  private readonly webhooks: Informer<CustomObject>
  private readonly automations: Informer<CustomObject>
  private readonly eventSources: Informer<CustomObject>
  private readonly secrets: Informer<V1Secret>
  private readonly namespaceObjects: Informer<V1Namespace> | undefined
  private timer: NodeJS.Timeout | undefined
  private current: DesiredState = emptyState()
  private readonly decoded = new Map<string, { version: string; entry: SecretEntry }>()
  /** What of each Webhook and Automation the state is built from: its identity, spec generation, labels and annotations. */
  private readonly inputs = new Map<string, string>()
  private stopped = false
  /**
   * Each object as the manifest object last made of it, with what it was made from (its input, as
   * in `inputs`): while that is unchanged (a status write gives the informer a new copy, not a new
   * input), validation's cache recognises the object, so a change re-validates and re-compiles only
   * the objects that changed (issue 22).
   */
  private manifests = new Map<string, { input: string; object: ManifestObject }>()
  private readonly validation = new ValidationCache()
  private handlers: SourceHandlers | undefined
  private onState: ((state: DesiredState) => void) | undefined
  private listed = false

  constructor(private readonly o: KubernetesSourceOptions) {
    const custom = o.kubeConfig.makeApiClient(CustomObjectsApi)
    const core = o.kubeConfig.makeApiClient(CoreV1Api)
    const namespaces = o.namespaces.length ? o.namespaces : [undefined]
    const customSources = (plural: string) =>
      namespaces.map((namespace) => ({
        path: namespace
          ? `/apis/${API_GROUP}/${API_VERSION}/namespaces/${namespace}/${plural}`
          : `/apis/${API_GROUP}/${API_VERSION}/${plural}`,
        list: () =>
          (namespace
            ? custom.listNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace, plural })
            : custom.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural })) as Promise<
            KubernetesListObject<CustomObject>
          >,
      }))
    const changed = (kind: ResourceKind) => (type: string, obj: CustomObject) => {
      const key = objectKey(obj.metadata?.namespace ?? '', obj.metadata?.name ?? '')
      const inputKey = `${kind}/${key}`
      if (type === 'delete') {
        this.inputs.delete(inputKey)
        this.handlers?.onDeleted(kind, key)
        return this.schedule()
      }
      const input = inputOf(obj)
      if (type === 'update' && this.inputs.get(inputKey) === input) return
      this.inputs.set(inputKey, input)
      this.schedule()
    }
    this.webhooks = startInformer(o.kubeConfig, {
      resource: 'webhooks',
      sources: customSources('webhooks'),
      onChange: changed('Webhook'),
      log: o.log,
    })
    this.automations = startInformer(o.kubeConfig, {
      resource: 'automations',
      sources: customSources('automations'),
      onChange: changed('Automation'),
      log: o.log,
    })
    this.eventSources = startInformer(o.kubeConfig, {
      resource: 'eventsources',
      sources: customSources('eventsources'),
      onChange: changed('EventSource'),
      log: o.log,
    })
    this.secrets = startInformer<V1Secret>(o.kubeConfig, {
      resource: 'secrets',
      sources: namespaces.map((namespace) => ({
        path: namespace ? `/api/v1/namespaces/${namespace}/secrets` : '/api/v1/secrets',
        fieldSelector: SECRET_FIELD_SELECTOR,
        list: () =>
          namespace
            ? core.listNamespacedSecret({ namespace, fieldSelector: SECRET_FIELD_SELECTOR })
            : core.listSecretForAllNamespaces({ fieldSelector: SECRET_FIELD_SELECTOR }),
      })),
      onChange: () => this.schedule(),
      log: o.log,
    })
    if (o.tenancy === 'namespace-label') {
      this.namespaceObjects = startInformer<V1Namespace>(o.kubeConfig, {
        resource: 'namespaces',
        sources: namespaces.map((namespace) =>
          namespace
            ? {
                path: '/api/v1/namespaces',
                fieldSelector: `metadata.name=${namespace}`,
                list: () => core.listNamespace({ fieldSelector: `metadata.name=${namespace}` }),
              }
            : { path: '/api/v1/namespaces', list: () => core.listNamespace() },
        ),
        onChange: () => this.schedule(),
        log: o.log,
      })
    }
  }

  /** Resolves once every informer has listed; the state is current then (and delivered, once attached). */
  async synced(): Promise<void> {
    await Promise.all([
      this.webhooks.synced,
      this.automations.synced,
      this.eventSources.synced,
      this.secrets.synced,
      this.namespaceObjects?.synced,
    ])
    this.listed = true
    this.rebuild()
  }

  /**
   * From now on, every state goes to `onState`; resolves once every informer has listed and the
   * first state went to it. (A standby constructs the source, and so watches, long before.)
   */
  async start(onState: (state: DesiredState) => void): Promise<void> {
    this.onState = onState
    await this.synced()
    const namespaces = this.o.namespaces.length ? [...this.o.namespaces] : 'all'
    this.o.log.info(
      {
        namespaces,
        tenancy: this.o.tenancy,
        webhooks: this.current.webhooks.size,
        automations: this.current.automations.length,
        eventSources: this.current.eventSources.size,
      },
      'watching Webhooks, Automations and EventSources in Kubernetes',
    )
  }

  /** From now on, states (after start's onState) and deletions also go to `handlers`. */
  attach(handlers: SourceHandlers): void {
    this.handlers = handlers
  }

  get state(): DesiredState {
    return this.current
  }

  object(kind: ResourceKind, key: string): CustomObject | undefined {
    const [namespace, name] = key.split('/') as [string, string]
    return this.informerOf(kind).get(namespace, name)
  }

  objects(kind: ResourceKind): CustomObject[] {
    return this.informerOf(kind).list()
  }

  private informerOf(kind: ResourceKind): Informer<CustomObject> {
    return kind === 'Webhook' ? this.webhooks : kind === 'Automation' ? this.automations : this.eventSources
  }

  /** Lists made again after a watch expired (410 Gone) or failed, over all informers. */
  get relists(): number {
    return (
      this.webhooks.relists +
      this.automations.relists +
      this.eventSources.relists +
      this.secrets.relists +
      (this.namespaceObjects?.relists ?? 0)
    )
  }

  /** Secret values straight from the informer cache: a rotated value is used by the next attempt. */
  readonly secretLookup: SecretLookup = (namespace, name) => {
    const secret = this.secrets.get(namespace, name)
    if (!secret) return undefined
    const key = objectKey(namespace, name)
    const version = `${secret.metadata?.uid}/${secret.metadata?.resourceVersion}`
    const memo = this.decoded.get(key)
    if (memo?.version === version) return memo.entry
    const data: Record<string, string> = {}
    for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8')
    for (const [k, v] of Object.entries(secret.stringData ?? {})) data[k] = v
    const entry: SecretEntry = { namespace, name, data, source: clusterSource }
    this.decoded.set(key, { version, entry })
    return entry
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    await Promise.all([
      this.webhooks.stop(),
      this.automations.stop(),
      this.eventSources.stop(),
      this.secrets.stop(),
      this.namespaceObjects?.stop(),
    ])
  }

  private schedule(): void {
    // Before every informer has listed, a state would lack the objects not listed yet: the engine
    // would cancel the pending deliveries of Automations it does not see ("automation removed").
    // synced() builds the first state once all have listed.
    if (this.stopped || this.timer || !this.listed) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.rebuild()
    }, this.o.debounceMs ?? 50)
  }

  private rebuild(): void {
    const manifests = new Map<string, { input: string; object: ManifestObject }>()
    const objects: ManifestObject[] = []
    for (const [kind, informer] of [
      ['Webhook', this.webhooks],
      ['Automation', this.automations],
      ['EventSource', this.eventSources],
    ] as const) {
      for (const o of informer.list()) {
        const key = `${kind}/${objectKey(o.metadata?.namespace ?? '', o.metadata?.name ?? '')}`
        const input = inputOf(o)
        const known = this.manifests.get(key)
        const made = known?.input === input ? known : { input, object: toManifestObject(o) }
        manifests.set(key, made)
        objects.push(made.object)
      }
    }
    this.manifests = manifests
    const state: DesiredState = validateObjects(objects, [], this.validation)
    if (this.namespaceObjects) state.namespaceEntities = entitiesByNamespace(this.namespaceObjects.list())
    this.decoded.clear()
    this.current = state
    this.onState?.(state)
    this.handlers?.onState(state)
  }
}

/**
 * What of a Webhook, Automation or EventSource the state is built from: its identity, spec generation, labels and
 * annotations. The spec is covered by metadata.generation: the API server raises it on every spec
 * change of a custom resource with a status subresource, and never on a status write.
 */
function inputOf(obj: CustomObject): string {
  const m = obj.metadata
  return JSON.stringify([m?.uid, m?.generation, m?.labels ?? {}, m?.annotations ?? {}])
}

/** The entities each namespace receives events of: its `hookwise.dev/entities` label and annotation (comma-separated). */
export function entitiesByNamespace(namespaces: readonly V1Namespace[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  for (const ns of namespaces) {
    const name = ns.metadata?.name
    if (!name) continue
    const values = [ns.metadata?.labels?.[ENTITIES_KEY], ns.metadata?.annotations?.[ENTITIES_KEY]]
    const entities = values
      .flatMap((v) => (v ?? '').split(','))
      .map((e) => e.trim())
      .filter(Boolean)
    out.set(name, new Set(entities))
  }
  return out
}
