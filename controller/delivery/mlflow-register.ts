// spec.mlflow.register: hookwise creates the webhook in MLflow (through its webhooks REST API) that
// posts the events it maps to the EventSource's intake, signed with the source's secret; keeps it in
// step when the EventSource changes; deletes it when the EventSource goes. The webhook is found by
// its name, `hookwise-<namespace>-<name>`, so a restart adopts the one it made before.
import { createHash } from 'node:crypto'
import { MLFLOW_EVENT_TYPES } from '../api/mlflow-event.js'
import type { DesiredState, EventSourceEntry } from '../model/desired-state.js'
import { sourceSecret } from '../model/event-source-secrets.js'
import type { SecretLookup } from '../model/secrets.js'
import {
  createMlflowWebhook,
  deleteMlflowWebhook,
  listMlflowWebhooks,
  type MlflowConnection,
  updateMlflowWebhook,
} from './mlflow-client.js'

/** The webhook's events as MLflow's REST API writes them: `{"entity": "MODEL_VERSION", "action": "CREATED"}`. */
export const REGISTERED_EVENTS = Object.keys(MLFLOW_EVENT_TYPES).map((e) => {
  const [entity, action] = e.split('.') as [string, string]
  return { entity: entity.toUpperCase(), action: action.toUpperCase() }
})

export const webhookName = (s: Pick<EventSourceEntry, 'namespace' | 'name'>): string => `hookwise-${s.namespace}-${s.name}`

export interface Registration {
  webhookId?: string
  error?: string
}

interface Registered {
  connection: MlflowConnection
  name: string
  id: string
  /** What the webhook was last made from: url, events, secret (hashed), tracking URI. */
  fingerprint: string
}

export class MlflowRegistrar {
  private readonly registered = new Map<string, Registered>()
  private readonly results = new Map<string, Registration>()
  private running: Promise<void> = Promise.resolve()

  constructor(private readonly o: { onError?: (source: string, err: unknown) => void } = {}) {}

  /** What status shows for a source: MLflow's webhook id, or why registering failed. */
  registration(key: string): Registration | undefined {
    return this.results.get(key)
  }

  /** Brings MLflow in step with the state; calls run one after another. */
  sync(state: DesiredState, secrets: SecretLookup): Promise<void> {
    this.running = this.running.then(() => this.syncNow(state, secrets))
    return this.running
  }

  private async syncNow(state: DesiredState, secrets: SecretLookup): Promise<void> {
    const wanted = new Set<string>()
    for (const [key, source] of state.eventSources) {
      const mlflow = source.spec.mlflow
      if (!mlflow?.register) continue
      wanted.add(key)
      try {
        const secret = sourceSecret(source, 'spec.mlflow.signingSecret', mlflow.signingSecret, secrets)
        const connection: MlflowConnection = {
          trackingUri: mlflow.trackingUri,
          ...(mlflow.credentials ? { token: sourceSecret(source, 'spec.mlflow.credentials', mlflow.credentials, secrets) } : {}),
        }
        const base = mlflow.register.publicUrl.endsWith('/') ? mlflow.register.publicUrl : `${mlflow.register.publicUrl}/`
        const url = new URL(`v1/sources/${encodeURIComponent(source.namespace)}/${encodeURIComponent(source.name)}`, base).href
        const input = {
          name: webhookName(source),
          url,
          events: REGISTERED_EVENTS,
          secret,
          description: `hookwise EventSource ${key}`,
        }
        const fingerprint = createHash('sha256')
          .update(JSON.stringify([mlflow.trackingUri, url, REGISTERED_EVENTS, secret]))
          .digest('hex')
        const known = this.registered.get(key)
        if (known?.fingerprint === fingerprint) continue
        if (known && known.connection.trackingUri !== mlflow.trackingUri) await this.remove(key, known)
        const existing = (await listMlflowWebhooks(connection)).find((w) => w.name === input.name)
        const webhook = existing
          ? await updateMlflowWebhook(connection, existing.webhook_id, input)
          : await createMlflowWebhook(connection, input)
        this.registered.set(key, { connection, name: input.name, id: webhook.webhook_id, fingerprint })
        this.results.set(key, { webhookId: webhook.webhook_id })
      } catch (err) {
        this.results.set(key, {
          ...(this.registered.get(key) ? { webhookId: this.registered.get(key)!.id } : {}),
          error: (err as Error).message,
        })
        this.o.onError?.(key, err)
      }
    }
    for (const [key, known] of [...this.registered]) if (!wanted.has(key)) await this.remove(key, known)
  }

  private async remove(key: string, known: Registered): Promise<void> {
    try {
      await deleteMlflowWebhook(known.connection, known.id)
      this.registered.delete(key)
      this.results.delete(key)
    } catch (err) {
      this.results.set(key, { webhookId: known.id, error: `deleting MLflow webhook ${known.id}: ${(err as Error).message}` })
      this.o.onError?.(key, err)
    }
  }
}
