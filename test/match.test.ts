// Matching: scope, event type, alias/tag/collection regexes, metadata conditions, enabled, order.
import t from 'tap'
import { parseManifest } from '../controller/sources/manifest.js'
import { validateObjects } from '../controller/reconcile/validate.js'
import { AutomationIndex } from '../controller/match/automation-index.js'
import type { ArtifactEvent } from '../controller/api/types.generated.js'

const webhook = (ns = 'default'): string =>
  `apiVersion: hookwise.dev/v1alpha1\nkind: Webhook\nmetadata: {name: hook, namespace: ${ns}}\nspec: {url: "https://example.com/"}\n`

function automation(name: string, scope: string, event: string, extra = '', ns = 'default'): string {
  return `---\napiVersion: hookwise.dev/v1alpha1\nkind: Automation\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${extra}  scope: ${scope}\n  event: ${event}\n  action: {webhook: hook, payload: {x: "\${event_type}"}}\n`
}

function index(text: string, namespaceEntities?: Map<string, Set<string>>): AutomationIndex {
  const parsed = parseManifest(text, 'm.yaml')
  const state = validateObjects(parsed.objects, parsed.diagnostics)
  if (state.diagnostics.length) throw new Error(JSON.stringify(state.diagnostics, null, 2))
  return new AutomationIndex(state.automations, namespaceEntities)
}

const base: ArtifactEvent = {
  type: 'ADD_ARTIFACT_ALIAS',
  entity: 'acme',
  project: 'wandb-registry-model',
  registry: 'model',
  collection: 'churn-classifier',
  alias: 'production',
  artifact: {
    id: 'X',
    name: 'churn-classifier',
    version: 'v7',
    metadata: { accuracy: 0.93, framework: 'xgboost', epochs: '12', flag: true },
  },
}
const names = (idx: AutomationIndex, e: Partial<ArtifactEvent>): string[] => idx.match({ ...base, ...e } as ArtifactEvent).map((a) => a.key)

t.test('scopes: Registry, Collection and Project', async (t) => {
  const idx = index(
    webhook() +
      automation('reg', '{type: Registry, registry: model}', '{type: LINK_ARTIFACT}') +
      automation('coll', '{type: Collection, registry: model, collection: churn-classifier}', '{type: LINK_ARTIFACT}') +
      automation('other-coll', '{type: Collection, registry: model, collection: fraud}', '{type: LINK_ARTIFACT}') +
      automation('other-reg', '{type: Registry, registry: dataset}', '{type: LINK_ARTIFACT}') +
      automation('proj', '{type: Project, entity: acme, project: wandb-registry-model}', '{type: LINK_ARTIFACT}') +
      automation(
        'proj-regex',
        '{type: Project, entity: acme, project: wandb-registry-model, collectionRegex: "^churn-"}',
        '{type: LINK_ARTIFACT}',
      ) +
      automation(
        'proj-regex-no',
        '{type: Project, entity: acme, project: wandb-registry-model, collectionRegex: "^fraud-"}',
        '{type: LINK_ARTIFACT}',
      ),
  )
  t.same(names(idx, { type: 'LINK_ARTIFACT', alias: undefined }), ['default/coll', 'default/proj', 'default/proj-regex', 'default/reg'])
  t.same(
    names(idx, { type: 'LINK_ARTIFACT', alias: undefined, registry: undefined }),
    ['default/proj', 'default/proj-regex'],
    'no registry: only project scopes',
  )
  t.same(names(idx, { type: 'UNLINK_ARTIFACT', alias: undefined }), [], 'another event type matches nothing')
  t.same(names(idx, { type: 'LINK_ARTIFACT', alias: undefined, entity: 'other' }), ['default/coll', 'default/reg'])
})

t.test('alias and tag regexes', async (t) => {
  const idx = index(
    webhook() +
      automation('prod', '{type: Registry, registry: model}', '{type: ADD_ARTIFACT_ALIAS, aliasRegex: "^production$"}') +
      automation('any-alias', '{type: Registry, registry: model}', '{type: ADD_ARTIFACT_ALIAS, aliasRegex: "."}') +
      automation('tag', '{type: Registry, registry: model}', '{type: ADD_ARTIFACT_TAG, tagRegex: "^cand"}') +
      automation('any-tag', '{type: Registry, registry: model}', '{type: REMOVE_ARTIFACT_TAG}'),
  )
  t.same(names(idx, {}), ['default/any-alias', 'default/prod'])
  t.same(names(idx, { alias: 'production-old' }), ['default/any-alias'])
  t.same(names(idx, { type: 'ADD_ARTIFACT_TAG', alias: undefined, tag: 'candidate' }), ['default/tag'])
  t.same(names(idx, { type: 'ADD_ARTIFACT_TAG', alias: undefined, tag: 'x-candidate' }), [])
  t.same(names(idx, { type: 'REMOVE_ARTIFACT_TAG', alias: undefined, tag: 'anything' }), ['default/any-tag'])
})

