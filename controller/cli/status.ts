// `hookwise get webhooks|automations` and `hookwise describe automation|webhook NAME`: the status
// a running controller serves at /v1/status, printed kubectl style. READY and HEALTHY are the
// conditions' status, as `kubectl get` prints them in Kubernetes mode.
import type { Command } from 'commander'
import { request } from 'undici'
import { HookwiseError, UsageError } from '../errors.js'
import type { ObjectStatus, StatusReport } from '../server/status-report.js'
import { formatText } from '../errors.js'
import { table } from './history.js'
import { describeEventSource, printEventSources } from './event-source-status.js'
import type { CommandContext } from './command.js'
import type { CliIO } from './io.js'
import { clientToken } from './options.js'

export interface ServerOptions {
  server: string
  tokenFile?: string
}

async function fetchStatus(o: ServerOptions, env: NodeJS.ProcessEnv): Promise<StatusReport> {
  const token = clientToken(o.tokenFile, env)
  const url = new URL('/v1/status', o.server).toString()
  try {
    const res = await request(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, headersTimeout: 10_000 })
    const text = await res.body.text()
    if (res.statusCode !== 200)
      throw new HookwiseError('HW_SERVER_UNREACHABLE', `${url} answered ${res.statusCode}: ${text}`, {
        hint: res.statusCode === 401 ? 'pass --token-file or set HOOKWISE_INTAKE_TOKEN' : 'check --server',
      })
    return JSON.parse(text) as StatusReport
  } catch (err) {
    if (err instanceof HookwiseError) throw err
    throw new HookwiseError('HW_SERVER_UNREACHABLE', `cannot reach ${url}: ${(err as Error).message}`, {
      hint: 'start hookwise run, or point --server at it',
    })
  }
}

