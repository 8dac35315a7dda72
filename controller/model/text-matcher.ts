/** What a filter needs of a regular expression. A RegExp is one. */
export interface TextMatcher {
  readonly source: string
  test(text: string): boolean
}

// An anchored literal such as ^production$ (no metacharacters) matches exactly one string: compare
// instead of running the regex engine. Most alias filters look like this.
const ANCHORED_LITERAL = /^\^([A-Za-z0-9_-]*)\$$/

/** Compiles a filter's regular expression (JavaScript syntax, no flags); throws SyntaxError when it does not compile. */
export function compileTextMatcher(source: string): TextMatcher {
  const regex = new RegExp(source)
  const literal = ANCHORED_LITERAL.exec(source)?.[1]
  return literal === undefined ? regex : { source, test: (text) => text === literal }
}
