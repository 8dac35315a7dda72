// `hookwise test webhook NAME`: sends one ad-hoc payload with the webhook's credentials and
// signature, as W&B's "Test" button does, and prints what the endpoint answered. Not recorded.
import type { Command } from 'commander'
import { UndiciSender } from '../delivery/sender.js'
import { sendTestRequest } from '../delivery/test-request.js'
import { HookwiseError, UsageError } from '../errors.js'
import { DEFAULT_NAMESPACE, objectKey } from '../model/desired-state.js'
import { mapLookup } from '../model/secrets.js'
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
    throw new HookwiseError('HW_WEBHOOK_NOT_FOUND', `webhook ${key} is not in ${o.manifests.join(', ')}`, {
      hint: `webhooks found: ${[...state.webhooks.keys()].join(', ') || 'none'}`,
    })
  }
  if (!webhook.valid) {
    io.err(
      `${state.diagnostics
        .filter((d) => d.object === `Webhook ${key}`)
        .map(formatText)
        .join('\n')}\n`,
    )
    return 1
  }
  const payload = o.payload ? await payloadText(o.payload, io) : undefined
  const sender = new UndiciSender({ egress: { allowInsecureHttp: o.allowInsecureHttp ?? false, allow: o.egressAllow ?? [] } })
  try {
    const { masked, result, ok } = await sendTestRequest({
      webhook,
      secrets: mapLookup(state.secrets),
      sender,
      ...(payload === undefined ? {} : { payload, payloadName: INLINE.test(o.payload!) ? 'the --payload JSON' : `--payload ${o.payload}` }),
    })
    // What is printed comes from the masked request and answer: it never holds a secret value.
    if (o.json) {
      io.out(
        `${JSON.stringify({ url: masked.url, deliveryId: masked.headers['webhook-id'], ok, statusCode: result.statusCode ?? null, latencyMs: Math.round(result.latencyMs), body: result.bodyHead ?? null, error: result.error ?? null })}\n`,
      )
    } else if (result.error) {
      io.out(`POST ${masked.url}\nerror: ${result.error.code}: ${result.error.message} after ${Math.round(result.latencyMs)} ms\n`)
    } else {
      io.out(
        `POST ${masked.url}\nstatus: ${result.statusCode} in ${Math.round(result.latencyMs)} ms\n${result.bodyHead ? `body: ${result.bodyHead}\n` : ''}`,
      )
    }
    return ok ? 0 : 1
  } finally {
    await sender.close()
  }
}

/** A --payload that starts with { or [ is the JSON itself; otherwise a file, or - for standard input. */
const INLINE = /^\s*[[{]/

function payloadText(option: string, io: CliIO): Promise<string> {
  return INLINE.test(option) ? Promise.resolve(option) : readInput(option, io)
}

export function register(cli: Command, { io, setStatus }: CommandContext): void {
  cli
    .command('test')
    .description("send a one-off test payload with the webhook's credentials and print the answer (not recorded)")
    .argument('<kind>', 'webhook')
    .argument('<name>', '[namespace/]name')
    .requiredOption('--manifests <dir>', 'folder of manifests (repeatable)', collect)
    .option('--secrets <dir>', 'folder of Secret manifests (repeatable)', collect)
    .option(
      '--payload <file|json>',
      'JSON body to send: a file, - for standard input, or the JSON itself; with the webhook\'s secrets inserted where it says "${NAME}"; default: a small test object',
    )
    .option('--allow-insecure-http', 'allow an http:// URL')
    .option('--egress-allow <cidr>', 'allow a private, loopback or link-local range (repeatable)', collect)
    .option('--json', 'print JSON')
    .action(async (kind: string, name: string, opts: TestWebhookOptions) => setStatus(await testWebhookCommand(kind, name, opts, io)))
}
