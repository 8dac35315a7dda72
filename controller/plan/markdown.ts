// A plan as Markdown for a pull-request comment: a summary table first, the head's validation
// problems, then one collapsible section per added, changed or removed object. `hookwise diff`
// prints its comparison of a folder with the cluster the same way, in its own words. Pure.
import type { Diagnostic } from '../errors.js'
import type { FieldChange } from './diff.js'
import type { Plan, PlannedObject, RequestSide } from './plan.js'

/** The first line of every plan comment; CI scripts look for it to update their previous comment. */
export const PLAN_HEADING = '### hookwise plan'

const longestRun = (text: string, ch: string): number => Math.max(0, ...(text.match(new RegExp(`${ch}+`, 'g')) ?? []).map((r) => r.length))

/**
 * A name or value with its control characters (and the invisible ones that reorder or break lines)
 * as JSON escapes: a newline in a kind or a name would otherwise end the line it is on, and the next
 * line could open an HTML comment that hides the rest of the comment from the reviewer.
 */
export function visible(text: string): string {
  return text.replace(/[\p{Cc}\p{Zl}\p{Zp}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu, (c) =>
    c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

const wordChar = (c: string | undefined): boolean => c !== undefined && /[\p{L}\p{N}]/u.test(c)

/**
 * Text from a manifest, an event or a message in a paragraph, list item or table cell: shown as
 * written, never as Markdown or HTML. Every character that can start markup is backslash-escaped
 * (`<` of comments and tags, `&` of entities, links, images, code, emphasis, strikethrough, GitHub's
 * `$` math, table pipes); `_` only where it could emphasise, so LINK_ARTIFACT stays as it is.
 */
export function text(s: string): string {
  return visible(s)
    .replace(/[\\`*[\]<>&~|$]/g, '\\$&')
    .replace(/_/g, (u, at: number, all: string) => (wordChar(all[at - 1]) && wordChar(all[at + 1]) ? u : '\\_'))
}

/** Inline code that survives backticks and newlines in the text. */
export function code(raw: string): string {
  const text = visible(raw)
  const ticks = '`'.repeat(longestRun(text, '`') + 1)
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : ''
  return `${ticks}${pad}${text}${pad}${ticks}`
}

/** A fenced block that survives fences in the text. */
export function fenced(lang: string, text: string): string {
  const fence = '`'.repeat(Math.max(3, longestRun(text, '`') + 1))
  return `${fence}${lang}\n${text}\n${fence}`
}

/** Text inside an HTML block (the `<summary>` line): entities for `&`, `<`, `>`, and no line breaks, which would end the block. */
const html = (raw: string): string => visible(raw).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ')
const shortSha = (sha: string | undefined): string => (sha ? ` (${code(sha.slice(0, 12))})` : '')

function diffBlock(diff: readonly FieldChange[]): string {
  const lines: string[] = []
  for (const d of diff) {
    // A key with a newline could otherwise forge a line of the diff.
    if (d.change !== 'added') lines.push(`- ${visible(d.path)}: ${JSON.stringify(d.before)}`)
    if (d.change !== 'removed') lines.push(`+ ${visible(d.path)}: ${JSON.stringify(d.after)}`)
  }
  return fenced('diff', lines.join('\n'))
}

function prettyBody(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2)
  } catch {
    return body
  }
}

function requestSide(title: string, side: RequestSide): string {
  if (side.noop)
    return `**${title}**: noop — ${side.fires ? 'this event fires it' : 'this event does not fire it'}; it records a delivery and sends nothing`
  if (!side.request) return `**${title}**: no request — ${text(side.error ?? 'not rendered')}`
  const heading = `**${title}** — ${side.fires ? 'this event fires it' : 'this event does not fire it'}`
  const r = side.request
  const head = [`${r.method} ${visible(r.url)}`, ...Object.entries(r.headers).map(([k, v]) => visible(`${k}: ${v}`))].join('\n')
  return `${heading}:\n\n${fenced('http', head)}\n\n${fenced('json', prettyBody(r.body))}`
}

function section(o: PlannedObject): string {
  const parts = [`<details>\n<summary>${o.kind} <code>${html(o.key)}</code>: ${o.change}</summary>`, code(o.location)]
  if (o.diff.length) parts.push(diffBlock(o.diff))
  if (o.keys?.length) parts.push(`Keys (values are never shown): ${o.keys.map((k) => `${code(k.key)} ${k.change}`).join(', ')}`)
  const p = o.preview
  if (p) {
    const source = p.event.file ? `from ${code(p.event.file)}` : 'built-in sample'
    parts.push(
      `Request for this ${code(p.event.type)} event (${source}; shown because ${text(p.reason)}). Secrets are shown as \`****\`; the body is sent compact.`,
    )
    if (p.after?.request && !p.after.fires)
      parts.push(
        `**None of the sample events fires this automation** (neither the built-in sample${p.event.file ? ' nor the events given with `--events`' : ''}): the request is what it would send, but check its scope and filters.`,
      )
    if (p.before) parts.push(requestSide('Before', p.before))
    if (p.after) parts.push(requestSide(p.before ? 'After' : 'Request', p.after))
  }
  parts.push('</details>')
  return parts.join('\n\n')
}

function withoutPreview(o: PlannedObject): PlannedObject {
  const { preview: _omitted, ...rest } = o
  return rest
}

function diagnosticLine(d: Diagnostic): string {
  const where = d.file ? `${code(`${d.file}${d.line ? `:${d.line}` : ''}${d.line && d.column ? `:${d.column}` : ''}`)} ` : ''
  const what = [d.object, d.path].filter(Boolean).join(': ')
  return `- ${where}**${d.severity}** ${code(d.code)}: ${what ? `${text(what)}: ` : ''}${text(d.message)}${d.hint ? ` — hint: ${text(d.hint)}` : ''}`
}

/** GitHub refuses comments longer than 65,536 characters; keep a margin for CI wrappers. */
export const MAX_COMMENT_CHARS = 60_000

/** The words that differ between a plan (two git revisions) and a diff (a folder and the cluster). */
export interface MarkdownWording {
  /** The first line. */
  heading: string
  /** The line that names the two sides. */
  sides: (plan: Plan) => string
  /** What the side under review is called in sentences: `head`, `folder`. */
  head: string
  /** When its errors are to be fixed: `before merging`. */
  deadline: string
  /** The command line that shows everything, for the notes on what was left out. */
  command: string
  /** Said instead of the table when neither side has objects. */
  empty: string
  /** A line under the summary. */
  note?: string
}

export const PLAN_WORDING: MarkdownWording = {
  heading: PLAN_HEADING,
  sides: (plan) =>
    `${code(plan.base.ref)}${shortSha(plan.base.commit)} → ${plan.head.commit ? code(plan.head.ref) : text(plan.head.ref)}${shortSha(plan.head.commit)}, manifests in ${code(plan.path)}`,
  head: 'head',
  deadline: 'before merging',
  command: 'hookwise plan',
  empty: 'No Webhook, Automation or Secret objects at either revision.',
}

/**
 * The plan as a pull-request comment. When it would be longer than `maxChars`, the request previews
 * are left out (with a note saying so), then the sections, so the comment can still be posted.
 */
export function formatMarkdown(plan: Plan, maxChars = MAX_COMMENT_CHARS, wording: MarkdownWording = PLAN_WORDING): string {
  const full = render(plan, 'full', wording)
  if (full.length <= maxChars) return full
  const noRequests = render(plan, 'no-requests', wording)
  return noRequests.length <= maxChars ? noRequests : render(plan, 'table', wording)
}

type Detail = 'full' | 'no-requests' | 'table'

const omitted = (detail: Exclude<Detail, 'full'>, command: string): string =>
  detail === 'no-requests'
    ? `_The request previews are left out: with them this comment would be longer than a pull-request comment may be. Run ${code(`${command} --format json`)} to see them._`
    : `_The diffs and request previews are left out: with them this comment would be longer than a pull-request comment may be. Run ${code(command)} locally to see them._`

function render(plan: Plan, detail: Detail, w: MarkdownWording): string {
  const errors = plan.diagnostics.filter((d) => d.severity === 'error').length
  const { added, changed, removed, unchanged } = plan.counts
  const out: string[] = [
    w.heading,
    w.sides(plan),
    `**${added} added, ${changed} changed, ${removed} removed, ${unchanged} unchanged.** ${plan.valid ? `The ${w.head} is valid.` : `The ${w.head} has ${errors} validation error${errors === 1 ? '' : 's'}: fix ${errors === 1 ? 'it' : 'them'} ${w.deadline}.`}`,
  ]
  if (w.note) out.push(w.note)
  if (plan.objects.length) {
    out.push(
      [
        '| object | kind | change |',
        '|---|---|---|',
        ...plan.objects.map((o) => `| ${cell(code(o.key))} | ${o.kind} | ${o.change} |`),
      ].join('\n'),
    )
  } else {
    out.push(w.empty)
  }
  if (plan.diagnostics.length) out.push(`#### Validation of the ${w.head}\n\n${plan.diagnostics.map(diagnosticLine).join('\n')}`)
  if (detail !== 'full') out.push(omitted(detail, w.command))
  if (detail !== 'table') {
    for (const o of plan.objects) {
      if (detail === 'full' && (o.change !== 'unchanged' || o.preview)) out.push(section(o))
      else if (o.change !== 'unchanged') out.push(section(withoutPreview(o)))
    }
  }
  return `${out.join('\n\n')}\n`
}
