// Generated files are current, the CRDs are structural, and the meta-tables (error codes, CEL twins,
// version) agree with what they describe.
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { staleFiles, generateAll } from '../scripts/generate.js'
import { ERROR_CODES } from '../controller/errors.js'
import { CEL_TWINS } from '../controller/reconcile/cel-twins.js'
import { schemas } from '../controller/api/schemas.js'
import { VERSION } from '../controller/version.js'
import { VARIABLES } from '../controller/template/variables.js'

t.test('crds/ and the generated types are current (run npm run generate)', async (t) => {
  t.same(await staleFiles(), [])
})

t.test('CRDs are structural: every property has a type, no $ref, no JSON-Schema-only keywords', async (t) => {
  for (const [path, content] of await generateAll()) {
    if (!path.startsWith('crds/')) continue
    const crd = parse(content) as {
      spec: {
        versions: Array<{
          schema: { openAPIV3Schema: Record<string, unknown> }
          additionalPrinterColumns: Array<{ name: string }>
          subresources: unknown
        }>
        names: { shortNames: string[] }
      }
    }
    const version = crd.spec.versions[0]!
    t.same(version.subresources, { status: {} }, `${path} has a status subresource`)
    const problems: string[] = []
    const walk = (node: Record<string, unknown>, at: string): void => {
      for (const k of ['$ref', '$defs', 'const', 'if', 'then', 'else', 'allOf', 'propertyNames'])
        if (k in node) problems.push(`${at}: ${k}`)
      if (node.type === undefined && node['x-kubernetes-preserve-unknown-fields'] !== true) problems.push(`${at}: no type`)
      if (typeof node.additionalProperties === 'boolean') problems.push(`${at}: boolean additionalProperties`)
      for (const [k, v] of Object.entries((node.properties ?? {}) as Record<string, Record<string, unknown>>)) walk(v, `${at}.${k}`)
      if (node.items) walk(node.items as Record<string, unknown>, `${at}[]`)
      if (typeof node.additionalProperties === 'object') walk(node.additionalProperties as Record<string, unknown>, `${at}{}`)
    }
    walk(version.schema.openAPIV3Schema, path)
    t.same(problems, [], path)
  }
  const automations = parse(readFileSync('crds/hookwise.dev_automations.yaml', 'utf8')) as {
    spec: { versions: Array<{ additionalPrinterColumns: Array<{ name: string }> }>; names: { shortNames: string[] } }
  }
  t.same(
    automations.spec.versions[0]!.additionalPrinterColumns.map((c) => c.name.toUpperCase()),
    ['READY', 'REASON', 'EVENT', 'WEBHOOK', 'LAST DELIVERY', 'AGE', 'MESSAGE'],
  )
  t.same(automations.spec.names.shortNames, ['hwa'])
})

t.test('every error code is documented in docs/errors.md, and nothing else is', async (t) => {
  const doc = readFileSync('docs/errors.md', 'utf8')
  // HW_ codes, and the delivery-attempt codes (TIMEOUT, NETWORK, ...) in their own table.
  const documented = [...doc.matchAll(/^\| `([A-Z][A-Z_]+)` \|/gm)].map((m) => m[1])
  t.same(documented.sort(), Object.keys(ERROR_CODES).sort())
  for (const code of [
    'HW_QUEUE_FULL',
    'HW_BODY_TOO_LARGE',
    'HW_STANDBY_STOPPED',
    'EGRESS_DENIED',
    'INVALID_REQUEST',
    'TIMEOUT',
    'NETWORK',
  ]) {
    t.ok(code in ERROR_CODES, `${code} is an error code`)
  }
})

t.test('every error class is a HookwiseError in controller/errors.ts, so each has a stable code', async (t) => {
  const elsewhere: string[] = []
  for (const file of readdirSync('controller', { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.ts') || file === 'errors.ts') continue
    const text = readFileSync(join('controller', file), 'utf8')
    for (const m of text.matchAll(/class (\w+) extends (\w*Error)\b/g)) elsewhere.push(`${file}: ${m[1]} extends ${m[2]}`)
  }
  t.same(elsewhere, [])
  for (const m of readFileSync('controller/errors.ts', 'utf8').matchAll(/class (\w+) extends (\w+)/g)) {
    t.equal(m[2], m[1] === 'HookwiseError' ? 'Error' : 'HookwiseError', `${m[1]} extends ${m[2]}`)
  }
})

t.test('every CEL rule in the schemas has a TypeScript twin, and every twin a rule', async (t) => {
  const rules: string[] = []
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk)
    else if (v && typeof v === 'object') {
      for (const [k, sub] of Object.entries(v)) {
        if (k === 'x-kubernetes-validations') rules.push(...(sub as Array<{ rule: string }>).map((r) => r.rule))
        else walk(sub)
      }
    }
  }
  walk(schemas)
  t.same(rules.slice().sort(), Object.keys(CEL_TWINS).sort())
})

t.test('VERSION matches package.json', async (t) => {
  t.equal(VERSION, (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version)
})

t.test('every template variable is documented in the table of docs/templates.md', async (t) => {
  const templates = readFileSync('docs/templates.md', 'utf8')
  for (const name of Object.keys(VARIABLES)) t.match(templates, `| \`\${${name}}\``, name)
})
