import t from 'tap'
import { compileTextMatcher } from '../controller/model/text-matcher.js'

t.test('anchored literals compare strings and agree with the regular expression', async (t) => {
  const inputs = ['production', 'production ', 'Production', 'pre-production', '', 'staging', 'production\n']
  for (const source of ['^production$', '^$', '^prod-1_x$', '^production', 'production$', '^prod.ction$', '^(production|staging)$']) {
    const m = compileTextMatcher(source)
    const re = new RegExp(source)
    t.same(
      inputs.map((i) => m.test(i)),
      inputs.map((i) => re.test(i)),
      source,
    )
    t.equal(m.source, source)
  }
  t.notOk(compileTextMatcher('^production$') instanceof RegExp, 'the literal fast path is used')
  t.throws(() => compileTextMatcher('^(x$'), SyntaxError)
})

t.test('a pattern that backtracks exponentially in JavaScript is matched in linear time (RE2)', async (t) => {
  // ^(a+)+$ against forty a and a ! takes about 2^40 steps in a backtracking engine: one match froze
  // the whole process. RE2 answers in time linear in the text, so 10,000 of them finish.
  const m = compileTextMatcher('^(a+)+$')
  const evil = `${'a'.repeat(40)}!`
  let matched = 0
  for (let i = 0; i < 10_000; i++) if (m.test(evil)) matched++
  t.equal(matched, 0, '10,000 matches, none true')
  t.equal(m.test('a'.repeat(40)), true, 'and it still matches what it should')
  t.equal(m.source, '^(a+)+$')
})

t.test("RE2 syntax: W&B's dialect is accepted, what RE2 cannot express is refused", async (t) => {
  t.equal(compileTextMatcher('(?i)^prod').test('PRODUCTION'), true, '(?i) flag group')
  t.equal(compileTextMatcher('^(?P<stage>prod|staging)$').test('staging'), true, '(?P<name>) group')
  t.equal(compileTextMatcher('^[[:digit:]]+$').test('42'), true, 'POSIX class')
  t.equal(compileTextMatcher('\\d+').test('v12'), true, 'unanchored search')
  const refused: Array<[string, string]> = [
    ['^(?!staging$)', 'lookahead (?! is not RE2 syntax'],
    ['(?=prod)', 'lookahead (?= is not RE2 syntax'],
    ['(?<=v)1', 'lookbehind (?<= is not RE2 syntax'],
    ['(?<!v)1', 'lookbehind (?<! is not RE2 syntax'],
    ['^(a)\\1$', 'the backreference \\1 is not RE2 syntax'],
    ['^(?<x>a)\\k<x>$', 'the backreference \\k is not RE2 syntax'],
    ['^a{1001}$', 'invalid repeat count {1001} (RE2 allows at most 1000)'],
  ]
  for (const [source, message] of refused) t.throws(() => compileTextMatcher(source), new SyntaxError(message), source)
  for (const source of ['^(x$', '[', 'a**']) t.throws(() => compileTextMatcher(source), SyntaxError, source)
})

t.test('one compiled matcher serves every automation with the same expression', async (t) => {
  // Compiling with re2js was the largest share of validating 10,000 automations (issue 22).
  t.equal(compileTextMatcher('^(production|canary-[0-9]+)$'), compileTextMatcher('^(production|canary-[0-9]+)$'))
  t.not(compileTextMatcher('^(production|canary-[0-9]+)$'), compileTextMatcher('^(production|canary-[0-8]+)$'))
  t.throws(() => compileTextMatcher('^(x$'), SyntaxError, 'an expression that does not compile is refused every time')
  t.throws(() => compileTextMatcher('^(x$'), SyntaxError)
})