function age(iso: string | undefined, now: number): string {
  if (!iso) return '-'
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000))
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : s < 172800 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86400)}d`
}

/** A condition's status (True, False, Unknown), or '-' when the object has no such condition. */
const conditionStatus = (o: ObjectStatus, type: string): string => o.conditions.find((c) => c.type === type)?.status ?? '-'

/** The conditions as kubectl describe prints them: type, status, reason, message. */
function conditionLines(o: ObjectStatus): string[] {
  const rows = o.conditions.map((c) => [c.type, c.status, c.reason, c.message])
  return [
    'Conditions:',
    ...table(['Type', 'Status', 'Reason', 'Message'], rows)
      .split('\n')
      .map((l) => `  ${l}`),
  ]
}

export async function getCommand(
  kind: string,
  o: ServerOptions & { json?: boolean },
  io: CliIO,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  if (!['webhooks', 'webhook', 'automations', 'automation', 'eventsources', 'eventsource'].includes(kind))
    throw new UsageError(`cannot get ${kind}`, 'use hookwise get webhooks, automations or eventsources')
  const report = await fetchStatus(o, env)
  const now = Date.now()
  if (kind.startsWith('eventsource')) {
    printEventSources(report, o.json, io, (iso) => age(iso, now))
    return 0
  }
  if (kind.startsWith('webhook')) {
    if (o.json) io.out(`${JSON.stringify(report.webhooks, null, 2)}\n`)
    else
      io.out(
        `${table(
          ['NAMESPACE', 'NAME', 'READY', 'HEALTHY', 'LAST DELIVERY', 'FAILURES', 'URL'],
          report.webhooks.map((w) => [
            w.namespace,
            w.name,
            conditionStatus(w, 'Ready'),
            conditionStatus(w, 'Healthy'),
            age(w.lastDelivery?.time, now),
            String(w.consecutiveFailures),
            w.url,
          ]),
        )}\n`,
      )
  } else if (o.json) io.out(`${JSON.stringify(report.automations, null, 2)}\n`)
  else
    io.out(
      `${table(
        ['NAMESPACE', 'NAME', 'READY', 'EVENT', 'WEBHOOK', 'LAST DELIVERY', 'FAILURES'],
        report.automations.map((a) => [
          a.namespace,
          a.name,
          conditionStatus(a, 'Ready'),
          a.event || '-',
          a.webhook || '-',
          age(a.lastDelivery?.time, now),
          String(a.deliveries.failed),
        ]),
      )}\n`,
    )
  return 0
}

export async function describeCommand(
  kind: string,
  name: string,
  o: ServerOptions,
  io: CliIO,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const [namespace, short] = name.includes('/') ? (name.split('/', 2) as [string, string]) : ['default', name]
  const report = await fetchStatus(o, env)
  const lines: string[] = []
  if (kind === 'automation' || kind === 'automations') {
    const a = report.automations.find((x) => x.namespace === namespace && x.name === short)
    if (!a) throw new HookwiseError('HW_AUTOMATION_NOT_FOUND', `automation ${namespace}/${short} is not known to ${o.server}`)
    lines.push(
      `Name:          ${a.name}`,
      `Namespace:     ${a.namespace}`,
      `Event:         ${a.event || '-'}`,
      `Webhook:       ${a.webhook || '-'}`,
      `Enabled:       ${a.enabled}`,
      `Ready:         ${conditionStatus(a, 'Ready')}`,
      `Last triggered: ${a.lastTriggered ?? '-'}`,
      `Last delivery: ${a.lastDelivery ? `${a.lastDelivery.id} ${a.lastDelivery.outcome} ${a.lastDelivery.statusCode ?? ''} after ${a.lastDelivery.attempts} attempt(s) at ${a.lastDelivery.time}` : '-'}`,
      `Deliveries:    ${a.deliveries.succeeded} succeeded, ${a.deliveries.failed} failed, ${a.deliveries.pending} pending, ${a.deliveries.cancelled} cancelled`,
      ...conditionLines(a),
    )
    if (a.errors.length) lines.push('Errors:', ...a.errors.map((d) => `  ${formatText(d).replace(/\n/g, '\n  ')}`))
  } else if (kind === 'webhook' || kind === 'webhooks') {
    const w = report.webhooks.find((x) => x.namespace === namespace && x.name === short)
    if (!w) throw new HookwiseError('HW_WEBHOOK_NOT_FOUND', `webhook ${namespace}/${short} is not known to ${o.server}`)
    lines.push(
      `Name:          ${w.name}`,
      `Namespace:     ${w.namespace}`,
      `URL:           ${w.url}`,
      `Ready:         ${conditionStatus(w, 'Ready')}`,
      `Healthy:       ${conditionStatus(w, 'Healthy')}`,
      `Last delivery: ${w.lastDelivery ? `${w.lastDelivery.id} ${w.lastDelivery.outcome} ${w.lastDelivery.statusCode ?? ''} at ${w.lastDelivery.time}` : '-'}`,
      ...conditionLines(w),
    )
    if (w.errors.length) lines.push('Errors:', ...w.errors.map((d) => `  ${formatText(d).replace(/\n/g, '\n  ')}`))
  } else if (kind === 'eventsource' || kind === 'eventsources') {
    const s = report.eventSources?.find((x) => x.namespace === namespace && x.name === short)
    lines.push(...describeEventSource(report, namespace, short, o.server, s ? conditionLines(s) : []))
  } else {
    throw new UsageError(`cannot describe ${kind}`, 'use hookwise describe automation NAME, webhook NAME or eventsource NAME')
  }
  io.out(`${lines.join('\n')}\n`)
  return 0
}

export function register(cli: Command, { io, setStatus }: CommandContext): void {
  cli
    .command('get')
    .description('list webhooks, automations or eventsources with their status, from a running hookwise')
    .argument('<kind>', 'webhooks, automations or eventsources')
    .option('--server <url>', 'hookwise API URL', 'http://127.0.0.1:8080')
    .option('--token-file <file>', 'bearer token (or HOOKWISE_INTAKE_TOKEN)')
    .option('--json', 'print JSON')
    .action(async (kind: string, opts: { server: string; tokenFile?: string; json?: boolean }) =>
      setStatus(await getCommand(kind, opts, io)),
    )

  cli
    .command('describe')
    .description('show the conditions, last delivery (or event) and errors of an automation, webhook or eventsource')
    .argument('<kind>', 'automation, webhook or eventsource')
    .argument('<name>', '[namespace/]name')
    .option('--server <url>', 'hookwise API URL', 'http://127.0.0.1:8080')
    .option('--token-file <file>', 'bearer token (or HOOKWISE_INTAKE_TOKEN)')
    .action(async (kind: string, name: string, opts: { server: string; tokenFile?: string }) =>
      setStatus(await describeCommand(kind, name, opts, io)),
    )
}
