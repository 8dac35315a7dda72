// The CRDs enforce cross-field rules with CEL (x-kubernetes-validations in the schemas). Outside
// Kubernetes nobody runs CEL, so each rule has a TypeScript twin here, applied the same way the API
// server applies CEL: at the schema node that declares it, with `self` the value there. The message
// shown comes from the schema, so both places say the same thing. test/generated.test.ts fails when a
// rule in a schema has no twin.
import type { ErrorCode } from '../errors.js'
import { HEADER_NAME, HOP_BY_HOP_HEADERS, NOT_IN_HEADER_VALUE } from '../model/header-rules.js'

// biome-ignore lint/suspicious/noExplicitAny: `self` is whatever JSON the schema node holds, as in CEL; each twin reads the fields its rule names
type Self = any

export interface CelTwin {
  code: ErrorCode
  /** Field under `self` the diagnostic points at; `self` itself when absent. */
  field?: (self: Self) => string | undefined
  holds(self: Self): boolean
  /** The rule's messageExpression, computed the same way; required when the rule has one. */
  message?: (self: Self) => string
}

const has = (v: unknown): boolean => v !== undefined
// The CEL rules spell these in RE2 (Kubernetes' dialect); test/header-rules.test.ts checks they
// accept exactly what model/header-rules.ts does.
const CEL_HEADER_NAME = "'^[!#$%&\\'*+.^_`|~0-9A-Za-z-]+$'"
const CEL_HEADER_VALUE = "'^[\\\\t\\\\x20-\\\\x7e\\\\x80-\\\\xff]*$'"
const CEL_HOP_BY_HOP = `[${HOP_BY_HOP_HEADERS.map((h) => `'${h}'`).join(', ')}]`
const badName = (s: Self): string | undefined => Object.keys(s).find((k) => !HEADER_NAME.test(k))
const badValue = (s: Self): string | undefined => Object.keys(s).find((k) => NOT_IN_HEADER_VALUE.test(s[k]))
const hopByHop = (s: Self): string | undefined => Object.keys(s).find((k) => HOP_BY_HOP_HEADERS.includes(k.toLowerCase()))
const isRunEvent = (s: Self): boolean => String(s.type).startsWith('RUN_')
const isMetricEvent = (s: Self): boolean => String(s.type).startsWith('RUN_METRIC')
const CHANGE_FIELDS = ['currentWindow', 'priorWindow', 'changeType', 'amount']
const RUN_ONLY_FIELDS = ['runNameRegex', 'runDisplayNameRegex', 'runTags', 'cooldown']
const RESERVED_HEADERS = [
  'authorization',
  'content-type',
  'content-length',
  'host',
  'user-agent',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'x-wandb-signature',
  'x-hub-signature-256',
  'x-wandb-signature-previous',
  'x-hub-signature-256-previous',
]

