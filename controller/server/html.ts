// HTML built from strings with every interpolated value escaped: the dashboard shows names, URLs,
// event bodies and response heads that come from manifests, events and receivers, all hostile.
// Only what `html` itself built (or `trusted` marks, for constant markup) is inserted as markup.

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Markup that is already safe: made by `html` (its values escaped) or a constant. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text
  }
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!)
}

export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[]

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return ''
  if (value instanceof Html) return value.text
  if (Array.isArray(value)) return value.map(render).join('')
  return escapeHtml(String(value))
}

/** A template whose values are escaped (arrays are joined; null, undefined and false are left out). */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0]!
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!
  })
  return new Html(out)
}

/** Constant markup written in this code base (never a value from outside). */
export function trusted(markup: string): Html {
  return new Html(markup)
}
