// The CRD's CEL rules for spec.headers (RE2, run by the kube-apiserver) and model/header-rules.ts
// (JavaScript, run by validation outside Kubernetes and by the sender) accept the same characters.
import t from 'tap'
import { RE2JS } from 're2js'
import { schemas } from '../controller/api/schemas.js'
import { HEADER_NAME, NOT_IN_HEADER_VALUE } from '../controller/model/header-rules.js'

const rules = (
  ((schemas.webhook.$defs as Record<string, any>).WebhookSpec.properties.headers['x-kubernetes-validations'] ?? []) as Array<{
    rule: string
  }>
).map((r) => r.rule)

/** The RE2 expression of the rule that starts with `prefix`: its CEL string literal, unescaped as CEL does. */
function celPattern(prefix: string): RE2JS {
  const rule = rules.find((r) => r.startsWith(prefix))
  if (!rule) throw new Error(`no rule starting with ${prefix}`)
  const literal = /matches\('((?:[^'\\]|\\.)*)'\)/.exec(rule)![1]!
  return RE2JS.compile(literal.replace(/\\(.)/g, '$1'))
}

t.test('header values: the CEL rule and the sender refuse the same characters', async (t) => {
  const cel = celPattern('self.all(k, self[k].matches(')
  const differ: string[] = []
  const points = [...Array.from({ length: 0x300 }, (_, i) => i), 0x2028, 0xfeff, 0x1f680]
  for (const p of points) {
    const value = `a${String.fromCodePoint(p)}b`
    if (cel.matches(value) === NOT_IN_HEADER_VALUE.test(value)) differ.push(`U+${p.toString(16).padStart(4, '0')}`)
  }
  t.same(differ, [], `${points.length} code points agree`)
  t.equal(cel.matches('ml\tand ops Zoé ~'), true)
  t.equal(cel.matches('ml\r\n'), false)
})

t.test('header names: the CEL rule and the sender accept the same tokens', async (t) => {
  const cel = celPattern('self.all(k, k.matches(')
  const differ: string[] = []
  for (let p = 0; p < 0x180; p++) {
    const name = `X${String.fromCodePoint(p)}`
    if (cel.matches(name) !== HEADER_NAME.test(name)) differ.push(`U+${p.toString(16).padStart(4, '0')}`)
  }
  t.same(differ, [], '384 characters agree')
  t.equal(cel.matches("X-Team!#$%&'*+.^_`|~"), true)
  t.equal(cel.matches(''), false)
})
