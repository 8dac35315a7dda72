// Benchmark: match + render per event with 1k, 10k and 100k automations, about 10 of which match.
// Prints one JSON line per size. The baseline, measured in the same run, is a linear scan over every
// automation (what matching costs without the index); `vs1k` is the per-event cost relative to 1k.
// Run: npm run bench   (not part of npm test)
import type { ArtifactEvent } from '../controller/api/types.generated.js'
import { AutomationIndex, filtersAccept } from '../controller/match/automation-index.js'
import type { CompiledAutomation } from '../controller/model/desired-state.js'
import { validateObjects } from '../controller/reconcile/validate.js'
import type { ManifestObject } from '../controller/model/manifest-object.js'

const EVENT_TYPES = [
  'LINK_ARTIFACT',
  'UNLINK_ARTIFACT',
  'CREATE_ARTIFACT',
  'ADD_ARTIFACT_ALIAS',
  'ADD_ARTIFACT_TAG',
  'REMOVE_ARTIFACT_TAG',
] as const

const source = (file: string): ManifestObject['source'] => ({
  file,
  document: 0,
  line: 1,
  column: 1,
  locate: () => ({ line: 1, column: 1 }),
})
const object = (body: Record<string, unknown>): ManifestObject => ({
  apiVersion: body.apiVersion,
  kind: body.kind,
  body,
  source: source('bench'),
})

/**
 * `filter` false: the shorthand fields (aliasRegex, metadata); true: the same conditions written in
 * event.filter, the language W&B uses, so the two rows compare its cost with the fields'.
 */
function automationBody(
  i: number,
  scope: Record<string, string>,
  type: string,
  filter: boolean,
  aliasRegex?: string,
): Record<string, unknown> {
  const alias = aliasRegex ?? '^production$'
  return {
    apiVersion: 'hookwise.dev/v1alpha1',
    kind: 'Automation',
    metadata: { name: `a-${i}` },
    spec: {
      scope,
      event: filter
        ? {
            type,
            filter: {
              $and: [
                ...(type === 'ADD_ARTIFACT_ALIAS' ? [{ alias: { $in: [alias.slice(1, -1), 'prod'] } }] : []),
                { 'metadata.accuracy': { $gte: 0.9 } },
              ],
            },
          }
        : {
            type,
            ...(type === 'ADD_ARTIFACT_ALIAS' ? { aliasRegex: alias } : {}),
            metadata: [{ key: 'accuracy', op: 'gte', value: '0.9' }],
          },
      action: {
        webhook: 'hook',
        payload: {
          event_type: 'BUILD_AND_DEPLOY',
          client_payload: {
            version: '${artifact_version_string}',
            author: '${event_author}',
            artifact: '${artifact_version}',
            accuracy: '${json:artifact_metadata.accuracy}',
          },
        },
      },
    },
  }
}

/** n automations: 10 match the event (5 collection, 3 registry, 2 project scope), 5 share its buckets but fail a filter, the rest are spread elsewhere. */
function build(n: number, filter: boolean): CompiledAutomation[] {
  const objects: ManifestObject[] = [
    object({ apiVersion: 'hookwise.dev/v1alpha1', kind: 'Webhook', metadata: { name: 'hook' }, spec: { url: 'https://example.com/' } }),
  ]
  let i = 0
  const add = (scope: Record<string, string>, type: string, aliasRegex?: string): void => {
    objects.push(object(automationBody(i++, scope, type, filter, aliasRegex)))
  }
  for (let k = 0; k < 5; k++) add({ type: 'Collection', registry: 'model', collection: 'churn' }, 'ADD_ARTIFACT_ALIAS')
  for (let k = 0; k < 3; k++) add({ type: 'Registry', registry: 'model' }, 'ADD_ARTIFACT_ALIAS')
  for (let k = 0; k < 2; k++) add({ type: 'Project', entity: 'acme', project: 'registry-model' }, 'ADD_ARTIFACT_ALIAS')
  for (let k = 0; k < 5; k++) add({ type: 'Collection', registry: 'model', collection: 'churn' }, 'ADD_ARTIFACT_ALIAS', '^staging$')
  while (i < n) {
    const type = EVENT_TYPES[i % EVENT_TYPES.length]!
    const c = i % 3
    if (c === 0) add({ type: 'Collection', registry: `reg-${i % 97}`, collection: `coll-${i}` }, type)
    else if (c === 1) add({ type: 'Registry', registry: `reg-${i % 997}` }, type)
    else add({ type: 'Project', entity: `team-${i % 89}`, project: `proj-${i}` }, type)
  }
  const state = validateObjects(objects)
  if (state.diagnostics.length) throw new Error(JSON.stringify(state.diagnostics.slice(0, 3)))
  return state.automations
}