t.test('metadata conditions', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['accuracy', 'op: gte, value: "0.93"', true],
    ['accuracy', 'op: gt, value: "0.93"', false],
    ['accuracy', 'op: lt, value: "1"', true],
    ['accuracy', 'op: lte, value: "0.5"', false],
    ['epochs', 'op: gt, value: "10"', true], // numeric strings compare as numbers
    ['framework', 'op: gt, value: "1"', false], // not a number: no match
    ['framework', 'op: eq, value: xgboost', true],
    ['framework', 'op: ne, value: xgboost', false],
    ['missing', 'op: ne, value: xgboost', true],
    ['flag', 'op: eq, value: "true"', true],
    ['accuracy', 'op: eq, value: "0.93"', true],
    ['framework', 'op: regex, value: "^xg"', true],
    ['framework', 'op: regex, value: "^tf"', false],
    ['missing', 'op: exists', false],
    ['framework', 'op: exists', true],
    ['missing', 'op: gt, value: "0"', false],
  ]
  for (const [key, cond, expected] of cases) {
    const idx = index(
      webhook() +
        automation(
          'm',
          '{type: Registry, registry: model}',
          `{type: ADD_ARTIFACT_ALIAS, aliasRegex: ".", metadata: [{key: ${key}, ${cond}}]}`,
        ),
    )
    t.equal(names(idx, {}).length === 1, expected, `${key} ${cond}`)
  }
})

t.test('disabled automations never match; enabled is the default', async (t) => {
  const idx = index(
    webhook() +
      automation('off', '{type: Registry, registry: model}', '{type: LINK_ARTIFACT}', '  enabled: false\n') +
      automation('on', '{type: Registry, registry: model}', '{type: LINK_ARTIFACT}'),
  )
  t.same(names(idx, { type: 'LINK_ARTIFACT', alias: undefined }), ['default/on'])
  t.equal(idx.size, 1)
})

t.test('namespaces: every namespace matches any event (single team), ordered by namespace/name', async (t) => {
  const idx = index(
    webhook('b') +
      '---\n' +
      webhook('a') +
      automation('z', '{type: Registry, registry: model}', '{type: LINK_ARTIFACT}', '', 'b') +
      automation('y', '{type: Project, entity: acme, project: wandb-registry-model}', '{type: LINK_ARTIFACT}', '', 'a') +
      automation('x', '{type: Collection, registry: model, collection: churn-classifier}', '{type: LINK_ARTIFACT}', '', 'b'),
  )
  t.same(names(idx, { type: 'LINK_ARTIFACT', alias: undefined }), ['a/y', 'b/x', 'b/z'])
})

t.test('tenancy by namespace: a namespace only matches events of its entities', async (t) => {
  const text =
    webhook('team-a') +
    '---\n' +
    webhook('team-b') +
    '---\n' +
    webhook('team-c') +
    automation('x', '{type: Registry, registry: model}', '{type: LINK_ARTIFACT}', '', 'team-a') +
    automation('y', '{type: Registry, registry: model}', '{type: LINK_ARTIFACT}', '', 'team-b') +
    automation('z', '{type: Registry, registry: model}', '{type: LINK_ARTIFACT}', '', 'team-c')
  const idx = index(
    text,
    new Map([
      ['team-a', new Set(['acme'])],
      ['team-b', new Set(['globex', 'acme'])],
    ]),
  )
  t.same(names(idx, { type: 'LINK_ARTIFACT', alias: undefined }), ['team-a/x', 'team-b/y'], 'team-c has no entities: it receives nothing')
  t.same(names(idx, { type: 'LINK_ARTIFACT', alias: undefined, entity: 'globex' }), ['team-b/y'])
  t.same(names(idx, { type: 'LINK_ARTIFACT', alias: undefined, entity: 'initech' }), [])
  t.same(
    names(index(text), { type: 'LINK_ARTIFACT', alias: undefined, entity: 'initech' }),
    ['team-a/x', 'team-b/y', 'team-c/z'],
    'without tenancy every namespace matches',
  )
})

