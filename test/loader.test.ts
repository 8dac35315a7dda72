// The loader never crashes: truncated YAML, wrong types, huge strings, alias bombs, deep nesting and
// random mutations all end as diagnostics, and valid objects in the same folder still load.
import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseManifest, parsePlain, parseWithPositions } from '../controller/sources/manifest.js'
import { validateObjects } from '../controller/reconcile/validate.js'
import { loadDesiredState } from '../controller/sources/load.js'

const example = readFileSync(new URL('../examples/github-deploy.yaml', import.meta.url), 'utf8')

t.test('truncated YAML gives a syntax error with its position; earlier documents still load', async (t) => {
  const text = `${example}---\napiVersion: hookwise.dev/v1alpha1\nkind: Webhook\nmetadata: {name: x\n`
  const parsed = parseManifest(text, 'f.yaml')
  t.equal(parsed.objects.length, 2)
  const endOfInput = example.split('\n').length + 4 // the unclosed { is reported where the input ends
  t.match(parsed.diagnostics, [
    { code: 'HW_YAML_SYNTAX', file: 'f.yaml', line: endOfInput, message: /^Flow map in block collection must be sufficiently indented/ },
  ])
})

t.test('a document that is not a mapping, and one without apiVersion/kind', async (t) => {
  const parsed = parseManifest('- a\n- b\n---\nfoo: bar\n', 'f.yaml')
  t.same(parsed.diagnostics, [
    {
      code: 'HW_NOT_AN_OBJECT',
      severity: 'error',
      file: 'f.yaml',
      line: 1,
      column: 1,
      message: 'document 1 is not a mapping',
      hint: 'each YAML document must be one object with apiVersion, kind, metadata and spec',
    },
  ])
  const state = validateObjects(parsed.objects)
  t.same(state.diagnostics, [
    {
      file: 'f.yaml',
      line: 4,
      column: 1,
      path: 'apiVersion',
      code: 'HW_NOT_AN_OBJECT',
      severity: 'error',
      message: 'the document has no apiVersion and kind',
      hint: 'start it with apiVersion: hookwise.dev/v1alpha1 and kind: Webhook or Automation',
    },
  ])
})

t.test('empty documents are skipped as kubectl skips them; other values that are not mappings stay errors', async (t) => {
  const webhook = 'apiVersion: hookwise.dev/v1alpha1\nkind: Webhook\nmetadata: {name: w}\nspec: {url: "https://example.com/"}\n'
  // The second text has an anchor, so it takes the path with positions: both paths skip the same way.
  for (const text of [`---\n${webhook}---\n`, `---\n${webhook.replace('{name: w}', '&m {name: w}')}---\n# nothing here\n---\n`]) {
    const parsed = parseManifest(text, 'f.yaml')
    t.same(parsed.diagnostics, [], JSON.stringify(text))
    t.equal(parsed.objects.length, 1)
    t.same(validateObjects(parsed.objects).diagnostics, [])
  }
  for (const [text, line, column] of [
    [`${webhook}---\n~\n`, 6, 1],
    [`${webhook}--- null\n`, 5, 5],
    [`${webhook}---\n""\n`, 6, 1],
    [`${webhook}---\n- a\n`, 6, 1],
  ] as const) {
    const parsed = parseManifest(text, 'f.yaml')
    t.match(parsed.diagnostics, [{ code: 'HW_NOT_AN_OBJECT', line, column, message: 'document 2 is not a mapping' }], JSON.stringify(text))
    t.equal(parsed.objects.length, 1)
  }
})