export const CEL_TWINS: Readonly<Record<string, CelTwin>> = {
  // EventSource
  'has(self.mlflow) != has(self.wandb)': { code: 'HW_EVENT_SOURCE_KIND', holds: (s) => has(s.mlflow) !== has(s.wandb) },
  // Webhook
  "self.name != 'ACCESS_TOKEN'": { code: 'HW_SECRET_NAME_RESERVED', field: () => 'name', holds: (s) => s.name !== 'ACCESS_TOKEN' },
  [`self.all(k, !(k.lowerAscii() in [${RESERVED_HEADERS.map((h) => `'${h}'`).join(', ')}]))`]: {
    code: 'HW_HEADER_RESERVED',
    field: (s) => Object.keys(s).find((k) => RESERVED_HEADERS.includes(k.toLowerCase())),
    holds: (s) => Object.keys(s).every((k) => !RESERVED_HEADERS.includes(k.toLowerCase())),
  },
  [`self.all(k, k.matches(${CEL_HEADER_NAME}))`]: {
    code: 'HW_HEADER_INVALID',
    field: badName,
    holds: (s) => badName(s) === undefined,
    message: (s) => `header name "${badName(s)}" is not an HTTP token: use letters, digits and !#$%&'*+-.^_\`|~ only`,
  },
  [`self.all(k, !(k.lowerAscii() in ${CEL_HOP_BY_HOP}))`]: {
    code: 'HW_HEADER_RESERVED',
    field: hopByHop,
    holds: (s) => hopByHop(s) === undefined,
    message: (s) =>
      `header ${hopByHop(s)} is hop-by-hop or framing: HTTP sets it for each connection and message, so it cannot be a static header`,
  },
  [`self.all(k, self[k].matches(${CEL_HEADER_VALUE}))`]: {
    code: 'HW_HEADER_INVALID',
    field: badValue,
    holds: (s) => badValue(s) === undefined,
    message: (s) =>
      `header ${badValue(s)} holds a character HTTP cannot send (CR, LF, NUL, another control character or one above U+00FF): remove it from the value`,
  },
  '!has(self.signing) || (has(self.secrets) && self.secrets.exists(s, s.name == self.signing.secret))': {
    code: 'HW_SIGNING_SECRET_UNKNOWN',
    field: () => 'signing.secret',
    holds: (s) => !has(s.signing) || (has(s.secrets) && s.secrets.some((x: Self) => x.name === s.signing.secret)),
    // Not the allowed names: the kube-apiserver's cost estimate refuses a messageExpression mapping
    // over spec.secrets. Validation's hint lists them.
    message: (s) => `signing.secret must name one of spec.secrets[].name, not "${s.signing.secret}"`,
  },
  '!has(self.signing) || !has(self.signing.previousSecret) || (has(self.secrets) && self.secrets.exists(s, s.name == self.signing.previousSecret))':
    {
      code: 'HW_SIGNING_SECRET_UNKNOWN',
      field: () => 'signing.previousSecret',
      message: (s) => `signing.previousSecret must name one of spec.secrets[].name, not "${s.signing.previousSecret}"`,
      holds: (s) =>
        !has(s.signing) ||
        !has(s.signing.previousSecret) ||
        (has(s.secrets) && s.secrets.some((x: Self) => x.name === s.signing.previousSecret)),
    },
  // Automation scope
  "self.type in ['Project', 'Entity', 'Organization'] || has(self.registry)": {
    code: 'HW_SCOPE_FIELDS',
    field: () => 'registry',
    holds: (s) => ['Project', 'Entity', 'Organization'].includes(s.type) || has(s.registry),
  },
  "self.type != 'Collection' || has(self.collection)": {
    code: 'HW_SCOPE_FIELDS',
    field: () => 'collection',
    holds: (s) => s.type !== 'Collection' || has(s.collection),
  },
  "self.type != 'Registry' || !has(self.collection)": {
    code: 'HW_SCOPE_FIELDS',
    field: () => 'collection',
    holds: (s) => s.type !== 'Registry' || !has(s.collection),
  },
  "self.type != 'Project' || (has(self.entity) && has(self.project))": {
    code: 'HW_SCOPE_FIELDS',
    field: (s) => (has(s.entity) ? 'project' : 'entity'),
    holds: (s) => s.type !== 'Project' || (has(s.entity) && has(s.project)),
  },
  "self.type != 'Project' || (!has(self.registry) && !has(self.collection))": {
    code: 'HW_SCOPE_FIELDS',
    field: (s) => (has(s.registry) ? 'registry' : 'collection'),
    holds: (s) => s.type !== 'Project' || (!has(s.registry) && !has(s.collection)),
  },
  "self.type in ['Project', 'Entity'] || (!has(self.entity) && !has(self.project) && !has(self.collectionRegex))": {
    code: 'HW_SCOPE_FIELDS',
    field: (s) => ['entity', 'project', 'collectionRegex'].find((f) => has(s[f])),
    holds: (s) => s.type === 'Project' || s.type === 'Entity' || (!has(s.entity) && !has(s.project) && !has(s.collectionRegex)),
  },
  "self.type != 'Entity' || (has(self.entity) && !has(self.project) && !has(self.registry) && !has(self.collection))": {
    code: 'HW_SCOPE_FIELDS',
    field: (s) => (has(s.entity) ? ['project', 'registry', 'collection'].find((f) => has(s[f])) : 'entity'),
    holds: (s) => s.type !== 'Entity' || (has(s.entity) && !has(s.project) && !has(s.registry) && !has(s.collection)),
  },
  "(self.type == 'Organization') == has(self.organization)": {
    code: 'HW_SCOPE_FIELDS',
    field: () => 'organization',
    holds: (s) => (s.type === 'Organization') === has(s.organization),
  },
  "self.type != 'Organization' || (!has(self.registry) && !has(self.collection) && !has(self.entity) && !has(self.project))": {
    code: 'HW_SCOPE_FIELDS',
    field: (s) => ['registry', 'collection', 'entity', 'project'].find((f) => has(s[f])),
    holds: (s) => s.type !== 'Organization' || (!has(s.registry) && !has(s.collection) && !has(s.entity) && !has(s.project)),
  },
  // Automation event filter
  "self.type != 'ADD_ARTIFACT_ALIAS' || has(self.aliasRegex) || has(self.filter)": {
    code: 'HW_EVENT_FILTER_FIELDS',
    field: () => 'aliasRegex',
    holds: (s) => s.type !== 'ADD_ARTIFACT_ALIAS' || has(s.aliasRegex) || has(s.filter),
  },
  "!has(self.aliasRegex) || self.type == 'ADD_ARTIFACT_ALIAS'": {
    code: 'HW_EVENT_FILTER_FIELDS',
    field: () => 'aliasRegex',
    holds: (s) => !has(s.aliasRegex) || s.type === 'ADD_ARTIFACT_ALIAS',
  },
  "!has(self.tagRegex) || self.type.endsWith('_TAG')": {
    code: 'HW_EVENT_FILTER_FIELDS',
    field: () => 'tagRegex',
    holds: (s) => !has(s.tagRegex) || String(s.type).endsWith('_TAG'),
  },
  // Run event parameters (docs/run-events.md)
  "!self.type.startsWith('RUN_METRIC') || has(self.metric)": {
    code: 'HW_EVENT_FILTER_FIELDS',
    field: () => 'metric',
    holds: (s) => !isMetricEvent(s) || has(s.metric),
  },
  "!has(self.metric) || self.type.startsWith('RUN_METRIC')": {
    code: 'HW_EVENT_FILTER_FIELDS',
    field: () => 'metric',
    holds: (s) => !has(s.metric) || isMetricEvent(s),
  },
  "self.type != 'RUN_METRIC' || (has(self.op) && has(self.threshold))": {
    code: 'HW_EVENT_FILTER_FIELDS',
    field: (s) => (has(s.op) ? 'threshold' : 'op'),
    holds: (s) => s.type !== 'RUN_METRIC' || (has(s.op) && has(s.threshold)),
  },
  "!has(self.op) || self.type == 'RUN_METRIC'": {
    code: 'HW_EVENT_FILTER_FIELDS',
    field: () => 'op',
    holds: (s) => !has(s.op) || s.type === 'RUN_METRIC',
  },
  "!has(self.agg) || self.type in ['RUN_METRIC', 'RUN_METRIC_CHANGE']": {
    code: 'HW_EVENT_FILTER_FIELDS',
    field: () => 'agg',
    holds: (s) => !has(s.agg) || s.type === 'RUN_METRIC' || s.type === 'RUN_METRIC_CHANGE',
  },
  "!has(self.window) || self.type in ['RUN_METRIC', 'RUN_METRIC_ZSCORE']": {
    code: 'HW_EVENT_FILTER_FIELDS',
    field: () => 'window',
    holds: (s) => !has(s.window) || s.type === 'RUN_METRIC' || s.type === 'RUN_METRIC_ZSCORE',
  },
  "!has(self.threshold) || self.type in ['RUN_METRIC', 'RUN_METRIC_ZSCORE']": {
    code: 'HW_EVENT_FILTER_FIELDS',
    field: () => 'threshold',
    holds: (s) => !has(s.threshold) || s.type === 'RUN_METRIC' || s.type === 'RUN_METRIC_ZSCORE',
  },
  "self.type != 'RUN_METRIC' || has(self.agg) || !has(self.window) || self.window == 1": {
    code: 'HW_EVENT_FILTER_FIELDS',
    field: () => 'agg',
    holds: (s) => s.type !== 'RUN_METRIC' || has(s.agg) || !has(s.window) || s.window === 1,
  },
  "self.type != 'RUN_METRIC_CHANGE' || (has(self.changeType) && has(self.amount))": {
    code: 'HW_EVENT_FILTER_FIELDS',
    field: (s) => (has(s.changeType) ? 'amount' : 'changeType'),
    holds: (s) => s.type !== 'RUN_METRIC_CHANGE' || (has(s.changeType) && has(s.amount)),
  },
  "(!has(self.currentWindow) && !has(self.priorWindow) && !has(self.changeType) && !has(self.amount)) || self.type == 'RUN_METRIC_CHANGE'":
    {
      code: 'HW_EVENT_FILTER_FIELDS',
      field: (s) => CHANGE_FIELDS.find((f) => has(s[f])),
      holds: (s) => s.type === 'RUN_METRIC_CHANGE' || CHANGE_FIELDS.every((f) => !has(s[f])),
    },
  "self.type != 'RUN_METRIC_CHANGE' || has(self.agg) || ((!has(self.currentWindow) || self.currentWindow == 1) && (!has(self.priorWindow) || self.priorWindow == 1))":
    {
      code: 'HW_EVENT_FILTER_FIELDS',
      field: () => 'agg',
      holds: (s) =>
        s.type !== 'RUN_METRIC_CHANGE' ||
        has(s.agg) ||
        ((!has(s.currentWindow) || s.currentWindow === 1) && (!has(s.priorWindow) || s.priorWindow === 1)),
    },
  "!has(self.direction) || self.type in ['RUN_METRIC_CHANGE', 'RUN_METRIC_ZSCORE']": {
    code: 'HW_EVENT_FILTER_FIELDS',
    field: () => 'direction',
    holds: (s) => !has(s.direction) || s.type === 'RUN_METRIC_CHANGE' || s.type === 'RUN_METRIC_ZSCORE',
  },
  "(self.type == 'RUN_STATE') == has(self.states)": {
    code: 'HW_EVENT_FILTER_FIELDS',
    field: () => 'states',
    holds: (s) => (s.type === 'RUN_STATE') === has(s.states),
  },
  "self.type.startsWith('RUN_') || (!has(self.runNameRegex) && !has(self.runDisplayNameRegex) && !has(self.runTags) && !has(self.cooldown))":
    {
      code: 'HW_EVENT_FILTER_FIELDS',
      field: (s) => RUN_ONLY_FIELDS.find((f) => has(s[f])),
      holds: (s) => isRunEvent(s) || RUN_ONLY_FIELDS.every((f) => !has(s[f])),
    },
  "!self.type.startsWith('RUN_') || !has(self.metadata)": {
    code: 'HW_EVENT_FILTER_FIELDS',
    field: () => 'metadata',
    holds: (s) => !isRunEvent(s) || !has(s.metadata),
  },
  // Automation spec
  "!self.event.type.startsWith('RUN_') || (self.scope.type in ['Project', 'Entity'] && !has(self.scope.collectionRegex))": {
    code: 'HW_SCOPE_FIELDS',
    field: (s) => (has(s.scope.collectionRegex) ? 'scope.collectionRegex' : 'scope.type'),
    holds: (s) => !isRunEvent(s.event) || ((s.scope.type === 'Project' || s.scope.type === 'Entity') && !has(s.scope.collectionRegex)),
  },
  "self.op == 'exists' || has(self.value)": {
    code: 'HW_METADATA_CONDITION',
    field: () => 'value',
    holds: (s) => s.op === 'exists' || has(s.value),
  },
  "self.op != 'exists' || !has(self.value)": {
    code: 'HW_METADATA_CONDITION',
    field: () => 'value',
    holds: (s) => s.op !== 'exists' || !has(s.value),
  },
  // Automation action
  '[has(self.payload), has(self.payloadTemplate), has(self.slack), has(self.noop)].filter(x, x).size() == 1': {
    code: 'HW_PAYLOAD_CHOICE',
    holds: (s) => [s.payload, s.payloadTemplate, s.slack, s.noop].filter(has).length === 1,
  },
  'has(self.webhook) != has(self.noop)': {
    code: 'HW_PAYLOAD_CHOICE',
    field: (s) => (has(s.noop) ? 'webhook' : 'noop'),
    holds: (s) => has(s.webhook) !== has(s.noop),
  },
}

