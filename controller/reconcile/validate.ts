// Validation in two layers, schema then meaning, and compilation of what is valid. Pure: manifest
// objects in, desired state and diagnostics out. Every diagnostic names file, line, column, object
// and field path.
import type { AutomationSpec, EventFilter, MetadataCondition, WebhookSpec } from '../api/types.generated.js'
import { allDefinitions, schemas, API_GROUP, API_GROUP_VERSION } from '../api/schemas.js'
import { validators } from '../api/validators.js'
import { closest, formatPath, schemaDiagnostics, type FieldPath } from '../api/schema-errors.js'
import type { Diagnostic, ErrorCode } from '../errors.js'
import type { ManifestObject } from '../model/manifest-object.js'
import { compilePayload, compilePayloadText, type TemplateProblem } from '../template/compile.js'
import { compileSlackMessage } from '../template/slack-message.js'
import { ACCESS_TOKEN } from '../model/secrets.js'
import { KEY_HINT, readStandardWebhooksKey } from '../model/signing-key.js'
import { specialRange } from '../model/special-addresses.js'
import {
  ALL_EVENT_TYPES,
  EVENT_TYPES,
  RUN_EVENT_TYPES,
  METADATA_PREFIX,
  VARIABLES,
  hasArtifactMetadata,
  isReservedSecretName,
  type EventType,
} from '../template/variables.js'
import { checkCelRules } from './cel-twins.js'
import { compileTextMatcher, type TextMatcher } from '../model/text-matcher.js'
import { compileEventFilter } from '../match/event-filter.js'
import {
  DEFAULT_NAMESPACE,
  automationPosition,
  objectKey,
  type CompiledAutomation,
  type CompiledCondition,
  type DefaultedWebhookSpec,
  type EventSourceEntry,
  type DesiredState,
  type EventPredicate,
  type SecretEntry,
  type WebhookEntry,
} from '../model/desired-state.js'

const defs = allDefinitions()

type Kind = 'Webhook' | 'Automation' | 'Secret' | 'EventSource'

export interface Checked {
  kind: Kind
  namespace: string
  name: string
  body: Record<string, unknown>
  object: ManifestObject
  label: string
}

/**
 * What validation compiled per object, kept between calls so that a change re-validates only what
 * changed (issue 22): a source that hands in the same ManifestObject again (an unchanged file, an
 * unchanged cluster object) gets the same checked object and the same compiled automation back, with
 * the same diagnostics. An automation is reused only while its webhook is the same object too. Held
 * weakly: what a source no longer hands in is collected with it.
 */
export class ValidationCache {
  readonly schema = new WeakMap<ManifestObject, { checked: Checked | undefined; diagnostics: Diagnostic[] }>()
  readonly webhooks = new WeakMap<Checked, { entry: WebhookEntry; diagnostics: Diagnostic[] }>()
  readonly automations = new WeakMap<
    Checked,
    { webhook: WebhookEntry; compiled: CompiledAutomation | undefined; diagnostics: Diagnostic[] }
  >()
  /** The last call's input and outcome: a call that only replaces, adds or removes Automations patches it (validateChange). */
  last: LastRun | undefined
}

/** What validateChange needs of the last call, recorded by validateAll and kept up to date by validateChange. */
interface LastRun {
  objects: readonly ManifestObject[]
  objectSet: Set<ManifestObject>
  earlierKey: string
  /** `Kind/namespace/name` of every object that passed its schema, duplicates included. */
  ids: Map<string, ManifestObject>
  /** The Automations that were compiled (passed their schema, not duplicated): their compiled form, if valid. */
  usable: Map<ManifestObject, { id: string; compiled: CompiledAutomation | undefined }>
  webhooks: ReadonlyMap<string, { entry: WebhookEntry }>
  brokenWebhooks: ReadonlySet<string>
  /** The diagnostics of the Automation pass, per object in input order (only objects that have some). */
  automationDiagnostics: Array<{ object: ManifestObject; diagnostics: Diagnostic[] }>
  /** Where the Automation pass's diagnostics start and end in state.diagnostics. */
  segment: { start: number; end: number }
  state: DesiredState
}

class Reporter {
  readonly diagnostics: Diagnostic[] = []

  at(
    object: ManifestObject,
    label: string | undefined,
    path: FieldPath,
    code: ErrorCode,
    message: string,
    hint: string,
    severity: Diagnostic['severity'] = 'error',
  ): void {
    const { line, column } = object.source.locate(path)
    this.diagnostics.push({
      file: object.source.file,
      line,
      column,
      ...(label ? { object: label } : {}),
      ...(path.length ? { path: formatPath(path) } : {}),
      code,
      severity,
      message,
      hint,
    })
  }
}

/** A kind Kubernetes accepts for a resource: its lower case is a DNS-1035 label. */
const isKubernetesKind = (kind: unknown): boolean =>
  typeof kind === 'string' && kind.length <= 63 && /^[A-Za-z]([-A-Za-z0-9]*[A-Za-z0-9])?$/.test(kind)
/** `version` or `group/version`: a DNS subdomain and a DNS label. */
const isKubernetesApiVersion = (apiVersion: unknown): boolean =>
  typeof apiVersion === 'string' && /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(apiVersion)

