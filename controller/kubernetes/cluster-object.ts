// Custom resources as read from the API server, turned into the manifest objects the validator takes
// (the same shape a folder or git yields). Pure.
import { clusterSource, type ManifestObject } from '../model/manifest-object.js'

/** The parts of a custom resource hookwise reads; the rest of metadata is the API server's. */
export interface ClusterObject {
  apiVersion?: string
  kind?: string
  metadata?: {
    name?: string
    namespace?: string
    uid?: string
    generation?: number
    resourceVersion?: string
    creationTimestamp?: string | Date
    labels?: Record<string, string>
    annotations?: Record<string, string>
  }
  spec?: unknown
  status?: unknown
}

/** Annotations written by tools, not by users: left out of what is validated and compared. */
const TOOL_ANNOTATIONS = ['kubectl.kubernetes.io/last-applied-configuration']

/**
 * The object as a user wrote it: apiVersion, kind, metadata (name, namespace, labels, user
 * annotations) and spec. Status and server-set metadata are dropped. A diagnostic about it has no
 * file or line (the object is named instead).
 */
export function toManifestObject(o: ClusterObject): ManifestObject {
  const m = o.metadata ?? {}
  const annotations = Object.fromEntries(Object.entries(m.annotations ?? {}).filter(([k]) => !TOOL_ANNOTATIONS.includes(k)))
  const metadata: Record<string, unknown> = {
    ...(m.name !== undefined ? { name: m.name } : {}),
    ...(m.namespace !== undefined ? { namespace: m.namespace } : {}),
    ...(m.labels && Object.keys(m.labels).length ? { labels: { ...m.labels } } : {}),
    ...(Object.keys(annotations).length ? { annotations } : {}),
  }
  const body: Record<string, unknown> = {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata,
    ...(o.spec !== undefined ? { spec: structuredClone(o.spec) } : {}),
  }
  return { apiVersion: o.apiVersion, kind: o.kind, body, source: clusterSource }
}

/** Where an object read from the API server comes from: no file or line (diagnostics name the object). */
export { clusterSource }
