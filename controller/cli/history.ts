// Delivery history from the state folder or the PostgreSQL store: `hookwise deliveries`, `hookwise
// delivery ID`, `hookwise redeliver ID`. They read the store directly, so they work whether or not the
// controller is running (a running controller picks a redelivery up within its poll interval, 200 ms,
// or up to 2 s while it works through a backlog).
import { existsSync } from 'node:fs'
import { Option, type Command } from 'commander'
import { join } from 'node:path'
import { openStore, storeUrl, type StoreChoice } from '../delivery/open-store.js'
import type { Store } from '../delivery/store.js'
import type { DeliveryRow, DeliveryStatus } from '../model/delivery.js'
import { HookwiseError } from '../errors.js'
import type { CommandContext } from './command.js'
import type { CliIO } from './io.js'
import { positive } from './options.js'

/** Where the history is: the --state folder, or the PostgreSQL store of --store, --store-url-file or HOOKWISE_STORE_URL. */
type StoreFlags = StoreChoice

async function openHistory(o: StoreFlags): Promise<Store> {
  if (storeUrl(o) === undefined && !existsSync(join(o.state, 'hookwise.db'))) {
    throw new HookwiseError('HW_PATH_NOT_FOUND', `no hookwise state in ${o.state}`, {
      hint: 'pass the --state folder hookwise run uses (default ./.hookwise), or its --store / --store-url-file',
    })
  }
  return (await openStore(o)).store
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')

/** A fixed-width table, kubectl style. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3)))
      .join('')
      .trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}

function deliveryCells(d: DeliveryRow): string[] {
  return [
    d.id,
    d.automation,
    d.status.toUpperCase(),
    String(d.attempts),
    d.lastStatusCode === null ? '-' : String(d.lastStatusCode),
    iso(d.createdAt),
    d.lastError ?? '',
  ]
}

export async function deliveriesCommand(
  o: StoreFlags & { automation?: string; status?: DeliveryStatus; limit: number; json?: boolean },
  io: CliIO,
): Promise<number> {
  const store = await openHistory(o)
  try {
    const rows = await store.list({
      ...(o.automation ? { automation: o.automation.includes('/') ? o.automation : `default/${o.automation}` } : {}),
      ...(o.status ? { status: o.status } : {}),
      limit: o.limit,
    })
    if (o.json) io.out(`${JSON.stringify(rows, null, 2)}\n`)
    else if (rows.length === 0) io.out('no deliveries\n')
    else io.out(`${table(['ID', 'AUTOMATION', 'STATUS', 'ATTEMPTS', 'CODE', 'CREATED', 'LAST ERROR'], rows.map(deliveryCells))}\n`)
    return 0
  } finally {
    await store.close()
  }
}

export async function deliveryCommand(id: string, o: StoreFlags & { json?: boolean }, io: CliIO): Promise<number> {
  const store = await openHistory(o)
  try {
    const d = await store.get(id)
    if (!d) throw new HookwiseError('HW_PATH_NOT_FOUND', `no delivery ${id}`, { hint: 'list them with hookwise deliveries' })
    const attempts = await store.attempts(id)
    if (o.json) {
      io.out(`${JSON.stringify({ ...d, attempts }, null, 2)}\n`)
      return 0
    }
    const lines = [
      `Delivery:    ${d.id}`,
      `Event:       ${d.eventId}`,
      `Automation:  ${d.automation}`,
      `Webhook:     ${d.webhook}`,
      `Status:      ${d.status}${d.status === 'pending' ? ` (next attempt ${iso(d.nextAttemptAt)})` : ''}`,
      `Attempts:    ${d.attempts}`,
    ]
    for (const a of attempts) {
      lines.push('', `Attempt ${a.n} at ${iso(a.startedAt)}: ${a.statusCode ?? a.error} in ${a.latencyMs} ms`, `  POST ${a.url}`)
      for (const [k, v] of Object.entries(a.requestHeaders)) lines.push(`  ${k}: ${v}`)
      lines.push(`  body: ${a.body}`)
      if (a.responseHead) lines.push(`  response: ${a.responseHead}`)
      if (a.error) lines.push(`  error: ${a.error}`)
    }
    io.out(`${lines.join('\n')}\n`)
    return 0
  } finally {
    await store.close()
  }
}

export async function redeliverCommand(id: string, o: StoreFlags, io: CliIO): Promise<number> {
  const store = await openHistory(o)
  try {
    const d = await store.get(id)
    if (!d) throw new HookwiseError('HW_PATH_NOT_FOUND', `no delivery ${id}`, { hint: 'list them with hookwise deliveries' })
    if (!(await store.redeliver(id, Date.now()))) {
      io.err(`delivery ${id} is still pending; it will be attempted again by itself\n`)
      return 1
    }
    io.out(`delivery ${id} queued again (same webhook-id)\n`)
    return 0
  } finally {
    await store.close()
  }
}

export function register(cli: Command, { io, setStatus }: CommandContext): void {
  cli
    .command('deliveries')
    .description('list deliveries from the state folder, newest first')
    .option('--state <dir>', 'state folder of hookwise run', './.hookwise')
    .option('--store <url>', 'the PostgreSQL store of hookwise run instead (no password; or HOOKWISE_STORE_URL)')
    .option('--store-url-file <file>', 'file holding the PostgreSQL store URL')
    .option('--automation <[namespace/]name>', 'only this automation')
    .addOption(new Option('--status <status>', 'only this status').choices(['pending', 'succeeded', 'failed', 'cancelled']))
    .option('--limit <n>', 'at most this many', positive, 50)
    .option('--json', 'print JSON')
    .action(async (opts: StoreFlags & { automation?: string; status?: DeliveryStatus; limit: number; json?: boolean }) =>
      setStatus(await deliveriesCommand(opts, io)),
    )

  cli
    .command('delivery')
    .description('show one delivery and every attempt: headers (secrets masked), body, response')
    .argument('<id>', 'delivery id (the webhook-id header)')
    .option('--state <dir>', 'state folder of hookwise run', './.hookwise')
    .option('--store <url>', 'the PostgreSQL store of hookwise run instead (no password; or HOOKWISE_STORE_URL)')
    .option('--store-url-file <file>', 'file holding the PostgreSQL store URL')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: StoreFlags & { json?: boolean }) => setStatus(await deliveryCommand(id, opts, io)))

  cli
    .command('redeliver')
    .description('queue a finished delivery again, with the same webhook-id')
    .argument('<id>', 'delivery id')
    .option('--state <dir>', 'state folder of hookwise run', './.hookwise')
    .option('--store <url>', 'the PostgreSQL store of hookwise run instead (no password; or HOOKWISE_STORE_URL)')
    .option('--store-url-file <file>', 'file holding the PostgreSQL store URL')
    .action(async (id: string, opts: StoreFlags) => setStatus(await redeliverCommand(id, opts, io)))
}