function kindOf(o: ManifestObject, r: Reporter): Kind | undefined {
  if (o.apiVersion === API_GROUP_VERSION && (o.kind === 'Webhook' || o.kind === 'Automation' || o.kind === 'EventSource')) return o.kind
  if (o.apiVersion === 'v1' && o.kind === 'Secret') return 'Secret'
  const path = typeof o.apiVersion === 'string' ? ['kind'] : ['apiVersion']
  if (typeof o.apiVersion === 'string' && o.apiVersion.startsWith(`${API_GROUP}/`)) {
    r.at(
      o,
      undefined,
      path,
      'HW_UNKNOWN_KIND',
      `${String(o.kind)} in ${o.apiVersion} is not a kind hookwise knows`,
      `use apiVersion ${API_GROUP_VERSION} with kind Webhook or Automation`,
    )
  } else if (o.apiVersion === undefined || o.kind === undefined) {
    r.at(
      o,
      undefined,
      path,
      'HW_NOT_AN_OBJECT',
      'the document has no apiVersion and kind',
      `start it with apiVersion: ${API_GROUP_VERSION} and kind: Webhook or Automation`,
    )
  } else if (!isKubernetesKind(o.kind) || !isKubernetesApiVersion(o.apiVersion)) {
    // Not another tool's manifest: no cluster accepts it, and a newline in it is how a pull request
    // would try to break the markup of its plan comment. An error, so the plan fails.
    const [field, value] = isKubernetesApiVersion(o.apiVersion) ? ['kind', o.kind] : ['apiVersion', o.apiVersion]
    r.at(
      o,
      undefined,
      [field],
      'HW_UNKNOWN_KIND',
      `${field} ${JSON.stringify(value)}${field === 'kind' ? ` (${String(o.apiVersion)})` : ''} is not a Kubernetes ${field}: no cluster accepts this document`,
      field === 'kind'
        ? 'a kind is letters, digits and -, starting with a letter (e.g. ConfigMap); fix it or move the document out of this folder'
        : 'an apiVersion is group/version or version (e.g. apps/v1); fix it or move the document out of this folder',
    )
  } else {
    r.at(
      o,
      undefined,
      path,
      'HW_UNKNOWN_KIND',
      `ignoring ${String(o.kind)} (${String(o.apiVersion)}): hookwise loads Webhook, Automation and v1 Secret objects`,
      'move other manifests out of this folder to silence this warning',
      'warning',
    )
  }
  return undefined
}

/** The object as read, before its schema is checked: its name may be missing. */
function identify(o: ManifestObject, kind: Kind): Checked {
  const metadata = o.body.metadata as { name?: unknown; namespace?: unknown } | undefined
  const name = typeof metadata?.name === 'string' ? metadata.name : ''
  const namespace = typeof metadata?.namespace === 'string' ? metadata.namespace : DEFAULT_NAMESPACE
  const label = name ? `${kind} ${namespace}/${name}` : `${kind} (no name, document ${o.source.document + 1})`
  return { kind, namespace, name, body: o.body, object: o, label }
}

function schemaLayer(o: ManifestObject, kind: Kind, r: Reporter): Checked | undefined {
  const c = identify(o, kind)
  const body = structuredClone(o.body)
  const validate = validators[kind]
  if (!validate(body)) {
    const found = schemaDiagnostics(validate.errors ?? [], o.body, 'HW_SCHEMA', (path) => ({
      file: o.source.file,
      ...o.source.locate(path),
      object: c.label,
    }))
    r.diagnostics.push(...found)
    return undefined
  }
  return { ...c, body }
}

/** The action fields of an Automation that failed its schema, those of the right type only. */
function wellTypedAction(c: Checked): { action: ActionParts; eventType: EventType | undefined } {
  const spec = (c.body.spec ?? {}) as { action?: Record<string, unknown>; event?: { type?: unknown } }
  const a = spec.action && typeof spec.action === 'object' ? spec.action : {}
  const type = spec.event?.type
  return {
    action: {
      ...(typeof a.webhook === 'string' ? { webhook: a.webhook } : {}),
      ...(typeof a.payloadTemplate === 'string' ? { payloadTemplate: a.payloadTemplate } : {}),
      ...(a.payload !== undefined && a.payloadTemplate === undefined ? { payload: a.payload } : {}),
    },
    eventType: ALL_EVENT_TYPES.includes(type as EventType) ? (type as EventType) : undefined,
  }
}

/** Compiles a regular expression (RE2 syntax, matched in linear time), or reports why it does not compile. */
function regex(c: Checked, path: FieldPath, source: string | undefined, r: Reporter): TextMatcher | undefined | null {
  if (source === undefined) return undefined
  try {
    return compileTextMatcher(source)
  } catch (err) {
    r.at(
      c.object,
      c.label,
      path,
      'HW_REGEX_INVALID',
      `${JSON.stringify(source)} is not a valid regular expression: ${(err as Error).message}`,
      'fix the expression in RE2 syntax, as W&B does: no lookahead, lookbehind or backreferences; escape literal characters such as . ( [ with a backslash; see docs/resources.md#regular-expressions',
    )
    return null
  }
}

function compileCondition(c: Checked, i: number, cond: MetadataCondition, r: Reporter): CompiledCondition | null {
  const path: FieldPath = ['spec', 'event', 'metadata', i, 'value']
  const text = (v: unknown): string | undefined =>
    v === undefined ? undefined : typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v)
  const number = (v: unknown): number | undefined => {
    if (typeof v === 'number') return Number.isFinite(v) ? v : undefined
    if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v)
    return undefined
  }
  const { key, op, value } = cond
  switch (op) {
    case 'exists':
      return { key, test: (v) => v !== undefined }
    case 'eq':
      return { key, test: (v) => text(v) === value }
    case 'ne':
      return { key, test: (v) => text(v) !== value }
    case 'regex': {
      const re = regex(c, path, value, r)
      if (!re) return null
      return {
        key,
        test: (v) => {
          const t = text(v)
          return t !== undefined && re.test(t)
        },
      }
    }
    default: {
      const bound = number(value)
      if (bound === undefined) {
        r.at(
          c.object,
          c.label,
          path,
          'HW_METADATA_CONDITION',
          `${op} compares numbers, but ${JSON.stringify(value)} is not a number`,
          'write a number in quotes, e.g. value: "0.9"',
        )
        return null
      }
      const cmp = {
        gt: (a: number) => a > bound,
        gte: (a: number) => a >= bound,
        lt: (a: number) => a < bound,
        lte: (a: number) => a <= bound,
      }[op]
      return {
        key,
        test: (v) => {
          const n = number(v)
          return n !== undefined && cmp(n)
        },
      }
    }
  }
}