t.test('an index updated in place matches as one built afresh: changed, added, removed and disabled automations', async (t) => {
  const compile = (text: string) => {
    const parsed = parseManifest(text, 'm.yaml')
    const state = validateObjects(parsed.objects, parsed.diagnostics)
    if (state.diagnostics.length) throw new Error(JSON.stringify(state.diagnostics, null, 2))
    return state.automations
  }
  const collection = '{type: Collection, registry: model, collection: churn-classifier}'
  const registry = '{type: Registry, registry: model}'
  const alias = (re: string) => `{type: ADD_ARTIFACT_ALIAS, aliasRegex: "${re}"}`
  const before = compile(
    webhook() +
      automation('c', collection, alias('^production$')) +
      automation('a', registry, alias('^production$')) +
      automation('b', collection, alias('^staging$')) +
      automation('d', registry, alias('^production$')),
  )
  const idx = new AutomationIndex(before)
  t.same(names(idx, {}), ['default/a', 'default/c', 'default/d'])
  const after = compile(
    webhook() +
      automation('b', collection, alias('^production$')) + // changed: now matches
      automation('a', registry, alias('^production$')) +
      automation('e', collection, alias('^prod')) + // added
      automation('d', registry, alias('^production$'), '  enabled: false\n'), // disabled; c removed
  )
  // a is unchanged: the same compiled object stays in place.
  after[after.findIndex((x) => x.key === 'default/a')] = before.find((x) => x.key === 'default/a')!
  idx.update(after)
  t.same(names(idx, {}), names(new AutomationIndex(after), {}))
  t.same(names(idx, {}), ['default/a', 'default/b', 'default/e'])
  t.equal(idx.size, 3)
  idx.update([])
  t.same(names(idx, {}), [])
  t.equal(idx.size, 0)
})

t.test('Entity and Organization scopes: every registry and project of an entity, everything; tenancy applies', async (t) => {
  const text =
    webhook('team-a') +
    '---\n' +
    webhook('team-b') +
    automation('ent', '{type: Entity, entity: acme}', '{type: LINK_ARTIFACT}', '', 'team-a') +
    automation('ent-churn', '{type: Entity, entity: acme, collectionRegex: "^churn-"}', '{type: LINK_ARTIFACT}', '', 'team-a') +
    automation('ent-globex', '{type: Entity, entity: globex}', '{type: LINK_ARTIFACT}', '', 'team-a') +
    automation('org', '{type: Organization, organization: acme-org}', '{type: LINK_ARTIFACT}', '', 'team-a') +
    automation('org-b', '{type: Organization, organization: acme-org}', '{type: LINK_ARTIFACT}', '', 'team-b') +
    automation('org-alias', '{type: Organization, organization: acme-org}', '{type: ADD_ARTIFACT_ALIAS, aliasRegex: "."}', '', 'team-b')
  const link = { type: 'LINK_ARTIFACT' as const, alias: undefined }
  const open = index(text)
  t.same(names(open, link), ['team-a/ent', 'team-a/ent-churn', 'team-a/org', 'team-b/org-b'], 'a registry event of acme')
  t.same(
    names(open, { ...link, registry: undefined, project: 'later-project', collection: 'churn-x' }),
    ['team-a/ent', 'team-a/ent-churn', 'team-a/org', 'team-b/org-b'],
    'a project created later is in the entity scope',
  )
  t.same(names(open, { ...link, entity: 'globex', collection: 'fraud' }), ['team-a/ent-globex', 'team-a/org', 'team-b/org-b'])
  // --tenancy namespace-label: team-a is given acme only, team-b globex only.
  const tenancy = index(
    text,
    new Map([
      ['team-a', new Set(['acme'])],
      ['team-b', new Set(['globex'])],
    ]),
  )
  t.same(names(tenancy, link), ['team-a/ent', 'team-a/ent-churn', 'team-a/org'], "team-b's Organization scope does not see acme")
  t.same(names(tenancy, { ...link, entity: 'globex' }), ['team-b/org-b'], "team-a's Entity scope for globex sees nothing: not its entity")
})

