// `hookwise import wandb` on JSON written by the real wandb SDK from PyPI (test/tools/wandb-sdk.ts,
// installed by `pretest`): every event, scope, filter operator and action the SDK builds, in the
// three shapes it gives (model_dump_json() of api.automations() objects, of NewAutomation, and the
// GraphQL Trigger objects). The manifests written validate and render W&B's payloads.
import t from 'tap'
import { parseManifest } from '../controller/sources/manifest.js'
import { validateObjects } from '../controller/reconcile/validate.js'
import { AutomationIndex } from '../controller/match/automation-index.js'
import type { ArtifactEvent, RunMessage } from '../controller/api/types.generated.js'
import { matchRuns } from '../controller/match/run-match.js'
import { harnessConfig } from './tools/go-build.js'
import { findPython } from './tools/python-venv.js'
import { readWandbDumps, wandbSdk } from './tools/wandb-sdk.js'
import { existsSync } from 'node:fs'
import { hookwise } from './helpers/cli.js'

const cfg = harnessConfig()
const python = findPython()
const sdk = python.ok ? await wandbSdk(cfg, python) : undefined
if (!sdk || !existsSync(sdk.dumps)) {
  const why = python.ok ? `${sdk?.dumps} is missing: run npm run pretest` : python.reason
  if (cfg.ci) throw new Error(`the wandb SDK dumps are needed in CI: ${why}`)
  t.plan(0, `wandb SDK not installed: ${why}`)
  process.exit(0)
}
const dumps = await readWandbDumps(sdk)
const FLAGS = ['--entity', 'acme', '--registry', 'model', '--project', 'churn']

/** What the SDK can build and hookwise cannot express. */
const NOT_CONVERTED = ['automation "action-aria": its action ARIA has no hookwise equivalent']
const CONVERTIBLE = dumps.cases.filter((c) => !NOT_CONVERTED.some((n) => n.startsWith(`automation "${c.name}"`)))

const SHAPES: Record<string, string> = {
  // A loop printing model_dump_json() of api.automations() and api.integrations(): JSON Lines.
  saved: [...dumps.cases.map((c) => JSON.stringify(c.saved)), ...dumps.integrations.map((i) => JSON.stringify(i.saved))].join('\n'),
  // A GraphQL response: the integrations come inside the actions.
  graphql: JSON.stringify({ data: { entity: { triggers: { edges: dumps.cases.map((c) => ({ node: c.graphql })) } } } }),
  // NewAutomation dumps (event >> action) and the integrations, as one JSON list.
  new: JSON.stringify([...dumps.cases.map((c) => c.new), ...dumps.integrations.map((i) => i.saved)]),
}

function load(yaml: string) {
  const parsed = parseManifest(yaml, 'imported.yaml')
  return validateObjects(parsed.objects, parsed.diagnostics)
}

t.test(`the SDK (wandb ${dumps.wandb}) builds ${dumps.cases.length} automations; each shape imports alike`, async (t) => {
  const outputs: string[] = []
  for (const [shape, input] of Object.entries(SHAPES)) {
    const r = await hookwise(['import', 'wandb', '-', ...FLAGS], input)
    t.equal(r.status, 1, `${shape}: not everything converts`)
    t.equal(
      r.stderr,
      `imported ${CONVERTIBLE.length} automations and 2 webhooks\nnot converted (${NOT_CONVERTED.length}):\n${NOT_CONVERTED.map((n) => `  ${n}\n`).join('')}`,
      shape,
    )
    const state = load(r.stdout)
    t.same(
      state.diagnostics.filter((d) => d.severity === 'error'),
      [],
      `${shape}: the manifests validate`,
    )
    t.same(state.automations.map((a) => a.name).sort(), CONVERTIBLE.map((c) => c.name).sort(), shape)
    // The fixture's GraphQL payload text has spaces after its separators; the text is kept as W&B has it.
    outputs.push(r.stdout.replace(/payloadTemplate: '(.*)'$/gm, (_, p: string) => `payloadTemplate: ${JSON.stringify(JSON.parse(p))}`))
  }
  t.equal(outputs[1], outputs[0], 'the GraphQL shape gives the same manifests')
  t.equal(outputs[2], outputs[0], 'the NewAutomation shape gives the same manifests')
})

t.test("W&B's DoNothing becomes action noop: {} (no webhook)", async (t) => {
  const r = await hookwise(['import', 'wandb', '-', ...FLAGS], SHAPES.saved!)
  const noop = load(r.stdout).automations.find((a) => a.name === 'action-noop')
  t.same(noop?.spec.action, { noop: {} })
})