const event: ArtifactEvent = {
  id: 'e-1',
  type: 'ADD_ARTIFACT_ALIAS',
  author: 'alice',
  entity: 'acme',
  project: 'registry-model',
  registry: 'model',
  collection: 'churn',
  alias: 'production',
  artifact: { id: 'QXJ0aWZhY3Q6NTE3ODg5ODg3', name: 'churn', version: 'v7', metadata: { accuracy: 0.93, framework: 'xgboost' } },
}

/**
 * Events per second of `fn` over about `ms` milliseconds, after a warm-up: per second of wall time,
 * and per second of this process's CPU time (what a quiet machine shows; on a shared one the wall
 * clock also counts the time other processes had the core).
 */
function rate(fn: () => number, ms: number): { perSecond: number; perCpuSecond: number; check: number } {
  let check = 0
  for (let i = 0; i < 2000; i++) check += fn()
  let count = 0
  const cpu = process.cpuUsage()
  const start = process.hrtime.bigint()
  const budget = BigInt(ms) * 1_000_000n
  let elapsed = 0n
  while (elapsed < budget) {
    for (let i = 0; i < 500; i++) check += fn()
    count += 500
    elapsed = process.hrtime.bigint() - start
  }
  const used = process.cpuUsage(cpu)
  return { perSecond: (count * 1e9) / Number(elapsed), perCpuSecond: (count * 1e6) / (used.user + used.system), check }
}

const ms = Number(process.env.BENCH_MS ?? 1500)
let base1k: number | undefined
for (const [n, filter] of [1_000, 10_000, 100_000].flatMap((n) => [[n, false] as const, [n, true] as const])) {
  const automations = build(n, filter)
  const index = new AutomationIndex(automations)
  const matches = index.match(event)
  if (matches.length !== 10) throw new Error(`expected 10 matches, got ${matches.length}`)
  const indexed = rate(() => {
    let bytes = 0
    const context = { event, secrets: {}, cache: new Map<string, string>() } // one per event, as delivery does
    for (const a of index.match(event)) bytes += a.template.render(context).length
    return bytes
  }, ms)
  // Baseline: the same work without the index: every automation's type, scope and filters checked.
  const linear = rate(
    () => {
      let bytes = 0
      const context = { event, secrets: {}, cache: new Map<string, string>() }
      for (const a of automations) {
        const s = a.spec.scope
        if (a.spec.event.type !== event.type) continue
        const inScope =
          s.type === 'Registry'
            ? s.registry === event.registry
            : s.type === 'Collection'
              ? s.registry === event.registry && s.collection === event.collection
              : s.entity === event.entity && s.project === event.project
        if (inScope && filtersAccept(a, event)) bytes += a.template.render(context).length
      }
      return bytes
    },
    Math.min(ms, 500),
  )
  const nsPerEvent = 1e9 / indexed.perSecond
  if (!filter) base1k ??= nsPerEvent
  console.log(
    JSON.stringify({
      bench: 'match+render',
      automations: n,
      filter,
      matchesPerEvent: matches.length,
      eventsPerSecond: Math.round(indexed.perSecond),
      eventsPerCpuSecond: Math.round(indexed.perCpuSecond),
      nsPerEvent: Math.round(nsPerEvent),
      baselineLinearEventsPerSecond: Math.round(linear.perSecond),
      speedupVsLinear: Number((indexed.perSecond / linear.perSecond).toFixed(1)),
      vs1k: Number((nsPerEvent / base1k!).toFixed(2)),
    }),
  )
}
