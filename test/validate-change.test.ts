// Validation after an edit (issue 22): with a ValidationCache, a call whose objects differ from the
// last call's only in Automations checks only those, and touches no unchanged object; whatever the
// edits, the state and diagnostics are exactly those of a validation from scratch.
import t from 'tap'
import type { ManifestObject } from '../controller/model/manifest-object.js'
import { ValidationCache, validateObjects } from '../controller/reconcile/validate.js'
import { parseManifest, type ParsedManifest } from '../controller/sources/manifest.js'

const webhook = (name: string, url = 'https://example.com/hook'): string => `---
apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: ${name}}
spec:
  url: ${url}
`
const automation = (name: string, alias = '^production$', hook = 'hook'): string => `---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: ${name}}
spec:
  scope: {type: Collection, registry: model, collection: churn}
  event: {type: ADD_ARTIFACT_ALIAS, aliasRegex: '${alias}'}
  action:
    webhook: ${hook}
    payload: {name: ${name}, version: "\${artifact_version_string}"}
`
const notAnAutomation = `---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: broken}
spec: {scope: {type: Collection}}
`

/** Files as a folder source reads them: each file parsed with its last parse, so unchanged documents keep their objects. */
class Folder {
  private parsed = new Map<string, ParsedManifest>()
  objects(files: Record<string, string>): { objects: ManifestObject[]; earlier: ParsedManifest['diagnostics'] } {
    const objects: ManifestObject[] = []
    const earlier: ParsedManifest['diagnostics'] = []
    const next = new Map<string, ParsedManifest>()
    for (const [file, text] of Object.entries(files)) {
      const p = parseManifest(text, file, this.parsed.get(file))
      next.set(file, p)
      objects.push(...p.objects)
      earlier.push(...p.diagnostics)
    }
    this.parsed = next
    return { objects, earlier }
  }
}

t.test('after each edit, the state and diagnostics are those of a validation from scratch', async (t) => {
  const many = Array.from({ length: 30 }, (_, i) => automation(`a${i}`)).join('')
  const steps: Array<[string, Record<string, string>]> = [
    ['first load', { 'hooks.yaml': webhook('hook'), 'a.yaml': many, 'b.yaml': automation('b1') }],
    [
      'one alias edited',
      { 'hooks.yaml': webhook('hook'), 'a.yaml': many.replace('name: a7}', 'name: a7}\n#'), 'b.yaml': automation('b1', '^staging$') },
    ],
    ['an invalid regex', { 'hooks.yaml': webhook('hook'), 'a.yaml': many, 'b.yaml': automation('b1', '^(staging$') }],
    [
      'a missing webhook too',
      { 'hooks.yaml': webhook('hook'), 'a.yaml': many + automation('a99', '^x$', 'nope'), 'b.yaml': automation('b1', '^(staging$') },
    ],
    ['both fixed', { 'hooks.yaml': webhook('hook'), 'a.yaml': many + automation('a99'), 'b.yaml': automation('b1') }],
    ['one removed, one added', { 'hooks.yaml': webhook('hook'), 'a.yaml': many, 'b.yaml': automation('b1') + automation('b2') }],
    ['a duplicate name', { 'hooks.yaml': webhook('hook'), 'a.yaml': many, 'b.yaml': automation('b1') + automation('a3') }],
    ['the duplicate renamed', { 'hooks.yaml': webhook('hook'), 'a.yaml': many, 'b.yaml': automation('b1') + automation('b3') }],
    ['a schema error', { 'hooks.yaml': webhook('hook'), 'a.yaml': many, 'b.yaml': automation('b1') + notAnAutomation }],
    ['the schema error gone', { 'hooks.yaml': webhook('hook'), 'a.yaml': many, 'b.yaml': automation('b1') }],
    ['the webhook changed', { 'hooks.yaml': webhook('hook', 'http://example.com/x'), 'a.yaml': many, 'b.yaml': automation('b1') }],
    ['files in another order', { 'b.yaml': automation('b1'), 'hooks.yaml': webhook('hook'), 'a.yaml': many }],
    ['an edit after that', { 'b.yaml': automation('b1', '^canary$'), 'hooks.yaml': webhook('hook'), 'a.yaml': many }],
  ]
  const cache = new ValidationCache()
  const folder = new Folder()
  for (const [name, files] of steps) {
    const { objects, earlier } = folder.objects(files)
    const incremental = validateObjects(objects, earlier, cache)
    const scratch = validateObjects(objects, earlier)
    t.same(incremental.diagnostics, scratch.diagnostics, `${name}: the same diagnostics, in the same order`)
    t.same(
      incremental.automations.map((a) => [a.key, a.aliasRegex?.source, a.source.line]),
      scratch.automations.map((a) => [a.key, a.aliasRegex?.source, a.source.line]),
      `${name}: the same automations, sorted by key`,
    )
    t.same([...incremental.webhooks.keys()], [...scratch.webhooks.keys()], `${name}: the same webhooks`)
  }
})

t.test('an edit reads only the object it changed: no pass over the others', async (t) => {
  const reads = new Map<ManifestObject, number>()
  const proxies = new WeakMap<ManifestObject, ManifestObject>()
  // Each object as validation sees it, counting every property read (the same proxy while the object is kept).
  const counted = (o: ManifestObject): ManifestObject => {
    let p = proxies.get(o)
    if (!p) {
      p = new Proxy(o, {
        get: (target, key, receiver) => {
          reads.set(p!, (reads.get(p!) ?? 0) + 1)
          return Reflect.get(target, key, receiver)
        },
      })
      proxies.set(o, p)
    }
    return p
  }
  const files = (alias: string) => ({
    'hooks.yaml': webhook('hook'),
    'a.yaml': Array.from({ length: 200 }, (_, i) => automation(`a${i}`, i === 120 ? alias : '^production$')).join(''),
  })
  const cache = new ValidationCache()
  const folder = new Folder()
  const first = folder.objects(files('^production$'))
  const before = validateObjects(first.objects.map(counted), first.earlier, cache)
  t.equal(before.automations.length, 200)

  reads.clear()
  const second = folder.objects(files('^staging$'))
  const objects = second.objects.map(counted)
  const after = validateObjects(objects, second.earlier, cache)
  const edited = objects[121]!
  t.not(edited, counted(first.objects[121]!), 'the edited document is a new object')
  t.ok(reads.get(edited), 'the edited automation is read')
  t.same(
    [...reads.keys()].filter((o) => o !== edited).length,
    0,
    'no other object is read (not even its kind): validation did not pass over the 200 others',
  )
  t.equal(after.automations.find((a) => a.name === 'a120')!.aliasRegex!.source, '^staging$')
  t.equal(
    after.automations.find((a) => a.name === 'a119'),
    before.automations.find((a) => a.name === 'a119'),
    'a119 is the same compiled object',
  )
  t.same(after.diagnostics, [])
})
