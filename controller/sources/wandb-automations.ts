// `hookwise import wandb`: W&B automations and integrations, as the public `wandb` SDK gives them
// (`model_dump_json()` of `api.automations()` / `api.integrations()` objects, of `NewAutomation`s,
// or the GraphQL API's Trigger objects), turned into hookwise manifests. Pure: JSON in, manifest
// objects (with comments) and what could not be converted out.
//
// What the dumps lack is asked for: a collection scope names only the collection (no registry or
// project), a project scope no entity, an action only its integration's id, and no integration
// carries its secrets. Missing context comes from the options; secrets become secretKeyRefs to one
// Secret whose values are placeholders to fill in.
import { isRecord } from '../model/json-equal.js'
import { RUN_EVENT_TYPES, runEventOf } from './wandb-run-events.js'

export interface WandbImportOptions {
  /** Entity (team) of project scopes and of collections of projects. */
  entity?: string
  /** Registry of registry collections (W&B's ArtifactPortfolio scopes), e.g. model. */
  registry?: string
  /** Project of project collections (ArtifactSequence scopes). */
  project?: string
  /** Namespace of the objects written; none: the default namespace. */
  namespace?: string
  /** Name of the Secret holding the placeholders. */
  secretName: string
}

/** One manifest to write, with the notes to put above it as comments. */
export interface ImportedObject {
  body: Record<string, unknown>
  comments: string[]
}

export interface WandbImport {
  objects: ImportedObject[]
  /** What did not convert, one line each: "automation NAME: why". */
  notConverted: string[]
}

/** A value a user must replace: the import never sees secrets. */
export const PLACEHOLDER = 'REPLACE_ME'

const API_VERSION = 'hookwise.dev/v1alpha1'
const REGISTRY_PREFIX = 'wandb-registry-'

/** W&B's event types (wire names included) and hookwise's for them. */
const EVENT_TYPES: Readonly<Record<string, string>> = {
  LINK_MODEL: 'LINK_ARTIFACT',
  LINK_ARTIFACT: 'LINK_ARTIFACT',
  UNLINK_ARTIFACT: 'UNLINK_ARTIFACT',
  CREATE_ARTIFACT: 'CREATE_ARTIFACT',
  ADD_ARTIFACT_ALIAS: 'ADD_ARTIFACT_ALIAS',
  UPDATE_ARTIFACT_ALIAS: 'ADD_ARTIFACT_ALIAS',
  ADD_ARTIFACT_TAG: 'ADD_ARTIFACT_TAG',
  REMOVE_ARTIFACT_TAG: 'REMOVE_ARTIFACT_TAG',
  ADD_COLLECTION_TAG: 'ADD_COLLECTION_TAG',
  REMOVE_COLLECTION_TAG: 'REMOVE_COLLECTION_TAG',
}

type Json = Record<string, unknown>

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
const typename = (o: Json): string | undefined => str(o.__typename) ?? str(o.typename__)

/** A Kubernetes object name (DNS-1123 subdomain) for a W&B name. */
export function objectName(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '')
    .slice(0, 253)
  return s || 'imported'
}

/** The automations and integrations anywhere in `input` (a dump, a list, JSON Lines already parsed, a GraphQL response). */
function collect(input: unknown, automations: Json[], integrations: Map<string, Json>): void {
  if (Array.isArray(input)) {
    for (const v of input) collect(v, automations, integrations)
    return
  }
  if (!isRecord(input)) return
  const t = typename(input)
  if (isRecord(input.event) && isRecord(input.action)) {
    automations.push(input)
    const i = input.action.integration
    if (isRecord(i) && (str(i.urlEndpoint) || str(i.channelName))) integrations.set(String(i.id), i)
    return
  }
  if ((t === 'GenericWebhookIntegration' || t === 'SlackIntegration') && str(input.id)) {
    integrations.set(String(input.id), { ...integrations.get(String(input.id)), ...input })
    return
  }
  for (const v of Object.values(input)) collect(v, automations, integrations)
}

/** The JSON a field holds, parsing text (W&B keeps filters and payloads as JSON text inside JSON). */
function parsed(v: unknown): unknown {
  if (typeof v !== 'string') return v
  try {
    return JSON.parse(v)
  } catch {
    return v
  }
}