/** Compiles `event.filter` once; each problem is reported at its own place below the filter. */
function compileFilter(c: Checked, filter: unknown, runs: boolean, r: Reporter): EventPredicate | null {
  const result = compileEventFilter(filter, runs)
  if (result.ok) return result.predicate
  for (const p of result.problems) r.at(c.object, c.label, ['spec', 'event', 'filter', ...p.path], 'HW_FILTER_INVALID', p.message, p.hint)
  return null
}

/** How a hint names the events a variable exists for. */
function eventsNamed(events: readonly EventType[]): string {
  if (events === EVENT_TYPES) return 'artifact events (run events have ${run_id}, ${run_name}, ${metric_value}...)'
  if (events === RUN_EVENT_TYPES) return 'run events (RUN_METRIC, RUN_METRIC_CHANGE, RUN_METRIC_ZSCORE, RUN_STATE)'
  return `${events.join(' and ')} events`
}

function variableProblem(
  name: string,
  eventType: EventType | undefined,
  granted: ReadonlySet<string>,
  webhook: string,
): { code: ErrorCode; message: string; hint: string } | undefined {
  const builtin = VARIABLES[name]
  if (builtin) {
    if (builtin.events && eventType && !builtin.events.includes(eventType)) {
      return {
        code: 'HW_TEMPLATE_UNKNOWN_VARIABLE',
        message: `\${${name}} is not available for ${eventType} events`,
        hint: `\${${name}} exists only for ${eventsNamed(builtin.events)}; remove it or change spec.event.type`,
      }
    }
    return undefined
  }
  if (name.startsWith(METADATA_PREFIX)) {
    if (hasArtifactMetadata(eventType)) return undefined
    return {
      code: 'HW_TEMPLATE_UNKNOWN_VARIABLE',
      message: `\${${name}} is not available for ${eventType} events: runs have no artifact metadata`,
      hint: 'use the run variables (${run_name}, ${metric_value}...), see docs/run-events.md#variables',
    }
  }
  if (granted.has(name)) return undefined
  // Variables of this event type and the webhook's secrets: what a misspelled name may have meant.
  const available = [
    ...Object.keys(VARIABLES).filter((v) => !eventType || !VARIABLES[v]!.events || VARIABLES[v]!.events!.includes(eventType)),
    ...granted,
  ]
  const guess = closest(name, available)
  if (/^[A-Z][A-Z0-9_]*$/.test(name) || name === ACCESS_TOKEN) {
    return {
      code: 'HW_TEMPLATE_SECRET_NOT_GRANTED',
      message: `\${${name}} is not a secret of webhook ${webhook}`,
      hint:
        name === ACCESS_TOKEN
          ? `set spec.accessToken on webhook ${webhook}`
          : guess
            ? `did you mean \${${guess}}? Otherwise add {name: ${name}, secretKeyRef: ...} to spec.secrets of webhook ${webhook}`
            : `add {name: ${name}, secretKeyRef: ...} to spec.secrets of webhook ${webhook}, or fix the name`,
    }
  }
  return {
    code: 'HW_TEMPLATE_UNKNOWN_VARIABLE',
    message: `\${${name}} is not a known variable`,
    hint: guess
      ? `did you mean \${${guess}}?`
      : `known variables: ${Object.keys(VARIABLES).join(', ')}, artifact_metadata.KEY, and the webhook's secrets`,
  }
}

function meaningOfWebhook(c: Checked, r: Reporter): boolean {
  const spec = c.body.spec as WebhookSpec
  const before = r.diagnostics.length
  for (const v of checkCelRules((schemas.webhook.properties as Record<string, Record<string, unknown>>).spec!, spec, ['spec'], defs)) {
    r.at(
      c.object,
      c.label,
      v.path,
      v.code,
      v.message,
      v.code === 'HW_SIGNING_SECRET_UNKNOWN' ? signingHint(spec, v.path.at(-1) === 'previousSecret') : hintFor(v.code),
    )
  }
  let url: URL | undefined
  try {
    url = new URL(spec.url)
  } catch {
    r.at(
      c.object,
      c.label,
      ['spec', 'url'],
      'HW_URL_INVALID',
      `${JSON.stringify(spec.url)} is not a valid URL`,
      'write a full URL, e.g. https://hooks.example.com/path',
    )
  }
  if (url && (url.username || url.password)) {
    r.at(
      c.object,
      c.label,
      ['spec', 'url'],
      'HW_URL_INVALID',
      'the URL contains credentials',
      'remove user:password@ from the URL and use spec.accessToken or spec.headers with a secret instead',
    )
  }
  // W&B signs every request with the webhook's secret; a receiver moved from W&B may reject
  // unsigned ones. Only a warning: secrets also serve payloads and headers of unsigned receivers.
  if (spec.secrets?.length && !spec.signing) {
    const names = spec.secrets.map((s) => s.name).join(', ')
    r.at(
      c.object,
      c.label,
      ['spec', 'secrets'],
      'HW_WEBHOOK_UNSIGNED',
      `webhook ${c.name} has secrets (${names}) but no spec.signing: its requests carry no signature`,
      `W&B signs every request with the webhook secret (X-Wandb-Signature) and receivers may check it: add spec.signing: {secret: ${spec.secrets[0]!.name}}, or ignore this warning if the receiver verifies nothing`,
      'warning',
    )
  }
  ;(spec.secrets ?? []).forEach((s, i) => {
    if (s.name !== ACCESS_TOKEN && isReservedSecretName(s.name)) {
      r.at(
        c.object,
        c.label,
        ['spec', 'secrets', i, 'name'],
        'HW_SECRET_NAME_RESERVED',
        `secret name ${s.name} is also a built-in variable`,
        'choose another name, e.g. in UPPER_CASE',
      )
    }
  })
  const valid = r.diagnostics.slice(before).every((d) => d.severity !== 'error')
  if (url) warnNotGlobal(c, url, r)
  return valid
}

