// The JSON Schemas compiled once into validators (ajv, draft 2020-12). No I/O.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import { schemas } from './schemas.js'

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020

function build(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, useDefaults: true, verbose: true })
  addFormats(ajv)
  // Kubernetes extensions: meaningful for the CRDs, annotations for ajv.
  ajv.addVocabulary([
    'x-kubernetes-validations',
    'x-kubernetes-preserve-unknown-fields',
    'x-kubernetes-list-type',
    'x-kubernetes-list-map-keys',
  ])
  for (const schema of Object.values(schemas)) ajv.addSchema(schema)
  return ajv
}

const ajv = build()
const get = (schema: Record<string, unknown>): ValidateFunction => ajv.getSchema(schema.$id as string)!

/**
 * Validators by kind. They fill in schema defaults on the object they check: pass a copy when the
 * original must stay as the user wrote it.
 */
export const validators = {
  Webhook: get(schemas.webhook),
  Automation: get(schemas.automation),
  Secret: get(schemas.secret),
  ArtifactEvent: get(schemas.event),
  EventSource: get(schemas.eventSource),
  RunMessage: get(schemas.run),
} as const

export type { ErrorObject }