/** The Mongo-like filter of an event: saved automations wrap it in {"filter": ...}. */
function eventFilter(raw: unknown): unknown {
  let f = parsed(raw)
  if (isRecord(f) && Object.keys(f).length === 1 && 'filter' in f) f = parsed(f.filter)
  return f
}

/** The SDK's filter that holds always: {"$or": [{"$and": []}]}, or {}. */
function isEmptyFilter(f: unknown): boolean {
  if (!isRecord(f)) return false
  const keys = Object.keys(f)
  if (keys.length === 0) return true
  if (keys.length !== 1) return false
  const list = f.$or ?? f.$and
  return Array.isArray(list) && list.every((x) => isEmptyFilter(x) || (isRecord(x) && Array.isArray(x.$and) && x.$and.length === 0))
}

interface Context {
  o: WandbImportOptions
  integrations: Map<string, Json>
  /** Webhooks made so far, by integration id. */
  webhooks: Map<string, { name: string; body: Json; comments: string[]; slack: boolean; channel?: string }>
  secretKeys: Map<string, string>
  names: Set<string>
}

type Converted<T> = { ok: true; value: T; comments: string[] } | { ok: false; why: string }

function scopeOf(scope: Json, o: WandbImportOptions): Converted<Json> {
  const t = typename(scope)
  const name = str(scope.name) ?? ''
  if (t === 'ArtifactPortfolio') {
    if (!o.registry)
      return { ok: false, why: `its scope is the registry collection ${name}, whose registry W&B does not export: pass --registry` }
    return { ok: true, value: { type: 'Collection', registry: o.registry, collection: name }, comments: [] }
  }
  if (t === 'ArtifactSequence') {
    if (!o.entity || !o.project)
      return {
        ok: false,
        why: `its scope is the project collection ${name}, whose entity and project W&B does not export: pass --entity and --project`,
      }
    return {
      ok: true,
      value: { type: 'Project', entity: o.entity, project: o.project, collectionRegex: `^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$` },
      comments: [`W&B scope: the collection ${name} of a project; hookwise watches it as a Project scope narrowed to that collection`],
    }
  }
  if (t === 'Project') {
    const isRegistry = scope.isRegistry ?? scope.is_registry ?? name.startsWith(REGISTRY_PREFIX)
    if (isRegistry) return { ok: true, value: { type: 'Registry', registry: name.replace(REGISTRY_PREFIX, '') }, comments: [] }
    if (!o.entity) return { ok: false, why: `its scope is the project ${name}, whose entity W&B does not export: pass --entity` }
    return { ok: true, value: { type: 'Project', entity: o.entity, project: name }, comments: [] }
  }
  if (t === 'Entity') {
    const kind = scope.entityType ?? scope.entity_type
    if (kind === 'organization') return { ok: true, value: { type: 'Organization', organization: name }, comments: [] }
    return { ok: true, value: { type: 'Entity', entity: name }, comments: [] }
  }
  return { ok: false, why: `its scope ${JSON.stringify(t)} is not one W&B documents` }
}

/** Secret names a payload template uses (UPPER_CASE variables, ACCESS_TOKEN included). */
function secretsUsed(texts: string[]): string[] {
  const out = new Set<string>()
  for (const text of texts) for (const m of text.matchAll(/\$\{([A-Z][A-Z0-9_]*)\}/g)) out.add(m[1]!)
  return [...out].sort()
}

function secretKey(ctx: Context, webhook: string, variable: string): Json {
  const key = `${webhook}.${variable.toLowerCase().replace(/_/g, '-')}`
  ctx.secretKeys.set(key, variable)
  return { name: ctx.o.secretName, key }
}