/**
 * A warning for a URL whose host is an IP address egress refuses by default. Not an error: the
 * --egress-allow flags of the controller are not known here, and any range can be allowed. Loopback,
 * private and shared addresses are not warned about: internal receivers live there, allowed on purpose.
 */
function warnNotGlobal(c: Checked, url: URL, r: Reporter): void {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  const range = specialRange(host)
  if (!range || range.internal) return
  r.at(
    c.object,
    c.label,
    ['spec', 'url'],
    'HW_URL_NOT_GLOBAL',
    `address ${host} is ${range.what}: the egress policy refuses it, so nothing is delivered unless hookwise runs with --egress-allow covering it`,
    "use the receiver's public address or host name; if it really is there, run hookwise with --egress-allow CIDR",
    'warning',
  )
}

/** What to name instead: signing.secret, or signing.previousSecret when `previous`. */
function signingHint(spec: WebhookSpec, previous: boolean): string {
  const secret = previous ? spec.signing?.previousSecret : spec.signing?.secret
  const names = (spec.secrets ?? []).map((s) => s.name)
  return names.length
    ? `name one of ${names.join(', ')}, or add ${secret} to spec.secrets`
    : `spec.secrets is empty (none given): add a secret named ${secret}, or remove spec.signing`
}

/** Fields of spec.event that only run events take. */
const RUN_FIELDS = new Set([
  'metric',
  'agg',
  'window',
  'op',
  'threshold',
  'currentWindow',
  'priorWindow',
  'changeType',
  'direction',
  'amount',
  'states',
  'runNameRegex',
  'runDisplayNameRegex',
  'runTags',
  'cooldown',
])
const RUN_EVENT_HINT =
  'RUN_METRIC takes metric, op, threshold (agg, window); RUN_METRIC_CHANGE metric, changeType, amount (agg, currentWindow, priorWindow, direction); RUN_METRIC_ZSCORE metric (window, threshold, direction); RUN_STATE states; all take a Project or Entity scope; see docs/run-events.md'

function hintFor(code: ErrorCode): string {
  switch (code) {
    case 'HW_SCOPE_FIELDS':
      return 'Registry: registry; Collection: registry and collection; Project: entity, project and optionally collectionRegex; Entity: entity and optionally collectionRegex; Organization: organization'
    case 'HW_EVENT_FILTER_FIELDS':
      return 'aliasRegex goes with ADD_ARTIFACT_ALIAS (required there unless a filter is set), tagRegex with the tag events (ADD_/REMOVE_ARTIFACT_TAG, ADD_/REMOVE_COLLECTION_TAG)'
    case 'HW_METADATA_CONDITION':
      return 'eq, ne, regex, gt, gte, lt and lte need a value; exists takes none'
    case 'HW_PAYLOAD_CHOICE':
      return 'keep payload (structured) or payloadTemplate (JSON text), not both'
    case 'HW_HEADER_RESERVED':
      return 'remove the header; hookwise and HTTP set it'
    case 'HW_HEADER_INVALID':
      return 'write the value on one line in ASCII or Latin-1 (a tab is allowed); a secret belongs in spec.secrets, not here'
    case 'HW_SECRET_NAME_RESERVED':
      return 'choose another secret name'
    default:
      return 'fix the field'
  }
}

/** The webhook names of a namespace, valid or not, for messages: `a, b` or `none`. */
function webhooksIn(namespace: string, webhooks: ReadonlyMap<string, unknown>, broken: ReadonlySet<string>): string {
  const prefix = objectKey(namespace, '')
  const names = [...webhooks.keys(), ...broken].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length))
  return names.length ? [...new Set(names)].sort().join(', ') : 'none'
}

/** What to do about a webhook name that is not there: the one it most likely meant, or create it. */
function webhookHint(namespace: string, name: string, webhooks: ReadonlyMap<string, unknown>, broken: ReadonlySet<string>): string {
  const prefix = objectKey(namespace, '')
  const names = [...webhooks.keys(), ...broken].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length))
  const guess = closest(name, names)
  return guess
    ? `did you mean ${guess}?`
    : `create Webhook ${namespace}/${name}, or name an existing one (automations use webhooks of their own namespace)`
}

/** The parts of an action checked for meaning: only those given with the right type. */
interface ActionParts {
  webhook?: string
  payloadTemplate?: string
  payload?: unknown
  slack?: AutomationSpec['action']['slack']
  noop?: unknown
}

/**
 * The webhook an action names and the variables its payload uses. Also run on an Automation that
 * failed its schema, with the fields that have the right type, so `validate` reports a misspelled
 * webhook or variable together with the schema error instead of after it is fixed.
 */
