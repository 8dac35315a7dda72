// Which header of a request HTTP does not allow, said without printing the value (it may hold a
// secret). The rules (model/header-rules.ts) are undici's, which it checks before any byte leaves.
import { HEADER_NAME as TOKEN, NOT_IN_HEADER_VALUE as NOT_IN_VALUE } from '../model/header-rules.js'

const NAMES: Record<number, string> = { 0x00: 'NUL', 0x0a: 'line feed', 0x0d: 'carriage return', 0x7f: 'DEL' }

/** Why the first unsendable header cannot be sent, e.g. `header Authorization holds U+000A (line feed) at its end`; undefined when all can. */
export function unsendableHeader(headers: Readonly<Record<string, string>>): string | undefined {
  for (const [name, value] of Object.entries(headers)) {
    if (!TOKEN.test(name)) return `the header name ${JSON.stringify(name)} is not an HTTP token (letters, digits and !#$%&'*+-.^_\`|~ only)`
    const bad = NOT_IN_VALUE.exec(value)
    if (!bad) continue
    const point = value.codePointAt(bad.index)!
    const what = NAMES[point] ?? (point < 0x20 ? 'a control character' : 'a character above U+00FF')
    const at =
      bad.index + String.fromCodePoint(point).length === value.length ? 'at its end' : `at position ${bad.index + 1} of ${value.length}`
    return `header ${name} holds U+${point.toString(16).toUpperCase().padStart(4, '0')} (${what}) ${at}`
  }
  return undefined
}