export interface RuleViolation {
  code: ErrorCode
  message: string
  /** Path of the field the violation points at. */
  path: Array<string | number>
}

/** A schema node with its $ref resolved and its rules looked up: what one visit needs. */
interface Plan {
  rules: Array<{ twin: CelTwin; message: string; messageExpression: string | undefined }>
  properties: Array<[string, Record<string, unknown>]> | undefined
  items: Record<string, unknown> | undefined
}
// Schemas are fixed once loaded, so each node is resolved once rather than on every visit (resolving
// a $ref copied the node: a third of validating an automation, issue 22).
const plans = new WeakMap<Record<string, unknown>, Plan>()

function planOf(schema: Record<string, unknown>, defs: Map<string, Record<string, unknown>>): Plan {
  let plan = plans.get(schema)
  if (plan) return plan
  const node =
    typeof schema.$ref === 'string'
      ? { ...defs.get(schema.$ref.slice(schema.$ref.lastIndexOf('/') + 1)), ...schema, $ref: undefined }
      : schema
  const rules = (node['x-kubernetes-validations'] ?? []) as Array<{ rule: string; message: string; messageExpression?: string }>
  const properties = node.properties as Record<string, Record<string, unknown>> | undefined
  plan = {
    rules: rules.map(({ rule, message, messageExpression }) => {
      const twin = CEL_TWINS[rule]
      if (!twin) throw new Error(`CEL rule without a TypeScript twin: ${rule}`)
      return { twin, message, messageExpression }
    }),
    properties: properties ? Object.entries(properties) : undefined,
    items: node.items as Record<string, unknown> | undefined,
  }
  plans.set(schema, plan)
  return plan
}

/**
 * Applies the twins of every x-kubernetes-validations rule of `schema` to `value`, recursing like the
 * API server does. Call it only on values that passed schema validation.
 */
export function checkCelRules(
  schema: Record<string, unknown>,
  value: unknown,
  path: Array<string | number>,
  defs: Map<string, Record<string, unknown>>,
  out: RuleViolation[] = [],
): RuleViolation[] {
  const plan = planOf(schema, defs)
  if (value === undefined || value === null) return out
  for (const { twin, message, messageExpression } of plan.rules) {
    if (!twin.holds(value)) {
      const field = twin.field?.(value)
      const shown = messageExpression && twin.message ? twin.message(value) : message
      out.push({ code: twin.code, message: shown, path: field ? [...path, ...field.split('.')] : path })
    }
  }
  if (typeof value !== 'object') return out
  if (plan.properties && !Array.isArray(value)) {
    for (const [key, sub] of plan.properties) {
      const v = (value as Record<string, unknown>)[key]
      if (v !== undefined && v !== null) checkCelRules(sub, v, [...path, key], defs, out)
    }
  }
  if (plan.items && Array.isArray(value)) for (const [i, item] of value.entries()) checkCelRules(plan.items, item, [...path, i], defs, out)
  return out
}