function checkAction(
  c: Checked,
  action: ActionParts,
  eventType: EventType | undefined,
  webhooks: ReadonlyMap<string, { entry: WebhookEntry }>,
  brokenWebhooks: ReadonlySet<string>,
  r: Reporter,
): { compiled: ReturnType<typeof compilePayloadText> | undefined } {
  let webhook: { entry: WebhookEntry } | undefined
  if (action.webhook !== undefined) {
    const webhookKey = objectKey(c.namespace, action.webhook)
    webhook = webhooks.get(webhookKey)
    if (!webhook && brokenWebhooks.has(webhookKey)) {
      r.at(
        c.object,
        c.label,
        ['spec', 'action', 'webhook'],
        'HW_WEBHOOK_INVALID',
        `webhook ${action.webhook} has errors, so this automation cannot fire`,
        `fix the errors reported for Webhook ${webhookKey}`,
      )
    } else if (!webhook) {
      r.at(
        c.object,
        c.label,
        ['spec', 'action', 'webhook'],
        'HW_WEBHOOK_NOT_FOUND',
        `webhook ${action.webhook} does not exist in namespace ${c.namespace} (webhooks there: ${webhooksIn(c.namespace, webhooks, brokenWebhooks)})`,
        webhookHint(c.namespace, action.webhook, webhooks, brokenWebhooks),
      )
    }
  }
  const granted = new Set<string>((webhook?.entry.spec.secrets ?? []).map((s) => s.name))
  if (webhook?.entry.spec.accessToken) granted.add(ACCESS_TOKEN)

  const payloadPath: FieldPath =
    action.payloadTemplate !== undefined
      ? ['spec', 'action', 'payloadTemplate']
      : action.slack !== undefined
        ? ['spec', 'action', 'slack']
        : ['spec', 'action', 'payload']
  const compiled =
    action.payloadTemplate !== undefined
      ? compilePayloadText(action.payloadTemplate)
      : action.payload !== undefined
        ? compilePayload(action.payload)
        : action.slack !== undefined
          ? compileSlackMessage(action.slack)
          : action.noop !== undefined
            ? compilePayload({}) // never rendered: a noop delivery sends nothing
            : undefined
  const where = (p: { path: Array<string | number>; offset: number }): FieldPath => [...payloadPath, ...p.path]
  const excerpt = (p: { path: Array<string | number>; offset: number }): string =>
    action.payloadTemplate !== undefined ? ` (character ${p.offset + 1} of the template)` : ''
  if (compiled && !compiled.ok) {
    for (const p of compiled.problems as TemplateProblem[])
      r.at(c.object, c.label, where(p), 'HW_TEMPLATE_SYNTAX', `${p.message}${excerpt(p)}`, p.hint)
  } else if (compiled?.ok) {
    for (const p of compiled.template.placeholders) {
      const problem = variableProblem(p.name, eventType, granted, action.webhook ?? '')
      if (problem && !(problem.code === 'HW_TEMPLATE_SECRET_NOT_GRANTED' && !webhook))
        r.at(c.object, c.label, where(p), problem.code, `${problem.message}${excerpt(p)}`, problem.hint)
    }
  }
  return { compiled }
}

function meaningOfAutomation(
  c: Checked,
  webhooks: ReadonlyMap<string, { entry: WebhookEntry }>,
  brokenWebhooks: ReadonlySet<string>,
  r: Reporter,
): CompiledAutomation | undefined {
  const spec = c.body.spec as AutomationSpec
  const before = r.diagnostics.length
  const runs = spec.event.type.startsWith('RUN_')
  for (const v of checkCelRules((schemas.automation.properties as Record<string, Record<string, unknown>>).spec!, spec, ['spec'], defs)) {
    r.at(c.object, c.label, v.path, v.code, v.message, runs || RUN_FIELDS.has(String(v.path.at(-1))) ? RUN_EVENT_HINT : hintFor(v.code))
  }
  const event: EventFilter = spec.event
  const aliasRegex = regex(c, ['spec', 'event', 'aliasRegex'], event.aliasRegex, r)
  const tagRegex = regex(c, ['spec', 'event', 'tagRegex'], event.tagRegex, r)
  const collectionRegex = regex(c, ['spec', 'scope', 'collectionRegex'], spec.scope.collectionRegex, r)
  const metadata = (event.metadata ?? []).map((cond, i) => compileCondition(c, i, cond, r))
  const runEvent = event.type.startsWith('RUN_')
  const filter = event.filter === undefined ? undefined : compileFilter(c, event.filter, runEvent, r)
  const runNameRegex = regex(c, ['spec', 'event', 'runNameRegex'], event.runNameRegex, r)
  const runDisplayNameRegex = regex(c, ['spec', 'event', 'runDisplayNameRegex'], event.runDisplayNameRegex, r)

  const { compiled } = checkAction(c, spec.action, event.type, webhooks, brokenWebhooks, r)
  if (
    r.diagnostics.length !== before ||
    !compiled?.ok ||
    aliasRegex === null ||
    tagRegex === null ||
    collectionRegex === null ||
    metadata.includes(null) ||
    filter === null ||
    runNameRegex === null ||
    runDisplayNameRegex === null
  )
    return undefined
  return {
    namespace: c.namespace,
    name: c.name,
    key: objectKey(c.namespace, c.name),
    spec,
    source: c.object.source,
    template: compiled.template,
    // Every field always present (undefined when unused): all compiled automations then share one
    // object shape, and the matching index's property reads stay monomorphic (npm run bench).
    aliasRegex: aliasRegex ?? undefined,
    tagRegex: tagRegex ?? undefined,
    collectionRegex: collectionRegex ?? undefined,
    metadata: metadata as CompiledCondition[],
    filter: filter ?? undefined,
    run: runEvent
      ? {
          ...(runNameRegex ? { nameRegex: runNameRegex } : {}),
          ...(runDisplayNameRegex ? { displayNameRegex: runDisplayNameRegex } : {}),
          tags: event.runTags ?? [],
          cooldownMs: cooldownMs(event.cooldown),
        }
      : undefined,
  }
}

/** W&B fires a run automation at most once per run per 24 hours; `cooldown` changes it. */
export const DEFAULT_COOLDOWN_MS = 24 * 3_600_000

