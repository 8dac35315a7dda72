import common from './schemas/common.schema.json' with { type: 'json' }
import webhook from './schemas/webhook.schema.json' with { type: 'json' }
import automation from './schemas/automation.schema.json' with { type: 'json' }
import event from './schemas/event.schema.json' with { type: 'json' }
import secret from './schemas/secret.schema.json' with { type: 'json' }
import eventSource from './schemas/event-source.schema.json' with { type: 'json' }
import run from './schemas/run.schema.json' with { type: 'json' }

/** A JSON Schema document as loaded from controller/api/schemas. */
export type JsonSchema = Record<string, unknown>

/** The JSON Schemas: the single source of truth for the types, the CRDs and validation. */
export const schemas: Readonly<Record<'common' | 'webhook' | 'automation' | 'event' | 'secret' | 'eventSource' | 'run', JsonSchema>> = {
  common,
  webhook,
  automation,
  event,
  secret,
  eventSource,
  run,
}

export const API_GROUP = 'hookwise.dev'
export const API_VERSION = 'v1alpha1'
export const API_GROUP_VERSION = `${API_GROUP}/${API_VERSION}`

type Node = Record<string, unknown>

/** Every $defs entry of every schema, by name (names are unique across the files). */
export function allDefinitions(): Map<string, Node> {
  const defs = new Map<string, Node>()
  for (const schema of Object.values(schemas)) {
    for (const [name, def] of Object.entries((schema.$defs ?? {}) as Record<string, Node>)) {
      if (defs.has(name)) throw new Error(`definition ${name} is declared twice`)
      defs.set(name, def)
    }
  }
  return defs
}

/** The name a $ref points at: `Scope` for `#/$defs/Scope` or `common.schema.json#/$defs/Scope`. */
export const refName = (ref: string): string => ref.slice(ref.lastIndexOf('/') + 1)
