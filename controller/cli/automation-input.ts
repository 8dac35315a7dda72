// What `render` and `curl` share: one automation, its webhook and one event, loaded from folders,
// with problems printed the same way and secrets resolved only as far as the caller needs them.
import { parseEvent } from '../api/event.js'
import type { ArtifactEvent } from '../api/types.generated.js'
import { buildDeliveryRequest, type DeliveryRequest } from '../delivery/request.js'
import { HookwiseError, UsageError } from '../errors.js'
import { filtersAccept } from '../match/automation-index.js'
import { objectKey, DEFAULT_NAMESPACE, type CompiledAutomation, type WebhookEntry } from '../model/desired-state.js'
import { mapLookup, resolveWebhookSecrets } from '../model/secrets.js'
import { loadDesiredState, type LoadedState } from '../sources/load.js'
import { formatText } from '../errors.js'
import { readInput, type CliIO } from './io.js'

export interface AutomationInputOptions {
  manifests: string[]
  secrets?: string[]
  /** `NAME` or `NAMESPACE/NAME`. */
  automation: string
  /** An event JSON file, or `-` for standard input. */
  event: string
}

export interface AutomationInput {
  automation: CompiledAutomation
  webhook: WebhookEntry
  event: ArtifactEvent
  state: LoadedState
}

/**
 * Loads the automation, its webhook and the event. Returns undefined after printing the diagnostics
 * when one of them is invalid (the command exits 1); throws HW_AUTOMATION_NOT_FOUND when the
 * automation is not there. An event that would not fire the automation gets a note on standard error.
 */
export async function loadAutomationInput(options: AutomationInputOptions, io: CliIO): Promise<AutomationInput | undefined> {
  const [namespace, name] = options.automation.includes('/')
    ? (options.automation.split('/', 2) as [string, string])
    : [DEFAULT_NAMESPACE, options.automation]
  if (!name) throw new UsageError(`--automation ${options.automation} is not NAME or NAMESPACE/NAME`)
  const key = objectKey(namespace, name)
  const state = await loadDesiredState({ manifests: options.manifests, secrets: options.secrets ?? [] })

  const automation = state.automations.find((a) => a.key === key)
  if (!automation) {
    const own = state.diagnostics.filter((d) => d.object === `Automation ${key}`)
    if (own.length > 0) {
      io.err(`${own.map(formatText).join('\n')}\n`)
      return undefined
    }
    const known = state.automations.map((a) => a.key)
    throw new HookwiseError('HW_AUTOMATION_NOT_FOUND', `automation ${key} is not in ${options.manifests.join(', ')}`, {
      hint: known.length ? `automations found: ${known.join(', ')}` : 'no valid automation was found; run hookwise validate',
    })
  }
  if (automation.spec.action.webhook === undefined)
    throw new UsageError(
      `automation ${key} has a noop action: it records a delivery and sends nothing, so there is no request`,
      'hookwise match --event FILE shows whether an event fires it',
    )
  const webhook = state.webhooks.get(objectKey(namespace, automation.spec.action.webhook))!
  if (!webhook.valid) {
    io.err(
      `${state.diagnostics
        .filter((d) => d.object === `Webhook ${objectKey(webhook.namespace, webhook.name)}`)
        .map(formatText)
        .join('\n')}\n`,
    )
    return undefined
  }
  if (automation.run)
    throw new UsageError(
      `automation ${key} watches ${automation.spec.event.type} run events, and --event takes artifact events`,
      'send run metric points to a running hookwise with hookwise emit --run FILE and read the delivery (docs/run-events.md); hookwise plan previews run automations with a sample run',
    )
  const parsed = parseEvent(await readInput(options.event, io), options.event)
  if (!parsed.ok) {
    io.err(`${parsed.diagnostics.map(formatText).join('\n')}\n`)
    return undefined
  }
  const event = parsed.event
  if (event.type !== automation.spec.event.type || !filtersAccept(automation, event)) {
    io.err(
      `note: this ${event.type} event would not fire automation ${key} (it watches ${automation.spec.event.type} with its filters); rendering anyway\n`,
    )
  }
  return { automation, webhook, event, state }
}

/**
 * The webhook's secret values by variable name. With `required` false, secrets that cannot be
 * resolved give an empty set instead of an error: they only matter when the body uses them.
 */
export function webhookSecrets(input: AutomationInput, required: boolean): Record<string, string> {
  try {
    return resolveWebhookSecrets(input.webhook, mapLookup(input.state.secrets))
  } catch (err) {
    if (required) throw withSecretsHint(err)
    return {}
  }
}

/** The request the automation sends for the event, and its masked twin (see buildDeliveryRequest). */
export function automationRequest(
  input: AutomationInput,
  secrets: Readonly<Record<string, string>>,
  deliveryId: string,
  timestamp: number,
): DeliveryRequest {
  try {
    return buildDeliveryRequest({
      webhook: input.webhook.spec,
      secrets,
      template: input.automation.template,
      event: input.event,
      deliveryId,
      timestamp,
    })
  } catch (err) {
    throw withSecretsHint(err)
  }
}

function withSecretsHint(err: unknown): unknown {
  if (err instanceof HookwiseError && err.code === 'HW_SECRET_NOT_FOUND') {
    return new HookwiseError(err.code, err.message, { hint: `${err.hint ?? ''}; pass the folder of Secret manifests with --secrets DIR` })
  }
  return err
}
