// Masks a webhook's secret values in what its endpoint answered, before the answer is recorded or
// printed: a receiver that echoes the request (httpbin-style, many error pages) would otherwise put
// the bearer token and the signing key into the state, the history and the API. Each value is
// searched for as it is sent and in the forms an echo commonly re-encodes it to: JSON-escaped (once
// or twice),
// URL-encoded, hex and base64 (at any of the three byte alignments base64 can start at, so a
// secret inside a longer base64 text is found too). Everything is compiled once per set of
// values into one regular expression: one pass over a 4 KiB head takes a few microseconds, where
// a search per form took 20.
import { MASK } from './request.js'
import type { SendResult } from './send-result.js'

export type Redact = (text: string) => string

/** Re-encoded forms shorter than this are not searched for: they would mask ordinary text. */
const MIN_DERIVED = 8
/** A head that ends in this much of a form is taken as a secret cut off by the 4 KiB limit. */
const MIN_TAIL = 4
/** A 4 KiB head is at least this many characters (4-byte UTF-8); shorter texts were not cut off. */
const CUT_OFF_CHARS = 1024

/** The forms of each value to search for, longest first (so a secret that contains another is masked whole). */
function formsOf(values: readonly string[]): string[] {
  const forms = new Set<string>()
  const derived = (form: string): void => {
    if (form.length >= MIN_DERIVED) forms.add(form)
  }
  for (const value of values) {
    if (value.length === 0) continue
    forms.add(value)
    const escaped = JSON.stringify(value).slice(1, -1)
    derived(escaped)
    // Twice: an echo that returns the JSON body as a JSON string ("data": "{\"key\": ...}").
    derived(JSON.stringify(escaped).slice(1, -1))
    const url = encodeURIComponent(value)
    derived(url)
    derived(url.replaceAll('%20', '+'))
    for (const text of new Set([value, escaped])) {
      const bytes = Buffer.from(text, 'utf8')
      derived(bytes.toString('hex'))
      derived(bytes.toString('hex').toUpperCase())
      derived(bytes.toString('base64'))
      for (const core of base64Cores(bytes)) {
        derived(core)
        derived(core.replaceAll('+', '-').replaceAll('/', '_'))
      }
    }
  }
  return [...forms].sort((a, b) => b.length - a.length)
}

/**
 * The base64 characters that depend on `bytes` alone when they start 0, 1 or 2 bytes into a
 * base64-encoded text: whatever precedes and follows them, these characters appear.
 */
function base64Cores(bytes: Buffer): string[] {
  const cores: string[] = []
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes, Buffer.alloc(2)]).toString('base64')
    // Character i holds bits 6i..6i+5; it is all ours when those lie within the value's bits.
    cores.push(encoded.slice(Math.ceil((8 * shift) / 6), Math.floor((8 * (shift + bytes.length)) / 6)))
  }
  return cores
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** A function that replaces every form of every value in a text by ****. */
export function secretRedactor(values: readonly string[]): Redact {
  const forms = formsOf(values)
  if (forms.length === 0) return (text) => text
  // Alternatives are tried in order at each position: longest first masks the longest form there.
  const pattern = new RegExp(forms.map(escapeRegExp).join('|'), 'g')
  return (text) => {
    const masked = text.replace(pattern, MASK)
    return masked.length >= CUT_OFF_CHARS ? maskCutOffTail(masked, forms) : masked
  }
}

/** Masks the end of a head that was cut off in the middle of a secret: the part that made it in. */
function maskCutOffTail(text: string, forms: readonly string[]): string {
  const last = text.charCodeAt(text.length - 1)
  let longest = 0
  for (const form of forms) {
    for (let n = Math.min(form.length - 1, text.length); n >= MIN_TAIL && n > longest; n--) {
      if (form.charCodeAt(n - 1) === last && text.endsWith(form.slice(0, n))) {
        longest = n
        break
      }
    }
  }
  return longest ? text.slice(0, text.length - longest) + MASK : text
}

/** Redactors by the values they mask: a webhook's is compiled once, not per attempt. */
const redactors = new Map<string, Redact>()
const REDACTOR_CACHE_ENTRIES = 1024

function redactorFor(values: readonly string[]): Redact {
  const key = values.join('\0')
  let redact = redactors.get(key)
  if (redact) return redact
  redact = secretRedactor(values)
  if (redactors.size >= REDACTOR_CACHE_ENTRIES) redactors.clear()
  redactors.set(key, redact)
  return redact
}

/**
 * The answer with every secret value sent masked in its body head and error message. Does no work
 * when there is neither (a 2xx with an empty body, the common case for webhooks).
 */
export function redactResult(result: SendResult, secrets: Readonly<Record<string, string>>): SendResult {
  if (!result.bodyHead && !result.error) return result
  const redact = redactorFor(Object.values(secrets))
  return {
    ...result,
    ...(result.bodyHead ? { bodyHead: redact(result.bodyHead) } : {}),
    ...(result.error ? { error: { ...result.error, message: redact(result.error.message) } } : {}),
  }
}