/** event.cooldown (the schema's pattern: 0, or a number and s, m, h or d) in ms. */
function cooldownMs(text: string | undefined): number {
  if (text === undefined) return DEFAULT_COOLDOWN_MS
  if (text === '0') return 0
  return Number(text.slice(0, -1)) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[text.at(-1) as 's' | 'm' | 'h' | 'd']
}

function meaningOfEventSource(c: Checked, r: Reporter): EventSourceEntry | undefined {
  const before = r.diagnostics.length
  const spec = c.body.spec as EventSourceEntry['spec']
  const schema = (schemas.eventSource.properties as Record<string, Record<string, unknown>>).spec!
  for (const v of checkCelRules(schema, spec, ['spec'], defs))
    r.at(c.object, c.label, v.path, v.code, v.message, 'keep spec.mlflow for an MLflow server or spec.wandb for W&B automations, not both')
  if (r.diagnostics.length !== before) return undefined
  return { namespace: c.namespace, name: c.name, spec, source: c.object.source }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

function secretEntry(c: Checked, r: Reporter): SecretEntry | undefined {
  const data: Record<string, string> = {}
  let ok = true
  for (const [key, value] of Object.entries((c.body.data ?? {}) as Record<string, string>)) {
    if (!BASE64.test(value)) {
      r.at(
        c.object,
        c.label,
        ['data', key],
        'HW_SECRET_DATA_INVALID',
        `data.${key} is not valid base64`,
        'encode the value with `base64 -w0`, or put the plain text under stringData',
      )
      ok = false
    } else {
      data[key] = Buffer.from(value, 'base64').toString('utf8')
    }
  }
  Object.assign(data, c.body.stringData ?? {})
  return ok ? { namespace: c.namespace, name: c.name, data, source: c.object.source } : undefined
}

/**
 * Standard-webhooks signing secrets whose value is loaded with the manifests (a --secrets folder)
 * must be keys as receivers' libraries read them; reported at the Secret's key, never quoting it.
 * Secrets read from a cluster are checked when a delivery resolves them (model/secrets.ts).
 */
function checkSigningSecrets(
  webhooks: ReadonlyMap<string, { entry: WebhookEntry }>,
  secrets: ReadonlyMap<string, SecretEntry>,
  usable: readonly Checked[],
  r: Reporter,
): void {
  const secretObjects = new Map(usable.filter((c) => c.kind === 'Secret').map((c) => [objectKey(c.namespace, c.name), c]))
  for (const { entry } of webhooks.values()) {
    const signing = entry.spec.signing
    if (!entry.valid || signing?.scheme !== 'standard-webhooks') continue
    const fields: Array<[string, string | undefined]> = [
      ['signing.secret', signing.secret],
      ['signing.previousSecret', signing.previousSecret],
    ]
    for (const [field, variable] of fields) {
      const ref = entry.spec.secrets?.find((s) => s.name === variable)?.secretKeyRef
      const secret = ref && secretObjects.get(objectKey(entry.namespace, ref.name))
      if (!ref || !secret) continue
      // Values as secretEntry decoded them; a Secret it refused is reported already.
      const value = secrets.get(objectKey(entry.namespace, ref.name))?.data[ref.key]
      if (value === undefined) continue
      const stringData = (secret.body.stringData ?? {}) as Record<string, string>
      const read = readStandardWebhooksKey(value)
      if (read.ok) continue
      r.at(
        secret.object,
        secret.label,
        [Object.hasOwn(stringData, ref.key) ? 'stringData' : 'data', ref.key],
        'HW_SIGNING_SECRET_INVALID',
        `the ${field} of Webhook ${objectKey(entry.namespace, entry.name)} (scheme standard-webhooks) ${read.problem}`,
        KEY_HINT,
      )
    }
  }
}

/**
 * A Webhook that refers to a Secret defined twice gets an error: both copies are ignored, so its
 * deliveries wait for a Secret that looks present. It stays valid (its automations fire and their
 * deliveries queue, as for a Secret not created yet); its Ready condition says why they wait.
 */
function duplicatedSecrets(c: Checked, copies: ReadonlyMap<string, Checked[]>, r: Reporter): void {
  const spec = c.body.spec as WebhookSpec
  const refs: Array<[FieldPath, string]> = []
  if (spec.accessToken) refs.push([['spec', 'accessToken', 'secretKeyRef', 'name'], spec.accessToken.secretKeyRef.name])
  for (const [i, s] of (spec.secrets ?? []).entries()) refs.push([['spec', 'secrets', i, 'secretKeyRef', 'name'], s.secretKeyRef.name])
  for (const [path, name] of refs) {
    const key = objectKey(c.namespace, name)
    const found = copies.get(key)
    if (!found) continue
    const where = found.map((s) => `${s.object.source.file}:${s.object.source.line}`).join(', ')
    r.at(
      c.object,
      c.label,
      path,
      'HW_SECRET_DUPLICATE',
      `Secret ${key} is defined twice (${where}), so hookwise uses neither: deliveries to this webhook wait`,
      'remove one of the copies: a Secret belongs either in the manifests or in the --secrets folder',
    )
  }
}

/**
 * `compute` once per key while the cache holds it: its diagnostics (what it reported) are kept with
 * the result and reported again on every later call. Without a cache, just `compute`.
 */
function remember<K extends object, V>(
  memo: WeakMap<K, V & { diagnostics: Diagnostic[] }> | undefined,
  key: K,
  r: Reporter,
  compute: (key: K) => V,
): V {
  const known = memo?.get(key)
  if (known) {
    r.diagnostics.push(...known.diagnostics)
    return known
  }
  const before = r.diagnostics.length
  const value = compute(key)
  memo?.set(key, { ...value, diagnostics: r.diagnostics.slice(before) })
  return value
}

/** meaningOfAutomation, reused from the cache while the automation and its webhook are the same objects. */
function compileAutomation(
  c: Checked,
  webhooks: ReadonlyMap<string, { entry: WebhookEntry }>,
  brokenWebhooks: ReadonlySet<string>,
  r: Reporter,
  cache: ValidationCache | undefined,
): CompiledAutomation | undefined {
  const spec = c.body.spec as AutomationSpec
  const webhook = spec.action.webhook === undefined ? undefined : webhooks.get(objectKey(c.namespace, spec.action.webhook))?.entry
  // Without its webhook, the message lists the namespace's webhooks: computed each time (rare).
  const known = webhook && cache?.automations.get(c)
  if (known && known.webhook === webhook) {
    r.diagnostics.push(...known.diagnostics)
    return known.compiled
  }
  const before = r.diagnostics.length
  const compiled = meaningOfAutomation(c, webhooks, brokenWebhooks, r)
  if (webhook && cache) cache.automations.set(c, { webhook, compiled, diagnostics: r.diagnostics.slice(before) })
  return compiled
}

/** Validates and compiles manifest objects into the desired state they describe. */
export function validateObjects(
  objects: readonly ManifestObject[],
  earlier: readonly Diagnostic[] = [],
  cache?: ValidationCache,
): DesiredState {
  return (cache?.last && validateChange(objects, earlier, cache, cache.last)) ?? validateAll(objects, earlier, cache)
}

const idOf = (c: Checked): string => `${c.kind}/${c.namespace}/${c.name}`
const byKey = (a: { key: string }, b: { key: string }): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)

