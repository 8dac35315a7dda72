// The payload template variables: W&B's table (wandb-automations.md) plus a few hookwise adds.
// One place says what each variable is, which events have it and how it is computed from an event.
import type { ArtifactEvent } from '../api/types.generated.js'
import { ACCESS_TOKEN } from '../model/secrets.js'

export type EventType = ArtifactEvent['type']

export const EVENT_TYPES: readonly EventType[] = [
  'LINK_ARTIFACT',
  'UNLINK_ARTIFACT',
  'CREATE_ARTIFACT',
  'ADD_ARTIFACT_ALIAS',
  'ADD_ARTIFACT_TAG',
  'REMOVE_ARTIFACT_TAG',
  'ADD_COLLECTION_TAG',
  'REMOVE_COLLECTION_TAG',
]

export interface VariableSpec {
  description: string
  /** Event types that have the variable; all when absent. */
  events?: readonly EventType[]
  /** The value for an event. Strings render as they are; other values render as JSON text, or as JSON with ${json:...}. */
  value(event: ArtifactEvent): unknown
}

const ALIAS_EVENTS: readonly EventType[] = ['ADD_ARTIFACT_ALIAS']
const TAG_EVENTS: readonly EventType[] = ['ADD_ARTIFACT_TAG', 'REMOVE_ARTIFACT_TAG', 'ADD_COLLECTION_TAG', 'REMOVE_COLLECTION_TAG']

export const VARIABLES: Readonly<Record<string, VariableSpec>> = {
  project_name: { description: "Project that owns the change (for a registry, the registry's project).", value: (e) => e.project },
  entity_name: { description: 'Entity (team) that owns the change.', value: (e) => e.entity },
  event_type: { description: 'The event type, e.g. ADD_ARTIFACT_ALIAS.', value: (e) => e.type },
  event_author: { description: 'User who caused the event.', value: (e) => e.author ?? '' },
  alias: { description: 'The alias added.', events: ALIAS_EVENTS, value: (e) => e.alias ?? '' },
  tag: {
    description: 'The tag added or removed (of the version, or of the collection for collection tag events).',
    events: TAG_EVENTS,
    value: (e) => e.tag ?? '',
  },
  artifact_collection_name: { description: 'Collection the version is linked to.', value: (e) => e.collection },
  artifact_version: {
    description: 'The version as a URI: wandb-artifact://_id/<artifact id>.',
    value: (e) => `wandb-artifact://_id/${e.artifact.id}`,
  },
  artifact_version_string: {
    description: '<entity>/<project>/<collection>:<alias> for alias events, else :<version>.',
    value: (e) => `${e.entity}/${e.project}/${e.collection}:${e.type === 'ADD_ARTIFACT_ALIAS' && e.alias ? e.alias : e.artifact.version}`,
  },
  artifact_metadata: {
    description: 'The whole metadata object (hookwise); use ${artifact_metadata.KEY} for one top-level key.',
    value: (e) => e.artifact.metadata ?? {},
  },
  // hookwise additions
  event_id: { description: 'The event id (hookwise).', value: (e) => e.id ?? '' },
  event_time: { description: 'When the event happened, RFC 3339 (hookwise).', value: (e) => e.time ?? '' },
  registry_name: { description: 'Registry of the collection, empty outside registries (hookwise).', value: (e) => e.registry ?? '' },
  artifact_name: { description: 'Artifact name (hookwise).', value: (e) => e.artifact.name },
  artifact_type: { description: 'Artifact type, e.g. model (hookwise).', value: (e) => e.artifact.type ?? '' },
  artifact_aliases: { description: 'Aliases of the version, a list (hookwise).', value: (e) => e.artifact.aliases ?? [] },
  artifact_tags: { description: 'Tags of the version, a list (hookwise).', value: (e) => e.artifact.tags ?? [] },
}

export const METADATA_PREFIX = 'artifact_metadata.'

/** Names a webhook secret may not take, since a built-in variable already has them. */
export function isReservedSecretName(name: string): boolean {
  return name === ACCESS_TOKEN || Object.hasOwn(VARIABLES, name)
}
