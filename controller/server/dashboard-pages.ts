// The dashboard's pages as server-rendered HTML: pure functions from what the store and the status
// report hold to markup. Every value from manifests, events and receivers goes through `html`,
// which escapes it. No inline script or style: the Content-Security-Policy allows neither.

import type { AttemptRow, DeliveryRow, DeliveryStatus } from '../model/delivery.js'
import type { DeliveryRecord } from '../api/types.generated.js'
import type { ConditionInput } from '../model/object-status.js'
import { WINDOWS, webhookCharts, type ChartWindow } from './dashboard-charts.js'
import type { AttemptBucket } from '../delivery/store.js'
import { html, type Html } from './html.js'
import type { StatusReport } from './status-report.js'

export const STATUSES: readonly DeliveryStatus[] = ['pending', 'succeeded', 'failed', 'cancelled']

type Section = 'overview' | 'deliveries' | 'none'

/** A whole page. `live`: the script refreshes the `data-live` regions while the page is shown. */
export function page(title: string, section: Section, body: Html, options: { live?: boolean; nav?: boolean } = {}): Html {
  const link = (href: string, label: string, s: Section) =>
    html`<a href="${href}"${s === section ? html` aria-current="page"` : ''}>${label}</a>`
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · hookwise</title>
<link rel="stylesheet" href="/ui/assets/dashboard.css">
${options.live ? html`<script src="/ui/assets/dashboard.js" defer></script>` : ''}
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
<span class="brand">hookwise</span>
${
  options.nav === false
    ? ''
    : html`<nav aria-label="Dashboard">${link('/ui', 'Overview', 'overview')} ${link('/ui/deliveries', 'Deliveries', 'deliveries')}</nav>
<form method="post" action="/ui/logout" class="logout"><button type="submit">Log out</button></form>`
}
</header>
<main id="main" tabindex="-1">
<h1>${title}</h1>
${body}
</main>
${options.live ? html`<p class="muted live-note" id="live-state">Updates every few seconds.</p>` : ''}
</body>
</html>
`
}

export function loginPage(error?: string): Html {
  return page(
    'Log in',
    'none',
    html`${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<form method="post" action="/ui/login" class="login">
<label for="token">Intake token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<p class="muted" id="token-help">The token <code>hookwise run</code> takes with <code>--intake-token</code> or <code>HOOKWISE_INTAKE_TOKEN</code>.</p>
<button type="submit">Log in</button>
</form>`,
    { nav: false },
  )
}

export function messagePage(title: string, text: string, back?: { href: string; label: string }): Html {
  return page(title, 'none', html`<p>${text}</p>${back ? html`<p><a href="${back.href}">${back.label}</a></p>` : ''}`)
}

function conditions(list: readonly ConditionInput[]): Html {
  return html`<ul class="conditions">${list.map(
    (c) =>
      html`<li><span class="badge ${c.status === 'True' ? 'ok' : c.status === 'False' ? 'bad' : 'unknown'}">${c.type}: ${c.status}</span> <span class="reason">${c.reason}</span>${c.message ? html`<span class="message">${c.message}</span>` : ''}</li>`,
  )}</ul>`
}

function lastDelivery(d: DeliveryRecord | undefined): Html {
  if (!d) return html`<span class="muted">none yet</span>`
  return html`<a href="/ui/deliveries/${encodeURIComponent(d.id)}">${d.outcome}</a>${d.statusCode ? html` (${d.statusCode})` : ''}<br><time datetime="${d.time}">${shortTime(Date.parse(d.time))}</time>`
}

function shortTime(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z')
}

function deliveriesLink(filter: Partial<Record<'automation' | 'webhook' | 'status', string>>, label: Html | string): Html {
  return html`<a href="/ui/deliveries?${new URLSearchParams(filter).toString()}">${label}</a>`
}

export function overviewPage(report: StatusReport, buckets: readonly AttemptBucket[], window: ChartWindow, windowName: string): Html {
  const windows = Object.keys(WINDOWS).map((w) =>
    w === windowName ? html`<strong aria-current="true">${w}</strong>` : html`<a href="/ui?window=${w}">${w}</a>`,
  )
  const webhooks = report.webhooks.map((w) => {
    const key = `${w.namespace}/${w.name}`
    return html`<tr>
<th scope="row">${deliveriesLink({ webhook: key }, key)}<br><span class="url">${w.url}</span></th>
<td>${conditions(w.conditions)}</td>
<td class="num">${w.consecutiveFailures}</td>
<td>${lastDelivery(w.lastDelivery)}</td>
<td>${webhookCharts(key, buckets, window)}</td>
</tr>`
  })
  const automations = report.automations.map((a) => {
    const key = `${a.namespace}/${a.name}`
    const count = (s: DeliveryStatus) => (a.deliveries[s] ? deliveriesLink({ automation: key, status: s }, String(a.deliveries[s])) : '0')
    return html`<tr>
<th scope="row">${deliveriesLink({ automation: key }, key)}${a.enabled ? '' : html` <span class="badge unknown">disabled</span>`}</th>
<td>${a.event}</td>
<td>${a.webhook}</td>
<td>${conditions(a.conditions)}</td>
<td>${lastDelivery(a.lastDelivery)}</td>
<td class="num">${count('succeeded')}</td>
<td class="num">${count('failed')}</td>
<td class="num">${count('pending')}</td>
</tr>`
  })
  const errors = report.errors.length
    ? html`<section aria-labelledby="errors-h"><h2 id="errors-h">Errors</h2><ul>${report.errors.map(
        (e) => html`<li><code>${e.code}</code> ${e.file ? html`${e.file}:${e.line ?? ''} ` : ''}${e.message}</li>`,
      )}</ul></section>`
    : ''
  return html`<div data-live id="overview">
${errors}
<section aria-labelledby="webhooks-h">
<h2 id="webhooks-h">Webhooks</h2>
<p class="muted">Charts over ${window.label}: ${windows.map((w, i) => html`${i ? ' · ' : ''}${w}`)}</p>
<div class="scroll" role="region" aria-labelledby="webhooks-h" tabindex="0">
<table>
<thead><tr><th scope="col">Webhook</th><th scope="col">Conditions</th><th scope="col">Failures in a row</th><th scope="col">Last delivery</th><th scope="col">Success rate and latency</th></tr></thead>
<tbody>${webhooks.length ? webhooks : html`<tr><td colspan="5">No webhooks.</td></tr>`}</tbody>
</table>
</div>
</section>
<section aria-labelledby="automations-h">
<h2 id="automations-h">Automations</h2>
<div class="scroll" role="region" aria-labelledby="automations-h" tabindex="0">
<table>
<thead><tr><th scope="col">Automation</th><th scope="col">Event</th><th scope="col">Webhook</th><th scope="col">Conditions</th><th scope="col">Last delivery</th><th scope="col">Succeeded</th><th scope="col">Failed</th><th scope="col">Pending</th></tr></thead>
<tbody>${automations.length ? automations : html`<tr><td colspan="8">No automations.</td></tr>`}</tbody>
</table>
</div>
</section>
</div>`
}

/** The filter form's values as typed (times as `YYYY-MM-DDTHH:MM`, UTC). */
export interface FilterForm {
  automation: string
  webhook: string
  status: string
  since: string
  until: string
}

function deliveryRows(rows: readonly DeliveryRow[], showEvent: boolean): Html {
  return html`${rows.map(
    (d) => html`<tr>
<th scope="row"><a href="/ui/deliveries/${encodeURIComponent(d.id)}">${d.id}</a></th>
<td><span class="badge ${statusClass(d.status)}">${d.status}</span></td>
<td>${d.automation}</td>
<td>${d.webhook}</td>
${showEvent ? html`<td><a href="/ui/events/${encodeURIComponent(d.eventId)}">${d.eventId}</a></td>` : ''}
<td class="num">${d.attempts}</td>
<td>${d.lastStatusCode ?? ''}${d.lastError ? html` <span class="message">${d.lastError}</span>` : ''}</td>
<td><time datetime="${new Date(d.createdAt).toISOString()}">${shortTime(d.createdAt)}</time></td>
</tr>`,
  )}`
}

function deliveryTable(rows: readonly DeliveryRow[], label: string, showEvent = true): Html {
  return html`<div class="scroll" role="region" aria-label="${label}" tabindex="0">
<table>
<thead><tr><th scope="col">Delivery</th><th scope="col">Status</th><th scope="col">Automation</th><th scope="col">Webhook</th>${showEvent ? html`<th scope="col">Event</th>` : ''}<th scope="col">Attempts</th><th scope="col">Last answer</th><th scope="col">Created (UTC)</th></tr></thead>
<tbody>${rows.length ? deliveryRows(rows, showEvent) : html`<tr><td colspan="8">No deliveries match.</td></tr>`}</tbody>
</table>
</div>`
}

function statusClass(s: DeliveryStatus): string {
  return s === 'succeeded' ? 'ok' : s === 'failed' ? 'bad' : s === 'pending' ? 'pending' : 'unknown'
}

export function deliveriesPage(
  rows: readonly DeliveryRow[],
  form: FilterForm,
  choices: { automations: string[]; webhooks: string[] },
  paging: { page: number; hasNext: boolean; query: URLSearchParams },
): Html {
  const select = (name: 'automation' | 'webhook' | 'status', label: string, values: readonly string[]) =>
    html`<div class="field"><label for="f-${name}">${label}</label><select id="f-${name}" name="${name}"><option value="">any</option>${values.map(
      (v) => html`<option${v === form[name] ? html` selected` : ''}>${v}</option>`,
    )}</select></div>`
  const pageLink = (n: number, label: string, rel: string) => {
    const q = new URLSearchParams(paging.query)
    q.set('page', String(n))
    return html`<a href="/ui/deliveries?${q.toString()}" rel="${rel}">${label}</a>`
  }
  return html`<form method="get" action="/ui/deliveries" class="filters" aria-label="Filter deliveries">
${select('automation', 'Automation', choices.automations)}
${select('webhook', 'Webhook', choices.webhooks)}
${select('status', 'Status', STATUSES)}
<div class="field"><label for="f-since">Created from (UTC)</label><input id="f-since" name="since" type="datetime-local" value="${form.since}"></div>
<div class="field"><label for="f-until">Created before (UTC)</label><input id="f-until" name="until" type="datetime-local" value="${form.until}"></div>
<div class="field"><button type="submit">Filter</button> <a href="/ui/deliveries">Clear</a></div>
</form>
<div data-live id="delivery-list">
${deliveryTable(rows, 'Deliveries')}
<nav aria-label="Pages" class="paging">
${paging.page > 1 ? pageLink(paging.page - 1, 'Newer', 'prev') : ''}
<span>Page ${paging.page}</span>
${paging.hasNext ? pageLink(paging.page + 1, 'Older', 'next') : ''}
</nav>
</div>`
}

export function deliveryPage(d: DeliveryRow, attempts: readonly AttemptRow[], notice?: string): Html {
  const attemptSections = attempts.map(
    (a) => html`<section class="attempt" aria-labelledby="attempt-${a.n}">
<h3 id="attempt-${a.n}">Attempt ${a.n}: ${a.statusCode ?? 'no response'}</h3>
<dl>
<dt>Started (UTC)</dt><dd><time datetime="${new Date(a.startedAt).toISOString()}">${shortTime(a.startedAt)}</time></dd>
<dt>Latency</dt><dd>${a.latencyMs} ms</dd>
<dt>URL</dt><dd class="url">POST ${a.url}</dd>
${a.error ? html`<dt>Error</dt><dd>${a.error}</dd>` : ''}
</dl>
<h4>Request headers (credentials masked)</h4>
<pre>${Object.entries(a.requestHeaders)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n')}</pre>
<h4>Request body (secrets masked)</h4>
<pre>${prettyJson(a.body)}</pre>
${a.responseHead ? html`<h4>Response</h4><pre>${a.responseHead}</pre>` : ''}
</section>`,
  )
  return html`${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}
<div data-live id="delivery">
<dl class="facts">
<dt>Status</dt><dd><span class="badge ${statusClass(d.status)}">${d.status}</span></dd>
<dt>Automation</dt><dd>${deliveriesLink({ automation: d.automation }, d.automation)}</dd>
<dt>Webhook</dt><dd>${deliveriesLink({ webhook: d.webhook }, d.webhook)}</dd>
<dt>Event</dt><dd><a href="/ui/events/${encodeURIComponent(d.eventId)}">${d.eventId}</a></dd>
<dt>Attempts</dt><dd>${d.attempts}</dd>
${d.status === 'pending' ? html`<dt>Next attempt (UTC)</dt><dd>${shortTime(d.nextAttemptAt)}</dd>` : ''}
${d.lastError ? html`<dt>Last error</dt><dd>${d.lastError}</dd>` : ''}
</dl>
${
  d.status === 'pending'
    ? html`<p class="muted">Pending: it can be redelivered once it has finished.</p>`
    : html`<p><a class="button" href="/ui/deliveries/${encodeURIComponent(d.id)}/redeliver">Redeliver…</a></p>`
}
<h2>Attempts</h2>
${attempts.length ? attemptSections : html`<p>No attempt yet.</p>`}
</div>`
}

export function confirmRedeliverPage(d: DeliveryRow, csrf: string): Html {
  const path = `/ui/deliveries/${encodeURIComponent(d.id)}`
  return html`<p>Send delivery <strong>${d.id}</strong> of automation <strong>${d.automation}</strong> to webhook <strong>${d.webhook}</strong> again? It keeps its id (the receiver sees the same <code>webhook-id</code>) and counts its attempts on from ${d.attempts}.</p>
<form method="post" action="${path}/redeliver">
<input type="hidden" name="csrf" value="${csrf}">
<button type="submit">Redeliver</button>
<a href="${path}">Cancel</a>
</form>`
}

export function eventPage(eventId: string, body: string | undefined, rows: readonly DeliveryRow[]): Html {
  return html`<h2>Body</h2>
${body === undefined ? html`<p class="muted">The event's body is no longer stored.</p>` : html`<pre>${prettyJson(body)}</pre>`}
<h2>Deliveries</h2>
<div data-live id="event-deliveries">${deliveryTable(rows, `Deliveries of event ${eventId}`, false)}</div>`
}

function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2)
  } catch {
    return text
  }
}
