// Parses the text of one YAML file into objects that remember where each of their fields is, so that
// every later error can name file, line and column. Pure: text in, objects and diagnostics out.
//
// Two parsers, for speed (issue 22): a file of plain mappings is read by js-yaml, without positions
// (about three times faster than building yaml's documents, and nothing of them is kept), each object
// knowing where its document starts (document-starts.ts); the position of a field is found only when
// an error needs it, by parsing that document again with yaml. Anything else (a syntax error, anchors,
// aliases, tags, directives, a document that is not a mapping) is read by yaml with positions, which
// reports it exactly as before. Both read YAML 1.2 with the core schema.
import { CORE_SCHEMA, load } from 'js-yaml'
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node as YamlNode } from 'yaml'
import type { Diagnostic } from '../errors.js'
import type { FieldPath, ManifestObject } from '../model/manifest-object.js'
import { documentStarts } from './document-starts.js'

/** Files larger than this are refused before parsing. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024
/** Alias expansions allowed per document: defeats "billion laughs" documents. */
const MAX_ALIAS_COUNT = 100
/** Syntax errors reported per document; one broken bracket can cause hundreds. */
const MAX_SYNTAX_ERRORS = 5

export interface ParsedManifest {
  objects: ManifestObject[]
  diagnostics: Diagnostic[]
}

/** With `previous` (this file as read before), documents that did not change keep their objects (see parsePlain). */
export function parseManifest(text: string, file: string, previous?: ParsedManifest): ParsedManifest {
  if (Buffer.byteLength(text) > MAX_MANIFEST_BYTES) {
    const tooLarge: Diagnostic = {
      code: 'HW_FILE_TOO_LARGE',
      severity: 'error',
      file,
      line: 1,
      column: 1,
      message: `file is larger than ${MAX_MANIFEST_BYTES / 1024 / 1024} MiB`,
      hint: 'split it into several files; manifests this large are not hand-written',
    }
    return { objects: [], diagnostics: [tooLarge] }
  }
  return parsePlain(text, file, previous) ?? parseWithPositions(text, file)
}

// What js-yaml would read differently from yaml, or only yaml limits: anchors and aliases (yaml
// bounds their expansion), tags, directives, a byte order mark (positions would shift by it), and
// keys that may be null (`? `, `~:`, `null:`, an empty key), which js-yaml names "null" and yaml "".
const NOT_PLAIN = /^%|(?:^|[\s[{,])(?:[&*!][^\s,\]}]|\?(?:\s|$)|(?:~|null|Null|NULL)?\s*:(?:\s|$))|^\uFEFF/m

/**
 * The fast path: every document a mapping (or empty) and no syntax error; undefined otherwise. Each
 * document is read on its own (YAML documents are independent once directives are excluded), so
 * that with `previous`, the objects of an earlier read of the same file, a document unchanged in
 * text and place keeps its object: validation's cache knows it, and only what an edit touched is
 * parsed, validated and compiled again. A place is document number, line and column, so positions
 * found later for a kept object stay true.
 */
export function parsePlain(text: string, file: string, previous?: ParsedManifest): ParsedManifest | undefined {
  if (NOT_PLAIN.test(text)) return undefined
  const starts = documentStarts(text)
  if (!starts) return undefined
  const before = new Map<string, ManifestObject>()
  for (const o of previous?.objects ?? []) if (documentText.has(o)) before.set(place(o.source.document, o.source), o)
  const objects: ManifestObject[] = []
  for (const [index, start] of starts.entries()) {
    if (start === null) continue // an empty document, e.g. after a trailing ---: kubectl skips it too
    // From the start of its first line: indentation there (a tab, say) is part of what is read. A
    // copy, not a slice: V8 keeps a slice's whole parent string alive, and js-yaml's strings are
    // slices of their input, so a document kept across edits would keep every version of its file.
    const slice = text.slice(start.offset - (start.column - 1), start.end)
    const old = before.get(place(index, start))
    if (old && documentText.get(old) === slice) {
      objects.push(old)
      continue
    }
    const chunk = Buffer.from(slice).toString()
    let body: unknown
    try {
      body = load(chunk, { schema: CORE_SCHEMA })
    } catch {
      return undefined // a syntax error (or a document too deep): yaml says where and why
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined
    const record = body as Record<string, unknown>
    const { line, column } = start
    const object: ManifestObject = {
      apiVersion: record.apiVersion,
      kind: record.kind,
      body: record,
      source: {
        file,
        document: index,
        line,
        column,
        locate: (path) => locateInDocument(chunk, line, path, { line, column }),
      },
    }
    documentText.set(object, chunk)
    objects.push(object)
  }
  return { objects, diagnostics: [] }
}

const place = (document: number, at: { line: number; column: number }): string => `${document}:${at.line}:${at.column}`

/** The text of each object's document, as read by the fast path. */
const documentText = new WeakMap<ManifestObject, string>()

/**
 * A field's position, found by parsing the document's own text with yaml (only objects with an error
 * ever ask). Only that text is kept, not the file's: an object kept across edits must not keep every
 * earlier version of its file alive.
 */
function locateInDocument(chunk: string, firstLine: number, path: FieldPath, fallback: { line: number; column: number }) {
  const lineCounter = new LineCounter()
  const doc = parseAllDocuments(chunk, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true })[0] as
    | Document.Parsed
    | undefined
  if (!doc) return fallback
  const pos = linePosition(lineCounter)
  return locate(
    doc,
    path,
    (offset) => {
      const p = pos(offset)
      return { line: p.line + firstLine - 1, column: p.column }
    },
    fallback,
  )
}

