// MLflow's model registry webhooks (MLflow 3.3 and newer) as canonical artifact events. Pure: the
// body MLflow posts in, an event out (mapMlflowDelivery), completed from what MLflow's REST API says
// of the version and its run (enrichMlflowEvent). docs/sources.md has the mapping table.
import type { ArtifactEvent } from './types.generated.js'

/** The body MLflow posts: `{"entity": "model_version", "action": "created", "timestamp": ..., "data": {...}}`. */
export interface MlflowDelivery {
  entity: string
  action: string
  timestamp?: string
  data: Record<string, unknown>
}

/** The MLflow events hookwise maps, and the event type each becomes. */
export const MLFLOW_EVENT_TYPES: Readonly<Record<string, ArtifactEvent['type']>> = {
  'model_version.created': 'LINK_ARTIFACT',
  'model_version_alias.created': 'ADD_ARTIFACT_ALIAS',
  'model_version_tag.set': 'ADD_ARTIFACT_TAG',
  'model_version_tag.deleted': 'REMOVE_ARTIFACT_TAG',
}

/** Where the event lands: what MLflow lacks (entity, registry) comes from the EventSource. */
export interface MlflowTarget {
  entity: string
  registry: string
}

/** A mapped event before enrichment, with what enrichment must look up. */
export interface MlflowMapped {
  mapped: true
  /** `entity.action`, e.g. `model_version_alias.created`. */
  name: string
  event: ArtifactEvent
  model: string
  version: string
}

export type MlflowMapping = MlflowMapped | { mapped: false; name: string; reason?: string }

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined)

/** Parses MLflow's body; undefined when it is not one (no entity, action or data). */
export function readMlflowDelivery(value: unknown): MlflowDelivery | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const v = value as Record<string, unknown>
  if (typeof v.entity !== 'string' || typeof v.action !== 'string') return undefined
  if (typeof v.data !== 'object' || v.data === null || Array.isArray(v.data)) return undefined
  return {
    entity: v.entity,
    action: v.action,
    ...(typeof v.timestamp === 'string' ? { timestamp: v.timestamp } : {}),
    data: v.data as Record<string, unknown>,
  }
}

/** The artifact id hookwise gives an MLflow model version (what ${artifact_version} shows). */
export const mlflowArtifactId = (model: string, version: string): string =>
  Buffer.from(`MlflowModelVersion:${model}/${version}`).toString('base64')

/**
 * The canonical event for one delivery, before enrichment. `deliveryId` (X-MLflow-Delivery-Id)
 * makes the event id, so a delivery MLflow sends again is the same event.
 */
export function mapMlflowDelivery(delivery: MlflowDelivery, deliveryId: string, target: MlflowTarget): MlflowMapping {
  const name = `${delivery.entity}.${delivery.action}`
  const type = MLFLOW_EVENT_TYPES[name]
  if (!type) return { mapped: false, name }
  const d = delivery.data
  const model = text(d.name)
  const version = text(d.version)
  if (!model || !version) return { mapped: false, name, reason: `${name} without data.name and data.version` }
  const event: ArtifactEvent = {
    id: `mlflow-${deliveryId}`,
    type,
    ...(delivery.timestamp && !Number.isNaN(Date.parse(delivery.timestamp)) ? { time: new Date(delivery.timestamp).toISOString() } : {}),
    entity: target.entity,
    project: target.registry,
    registry: target.registry,
    collection: model,
    artifact: { id: mlflowArtifactId(model, version), name: model, version: `v${version}`, type: 'model' },
  }
  if (type === 'ADD_ARTIFACT_ALIAS') {
    const alias = text(d.alias)
    if (!alias) return { mapped: false, name, reason: `${name} without data.alias` }
    event.alias = alias
  }
  if (type === 'ADD_ARTIFACT_TAG' || type === 'REMOVE_ARTIFACT_TAG') {
    const key = text(d.key)
    if (!key) return { mapped: false, name, reason: `${name} without data.key` }
    event.tag = key
  }
  return { mapped: true, name, event, model, version }
}

/** What MLflow's REST API says of a model version and the run that made it. */
export interface MlflowDetails {
  /** model-versions/get: `model_version`. */
  version: { user_id?: string; run_id?: string; tags?: Array<{ key: string; value?: string }>; aliases?: string[] }
  /** runs/get: `run`, when the version has a run. */
  run?: {
    info?: { user_id?: string }
    data?: {
      metrics?: Array<{ key: string; value: number }>
      params?: Array<{ key: string; value: string }>
      tags?: Array<{ key: string; value: string }>
    }
  }
}

/**
 * The event completed with the version's author, tags and aliases and its run's params and metrics
 * (as artifact.metadata, metrics last: a metric wins over a param of the same key). A model
 * version's user_id is empty without MLflow's auth, so the run's user stands in. A tag event's tag
 * is in the tags (set) or not (deleted) whatever MLflow answers later, and a set tag's value is in
 * the metadata under its key.
 */
export function enrichMlflowEvent(mapped: MlflowMapped, details: MlflowDetails, tagValue?: string): ArtifactEvent {
  const event = structuredClone(mapped.event)
  const runTags = Object.fromEntries((details.run?.data?.tags ?? []).map((t) => [t.key, t.value]))
  const author = text(details.version.user_id) ?? text(details.run?.info?.user_id) ?? text(runTags['mlflow.user'])
  if (author) event.author = author.slice(0, 256)
  let tags = (details.version.tags ?? []).map((t) => t.key)
  if (event.type === 'ADD_ARTIFACT_TAG' && event.tag && !tags.includes(event.tag)) tags.push(event.tag)
  if (event.type === 'REMOVE_ARTIFACT_TAG') tags = tags.filter((t) => t !== event.tag)
  const aliases = [...(details.version.aliases ?? [])]
  if (event.type === 'ADD_ARTIFACT_ALIAS' && event.alias && !aliases.includes(event.alias)) aliases.push(event.alias)
  const metadata: Record<string, unknown> = {}
  for (const p of details.run?.data?.params ?? []) metadata[p.key] = p.value
  for (const m of details.run?.data?.metrics ?? []) metadata[m.key] = m.value
  if (event.type === 'ADD_ARTIFACT_TAG' && event.tag && tagValue !== undefined) metadata[event.tag] = tagValue
  event.artifact = {
    ...event.artifact,
    aliases: aliases.slice(0, 256),
    tags: tags.slice(0, 256),
    ...(Object.keys(metadata).length ? { metadata } : {}),
  }
  return event
}
