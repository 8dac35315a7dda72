// The canonical event: what is accepted, what is refused and how the refusal reads.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { parseEvent, validateEvent } from '../controller/api/event.js'

const canonical = readFileSync(new URL('../examples/events/add-alias-production.json', import.meta.url), 'utf8')
const base = JSON.parse(canonical) as Record<string, unknown>

t.test('the canonical event of the reference is valid; id and time are optional', async (t) => {
  t.match(parseEvent(canonical), { ok: true, event: { id: 'e-7f3c', alias: 'production' } })
  const { id: _id, time: _time, ...minimal } = base
  t.match(validateEvent(minimal), { ok: true })
})

t.test('alias only on alias events, tag only (and required) on tag events', async (t) => {
  const r1 = validateEvent({ ...base, type: 'LINK_ARTIFACT' })
  t.match(r1, { ok: false, diagnostics: [{ code: 'HW_EVENT_INVALID', path: 'alias', message: '"alias" is not allowed here' }] })
  const { alias: _a, ...noAlias } = base
  const r2 = validateEvent({ ...noAlias, type: 'ADD_ARTIFACT_TAG' })
  t.match(r2, { ok: false, diagnostics: [{ path: 'tag', message: 'required field "tag" is missing' }] })
  t.match(validateEvent({ ...noAlias, type: 'REMOVE_ARTIFACT_TAG', tag: 'x' }), { ok: true })
})

t.test('wrong types, unknown fields and bad times are named', async (t) => {
  const r = validateEvent({
    ...base,
    time: 'yesterday',
    registy: 'model',
    artifact: { ...(base.artifact as object), aliases: 'production' },
  })
  t.same(r.ok ? [] : r.diagnostics.map((d) => [d.path, d.message, d.hint]), [
    ['registy', 'unknown field "registy"', 'did you mean "registry"?'],
    ['time', '"yesterday" is not a valid date-time', 'use RFC 3339, e.g. 2026-11-27T10:00:00Z'],
    ['artifact.aliases', 'must be a list, not string "production"', 'write a list here (Aliases of the version.)'],
  ])
})

t.test('not an object, not JSON', async (t) => {
  t.match(parseEvent('[1,2]', 'e.json'), {
    ok: false,
    diagnostics: [{ file: 'e.json', code: 'HW_EVENT_INVALID', message: 'an event must be a JSON object' }],
  })
  t.match(parseEvent('{\n  "type": "LINK_ARTIFACT",\n  oops\n}', 'e.json'), {
    ok: false,
    diagnostics: [{ file: 'e.json', line: 3, column: 3, code: 'HW_EVENT_JSON' }],
  })
  t.match(parseEvent(`{"x": "${'a'.repeat(1024 * 1024)}"}`), {
    ok: false,
    diagnostics: [{ code: 'HW_FILE_TOO_LARGE', message: 'event is larger than 1024 KiB' }],
  })
})

t.test('validation does not change the input', async (t) => {
  const input = structuredClone(base)
  validateEvent(input)
  t.same(input, base)
})

t.test('fuzz: 5,000 mutated events are accepted or refused with diagnostics, never a throw', async (t) => {
  let seed = 3
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }
  const pieces = ['', '"', '{', '}', '[', ']', ',', ':', 'null', '1e400', '-0', '\\u0000', '\\ud800', 'true', ' ', '"type"', '"alias"']
  let refused = 0
  for (let i = 0; i < 5000; i++) {
    let text = canonical
    for (let e = 0; e < 1 + rand(3); e++) {
      const at = rand(text.length)
      text = text.slice(0, at) + pieces[rand(pieces.length)] + text.slice(at + rand(6))
    }
    const r = parseEvent(text)
    if (!r.ok) {
      refused++
      if (!r.diagnostics.length || r.diagnostics.some((d) => !d.code.startsWith('HW_EVENT') || !d.message))
        t.fail(`bad diagnostics for ${text}`)
    }
  }
  t.ok(refused > 2500, `${refused} refused`)
})

t.test('nesting: 100 levels of objects and arrays are taken, 101 are refused with the limit named', async (t) => {
  // The event is level 1, artifact 2, metadata 3: 97 more levels inside metadata reach 100.
  const nested = (levels: number): unknown => {
    let v: unknown = 1
    for (let i = 0; i < levels; i++) v = i % 2 ? { a: v } : [v]
    return v
  }
  const withMetadata = (levels: number) => ({ ...base, artifact: { ...(base.artifact as object), metadata: { deep: nested(levels) } } })
  t.match(validateEvent(withMetadata(97)), { ok: true })
  t.match(validateEvent(withMetadata(98)), {
    ok: false,
    diagnostics: [
      { code: 'HW_EVENT_INVALID', message: 'the event nests objects or arrays more than 100 levels deep', hint: 'flatten the metadata' },
    ],
  })
  // A value nested far deeper is refused without walking all of it.
  t.match(validateEvent(withMetadata(100_000)), {
    ok: false,
    diagnostics: [{ message: 'the event nests objects or arrays more than 100 levels deep' }],
  })
})

t.test("collection tag events carry a tag; W&B's wire names are read as hookwise's", async (t) => {
  const { alias: _a, ...noAlias } = base
  t.match(validateEvent({ ...noAlias, type: 'ADD_COLLECTION_TAG', tag: 'churn' }), {
    ok: true,
    event: { type: 'ADD_COLLECTION_TAG', tag: 'churn' },
  })
  t.match(validateEvent({ ...noAlias, type: 'REMOVE_COLLECTION_TAG' }), {
    ok: false,
    diagnostics: [{ path: 'tag', message: 'required field "tag" is missing' }],
  })
  const wire = { ...noAlias, type: 'LINK_MODEL' }
  t.match(validateEvent(wire), { ok: true, event: { type: 'LINK_ARTIFACT' } })
  t.equal(wire.type, 'LINK_MODEL', 'the value given is not changed')
  t.match(parseEvent(JSON.stringify({ ...base, type: 'UPDATE_ARTIFACT_ALIAS' })), {
    ok: true,
    event: { type: 'ADD_ARTIFACT_ALIAS', alias: 'production' },
  })
  t.match(validateEvent({ ...noAlias, type: 'RUN_METRIC' }), { ok: false, diagnostics: [{ path: 'type' }] })
})
