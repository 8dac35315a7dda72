// event.filter: W&B's filter language, validated with file:line and evaluated by the matching index.
import t, { type Test as Tap } from 'tap'
import { parseManifest } from '../controller/sources/manifest.js'
import { validateObjects } from '../controller/reconcile/validate.js'
import { AutomationIndex } from '../controller/match/automation-index.js'
import type { ArtifactEvent } from '../controller/api/types.generated.js'

const WEBHOOK = 'apiVersion: hookwise.dev/v1alpha1\nkind: Webhook\nmetadata: {name: hook}\nspec: {url: "https://example.com/"}\n'

/** One automation per filter (YAML flow text), named f0, f1, ... */
function manifests(type: string, filters: string[]): string {
  return (
    WEBHOOK +
    filters
      .map(
        (f, i) =>
          `---\napiVersion: hookwise.dev/v1alpha1\nkind: Automation\nmetadata: {name: f${i}}\nspec:\n  scope: {type: Registry, registry: model}\n  event:\n    type: ${type}\n${type === 'ADD_ARTIFACT_ALIAS' ? '    aliasRegex: ".*"\n' : ''}    filter: ${f}\n  action: {webhook: hook, payload: {x: "\${event_type}"}}\n`,
      )
      .join('')
  )
}

function compile(type: string, filters: string[]) {
  const parsed = parseManifest(manifests(type, filters), 'f.yaml')
  return validateObjects(parsed.objects, parsed.diagnostics)
}

const event = (e: Partial<ArtifactEvent> = {}): ArtifactEvent =>
  ({
    type: 'ADD_ARTIFACT_ALIAS',
    entity: 'acme',
    project: 'wandb-registry-model',
    registry: 'model',
    collection: 'churn-classifier',
    alias: 'production',
    author: 'alice',
    artifact: {
      id: 'X',
      name: 'churn-classifier',
      version: 'v7',
      type: 'model',
      aliases: ['latest', 'v7'],
      tags: ['candidate'],
      metadata: { accuracy: 0.93, framework: 'xgboost', eval: { f1: 0.8 } },
    },
    ...e,
  }) as ArtifactEvent

/** Which of the filters (by index) accept the event. */
function accepting(t: Tap, type: string, filters: string[], e: ArtifactEvent): number[] {
  const state = compile(type, filters)
  t.same(state.diagnostics, [], 'the filters are valid')
  return new AutomationIndex(state.automations)
    .match(e)
    .map((a) => Number(a.name.slice(1)))
    .sort((a, b) => a - b)
}

t.test('every operator, as the wandb SDK writes them, on the alias of an alias event', async (t) => {
  const filters = [
    '{alias: {$eq: production}}', // 0
    '{alias: production}', // 1: a literal is $eq
    '{alias: {$ne: staging}}', // 2
    '{alias: {$ne: production}}', // 3 no
    '{alias: {$in: [prod, production]}}', // 4
    '{alias: {$nin: [staging, dev]}}', // 5
    '{alias: {$nin: [production]}}', // 6 no
    '{alias: {$exists: true}}', // 7
    '{tag: {$exists: true}}', // 8: outside tag events, tag is the version's tags: ["candidate"]
    '{alias: {$regex: "^prod"}}', // 9
    '{alias: {$regex: "^stag"}}', // 10 no
    '{alias: {$contains: duct}}', // 11
    '{alias: {$gt: p}}', // 12: text compares by code point
    '{alias: {$gte: production, $lte: production}}', // 13
    '{alias: {$lt: a}}', // 14 no
    '{"$or": [{"$and": []}]}', // 15: the SDK's "no filter"
    '{"$or": [{alias: staging}, {alias: production}]}', // 16
    '{"$and": [{alias: {$regex: "^prod"}}, {tag: {$ne: blocked}}]}', // 17
    '{"$nor": [{alias: staging}, {alias: dev}]}', // 18
    '{"$nor": [{alias: production}]}', // 19 no
    '{"$not": {alias: {$regex: "^tmp-"}}}', // 20
    '{alias: {$not: {$regex: "^prod"}}}', // 21 no
  ]
  t.same(accepting(t, 'ADD_ARTIFACT_ALIAS', filters, event()), [0, 1, 2, 4, 5, 7, 8, 9, 11, 12, 13, 15, 16, 17, 18, 20])
})

