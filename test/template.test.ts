// Payload templates: the W&B variables, typed insertion, and a body that is valid JSON whatever the values hold.
import t from 'tap'
import type { CompiledTemplate } from '../controller/model/compiled-template.js'
import { compilePayload, compilePayloadText } from '../controller/template/compile.js'
import type { ArtifactEvent } from '../controller/api/types.generated.js'

const event = (
  over: Partial<ArtifactEvent> = {},
  metadata: Record<string, unknown> = { accuracy: 0.93, framework: 'xgboost' },
): ArtifactEvent => ({
  id: 'e-7f3c',
  type: 'ADD_ARTIFACT_ALIAS',
  time: '2026-11-27T10:00:00Z',
  author: 'alice',
  entity: 'acme',
  project: 'wandb-registry-model',
  registry: 'model',
  collection: 'churn-classifier',
  alias: 'production',
  artifact: {
    id: 'QXJ0aWZhY3Q6NTE3ODg5ODg3',
    name: 'churn-classifier',
    version: 'v7',
    type: 'model',
    aliases: ['latest', 'production'],
    tags: [],
    metadata,
  },
  ...over,
})

function compiled(payload: unknown): CompiledTemplate {
  const r = typeof payload === 'string' ? compilePayloadText(payload) : compilePayload(payload)
  if (!r.ok) throw new Error(JSON.stringify(r.problems))
  return r.template
}

t.test('every W&B variable renders as the reference says', async (t) => {
  const names = [
    'project_name',
    'entity_name',
    'event_type',
    'event_author',
    'alias',
    'artifact_collection_name',
    'artifact_version',
    'artifact_version_string',
    'artifact_metadata.accuracy',
    'artifact_metadata.framework',
    'ACCESS_TOKEN',
    'DEPLOY_KEY',
  ]
  const body = compiled(Object.fromEntries(names.map((n) => [n, `\${${n}}`]))).render({
    event: event(),
    secrets: { ACCESS_TOKEN: 'tok', DEPLOY_KEY: 'k' },
  })
  t.equal(
    body,
    '{"project_name":"wandb-registry-model","entity_name":"acme","event_type":"ADD_ARTIFACT_ALIAS","event_author":"alice","alias":"production","artifact_collection_name":"churn-classifier","artifact_version":"wandb-artifact://_id/QXJ0aWZhY3Q6NTE3ODg5ODg3","artifact_version_string":"acme/wandb-registry-model/churn-classifier:production","artifact_metadata.accuracy":"0.93","artifact_metadata.framework":"xgboost","ACCESS_TOKEN":"tok","DEPLOY_KEY":"k"}',
  )
})

t.test('artifact_version_string uses the version outside alias events; tag events have ${tag}', async (t) => {
  const tpl = compiled({ v: '${artifact_version_string}', t: '${tag}' })
  t.equal(
    tpl.render({ event: event({ type: 'ADD_ARTIFACT_TAG', alias: undefined, tag: 'candidate' }), secrets: {} }),
    '{"v":"acme/wandb-registry-model/churn-classifier:v7","t":"candidate"}',
  )
})

t.test('hookwise variables and ${json:...} keep JSON types', async (t) => {
  const tpl = compiled({
    acc: '${json:artifact_metadata.accuracy}',
    all: '${json:artifact_metadata}',
    aliases: '${json:artifact_aliases}',
    missing: '${json:artifact_metadata.nope}',
    text: '${artifact_aliases}',
    id: '${event_id}',
    time: '${event_time}',
    reg: '${registry_name}',
    n: '${artifact_name}',
    ty: '${artifact_type}',
  })
  t.equal(
    tpl.render({ event: event(), secrets: {} }),
    '{"acc":0.93,"all":{"accuracy":0.93,"framework":"xgboost"},"aliases":["latest","production"],"missing":null,"text":"[\\"latest\\",\\"production\\"]","id":"e-7f3c","time":"2026-11-27T10:00:00Z","reg":"model","n":"churn-classifier","ty":"model"}',
  )
})

