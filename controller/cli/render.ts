// `hookwise render`: the body (and request) an automation would POST for an event.
import type { Command } from 'commander'
import { automationRequest, loadAutomationInput, webhookSecrets, type AutomationInputOptions } from './automation-input.js'
import type { CommandContext } from './command.js'
import type { CliIO } from './io.js'
import { collect, unixSeconds } from './options.js'

export interface RenderOptions extends AutomationInputOptions {
  showHeaders?: boolean
  reveal?: boolean
  deliveryId: string
  timestamp?: number
}

/** `hookwise render`: prints exactly the body (and with --show-headers the request) one automation sends for one event. */
export async function renderCommand(options: RenderOptions, io: CliIO): Promise<number> {
  const input = await loadAutomationInput(options, io)
  if (!input) return 1
  // Secrets the webhook cannot resolve only matter when the body or the headers need them.
  const secrets = webhookSecrets(input, options.showHeaders === true)
  const { request, masked } = automationRequest(input, secrets, options.deliveryId, options.timestamp ?? Math.floor(Date.now() / 1000))
  if (!options.showHeaders) {
    io.out(request.body)
    return 0
  }
  // With the headers, the output is a request to read or paste into a ticket: the credential and
  // every secret the template inserts are masked alike (the signature stays: it reveals no key).
  const shown = options.reveal ? request : masked
  const headers = Object.entries(shown.headers).map(([k, v]) => `${k}: ${v}`)
  io.out(`${shown.method} ${shown.url}\n${headers.join('\n')}\n\n${shown.body}`)
  return 0
}

export function register(cli: Command, { io, setStatus }: CommandContext): void {
  cli
    .command('render')
    .description('print exactly the body an automation would POST for an event')
    .requiredOption('--manifests <dir>', 'folder of Webhook and Automation manifests (repeatable)', collect)
    .requiredOption('--automation <[namespace/]name>', 'the automation to render (namespace defaults to default)')
    .requiredOption('--event <file>', 'the event, as a JSON file (- for standard input)')
    .option('--secrets <dir>', 'folder of Secret manifests with the webhook secret values (repeatable)', collect)
    .option('--show-headers', 'print the request line and headers too (credentials and secrets in the body masked)')
    .option('--reveal', 'with --show-headers: print the secret values as sent instead of ****')
    .option('--delivery-id <id>', 'delivery id for the webhook-id header and the signature', 'render-preview')
    .option('--timestamp <unix-seconds>', 'timestamp to sign with (default: now)', unixSeconds)
    .action(async (opts: RenderOptions) => {
      setStatus(await renderCommand(opts, io))
    })
}
