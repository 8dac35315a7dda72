// The payload template variables: W&B's table (wandb-automations.md) plus a few hookwise adds.
// One place says what each variable is, which events have it and how it is computed from an event.
import type { ArtifactEvent, RunEvent } from '../api/types.generated.js'
import { ACCESS_TOKEN } from '../model/secrets.js'
import type { HookwiseEvent } from '../model/hookwise-event.js'

export type ArtifactEventType = ArtifactEvent['type']
export type RunEventType = RunEvent['type']
export type EventType = ArtifactEventType | RunEventType

/** The artifact event types. */
export const EVENT_TYPES: readonly ArtifactEventType[] = [
  'LINK_ARTIFACT',
  'UNLINK_ARTIFACT',
  'CREATE_ARTIFACT',
  'ADD_ARTIFACT_ALIAS',
  'ADD_ARTIFACT_TAG',
  'REMOVE_ARTIFACT_TAG',
  'ADD_COLLECTION_TAG',
  'REMOVE_COLLECTION_TAG',
]

/** The run event types (docs/run-events.md). */
export const RUN_EVENT_TYPES: readonly RunEventType[] = ['RUN_METRIC', 'RUN_METRIC_CHANGE', 'RUN_METRIC_ZSCORE', 'RUN_STATE']

/** Artifact and run event types. */
export const ALL_EVENT_TYPES: readonly EventType[] = [...EVENT_TYPES, ...RUN_EVENT_TYPES]

export interface VariableSpec {
  description: string
  /** Event types that have the variable; all when absent. */
  events?: readonly EventType[]
  /** The value for an event. Strings render as they are; other values render as JSON text, or as JSON with ${json:...}. */
  value(event: HookwiseEvent): unknown
}

// Validation keeps each variable to the events listed with it, so these casts hold when rendering.
const art = (e: HookwiseEvent): ArtifactEvent => e as ArtifactEvent
const run = (e: HookwiseEvent): RunEvent => e as RunEvent
const METRIC_EVENTS: readonly EventType[] = ['RUN_METRIC', 'RUN_METRIC_CHANGE', 'RUN_METRIC_ZSCORE']

const ALIAS_EVENTS: readonly EventType[] = ['ADD_ARTIFACT_ALIAS']
const TAG_EVENTS: readonly EventType[] = ['ADD_ARTIFACT_TAG', 'REMOVE_ARTIFACT_TAG', 'ADD_COLLECTION_TAG', 'REMOVE_COLLECTION_TAG']

export const VARIABLES: Readonly<Record<string, VariableSpec>> = {
  project_name: { description: "Project that owns the change (for a registry, the registry's project).", value: (e) => e.project },
  entity_name: { description: 'Entity (team) that owns the change.', value: (e) => e.entity },
  event_type: { description: 'The event type, e.g. ADD_ARTIFACT_ALIAS.', value: (e) => e.type },
  event_author: { description: 'User who caused the event (for runs, who started the run).', value: (e) => e.author ?? '' },
  alias: { description: 'The alias added.', events: ALIAS_EVENTS, value: (e) => art(e).alias ?? '' },
  tag: {
    description: 'The tag added or removed (of the version, or of the collection for collection tag events).',
    events: TAG_EVENTS,
    value: (e) => art(e).tag ?? '',
  },
  artifact_collection_name: { description: 'Collection the version is linked to.', events: EVENT_TYPES, value: (e) => art(e).collection },
  artifact_version: {
    description: 'The version as a URI: wandb-artifact://_id/<artifact id>.',
    events: EVENT_TYPES,
    value: (e) => `wandb-artifact://_id/${art(e).artifact.id}`,
  },
  artifact_version_string: {
    description: '<entity>/<project>/<collection>:<alias> for alias events, else :<version>.',
    events: EVENT_TYPES,
    value: (e) => {
      const a = art(e)
      return `${a.entity}/${a.project}/${a.collection}:${a.type === 'ADD_ARTIFACT_ALIAS' && a.alias ? a.alias : a.artifact.version}`
    },
  },
  artifact_metadata: {
    description: 'The whole metadata object (hookwise); use ${artifact_metadata.KEY} for one top-level key.',
    events: EVENT_TYPES,
    value: (e) => art(e).artifact.metadata ?? {},
  },
  // Run events (docs/run-events.md)
  run_id: { description: "The run's id.", events: RUN_EVENT_TYPES, value: (e) => run(e).run.id },
  run_name: {
    description: "The run's name (its id when it has none).",
    events: RUN_EVENT_TYPES,
    value: (e) => run(e).run.name ?? run(e).run.id,
  },
  run_state: { description: 'The run state then: RUNNING, FINISHED or FAILED.', events: RUN_EVENT_TYPES, value: (e) => run(e).state },
  run_url: { description: 'Where the run is shown, empty when unknown.', events: RUN_EVENT_TYPES, value: (e) => run(e).run.url ?? '' },
  metric_name: { description: 'The metric tested.', events: METRIC_EVENTS, value: (e) => run(e).metric?.name ?? '' },
  metric_value: {
    description:
      "The value that decided: the window's aggregate (RUN_METRIC), the current window's aggregate (RUN_METRIC_CHANGE), the newest value (RUN_METRIC_ZSCORE).",
    events: METRIC_EVENTS,
    value: (e) => run(e).metric?.value ?? '',
  },
  metric_agg: {
    description: 'The aggregation, MAX, MIN or AVERAGE (empty without one).',
    events: METRIC_EVENTS,
    value: (e) => run(e).metric?.agg ?? '',
  },
  threshold: {
    description: 'The threshold (RUN_METRIC), the amount (RUN_METRIC_CHANGE) or the |z| threshold (RUN_METRIC_ZSCORE).',
    events: METRIC_EVENTS,
    value: (e) => run(e).metric?.threshold ?? '',
  },
  // hookwise additions
  event_id: { description: 'The event id (hookwise).', value: (e) => e.id ?? '' },
  event_time: { description: 'When the event happened, RFC 3339 (hookwise).', value: (e) => e.time ?? '' },
  registry_name: {
    description: 'Registry of the collection, empty outside registries (hookwise).',
    events: EVENT_TYPES,
    value: (e) => art(e).registry ?? '',
  },
  artifact_name: { description: 'Artifact name (hookwise).', events: EVENT_TYPES, value: (e) => art(e).artifact.name },
  artifact_type: { description: 'Artifact type, e.g. model (hookwise).', events: EVENT_TYPES, value: (e) => art(e).artifact.type ?? '' },
  artifact_aliases: {
    description: 'Aliases of the version, a list (hookwise).',
    events: EVENT_TYPES,
    value: (e) => art(e).artifact.aliases ?? [],
  },
  artifact_tags: { description: 'Tags of the version, a list (hookwise).', events: EVENT_TYPES, value: (e) => art(e).artifact.tags ?? [] },
}

/** Whether `${artifact_metadata.KEY}` may be used with this event type (artifact events only). */
export const hasArtifactMetadata = (type: EventType | undefined): boolean => type === undefined || !type.startsWith('RUN_')

export const METADATA_PREFIX = 'artifact_metadata.'

/** Names a webhook secret may not take, since a built-in variable already has them. */
export function isReservedSecretName(name: string): boolean {
  return name === ACCESS_TOKEN || Object.hasOwn(VARIABLES, name)
}