t.test('structured payloads keep numbers, booleans, null, lists; $${ is a literal ${', async (t) => {
  const tpl = compiled({ n: 1.5, b: true, z: null, l: [1, 'x ${alias}', { k: 'v' }], lit: 'cost $${5}', '${alias}-key': 'k' })
  t.equal(
    tpl.render({ event: event(), secrets: {} }),
    '{"n":1.5,"b":true,"z":null,"l":[1,"x production",{"k":"v"}],"lit":"cost ${5}","production-key":"k"}',
  )
})

t.test('payloadTemplate text keeps its formatting byte for byte', async (t) => {
  const text = '{\n  "text": "Model ${artifact_version_string}",\n  "acc": ${json:artifact_metadata.accuracy},\n\t"x": [1, 2]\n}\n'
  t.equal(
    compiled(text).render({ event: event(), secrets: {} }),
    '{\n  "text": "Model acme/wandb-registry-model/churn-classifier:production",\n  "acc": 0.93,\n\t"x": [1, 2]\n}\n',
  )
})

t.test('escaped quotes and backslashes in payloadTemplate strings do not confuse the scanner', async (t) => {
  const text = '{"a": "say \\"${alias}\\" \\\\", "b": "${event_author}"}'
  const body = compiled(text).render({ event: event(), secrets: {} })
  t.same(JSON.parse(body), { a: 'say "production" \\', b: 'alice' })
})

const HOSTILE = [
  'quote " and \\ backslash',
  'new\nline\r\ttab',
  '\u0000\u0001\u001f control',
  'unicode: żółć 漢字 🚀 \u2028\u2029',
  'lone surrogate \ud800 and \udfff',
  '${event_type} ${json:alias} $${x}',
  '"}, "injected": true, "x": {"',
  '</script><script>alert(1)</script>',
]

t.test('hostile values always give valid JSON with the value intact, never re-expanded', async (t) => {
  const structured = compiled({
    a: '${event_author}',
    m: 'pre ${artifact_metadata.note} post',
    j: '${json:artifact_metadata.note}',
    s: '${SECRET}',
  })
  const text = compiled(
    '{"a": "${event_author}", "m": "pre ${artifact_metadata.note} post", "j": ${json:artifact_metadata.note}, "s": "${SECRET}"}',
  )
  for (const [i, value] of HOSTILE.entries()) {
    for (const tpl of [structured, text]) {
      const body = tpl.render({ event: event({ author: value }, { note: value }), secrets: { SECRET: value } })
      const parsed = JSON.parse(body) as Record<string, string>
      // (the test name is the index: tap's own output mishandles U+2028 in names)
      t.same(parsed, { a: value, m: `pre ${value} post`, j: value, s: value }, `hostile value ${i}`)
    }
  }
})

t.test('fuzz: random strings and metadata values always render valid JSON', async (t) => {
  let seed = 7
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }
  const alphabet = ['"', '\\', '\n', '$', '{', '}', '${alias}', 'a', ' ', '\u0000', '\ud83d', '\ude80', 'é', '\u2028', '/', "'"]
  const randomString = (): string => Array.from({ length: rand(20) }, () => alphabet[rand(alphabet.length)]).join('')
  const randomValue = (depth: number): unknown => {
    switch (rand(depth > 2 ? 4 : 6)) {
      case 0:
        return randomString()
      case 1:
        return rand(1000) / 7
      case 2:
        return rand(2) === 0
      case 3:
        return null
      case 4:
        return Array.from({ length: rand(4) }, () => randomValue(depth + 1))
      default:
        return Object.fromEntries(Array.from({ length: rand(4) }, () => [randomString(), randomValue(depth + 1)]))
    }
  }
  const structured = compiled({
    a: '${event_author}',
    j: '${json:artifact_metadata.v}',
    t: 'x${artifact_metadata.v}y',
    k: '${json:artifact_metadata}',
  })
  const text = compiled('{"a": "${event_author}", "j": ${json:artifact_metadata.v}, "t": "x${artifact_metadata.v}y"}')
  let rendered = 0
  for (let i = 0; i < 5000; i++) {
    const metadata = { v: randomValue(0) }
    const ev = event({ author: randomString() }, metadata)
    for (const tpl of [structured, text]) {
      const body = tpl.render({ event: ev, secrets: {} })
      const parsed = JSON.parse(body) as { a: string; j: unknown }
      if (parsed.a !== JSON.parse(JSON.stringify(ev.author))) t.fail(`author changed: ${JSON.stringify(ev.author)}`)
      if (JSON.stringify(parsed.j) !== JSON.stringify(metadata.v ?? null)) t.fail(`value changed: ${JSON.stringify(metadata.v)}`)
      rendered++
    }
  }
  t.equal(rendered, 10000)
})

