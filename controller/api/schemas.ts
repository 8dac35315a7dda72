import common from './schemas/common.schema.json' with { type: 'json' }
import webhook from './schemas/webhook.schema.json' with { type: 'json' }
import automation from './schemas/automation.schema.json' with { type: 'json' }
import event from './schemas/event.schema.json' with { type: 'json' }

/** A JSON Schema document as loaded from controller/api/schemas. */
export type JsonSchema = Record<string, unknown>

/** The JSON Schemas: the single source of truth for the types, the CRDs and validation. */
export const schemas: Readonly<Record<'common' | 'webhook' | 'automation' | 'event', JsonSchema>> = {
  common,
  webhook,
  automation,
  event,
}

export const API_GROUP = 'hookwise.dev'
export const API_VERSION = 'v1alpha1'
export const API_GROUP_VERSION = `${API_GROUP}/${API_VERSION}`