/** The Webhook for an integration, made once; the secrets its automations' templates use are added. */
function webhookFor(ctx: Context, id: string, templates: string[]): Converted<{ name: string; slack: boolean; channel?: string }> {
  const integration = ctx.integrations.get(id)
  if (!integration)
    return {
      ok: false,
      why: `its integration ${id} is not in the input: add the dumps of api.integrations() (or the GraphQL shape, which carries them)`,
    }
  let w = ctx.webhooks.get(id)
  const slack = typename(integration) === 'SlackIntegration' || str(integration.channelName) !== undefined
  if (!w) {
    const wandbName = str(integration.name) ?? (slack ? `slack-${str(integration.channelName) ?? id}` : id)
    let name = objectName(wandbName)
    while (ctx.names.has(`Webhook/${name}`)) name = `${name}-2`
    ctx.names.add(`Webhook/${name}`)
    const comments = [`W&B integration ${JSON.stringify(wandbName)} (id ${id})`]
    const body: Json = slack
      ? {
          url: 'https://slack.com/api/chat.postMessage',
          accessToken: { secretKeyRef: { name: ctx.o.secretName, key: `${name}.bot-token` } },
        }
      : { url: str(integration.urlEndpoint) ?? str(integration.url_endpoint) }
    if (slack) {
      ctx.secretKeys.set(`${name}.bot-token`, 'a Slack bot token (xoxb-...) that may post to the channel')
      comments.push(
        `W&B posts through its Slack app to ${str(integration.channelName) ?? 'a channel'} of ${str(integration.teamName) ?? 'your workspace'}; hookwise posts with your own Slack app's bot token (or set url to an incoming-webhook URL and drop accessToken)`,
      )
    } else {
      comments.push(
        'W&B does not export secrets: if the integration had a secret, W&B signed requests with it (X-Wandb-Signature); add it to spec.secrets and set spec.signing: {secret: NAME}',
      )
    }
    w = { name, body, comments, slack, ...(slack && str(integration.channelName) ? { channel: str(integration.channelName)! } : {}) }
    ctx.webhooks.set(id, w)
  }
  for (const variable of secretsUsed(templates)) {
    if (variable === 'ACCESS_TOKEN') {
      if (!w.body.accessToken) w.body.accessToken = { secretKeyRef: secretKey(ctx, w.name, variable) }
    } else {
      if (!w.body.secrets) w.body.secrets = []
      const secrets = w.body.secrets as Json[]
      if (!secrets.some((s) => s.name === variable)) secrets.push({ name: variable, secretKeyRef: secretKey(ctx, w.name, variable) })
      if (!w.body.signing) w.body.signing = { secret: variable, scheme: 'wandb' }
    }
  }
  return { ok: true, value: w, comments: [] }
}

/** W&B's action types by the GraphQL typename of a saved action (the GraphQL shape has no actionType). */
const ACTION_TYPES: Readonly<Record<string, string>> = {
  GenericWebhookTriggeredAction: 'GENERIC_WEBHOOK',
  NotificationTriggeredAction: 'NOTIFICATION',
  NoOpTriggeredAction: 'NO_OP',
  ARIATriggeredAction: 'ARIA',
  QueueJobTriggeredAction: 'QUEUE_JOB',
  PushNotificationTriggeredAction: 'PUSH_NOTIFICATION',
}

function actionOf(ctx: Context, action: Json): Converted<Json> {
  const t = typename(action)
  const type = str(action.action_type) ?? str(action.actionType) ?? (t ? (ACTION_TYPES[t] ?? t) : undefined)
  const integrationId = str(action.integration_id) ?? (isRecord(action.integration) ? str(action.integration.id) : undefined)
  if (type === 'GENERIC_WEBHOOK') {
    const payload = str(action.requestPayload) ?? str(action.request_payload)
    const w = webhookFor(ctx, integrationId ?? '?', payload ? [payload] : [])
    if (!w.ok) return w
    if (!payload)
      return {
        ok: true,
        value: { webhook: w.value.name, payloadTemplate: '{}' },
        comments: ['W&B had no payload for this automation; hookwise sends {} until you write one'],
      }
    return { ok: true, value: { webhook: w.value.name, payloadTemplate: payload }, comments: [] }
  }
  if (type === 'NOTIFICATION') {
    const texts = [str(action.title) ?? '', str(action.message) ?? '']
    const w = webhookFor(ctx, integrationId ?? '?', texts)
    if (!w.ok) return w
    const severity = str(action.severity) ?? 'INFO'
    return {
      ok: true,
      value: {
        webhook: w.value.name,
        slack: {
          ...(texts[0] ? { title: texts[0] } : {}),
          message: texts[1] || texts[0] || '${event_type}',
          severity,
          ...(w.value.channel ? { channel: w.value.channel } : {}),
        },
      },
      comments: [],
    }
  }
  if (type === 'NO_OP') return { ok: true, value: { noop: {} }, comments: [] }
  return { ok: false, why: `its action ${type ?? '(unknown)'} has no hookwise equivalent` }
}