t.test('a secret the template needs but has no value fails with HW_SECRET_NOT_FOUND', async (t) => {
  t.throws(() => compiled({ k: '${KEY}' }).render({ event: event(), secrets: {} }), {
    code: 'HW_SECRET_NOT_FOUND',
    message: "the payload uses ${KEY} but the webhook's secret KEY has no value",
  })
})

t.test('syntax problems are collected with their paths', async (t) => {
  const r = compilePayload({ a: { b: 'x ${json:alias}' }, c: ['${unterminated'], '${json:k}': 1 })
  t.notOk(r.ok)
  if (!r.ok) {
    t.same(
      r.problems.map((p) => [p.path, p.message]),
      [
        [['a', 'b'], '${json:alias} must be the whole string value'],
        [['c', 0], 'unterminated ${ at character 1'],
        [['${json:k}'], '${json:k} cannot be used in a key'],
      ],
    )
  }
  const text = compilePayloadText('{"a": "${json:alias}", "b": ${alias}, "c": "${oops')
  t.notOk(text.ok)
  if (!text.ok)
    t.same(
      text.problems.map((p) => p.message),
      ['${json:alias} is inside quotes', '${alias} is outside a JSON string', 'unterminated ${ at character 45'],
    )
})

t.test('a per-event cache shares event variables across automations but never secrets', async (t) => {
  const a = compiled({ v: '${artifact_version_string}', s: '${KEY}', j: '${json:artifact_metadata.accuracy}' })
  const b = compiled({ v: '${artifact_version_string}', s: '${KEY}', t: '${artifact_metadata.accuracy}' })
  const cache = new Map<string, string>()
  t.equal(
    a.render({ event: event(), secrets: { KEY: 'first' }, cache }),
    '{"v":"acme/wandb-registry-model/churn-classifier:production","s":"first","j":0.93}',
  )
  t.equal(
    b.render({ event: event(), secrets: { KEY: 'second' }, cache }),
    '{"v":"acme/wandb-registry-model/churn-classifier:production","s":"second","t":"0.93"}',
  )
  t.same([...cache.keys()].sort(), ['j:artifact_metadata.accuracy', 't:artifact_metadata.accuracy', 't:artifact_version_string'])
})

t.test('equal templates that read only the event share one body per event; other templates, other events do not', async (t) => {
  const payload = { v: '${artifact_version_string}', a: '${json:artifact_metadata.accuracy}' }
  const [a, b] = [compiled(payload), compiled(payload)]
  const other = compiled({ v: '${artifact_version_string}' })
  const cache = new Map<string, string>()
  const body = '{"v":"acme/wandb-registry-model/churn-classifier:production","a":0.93}'
  t.equal(a.render({ event: event(), secrets: {}, cache }), body)
  t.equal(b.render({ event: event(), secrets: {}, cache }), body)
  t.equal(other.render({ event: event(), secrets: {}, cache }), '{"v":"acme/wandb-registry-model/churn-classifier:production"}')
  t.equal([...cache.keys()].filter((k) => k.startsWith('b:')).length, 2, 'one body per template text, kept for this event')
  // The next event has its own cache: its body is built from it.
  const next = { ...event(), alias: 'staging' } as ArtifactEvent
  t.equal(b.render({ event: next, secrets: {}, cache: new Map() }), body.replace('production', 'staging'))
})