const linePosition =
  (lineCounter: LineCounter) =>
  (offset: number): { line: number; column: number } => {
    const p = lineCounter.linePos(offset)
    return { line: p.line, column: p.col }
  }

/** An empty document (nothing but comments after a ---): kubectl skips it. Not `~` or `""`, which are values. */
const isEmpty = (doc: Document.Parsed): boolean =>
  doc.contents === null || (isScalar(doc.contents) && !doc.contents.tag && doc.contents.range[0] === doc.contents.range[1])

/** The slow path: yaml's documents, with every position; reports syntax errors and non-objects. */
export function parseWithPositions(text: string, file: string): ParsedManifest {
  const objects: ManifestObject[] = []
  const diagnostics: Diagnostic[] = []
  const lineCounter = new LineCounter()
  let documents: Document.Parsed[]
  try {
    documents = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true }) as Document.Parsed[]
  } catch (err) {
    // The parser is recursive in places: pathological nesting can exhaust the stack.
    diagnostics.push({
      code: 'HW_YAML_LIMIT',
      severity: 'error',
      file,
      line: 1,
      column: 1,
      message: `YAML could not be parsed: ${(err as Error).message}`,
      hint: 'nest less deeply',
    })
    return { objects, diagnostics }
  }
  const pos = linePosition(lineCounter)

  documents.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      for (const e of doc.errors.slice(0, MAX_SYNTAX_ERRORS)) {
        diagnostics.push({
          code: 'HW_YAML_SYNTAX',
          severity: 'error',
          file,
          ...pos(e.pos[0]),
          message: firstLine(e.message),
          hint: 'fix the YAML syntax at this position',
        })
      }
      const more = doc.errors.length - MAX_SYNTAX_ERRORS
      if (more > 0) {
        diagnostics.push({
          code: 'HW_YAML_SYNTAX',
          severity: 'error',
          file,
          ...pos(doc.errors[MAX_SYNTAX_ERRORS]!.pos[0]),
          message: `${more} more syntax errors in document ${index + 1} not shown`,
          hint: 'fix the errors above first',
        })
      }
      return
    }
    if (isEmpty(doc)) return // an empty document, e.g. after a trailing ---: kubectl skips it too
    const start = pos(doc.contents!.range[0])
    let body: unknown
    try {
      body = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT })
    } catch (err) {
      diagnostics.push({
        code: 'HW_YAML_LIMIT',
        severity: 'error',
        file,
        ...start,
        message: `document ${index + 1} cannot be expanded: ${(err as Error).message}`,
        hint: `use fewer YAML aliases (at most ${MAX_ALIAS_COUNT} expansions per document)`,
      })
      return
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      diagnostics.push({
        code: 'HW_NOT_AN_OBJECT',
        severity: 'error',
        file,
        ...start,
        message: `document ${index + 1} is not a mapping`,
        hint: 'each YAML document must be one object with apiVersion, kind, metadata and spec',
      })
      return
    }
    const record = body as Record<string, unknown>
    objects.push({
      apiVersion: record.apiVersion,
      kind: record.kind,
      body: record,
      source: { file, document: index, ...start, locate: (path) => locate(doc, path, pos, start) },
    })
  })
  return { objects, diagnostics }
}

function locate(
  doc: Document.Parsed,
  path: FieldPath,
  pos: (offset: number) => { line: number; column: number },
  fallback: { line: number; column: number },
): { line: number; column: number } {
  let node: YamlNode | null | undefined = doc.contents
  let best = fallback
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : p.key) === String(segment))
      if (!pair) break
      // A field's position is its key: "aliasRegex:" is where the user looks.
      if (isScalar(pair.key) && pair.key.range) best = pos(pair.key.range[0])
      node = pair.value as YamlNode | null
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as YamlNode | undefined
      if (!item?.range) break
      best = pos(item.range[0])
      node = item
    } else {
      break
    }
  }
  return best
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message
}