const event = (type: string, extra: Partial<ArtifactEvent> = {}): ArtifactEvent =>
  ({
    id: 'e-1',
    type,
    author: 'alice',
    entity: 'acme',
    project: 'wandb-registry-model',
    registry: 'model',
    collection: 'churn-classifier',
    artifact: { id: 'QXJ0aWZhY3Q6NQ==', name: 'churn-classifier', version: 'v7', aliases: ['v7'], tags: [] },
    ...(type === 'ADD_ARTIFACT_ALIAS' ? { alias: 'production' } : {}),
    ...(type.endsWith('_TAG') ? { tag: 'candidate' } : {}),
    ...extra,
  }) as ArtifactEvent

/** W&B's substitution of a payload (wandb-automations.md's variable table), done here independently of hookwise's renderer. */
function wandbRender(payload: string, e: ArtifactEvent): unknown {
  const values: Record<string, string> = {
    project_name: e.project,
    entity_name: e.entity,
    event_type: e.type,
    event_author: e.author ?? '',
    artifact_version: `wandb-artifact://_id/${e.artifact.id}`,
    artifact_version_string: `${e.entity}/${e.project}/${e.collection}:${e.alias ?? e.artifact.version}`,
    artifact_collection_name: e.collection,
  }
  return JSON.parse(payload.replace(/\$\{([a-z_]+)\}/g, (_, name: string) => values[name] ?? ''))
}

t.test('every imported webhook automation renders the payload W&B would send', async (t) => {
  const r = await hookwise(['import', 'wandb', '-', ...FLAGS], SHAPES.saved!)
  const state = load(r.stdout)
  let compared = 0
  for (const c of CONVERTIBLE.filter((x) => !x.name.startsWith('run-'))) {
    const payload = (c.saved.action as { requestPayload?: string }).requestPayload
    if (!payload) continue
    const a = state.automations.find((x) => x.name === c.name)!
    const e = event(a.spec.event.type)
    t.same(JSON.parse(a.template.render({ event: e, secrets: {} })), wandbRender(payload, e), c.name)
    compared++
  }
  t.ok(compared >= 50, `${compared} payloads compared`)
  const slack = state.automations.find((x) => x.name === 'action-slack')!
  t.same(slack.spec.action, {
    webhook: 'slack-ml-alerts',
    slack: { title: 'New version', message: '${artifact_version_string} by ${event_author}', severity: 'WARN', channel: '#ml-alerts' },
  })
})

t.test("the imported filters, scopes and events match as W&B's would", async (t) => {
  const r = await hookwise(['import', 'wandb', '-', ...FLAGS], SHAPES.saved!)
  const index = new AutomationIndex(load(r.stdout).automations)
  const fired = (e: ArtifactEvent) =>
    index
      .match(e)
      .map((a) => a.name)
      .filter((n) => n.startsWith('filter-') || n.startsWith('link-'))
  // Filters are on registry scopes (wandb-registry-model); alias events of the registry.
  t.same(fired(event('ADD_ARTIFACT_ALIAS')).sort(), [
    'filter-and',
    'filter-eq',
    'filter-exists',
    'filter-in',
    'filter-ne',
    'filter-nin',
    'filter-none',
    'filter-nor',
    'filter-not',
    'filter-or',
    'filter-regex',
  ])
  t.same(fired(event('ADD_ARTIFACT_ALIAS', { alias: 'tmp-1' })).sort(), [
    'filter-exists',
    'filter-ne',
    'filter-nin',
    'filter-none',
    'filter-nor',
  ])
  t.same(fired(event('ADD_ARTIFACT_TAG', { tag: 'v5-candidate' })).sort(), [
    'filter-contains',
    'filter-gt',
    'filter-gte',
    'filter-lt',
    'filter-lte',
  ])
  // LINK_MODEL: registry, collection (ArtifactPortfolio churn-classifier), team and org scopes fire; the SDK's example alias filter needs "prod".
  t.same(fired(event('LINK_ARTIFACT')).sort(), ['link-org', 'link-portfolio', 'link-registry', 'link-team'])
  t.same(fired(event('LINK_ARTIFACT', { artifact: { id: 'X', name: 'c', version: 'v1', aliases: ['prod'] } })).sort(), [
    'link-alias-filter',
    'link-org',
    'link-portfolio',
    'link-registry',
    'link-team',
  ])
  t.same(fired(event('LINK_ARTIFACT', { registry: undefined, project: 'churn', collection: 'churn-dataset' })).sort(), [
    'link-org',
    'link-project',
    'link-sequence',
    'link-team',
  ])
})