/**
 * The incremental pass (issue 22): when the objects differ from the last call's only in Automations
 * replaced, added or removed — every other object the same, in the same order, the earlier
 * diagnostics the same — the last outcome is patched: only the Automations that changed are read,
 * checked and compiled, and nothing is done per unchanged object but a set lookup. Whatever else
 * changed (a Webhook, a Secret, a duplicate name, a schema error, objects reordered) returns
 * undefined and validateAll checks everything, so both give the same state and diagnostics
 * (test/validate-change.test.ts compares them).
 */
function validateChange(
  objects: readonly ManifestObject[],
  earlier: readonly Diagnostic[],
  cache: ValidationCache,
  last: LastRun,
): DesiredState | undefined {
  if (JSON.stringify(earlier) !== last.earlierKey) return undefined
  // The objects not seen last time, and those gone: the others must keep their order.
  const added: Array<{ object: ManifestObject; index: number }> = []
  const removed: ManifestObject[] = []
  let i = 0
  for (const [index, o] of objects.entries()) {
    if (!last.objectSet.has(o)) {
      added.push({ object: o, index })
      continue
    }
    while (i < last.objects.length && last.objects[i] !== o) removed.push(last.objects[i++]!)
    if (i === last.objects.length) return undefined // moved before an object it followed
    i++
  }
  while (i < last.objects.length) removed.push(last.objects[i++]!)
  const { webhooks, secrets, eventSources } = last.state
  // A new state each call (a caller may add namespaceEntities to it), sharing what did not change.
  if (!added.length && !removed.length)
    return { webhooks, automations: last.state.automations, secrets, eventSources, diagnostics: last.state.diagnostics }
  const gone = new Set(removed)
  for (const o of removed) if (!last.usable.has(o)) return undefined
  const r = new Reporter()
  const fresh: Array<{ object: ManifestObject; index: number; checked: Checked; id: string }> = []
  const freshIds = new Set<string>()
  for (const { object: o, index } of added) {
    if (o.apiVersion !== API_GROUP_VERSION || o.kind !== 'Automation') return undefined
    const { checked: c } = remember(cache.schema, o, r, (key) => ({ checked: schemaLayer(key, 'Automation', r) }))
    if (!c || r.diagnostics.length) return undefined
    const id = idOf(c)
    const holder = last.ids.get(id)
    if ((holder && !gone.has(holder)) || freshIds.has(id)) return undefined // a duplicate name
    freshIds.add(id)
    fresh.push({ object: o, index, checked: c, id })
  }

  const automations = [...last.state.automations]
  for (const o of removed) {
    const a = last.usable.get(o)?.compiled
    if (!a) continue
    const at = automationPosition(automations, a.key)
    if (automations[at] === a) automations.splice(at, 1)
  }
  const compiled = fresh.map((f) => {
    const before = r.diagnostics.length
    const a = compileAutomation(f.checked, last.webhooks, last.brokenWebhooks, r, cache)
    if (a) automations.splice(automationPosition(automations, a.key), 0, a)
    return { ...f, compiled: a, diagnostics: r.diagnostics.slice(before) }
  })

  // The Automation pass's diagnostics, in input order: those of the objects kept, and the new ones.
  let perObject = last.automationDiagnostics.filter((d) => !gone.has(d.object))
  const newDiagnostics = compiled.filter((c) => c.diagnostics.length)
  if (newDiagnostics.length) {
    const position = perObject.length ? new Map(objects.map((o, index) => [o, index])) : new Map<ManifestObject, number>()
    perObject = [...perObject.map((d) => ({ ...d, index: position.get(d.object) ?? 0 })), ...newDiagnostics]
      .sort((a, b) => a.index - b.index)
      .map(({ object, diagnostics }) => ({ object, diagnostics }))
  }
  const all = last.state.diagnostics
  const diagnostics = [...all.slice(0, last.segment.start), ...perObject.flatMap((d) => d.diagnostics), ...all.slice(last.segment.end)]

  for (const o of removed) {
    last.ids.delete(last.usable.get(o)!.id)
    last.objectSet.delete(o)
    last.usable.delete(o)
  }
  for (const c of compiled) {
    last.objectSet.add(c.object)
    last.usable.set(c.object, { id: c.id, compiled: c.compiled })
    last.ids.set(c.id, c.object)
  }
  const state: DesiredState = { webhooks, automations, secrets, eventSources, diagnostics }
  Object.assign(last, {
    objects,
    automationDiagnostics: perObject,
    segment: { start: last.segment.start, end: diagnostics.length - (all.length - last.segment.end) },
    state,
  })
  return state
}