t.test('plain files are read without positions; an error still names the line and column of its field', async (t) => {
  const text = `# team a\n---\n${example}---\n\n${example
    .replace('https://api.github.com/repos/acme/deploy/dispatches', 'not a url')
    .replace(/github-deploy/g, 'other-hook')
    .replace('deploy-production', 'other')}`
  const plain = parsePlain(text, 'f.yaml')
  t.ok(plain, 'the fast path reads it')
  const positioned = parseWithPositions(text, 'f.yaml')
  t.same(
    plain!.objects.map((o) => [o.body, o.source.document, o.source.line, o.source.column]),
    positioned.objects.map((o) => [o.body, o.source.document, o.source.line, o.source.column]),
  )
  const fast = validateObjects(plain!.objects).diagnostics
  t.match(fast, [{ code: 'HW_SCHEMA', path: 'spec.url', object: 'Webhook default/other-hook', column: 3 }])
  t.same(fast, validateObjects(positioned.objects).diagnostics, 'the same diagnostics, positions included')
  t.ok((fast[0]?.line ?? 0) > example.split('\n').length + 3, `line ${fast[0]?.line} is in the second copy`)
})

t.test('other kinds are ignored with a warning; unknown hookwise kinds are errors', async (t) => {
  const parsed = parseManifest(
    'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n---\napiVersion: hookwise.dev/v1beta9\nkind: Webhook\n',
    'f.yaml',
  )
  const state = validateObjects(parsed.objects)
  t.match(state.diagnostics, [
    {
      severity: 'warning',
      code: 'HW_UNKNOWN_KIND',
      line: 2,
      message: 'ignoring Deployment (apps/v1): hookwise loads Webhook, Automation and v1 Secret objects',
    },
    { severity: 'error', code: 'HW_UNKNOWN_KIND', line: 6, message: 'Webhook in hookwise.dev/v1beta9 is not a kind hookwise knows' },
  ])
})

t.test('duplicate keys are syntax errors', async (t) => {
  const parsed = parseManifest('apiVersion: v1\napiVersion: v2\n', 'f.yaml')
  t.match(parsed.diagnostics, [{ code: 'HW_YAML_SYNTAX', line: 2, column: 1, message: 'Map keys must be unique' }])
})

t.test('a billion-laughs document is refused', async (t) => {
  const lol = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
  for (let i = 1; i < 9; i++)
    lol.push(
      `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
        .fill(`*${String.fromCharCode(96 + i)}`)
        .join(',')}]`,
    )
  const parsed = parseManifest(lol.join('\n'), 'lol.yaml')
  t.same(parsed.objects, [])
  t.match(parsed.diagnostics, [
    {
      code: 'HW_YAML_LIMIT',
      line: 1,
      message: 'document 1 cannot be expanded: Excessive alias count indicates a resource exhaustion attack',
      hint: 'use fewer YAML aliases (at most 100 expansions per document)',
    },
  ])
})

t.test('deep nesting ends in diagnostics, not a crash', async (t) => {
  for (const deep of ['['.repeat(100_000), `${'a:\n '.repeat(5_000)}b`, `x: ${'{a: '.repeat(20_000)}`]) {
    const parsed = parseManifest(deep, 'deep.yaml')
    t.ok(parsed.diagnostics.length > 0 && parsed.diagnostics.length <= 6, `${parsed.diagnostics.length} diagnostics`)
    t.ok(parsed.diagnostics.every((d) => d.code === 'HW_YAML_SYNTAX' || d.code === 'HW_YAML_LIMIT' || d.code === 'HW_NOT_AN_OBJECT'))
  }
})

t.test('a 10 MB string: the file is refused as too large; a 1 MB field fails the schema with a short message', async (t) => {
  const dir = t.testdir({})
  writeFileSync(
    join(dir, 'big.yaml'),
    example.replace('name: github-deploy', `name: github-deploy\n  annotations: {x: "${'x'.repeat(10 * 1024 * 1024)}"}`),
  )
  writeFileSync(
    join(dir, 'field.yaml'),
    example.replace('url: https://api.github.com/repos/acme/deploy/dispatches', `url: https://example.com/${'y'.repeat(1024 * 1024)}`),
  )
  const state = await loadDesiredState({ manifests: [dir] })
  t.match(state.diagnostics[0], {
    code: 'HW_FILE_TOO_LARGE',
    file: join(dir, 'big.yaml'),
    message: 'file is 10.0 MiB, more than the 4 MiB hookwise reads',
  })
  const field = state.diagnostics.find((d) => d.path === 'spec.url')
  t.match(field, { code: 'HW_SCHEMA', line: 9, message: 'must NOT have more than 2048 characters' })
  t.ok(
    state.diagnostics.every((d) => d.message.length < 500),
    'messages stay short',
  )
})