t.test("W&B's run events import as hookwise's, with their parameters, and fire on a run's values", async (t) => {
  const r = await hookwise(['import', 'wandb', '-', ...FLAGS], SHAPES.saved!)
  const automations = load(r.stdout).automations.filter((a) => a.name.startsWith('run-'))
  t.same(Object.fromEntries(automations.map((a) => [a.name, a.spec.event])), {
    'run-metric-threshold': { type: 'RUN_METRIC', metric: 'loss', agg: 'AVERAGE', window: 5, op: 'gt', threshold: 0.5 },
    'run-metric-change': {
      type: 'RUN_METRIC_CHANGE',
      metric: 'accuracy',
      agg: 'MAX',
      currentWindow: 3,
      priorWindow: 3,
      changeType: 'RELATIVE',
      direction: 'ANY',
      amount: 0.1,
    },
    'run-metric-zscore': { type: 'RUN_METRIC_ZSCORE', metric: 'loss', window: 10, threshold: 2, direction: 'ANY' },
    'run-state': { type: 'RUN_STATE', states: ['FAILED', 'FINISHED'] },
  })
  t.same(
    automations.map((a) => a.spec.scope),
    automations.map(() => ({ type: 'Project', entity: 'acme', project: 'churn' })),
  )
  // loss: 0.5, 0.3 five times (mean 0.4, sd 0.1), then 0.7 (z = 3 >= 2; the average of the last 5
  // is 0.46) and 0.9 (average 0.54 > 0.5); accuracy: max 0.8 over steps 0-2, then 0.95 (+18.75 %
  // >= 10 %); then the run crashes (FAILED).
  const run = { id: 'r1', entity: 'acme', project: 'churn' }
  const loss = [0.5, 0.3, 0.5, 0.3, 0.5, 0.3, 0.5, 0.3, 0.5, 0.3, 0.7, 0.9]
  const messages: RunMessage[] = [
    ...loss.map((v, step) => ({ run, step, metrics: { loss: v, ...(step < 6 ? { accuracy: step < 3 ? 0.8 : 0.95 } : {}) } })),
    { run, state: 'CRASHED' },
  ]
  t.same(
    matchRuns(automations, messages).map((m) => [m.automation.name, m.metric?.step ?? m.state]),
    [
      ['run-metric-change', 5],
      ['run-metric-zscore', 10],
      ['run-metric-threshold', 11],
      ['run-state', 'FAILED'],
    ],
  )
  // A run filter W&B built from the run's fields is not guessed at.
  const named = structuredClone(dumps.cases.find((c) => c.name === 'run-state')!.saved) as { event: { filter: string } }
  named.event.filter = JSON.stringify({ run_filter: '{"display_name": {"$regex": "^sweep"}}', run_state_filter: { states: ['FAILED'] } })
  const refused = await hookwise(
    ['import', 'wandb', '-', ...FLAGS],
    [JSON.stringify(named), ...dumps.integrations.map((i) => JSON.stringify(i.saved))].join('\n'),
  )
  t.equal(refused.status, 1)
  t.match(
    refused.stderr,
    'automation "run-state": its run filter {"display_name":{"$regex":"^sweep"}} is not converted: write it as runNameRegex, runTags or filter (docs/run-events.md#filters-on-the-run)',
  )
})

t.test('missing context is asked for by flag; secrets become placeholders', async (t) => {
  const r = await hookwise(['import', 'wandb', '-'], SHAPES.saved!)
  t.equal(r.status, 1)
  t.match(
    r.stderr,
    'automation "link-portfolio": its scope is the registry collection churn-classifier, whose registry W&B does not export: pass --registry',
  )
  t.match(r.stderr, 'automation "link-project": its scope is the project churn, whose entity W&B does not export: pass --entity')
  t.match(
    r.stderr,
    'automation "link-sequence": its scope is the project collection churn-dataset, whose entity and project W&B does not export: pass --entity and --project',
  )
  // An automation without its integration: the error says where to get it.
  const alone = await hookwise(
    ['import', 'wandb', '-', ...FLAGS],
    JSON.stringify(dumps.cases.find((c) => c.name === 'link-registry')!.saved),
  )
  t.equal(alone.status, 1)
  t.match(alone.stderr, 'its integration SW50ZWdyYXRpb246MTAx is not in the input: add the dumps of api.integrations()')
  // A payload using W&B's secrets: the Webhook grants them from the placeholder Secret, signed as W&B signs.
  const saved = structuredClone(dumps.cases.find((c) => c.name === 'link-registry')!.saved) as { action: { requestPayload: string } }
  saved.action.requestPayload = '{"token": "${ACCESS_TOKEN}", "key": "${API_KEY}"}'
  const out = await hookwise(
    ['import', 'wandb', '-', ...FLAGS, '--secret-name', 'from-wandb'],
    JSON.stringify([saved, dumps.integrations[0]!.saved]),
  )
  t.equal(out.status, 0, out.stderr)
  t.match(out.stdout, 'stringData:\n  deploy-hook.access-token: REPLACE_ME\n  deploy-hook.api-key: REPLACE_ME\n')
  t.match(
    out.stdout,
    'spec:\n  url: https://ci.example.com/hooks/wandb\n  accessToken:\n    secretKeyRef:\n      name: from-wandb\n      key: deploy-hook.access-token\n  secrets:\n    - name: API_KEY\n      secretKeyRef:\n        name: from-wandb\n        key: deploy-hook.api-key\n  signing:\n    secret: API_KEY\n    scheme: wandb\n',
  )
  t.same(load(out.stdout).diagnostics, [])
})