t.test(
  'fields: metadata (numbers, nesting), collection, author, artifact lists; alias on LINK_ARTIFACT is the version aliases',
  async (t) => {
    const filters = [
      '{metadata.accuracy: {$gte: 0.9}}', // 0
      '{metadata.accuracy: {$gt: 0.95}}', // 1 no
      '{"metadata.eval.f1": {$lt: 0.9}}', // 2
      '{metadata.missing: {$exists: false}}', // 3
      '{metadata.accuracy: {$gte: "0.9"}}', // 4 no: a number does not compare with a text
      '{collection: {$regex: "^churn-"}, author: alice}', // 5
      '{artifact.aliases: latest}', // 6
      '{artifact.tags: {$contains: candidate}}', // 7
      '{alias: prod}', // 8 no: the version has latest and v7
      '{alias: {$in: [v7]}}', // 9: the SDK's example, OnLinkArtifact(filter=ArtifactEvent.alias.eq(...))
      '{type: LINK_ARTIFACT, entity: acme, project: wandb-registry-model, registry: model, artifact.type: model}', // 10
      '{artifact.name: churn-classifier, artifact.version: {$ne: v6}}', // 11
    ]
    const e = event({ type: 'LINK_ARTIFACT', alias: undefined })
    t.same(accepting(t, 'LINK_ARTIFACT', filters, e), [0, 2, 3, 5, 6, 7, 9, 10, 11])
  },
)

t.test('filter holds together with aliasRegex, tagRegex and metadata (the shorthands)', async (t) => {
  const text = `${WEBHOOK}---\napiVersion: hookwise.dev/v1alpha1\nkind: Automation\nmetadata: {name: both}\nspec:\n  scope: {type: Registry, registry: model}\n  event:\n    type: ADD_ARTIFACT_ALIAS\n    aliasRegex: ^production$\n    metadata: [{key: accuracy, op: gte, value: "0.9"}]\n    filter: {author: alice}\n  action: {webhook: hook, payload: {x: "\${event_type}"}}\n`
  const parsed = parseManifest(text, 'b.yaml')
  const idx = new AutomationIndex(validateObjects(parsed.objects).automations)
  t.equal(idx.match(event()).length, 1)
  t.equal(idx.match(event({ author: 'bob' })).length, 0, 'the filter refuses')
  t.equal(idx.match(event({ alias: 'staging' })).length, 0, 'aliasRegex refuses')
})

t.test('unknown operators and fields, wrong operands and bad regexes are errors at their line', async (t) => {
  const text = `${WEBHOOK}---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: bad}
spec:
  scope: {type: Registry, registry: model}
  event:
    type: LINK_ARTIFACT
    filter:
      $and:
        - alias: {$eqq: prod}
        - aliaz: prod
        - $where: "sleep(1)"
        - tag: {$in: prod}
        - tag: {$exists: "yes"}
        - alias: {$regex: "^(?=prod)"}
        - alias: {$and: [prod]}
  action: {webhook: hook, payload: {x: "\${event_type}"}}
`
  const parsed = parseManifest(text, 'bad.yaml')
  const state = validateObjects(parsed.objects, parsed.diagnostics)
  t.same(state.automations, [], 'the automation does not load')
  const at = (line: number, path: string, message: string, hint: string | RegExp) => ({
    file: 'bad.yaml',
    line,
    object: 'Automation default/bad',
    path: `spec.event.filter.${path}`,
    code: 'HW_FILTER_INVALID',
    severity: 'error',
    message,
    hint,
  })
  t.match(state.diagnostics, [
    at(
      15,
      '$and[0].alias.$eqq',
      '$eqq is not a filter operator',
      'operators on a field: $eq $ne $gt $gte $lt $lte $in $nin $exists $regex $contains $not',
    ),
    at(16, '$and[1].aliaz', '"aliaz" is not a field a filter can test', /^fields: alias, tag, type, author, .*, metadata\.KEY$/),
    at(
      17,
      '$and[2].$where',
      '$where is not a filter operator here',
      'logical operators are $and $or $nor $not; field names do not start with $',
    ),
    at(18, '$and[3].tag.$in', '$in takes a list of at most 256 values', 'write $in: [a, b]'),
    at(19, '$and[4].tag.$exists', '$exists takes true or false, not "yes"', 'write $exists: true'),
    at(20, '$and[5].alias.$regex', '"^(?=prod)" is not a valid regular expression: lookahead (?= is not RE2 syntax', /RE2 syntax/),
    at(
      21,
      '$and[6].alias.$and',
      '$and is not a filter operator',
      '$and combines expressions: put it above the field, {$and: [{field: ...}]}',
    ),
  ])
  t.equal(state.diagnostics.length, 7)
})

t.test('a filter nested too deep or too large is refused, not evaluated', async (t) => {
  let deep = '{alias: prod}'
  for (let i = 0; i < 20; i++) deep = `{"$not": ${deep}}`
  const state = compile('LINK_ARTIFACT', [deep, `{"$or": [${Array.from({ length: 257 }, () => '{alias: a}').join(', ')}]}`])
  t.match(
    state.diagnostics.map((d) => d.message),
    ['the filter nests more than 16 levels deep', '$or takes a list of expressions (at most 256)'],
  )
  t.same(state.automations, [])
})