/** Every object checked (those the cache knows are not checked again) and cross-checked. */
function validateAll(objects: readonly ManifestObject[], earlier: readonly Diagnostic[], cache: ValidationCache | undefined): DesiredState {
  const r = new Reporter()
  r.diagnostics.push(...earlier)
  const checked: Checked[] = []
  const seen = new Map<string, Checked>()
  // Every copy of a Secret defined more than once: the Webhooks that use it say so.
  const secretCopies = new Map<string, Checked[]>()
  // Webhooks that exist but failed the schema: their automations say so rather than "not found".
  const brokenWebhooks = new Set<string>()
  // Automations that failed their schema: their webhook and variables are still checked.
  const schemaFailed: Checked[] = []
  const ids = new Map<string, ManifestObject>()
  for (const o of objects) {
    const kind = kindOf(o, r)
    if (!kind) continue
    const { checked: c } = remember(cache?.schema, o, r, (key) => ({ checked: schemaLayer(key, kind, r) }))
    if (!c) {
      const meta = o.body.metadata as { name?: unknown; namespace?: unknown } | undefined
      if (kind === 'Webhook' && typeof meta?.name === 'string')
        brokenWebhooks.add(objectKey(typeof meta.namespace === 'string' ? meta.namespace : DEFAULT_NAMESPACE, meta.name))
      if (kind === 'Automation') schemaFailed.push(identify(o, kind))
      continue
    }
    const id = idOf(c)
    const first = seen.get(id)
    if (first && kind === 'Secret')
      secretCopies.set(objectKey(c.namespace, c.name), [...(secretCopies.get(objectKey(c.namespace, c.name)) ?? [first]), c])
    if (first) {
      r.at(
        o,
        c.label,
        ['metadata', 'name'],
        'HW_DUPLICATE_NAME',
        `${c.label} is defined twice; the first is at ${first.object.source.file}:${first.object.source.line}`,
        'rename one of them or remove the copy; both are ignored until then',
      )
      continue
    }
    seen.set(id, c)
    ids.set(id, o)
    checked.push(c)
  }
  const duplicated = new Set(r.diagnostics.filter((d) => d.code === 'HW_DUPLICATE_NAME').map((d) => d.object))
  const usable = checked.filter((c) => !duplicated.has(c.label))

  const webhooks = new Map<string, { entry: WebhookEntry }>()
  const secrets = new Map<string, SecretEntry>()
  for (const c of usable) {
    if (c.kind === 'Webhook') {
      const { entry } = remember(cache?.webhooks, c, r, () => {
        const valid = meaningOfWebhook(c, r)
        // schemaLayer validated c.body with useDefaults: the spec's defaults are filled in.
        return {
          entry: { namespace: c.namespace, name: c.name, spec: c.body.spec as DefaultedWebhookSpec, source: c.object.source, valid },
        }
      })
      webhooks.set(objectKey(c.namespace, c.name), { entry })
    } else if (c.kind === 'Secret') {
      const s = secretEntry(c, r)
      if (s) secrets.set(objectKey(c.namespace, c.name), s)
    }
  }
  checkSigningSecrets(webhooks, secrets, usable, r)
  for (const c of usable) if (c.kind === 'Webhook') duplicatedSecrets(c, secretCopies, r)
  const automations: CompiledAutomation[] = []
  // In input order, those that failed their schema among them (positions looked up once: 10k objects).
  const position = new Map(objects.map((o, i) => [o, i]))
  const failed = new Set(schemaFailed)
  const inOrder = [...usable.filter((c) => c.kind === 'Automation'), ...schemaFailed].sort(
    (a, b) => (position.get(a.object) ?? 0) - (position.get(b.object) ?? 0),
  )
  const segmentStart = r.diagnostics.length
  const usableAutomations = new Map<ManifestObject, { id: string; compiled: CompiledAutomation | undefined }>()
  const automationDiagnostics: LastRun['automationDiagnostics'] = []
  for (const c of inOrder) {
    const before = r.diagnostics.length
    if (failed.has(c)) {
      const { action, eventType } = wellTypedAction(c)
      checkAction(c, action, eventType, webhooks, brokenWebhooks, r)
    } else {
      const a = compileAutomation(c, webhooks, brokenWebhooks, r, cache)
      if (a) automations.push(a)
      usableAutomations.set(c.object, { id: idOf(c), compiled: a })
    }
    if (r.diagnostics.length !== before) automationDiagnostics.push({ object: c.object, diagnostics: r.diagnostics.slice(before) })
  }
  const segmentEnd = r.diagnostics.length
  automations.sort(byKey)
  const eventSources = new Map<string, EventSourceEntry>()
  for (const c of usable) {
    const entry = c.kind === 'EventSource' ? meaningOfEventSource(c, r) : undefined
    if (entry) eventSources.set(objectKey(c.namespace, c.name), entry)
  }
  const state: DesiredState = {
    webhooks: new Map([...webhooks].map(([k, v]) => [k, v.entry])),
    automations,
    secrets,
    eventSources,
    diagnostics: r.diagnostics,
  }
  if (cache)
    cache.last = {
      objects,
      objectSet: new Set(objects),
      earlierKey: JSON.stringify(earlier),
      ids,
      usable: usableAutomations,
      webhooks,
      brokenWebhooks,
      automationDiagnostics,
      segment: { start: segmentStart, end: segmentEnd },
      state,
    }
  return state
}
