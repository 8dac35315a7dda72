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
