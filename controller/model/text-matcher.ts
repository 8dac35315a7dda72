// Users' regular expressions (aliasRegex, tagRegex, collectionRegex, metadata `regex`) run on every
// event in the main thread. JavaScript's engine backtracks: ^(a+)+$ against forty a and a ! takes
// about 2^40 steps and freezes the process (no /healthz, no SIGTERM). RE2 (re2js, a pure JavaScript
// port) matches in time linear in the text and is also the dialect of W&B's backend (Go's regexp).
import { RE2JS } from 're2js'

/** What a filter needs of a regular expression. */
export interface TextMatcher {
  readonly source: string
  test(text: string): boolean
}

// An anchored literal such as ^production$ (no metacharacters) matches exactly one string: compare
// instead of running the regex engine. Most alias filters look like this.
const ANCHORED_LITERAL = /^\^([A-Za-z0-9_-]*)\$$/

// Thousands of automations repeat a few expressions, and compiling one with re2js costs about 100 µs
// (the largest share of validating an automation, issue 22): compiled matchers are immutable, so
// one is shared by every automation with the same source. Bounded, as sources come from users.
const MAX_CACHED = 4096
const cache = new Map<string, TextMatcher>()

/**
 * Compiles a filter's regular expression (RE2 syntax, no flags; unanchored search); throws a
 * SyntaxError saying why when it does not compile.
 */
export function compileTextMatcher(source: string): TextMatcher {
  let matcher = cache.get(source)
  if (matcher) return matcher
  matcher = compile(source)
  if (cache.size >= MAX_CACHED) cache.clear()
  cache.set(source, matcher)
  return matcher
}

function compile(source: string): TextMatcher {
  const literal = ANCHORED_LITERAL.exec(source)?.[1]
  if (literal !== undefined) return { source, test: (text) => text === literal }
  let re: RE2JS
  try {
    re = RE2JS.compile(source)
  } catch (err) {
    throw new SyntaxError(whyNotRe2(source, err as Error), { cause: err })
  }
  return { source, test: (text) => re.test(text) }
}

// RE2 refuses what it cannot match in linear time; say which construct, in the words users know.
const UNSUPPORTED: Array<[RegExp, (m: string) => string]> = [
  [/\(\?<?[=!]/, (m) => `${m.includes('<') ? 'lookbehind' : 'lookahead'} ${m} is not RE2 syntax`],
  [/\\(?:[1-9]|k(?=<))/, (m) => `the backreference ${m} is not RE2 syntax`],
]

function whyNotRe2(source: string, err: Error): string {
  // JavaScript refuses it too (an unclosed group, a stray *): its message is the familiar one.
  try {
    new RegExp(source)
  } catch (jsErr) {
    return (jsErr as Error).message.replace(/^Invalid regular expression: /, '')
  }
  for (const [pattern, say] of UNSUPPORTED) {
    const m = pattern.exec(source)?.[0]
    if (m !== undefined) return say(m)
  }
  const message = err.message.replace(/^error parsing regexp: /, '').replace(/: `(.*)`$/, ' $1')
  return message.startsWith('invalid repeat count') ? `${message} (RE2 allows at most 1000)` : message
}
