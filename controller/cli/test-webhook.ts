// `hookwise test webhook NAME`: sends one ad-hoc payload with the webhook's credentials and
// signature, as W&B's "Test" button does, and prints what the endpoint answered. Not recorded.
import { randomUUID } from 'node:crypto'
import type { Command } from 'commander'
import { buildRequest, defaultTestPayload } from '../delivery/request.js'
import { UndiciSender } from '../delivery/sender.js'
import { HookwiseError, UsageError } from '../errors.js'
import { DEFAULT_NAMESPACE, objectKey } from '../model/desired-state.js'
import { mapLookup, resolveWebhookSecrets } from '../model/secrets.js'
import { loadDesiredState } from '../sources/load.js'
import { formatText } from '../errors.js'
import type { CommandContext } from './command.js'
import { readInput, type CliIO } from './io.js'
import { collect } from './options.js'

export interface TestWebhookOptions {
  manifests: string[]
  secrets?: string[]
  payload?: string
  allowInsecureHttp?: boolean
  egressAllow?: string[]
  json?: boolean
}

export async function testWebhookCommand(kind: string, name: string, o: TestWebhookOptions, io: CliIO): Promise<number> {
  if (kind !== 'webhook') throw new UsageError(`cannot test ${kind}`, 'use hookwise test webhook NAME')
  const [namespace, short] = name.includes('/') ? (name.split('/', 2) as [string, string]) : [DEFAULT_NAMESPACE, name]
  const key = objectKey(namespace, short)
  const state = await loadDesiredState({ manifests: o.manifests, secrets: o.secrets ?? [] })
  const webhook = state.webhooks.get(key)
  if (!webhook) {
    const own = state.diagnostics.filter((d) => d.object === `Webhook ${key}`)
    if (own.length) {
      io.err(`${own.map(formatText).join('\n')}\n`)
      return 1
    }
    throw new HookwiseError('HW_WEBHOOK_NOT_FOUND', `webhook ${key} is not in ${o.manifests.join(', ')}`, { hint: `webhooks found: ${[...state.webhooks.keys()].join(', ') || 'none'}` })
  }
  if (!webhook.valid) {
    io.err(`${state.diagnostics.filter((d) => d.object === `Webhook ${key}`).map(formatText).join('\n')}\n`)
    return 1
  }
  const secrets = resolveWebhookSecrets(webhook, mapLookup(state.secrets))
  let body = defaultTestPayload(key, new Date())
  if (o.payload) {
    body = await readInput(o.payload, io)
    try {
      JSON.parse(body)
    } catch (err) {
      throw new HookwiseError('HW_EVENT_JSON', `--payload ${o.payload} is not JSON: ${(err as Error).message}`, { hint: 'webhooks receive JSON bodies' })
    }
  }
  const request = buildRequest({ webhook: webhook.spec, secrets, body, deliveryId: `test_${randomUUID()}`, timestamp: Math.floor(Date.now() / 1000) })
  const sender = new UndiciSender({ egress: { allowInsecureHttp: o.allowInsecureHttp ?? false, allow: o.egressAllow ?? [] } })
  try {
    const result = await sender.send(request, { timeoutMs: (webhook.spec.timeoutSeconds ?? 15) * 1000 })
    const ok = result.statusCode !== undefined && result.statusCode >= 200 && result.statusCode < 300
    if (o.json) {
      io.out(`${JSON.stringify({ url: request.url, deliveryId: request.headers['webhook-id'], ok, statusCode: result.statusCode ?? null, latencyMs: Math.round(result.latencyMs), body: result.bodyHead ?? null, error: result.error ?? null })}\n`)
    } else if (result.error) {
      io.out(`POST ${request.url}\nerror: ${result.error.code}: ${result.error.message} after ${Math.round(result.latencyMs)} ms\n`)
    } else {
      io.out(`POST ${request.url}\nstatus: ${result.statusCode} in ${Math.round(result.latencyMs)} ms\n${result.bodyHead ? `body: ${result.bodyHead}\n` : ''}`)
    }
    return ok ? 0 : 1
  } finally {
    await sender.close()
  }
}

export function register(cli: Command, { io, setStatus }: CommandContext): void {
  cli
    .command('test')
    .description('send a one-off test payload with the webhook\'s credentials and print the answer (not recorded)')
    .argument('<kind>', 'webhook')
    .argument('<name>', '[namespace/]name')
    .requiredOption('--manifests <dir>', 'folder of manifests (repeatable)', collect)
    .option('--secrets <dir>', 'folder of Secret manifests (repeatable)', collect)
    .option('--payload <file>', 'JSON body to send (- for standard input); default: a small test object')
    .option('--allow-insecure-http', 'allow an http:// URL')
    .option('--egress-allow <cidr>', 'allow a private, loopback or link-local range (repeatable)', collect)
    .option('--json', 'print JSON')
    .action(async (kind: string, name: string, opts: TestWebhookOptions) => setStatus(await testWebhookCommand(kind, name, opts, io)))
}
