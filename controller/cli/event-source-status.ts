// `hookwise get eventsources` and `hookwise describe eventsource NAME`: the EventSources a running
// hookwise serves at /v1/status, printed kubectl style (see status.ts for webhooks and automations).
import { formatText, HookwiseError } from '../errors.js'
import type { StatusReport } from '../server/status-report.js'
import { table } from './history.js'
import type { CliIO } from './io.js'

type EventSourceStatus = NonNullable<StatusReport['eventSources']>[number]

const ready = (s: EventSourceStatus): string => s.conditions.find((c) => c.type === 'Ready')?.status ?? '-'

export function printEventSources(
  report: StatusReport,
  json: boolean | undefined,
  io: CliIO,
  age: (iso: string | undefined) => string,
): void {
  const sources = report.eventSources ?? []
  if (json) {
    io.out(`${JSON.stringify(sources, null, 2)}\n`)
    return
  }
  io.out(
    `${table(
      ['NAMESPACE', 'NAME', 'READY', 'REGISTRY', 'LAST EVENT', 'ACCEPTED', 'DUPLICATES', 'REJECTED', 'WAITING'],
      sources.map((s) => [
        s.namespace,
        s.name,
        ready(s),
        s.registry || '-',
        s.lastEvent ? `${s.lastEvent.type} ${age(s.lastEvent.time)}` : '-',
        String(s.events.accepted),
        String(s.events.duplicates),
        String(s.events.rejected),
        String(s.events.waiting),
      ]),
    )}\n`,
  )
}

export function describeEventSource(
  report: StatusReport,
  namespace: string,
  name: string,
  server: string,
  conditionLines: string[],
): string[] {
  const s = (report.eventSources ?? []).find((x) => x.namespace === namespace && x.name === name)
  if (!s) throw new HookwiseError('HW_EVENT_SOURCE_NOT_FOUND', `EventSource ${namespace}/${name} is not known to ${server}`)
  const lines = [
    `Name:          ${s.name}`,
    `Namespace:     ${s.namespace}`,
    `Registry:      ${s.registry || '-'}${s.trackingUri ? ` ${s.trackingUri}` : ''}`,
    `Intake:        POST /v1/sources/${s.namespace}/${s.name}`,
    `Ready:         ${ready(s)}`,
    `Last event:    ${s.lastEvent ? `${s.lastEvent.type} ${s.lastEvent.deliveryId} at ${s.lastEvent.time}` : '-'}`,
    `Events:        ${s.events.accepted} accepted, ${s.events.duplicates} duplicates, ${s.events.rejected} rejected, ${s.events.waiting} waiting`,
    ...(s.lastError ? [`Last error:    ${s.lastError}`] : []),
    ...(s.mlflowWebhookId || s.registerError
      ? [`MLflow webhook: ${s.mlflowWebhookId ?? '-'}${s.registerError ? ` (registering failed: ${s.registerError})` : ''}`]
      : []),
    ...conditionLines,
  ]
  if (s.errors.length) lines.push('Errors:', ...s.errors.map((d) => `  ${formatText(d).replace(/\n/g, '\n  ')}`))
  return lines
}