t.test('Entity and Organization scope fields are checked', async (t) => {
  const bad = (scope: string) => {
    const parsed = parseManifest(webhook() + automation('a', scope, '{type: LINK_ARTIFACT}'), 'm.yaml')
    return validateObjects(parsed.objects, parsed.diagnostics).diagnostics.map((d) => `${d.path}: ${d.message}`)
  }
  t.same(bad('{type: Entity}'), ['spec.scope.entity: an Entity scope takes scope.entity (and optionally collectionRegex) only'])
  t.same(bad('{type: Entity, entity: acme, project: p}'), [
    'spec.scope.project: an Entity scope takes scope.entity (and optionally collectionRegex) only',
  ])
  t.same(bad('{type: Organization}'), [
    'spec.scope.organization: scope.organization is required for an Organization scope, and belongs to it only',
  ])
  t.same(bad('{type: Organization, organization: o, entity: acme}'), [
    'spec.scope.entity: scope.entity, scope.project and scope.collectionRegex belong to a Project scope',
    'spec.scope.entity: an Organization scope takes scope.organization only',
  ])
  t.same(bad('{type: Registry, registry: model, organization: o}'), [
    'spec.scope.organization: scope.organization is required for an Organization scope, and belongs to it only',
  ])
})

t.test('collection tag events: tagRegex, the filter and ${tag} see the collection tag', async (t) => {
  const idx = index(
    webhook() +
      automation('add', '{type: Registry, registry: model}', '{type: ADD_COLLECTION_TAG, tagRegex: "^prod"}') +
      automation('add-filter', '{type: Registry, registry: model}', '{type: ADD_COLLECTION_TAG, filter: {tag: {$in: [production]}}}') +
      automation('remove', '{type: Registry, registry: model}', '{type: REMOVE_COLLECTION_TAG}'),
  )
  const e = { type: 'ADD_COLLECTION_TAG' as const, alias: undefined, tag: 'production' }
  t.same(names(idx, e), ['default/add', 'default/add-filter'])
  t.same(names(idx, { ...e, tag: 'staging' }), [])
  t.same(names(idx, { ...e, type: 'REMOVE_COLLECTION_TAG' }), ['default/remove'])
  const [a] = idx.match({ ...base, ...e } as ArtifactEvent)
  t.equal(a!.template.render({ event: { ...base, ...e } as ArtifactEvent, secrets: {} }), '{"x":"ADD_COLLECTION_TAG"}')
})

t.test('matches from every scope list come out in namespace/name order, few or many', async (t) => {
  const scopes = [
    '{type: Organization, organization: acme-org}',
    '{type: Entity, entity: acme}',
    '{type: Registry, registry: model}',
    '{type: Collection, registry: model, collection: churn-classifier}',
    '{type: Project, entity: acme, project: wandb-registry-model}',
  ]
  for (const count of [5, 40]) {
    // Names interleave across the scopes, so no scope's list is a run of the output.
    let text = webhook()
    for (let i = 0; i < count; i++) text += automation(`a-${String(count - i).padStart(2, '0')}`, scopes[i % 5]!, '{type: LINK_ARTIFACT}')
    const expected = Array.from({ length: count }, (_, i) => `default/a-${String(i + 1).padStart(2, '0')}`)
    t.same(names(index(text), { type: 'LINK_ARTIFACT', alias: undefined }), expected, `${count} matches`)
  }
})

t.test('an index update reads no automation that stayed the same object (issue 22)', async (t) => {
  const parsed = parseManifest(
    webhook() +
      Array.from({ length: 50 }, (_, i) =>
        automation(
          `a${String(i).padStart(2, '0')}`,
          '{type: Registry, registry: model}',
          '{type: ADD_ARTIFACT_ALIAS, aliasRegex: "^production$"}',
        ),
      ).join(''),
    'm.yaml',
  )
  const automations = validateObjects(parsed.objects, parsed.diagnostics).automations
  const reads = new Map<number, number>()
  // Each compiled automation behind a proxy that counts property reads.
  const counted = automations.map(
    (a, i) =>
      new Proxy(a, {
        get: (target, key, receiver) => {
          reads.set(i, (reads.get(i) ?? 0) + 1)
          return Reflect.get(target, key, receiver)
        },
      }),
  )
  const idx = new AutomationIndex(counted)
  const changed = { ...automations[20]!, key: automations[20]!.key }
  const next = counted.map((a, i) => (i === 20 ? changed : a))
  reads.clear()
  idx.update(next)
  // The replaced one, and the few its bucket's binary search compares with (log2 50 < 6), not one of every 49 others.
  const others = [...reads.keys()].filter((i) => i !== 20)
  t.ok(reads.has(20) && others.length <= 6, `automations read besides the replaced one: ${others.length}`)
  t.same(names(idx, {}), names(new AutomationIndex(next), {}))
})