t.test('a missing path is a clear error', async (t) => {
  await t.rejects(loadDesiredState({ manifests: ['/nonexistent/hookwise'] }), {
    code: 'HW_PATH_NOT_FOUND',
    message: '/nonexistent/hookwise does not exist or cannot be read',
    hint: 'check the path; it is relative to the current folder',
  })
})

t.test('only .yaml/.yml files are read, hidden files and folders are skipped, order is stable', async (t) => {
  const dir = t.testdir({
    'b.yaml': example,
    'a.yml': example.replace(/github-deploy/g, 'a-hook').replace('deploy-production', 'a-auto'),
    'notes.txt': 'not yaml: [',
    '.gitlab-ci.yml': 'stages: [test]\n',
    '.git': { 'x.yaml': 'broken: [' },
    sub: { 'c.yaml': example.replace(/github-deploy/g, 'c-hook').replace('deploy-production', 'c-auto') },
  })
  const state = await loadDesiredState({ manifests: [dir] })
  t.same(state.diagnostics, [])
  t.same(state.files, [join(dir, 'a.yml'), join(dir, 'b.yaml'), join(dir, 'sub', 'c.yaml')])
  t.same(
    state.automations.map((a) => a.key),
    ['default/a-auto', 'default/c-auto', 'default/deploy-production'],
  )
})

// Deterministic pseudo-random mutations of a valid manifest: each must give objects or diagnostics, never throw.
t.test('fuzz: 3,000 mutated manifests never crash the loader or validator', async (t) => {
  let seed = 42
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }
  const pieces = [
    '',
    ' ',
    '\n',
    ':',
    '- ',
    '[',
    ']',
    '{',
    '}',
    '"',
    "'",
    '&a',
    '*a',
    '!!str',
    '${',
    '}',
    '\t',
    '---\n',
    '#',
    'null',
    '0x1F',
    '1e999',
    '\u0000',
    '\ud800',
    '~',
    '? ',
    '|',
    '>',
  ]
  let diagnostics = 0
  let plainRead = 0
  for (let i = 0; i < 3000; i++) {
    let text = example
    const edits = 1 + rand(4)
    for (let e = 0; e < edits; e++) {
      const at = rand(text.length)
      const len = rand(8)
      text = text.slice(0, at) + pieces[rand(pieces.length)] + text.slice(at + len)
    }
    const parsed = parseManifest(text, 'fuzz.yaml')
    const plain = i % 3 === 0 ? parsePlain(text, 'fuzz.yaml') : undefined
    if (plain) {
      // The fast path may only take what yaml reads the same: same objects, same places, same errors.
      plainRead++
      const positioned = parseWithPositions(text, 'fuzz.yaml')
      const seen = (p: typeof plain) => p.objects.map((o) => [o.body, o.source.document, o.source.line, o.source.column])
      if (JSON.stringify(seen(plain)) !== JSON.stringify(seen(positioned)) || positioned.diagnostics.length > 0)
        t.fail(`the two paths differ on ${JSON.stringify(text)}`)
      else if (
        JSON.stringify(validateObjects(plain.objects).diagnostics) !== JSON.stringify(validateObjects(positioned.objects).diagnostics)
      )
        t.fail(`diagnostics differ on ${JSON.stringify(text)}`)
    }
    const state = validateObjects(parsed.objects, parsed.diagnostics)
    diagnostics += state.diagnostics.length
    for (const d of state.diagnostics) {
      if (typeof d.message !== 'string' || !d.code.startsWith('HW_')) t.fail(`bad diagnostic ${JSON.stringify(d)}`)
    }
  }
  t.ok(diagnostics > 1000, `mutations were reported (${diagnostics} diagnostics)`)
  t.ok(plainRead > 100, `${plainRead} mutations were read by the fast path`)
})