function automationOf(ctx: Context, a: Json): Converted<{ name: string; spec: Json }> {
  const event = a.event as Json
  const wandbType = str(event.event_type) ?? str(event.eventType) ?? '?'
  const runEvent = RUN_EVENT_TYPES.has(wandbType) ? runEventOf(wandbType, event.filter) : undefined
  if (runEvent && !runEvent.ok) return runEvent
  const type = runEvent ? wandbType : EVENT_TYPES[wandbType]
  if (!type) return { ok: false, why: `its event ${wandbType} is not one W&B documents` }
  const scopeRaw = isRecord(a.scope) ? a.scope : isRecord(event.scope) ? event.scope : undefined
  if (!scopeRaw) return { ok: false, why: 'it has no scope' }
  const scope = scopeOf(scopeRaw, ctx.o)
  if (!scope.ok) return scope
  const action = actionOf(ctx, a.action as Json)
  if (!action.ok) return action
  const comments = [...scope.comments, ...action.comments]
  if (wandbType !== type) comments.push(`W&B event ${wandbType} is hookwise's ${type}`)
  const filter = runEvent ? undefined : eventFilter(event.filter)
  const keepFilter = !isEmptyFilter(filter) || type === 'ADD_ARTIFACT_ALIAS'
  if (filter !== undefined && !isRecord(filter))
    return { ok: false, why: `its filter ${JSON.stringify(event.filter)} is not a JSON object` }
  const spec: Json = {
    ...(str(a.description) ? { description: str(a.description) } : {}),
    ...(a.enabled === false ? { enabled: false } : {}),
    scope: scope.value,
    event: runEvent ? runEvent.event : { type, ...(keepFilter && filter !== undefined ? { filter } : {}) },
    action: action.value,
  }
  const wandbName = str(a.name) ?? 'imported'
  let name = objectName(wandbName)
  while (ctx.names.has(`Automation/${name}`)) name = `${name}-2`
  ctx.names.add(`Automation/${name}`)
  if (name !== wandbName) comments.unshift(`W&B name: ${JSON.stringify(wandbName)}`)
  return { ok: true, value: { name, spec }, comments }
}

/** Converts W&B automations and integrations (any of the shapes above, already parsed from JSON). */
export function importWandb(input: unknown, o: WandbImportOptions): WandbImport {
  const automations: Json[] = []
  const integrations = new Map<string, Json>()
  collect(input, automations, integrations)
  const ctx: Context = { o, integrations, webhooks: new Map(), secretKeys: new Map(), names: new Set() }
  const metadata = (name: string): Json => ({ name, ...(o.namespace ? { namespace: o.namespace } : {}) })
  const converted: ImportedObject[] = []
  const notConverted: string[] = []
  for (const a of automations) {
    const c = automationOf(ctx, a)
    if (!c.ok) {
      notConverted.push(`automation ${JSON.stringify(str(a.name) ?? '?')}: ${c.why}`)
      continue
    }
    converted.push({
      body: { apiVersion: API_VERSION, kind: 'Automation', metadata: metadata(c.value.name), spec: c.value.spec },
      comments: c.comments,
    })
  }
  // Integrations no automation uses are brought along too.
  for (const id of integrations.keys()) if (!ctx.webhooks.has(id)) webhookFor(ctx, id, [])
  const objects: ImportedObject[] = []
  if (ctx.secretKeys.size) {
    const stringData = Object.fromEntries([...ctx.secretKeys.keys()].map((k) => [k, PLACEHOLDER]))
    objects.push({
      body: { apiVersion: 'v1', kind: 'Secret', metadata: metadata(o.secretName), stringData },
      comments: [
        `Fill in every ${PLACEHOLDER} (W&B never exports secret values), then keep this Secret out of git (kubectl create secret, a sealed or external secret):`,
        ...[...ctx.secretKeys].map(([k, what]) => `  ${k}: ${what.includes(' ') ? what : `the value of W&B's secret ${what}`}`),
      ],
    })
  }
  for (const w of ctx.webhooks.values())
    objects.push({ body: { apiVersion: API_VERSION, kind: 'Webhook', metadata: metadata(w.name), spec: w.body }, comments: w.comments })
  objects.push(...converted)
  return { objects, notConverted }
}
