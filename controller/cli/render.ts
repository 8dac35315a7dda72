import { automationRequest, loadAutomationInput, webhookSecrets, type AutomationInputOptions } from './automation-input.js'
import type { CliIO } from './io.js'

export interface RenderOptions extends AutomationInputOptions {
  showHeaders?: boolean
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
  // The body as sent (render shows exactly what the receiver gets); the credentials masked.
  const headers = Object.entries(masked.headers).map(([k, v]) => `${k}: ${v}`)
  io.out(`${request.method} ${request.url}\n${headers.join('\n')}\n\n${request.body}`)
  return 0
}
