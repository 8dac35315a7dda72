import { parseEvent } from '../api/event.js'
import { buildRequest, maskedHeaders } from '../delivery/request.js'
import { HookwiseError, UsageError } from '../errors.js'
import { filtersAccept } from '../match/automation-index.js'
import { objectKey, DEFAULT_NAMESPACE } from '../reconcile/desired-state.js'
import { mapLookup, resolveWebhookSecrets } from '../reconcile/secrets.js'
import { loadDesiredState } from '../sources/load.js'
import { formatText } from './diagnostics-format.js'
import { readInput, type CliIO } from './io.js'

export interface RenderOptions {
  manifests: string[]
  automation: string
  event: string
  secrets?: string[]
  showHeaders?: boolean
  deliveryId: string
  timestamp?: number
}

/** `hookwise render`: prints exactly the body (and with --show-headers the request) one automation sends for one event. */
export async function renderCommand(options: RenderOptions, io: CliIO): Promise<number> {
  const [namespace, name] = options.automation.includes('/') ? options.automation.split('/', 2) as [string, string] : [DEFAULT_NAMESPACE, options.automation]
  if (!name) throw new UsageError(`--automation ${options.automation} is not NAME or NAMESPACE/NAME`)
  const key = objectKey(namespace, name)
  const state = await loadDesiredState({ manifests: options.manifests, secrets: options.secrets ?? [] })

  const automation = state.automations.find((a) => a.key === key)
  if (!automation) {
    const own = state.diagnostics.filter((d) => d.object === `Automation ${key}`)
    if (own.length > 0) {
      io.err(`${own.map(formatText).join('\n')}\n`)
      return 1
    }
    const known = state.automations.map((a) => a.key)
    throw new HookwiseError('HW_AUTOMATION_NOT_FOUND', `automation ${key} is not in ${options.manifests.join(', ')}`, {
      hint: known.length ? `automations found: ${known.join(', ')}` : 'no valid automation was found; run hookwise validate',
    })
  }
  const webhook = state.webhooks.get(objectKey(namespace, automation.spec.action.webhook))!
  if (!webhook.valid) {
    io.err(`${state.diagnostics.filter((d) => d.object === `Webhook ${objectKey(webhook.namespace, webhook.name)}`).map(formatText).join('\n')}\n`)
    return 1
  }
  const parsed = parseEvent(await readInput(options.event, io), options.event)
  if (!parsed.ok) {
    io.err(`${parsed.diagnostics.map(formatText).join('\n')}\n`)
    return 1
  }
  const event = parsed.event
  if (event.type !== automation.spec.event.type || !filtersAccept(automation, event)) {
    io.err(`note: this ${event.type} event would not fire automation ${key} (it watches ${automation.spec.event.type} with its filters); rendering anyway\n`)
  }

  // Secrets the webhook cannot resolve only matter when the body or the headers need them.
  let secrets: Record<string, string> = {}
  try {
    secrets = resolveWebhookSecrets(webhook, mapLookup(state.secrets))
  } catch (err) {
    if (options.showHeaders) throw withSecretsHint(err)
  }
  let body: string
  try {
    body = automation.template.render({ event, secrets })
  } catch (err) {
    throw withSecretsHint(err)
  }
  if (!options.showHeaders) {
    io.out(body)
    return 0
  }
  const request = buildRequest({
    webhook: webhook.spec,
    secrets,
    body,
    deliveryId: options.deliveryId,
    timestamp: options.timestamp ?? Math.floor(Date.now() / 1000),
  })
  const headers = Object.entries(maskedHeaders(request.headers)).map(([k, v]) => `${k}: ${v}`)
  io.out(`${request.method} ${request.url}\n${headers.join('\n')}\n\n${body}`)
  return 0
}

function withSecretsHint(err: unknown): unknown {
  if (err instanceof HookwiseError && err.code === 'HW_SECRET_NOT_FOUND') {
    return new HookwiseError(err.code, err.message, { hint: `${err.hint ?? ''}; pass the folder of Secret manifests with --secrets DIR` })
  }
  return err
}
