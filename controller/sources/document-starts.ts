// Where each YAML document of a file starts, found from its lines alone: a line that begins with
// `---` opens a document (YAML forbids such a line inside any scalar, so it is never content), and a
// document starts at its first line that is not blank or a comment. This is what lets manifests be
// parsed without positions (fast) while still naming a document's line; the position of any field is
// found later, only for objects that have an error. Pure.

export interface DocumentStart {
  line: number
  column: number
  /** Offset in the text of its first character. */
  offset: number
  /** Offset where its text ends: the next --- line, or the end of the text. */
  end: number
}

/**
 * One entry per document, in the parser's numbering: its start, or null for a document with no
 * content (e.g. after a trailing `---`). Undefined when the lines are not plain enough to be sure
 * (directives, `...` end markers, content on a `---` line): the caller then parses with positions.
 */
export function documentStarts(text: string): Array<DocumentStart | null> | undefined {
  const out: Array<DocumentStart | null> = []
  // The document being read: explicit when a --- opened it; an implicit first document counts only with content.
  let explicit = false
  let start: DocumentStart | null = null
  let line = 0
  let at = 0
  while (at <= text.length) {
    line++
    let end = text.indexOf('\n', at)
    if (end === -1) end = text.length
    const first = text.charCodeAt(at)
    if (first === 0x2d /* - */ && text.startsWith('---', at) && isBreak(text, at + 3, end)) {
      if (explicit || start) out.push(start && { ...start, end: at })
      const rest = text.slice(at + 3, end).trim()
      if (rest !== '' && !rest.startsWith('#')) return undefined
      explicit = true
      start = null
    } else if (first === 0x25 /* % */ || (first === 0x2e /* . */ && text.startsWith('...', at) && isBreak(text, at + 3, end))) {
      return undefined
    } else if (start === null) {
      let i = at
      while (i < end && isSpace(text.charCodeAt(i))) i++
      if (i < end && text.charCodeAt(i) !== 0x23 /* # */) start = { line, column: i - at + 1, offset: i, end: text.length }
    }
    at = end + 1
  }
  if (explicit || start) out.push(start)
  return out
}

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0d || c === 0xfeff
/** The marker at `i` ends the line or is followed by a space. */
const isBreak = (text: string, i: number, end: number): boolean => i >= end || isSpace(text.charCodeAt(i))
