// `hookwise curl`: a script that sends the request an automation sends, to replay it by hand.
import type { Command } from 'commander'
import { automationRequest, loadAutomationInput, webhookSecrets, type AutomationInputOptions } from './automation-input.js'
import { curlScript } from './curl-script.js'
import type { CommandContext } from './command.js'
import type { CliIO } from './io.js'
import { collect, unixSeconds } from './options.js'

export interface CurlOptions extends AutomationInputOptions {
  /** Put the secret values in the script instead of asking for them as shell variables. */
  revealSecrets?: boolean
  deliveryId: string
  timestamp?: number
}

/** `hookwise curl`: prints a bash script (curl + openssl) that sends exactly the request an automation sends for an event. */
export async function curlCommand(options: CurlOptions, io: CliIO): Promise<number> {
  const input = await loadAutomationInput(options, io)
  if (!input) return 1
  // Masked, the script asks for the secrets, so they are needed only when the body uses them.
  const reveal = options.revealSecrets === true
  const secrets = webhookSecrets(input, reveal)
  // The script signs at its own run time unless --timestamp pins it; the body does not depend on it.
  const { request } = automationRequest(input, secrets, options.deliveryId, options.timestamp ?? Math.floor(Date.now() / 1000))
  io.out(
    curlScript({
      automation: input.automation.key,
      webhook: input.webhook,
      ...(input.event.id === undefined ? {} : { eventId: input.event.id }),
      body: request.body,
      secrets,
      reveal,
      deliveryId: options.deliveryId,
      ...(options.timestamp === undefined ? {} : { timestamp: options.timestamp }),
    }),
  )
  return 0
}

export function register(cli: Command, { io, setStatus }: CommandContext): void {
  cli
    .command('curl')
    .description('print a bash script (curl + openssl) that sends exactly the request an automation sends for an event')
    .requiredOption('--manifests <dir>', 'folder of Webhook and Automation manifests (repeatable)', collect)
    .requiredOption('--automation <[namespace/]name>', 'the automation (namespace defaults to default)')
    .requiredOption('--event <file>', 'the event, as a JSON file (- for standard input)')
    .option(
      '--secrets <dir>',
      'folder of Secret manifests (repeatable; needed with --reveal-secrets or when the body uses a secret)',
      collect,
    )
    .option('--reveal-secrets', 'put the secret values in the script instead of asking for them as shell variables')
    .option('--delivery-id <id>', 'delivery id for the webhook-id header and the signature', 'curl-preview')
    .option('--timestamp <unix-seconds>', 'timestamp to sign with (default: when the script runs)', unixSeconds)
    .action(async (opts: CurlOptions) => {
      setStatus(await curlCommand(opts, io))
    })
}
