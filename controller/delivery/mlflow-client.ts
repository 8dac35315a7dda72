// MLflow's REST API, as an EventSource uses it: a model version and its run (to enrich events), and
// the webhooks API (to register hookwise's intake in MLflow). Errors are HW_MLFLOW_UNREACHABLE, with
// MLflow's answer in the message (never the token).
import { request } from 'undici'
import type { MlflowDetails } from '../api/mlflow-event.js'
import { HookwiseError } from '../errors.js'

export interface MlflowConnection {
  trackingUri: string
  /** Sent as Authorization: Bearer. */
  token?: string
  timeoutMs?: number
}

async function call<T>(c: MlflowConnection, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const url = new URL(path, c.trackingUri.endsWith('/') ? c.trackingUri : `${c.trackingUri}/`)
  const headers: Record<string, string> = { accept: 'application/json' }
  if (c.token) headers.authorization = `Bearer ${c.token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  const timeout = c.timeoutMs ?? 10_000
  let res: Awaited<ReturnType<typeof request>>
  try {
    res = await request(url, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      headersTimeout: timeout,
      bodyTimeout: timeout,
    })
  } catch (err) {
    throw new HookwiseError('HW_MLFLOW_UNREACHABLE', `${method} ${url.origin}${url.pathname}: ${(err as Error).message}`, {
      hint: 'check spec.mlflow.trackingUri and that MLflow is up; hookwise retries',
    })
  }
  const text = await res.body.text()
  if (res.statusCode < 200 || res.statusCode >= 300)
    throw new HookwiseError(
      'HW_MLFLOW_UNREACHABLE',
      `${method} ${url.origin}${url.pathname} answered ${res.statusCode}: ${text.slice(0, 300)}`,
      {
        hint: res.statusCode === 401 || res.statusCode === 403 ? 'check spec.mlflow.credentials' : 'hookwise retries',
      },
    )
  try {
    return (text ? JSON.parse(text) : {}) as T
  } catch {
    throw new HookwiseError('HW_MLFLOW_UNREACHABLE', `${method} ${url.origin}${url.pathname} answered ${res.statusCode} with no JSON`, {
      hint: 'is spec.mlflow.trackingUri an MLflow tracking server?',
    })
  }
}

const q = (params: Record<string, string>): string => new URLSearchParams(params).toString()

/** A model version and, when it has one, its run. */
export async function fetchMlflowDetails(c: MlflowConnection, model: string, version: string): Promise<MlflowDetails> {
  const mv = await call<{ model_version?: MlflowDetails['version'] }>(
    c,
    'GET',
    `api/2.0/mlflow/model-versions/get?${q({ name: model, version })}`,
  )
  const found = mv.model_version ?? {}
  if (!found.run_id) return { version: found }
  const run = await call<{ run?: MlflowDetails['run'] }>(c, 'GET', `api/2.0/mlflow/runs/get?${q({ run_id: found.run_id })}`)
  return { version: found, ...(run.run ? { run: run.run } : {}) }
}

/** A webhook as MLflow's webhooks API returns it. */
export interface MlflowWebhook {
  webhook_id: string
  name: string
  url: string
  events: Array<{ entity: string; action: string }>
  status?: string
}

export async function listMlflowWebhooks(c: MlflowConnection): Promise<MlflowWebhook[]> {
  const found: MlflowWebhook[] = []
  let token: string | undefined
  do {
    const page = await call<{ webhooks?: MlflowWebhook[]; next_page_token?: string }>(
      c,
      'GET',
      `api/2.0/mlflow/webhooks?${q({ max_results: '1000', ...(token ? { page_token: token } : {}) })}`,
    )
    found.push(...(page.webhooks ?? []))
    token = page.next_page_token || undefined
  } while (token)
  return found
}

export interface MlflowWebhookInput {
  name: string
  url: string
  events: Array<{ entity: string; action: string }>
  secret: string
  description?: string
}

export async function createMlflowWebhook(c: MlflowConnection, w: MlflowWebhookInput): Promise<MlflowWebhook> {
  const r = await call<{ webhook: MlflowWebhook }>(c, 'POST', 'api/2.0/mlflow/webhooks', { ...w, status: 'ACTIVE' })
  return r.webhook
}

export async function updateMlflowWebhook(c: MlflowConnection, id: string, w: MlflowWebhookInput): Promise<MlflowWebhook> {
  const r = await call<{ webhook: MlflowWebhook }>(c, 'PATCH', `api/2.0/mlflow/webhooks/${encodeURIComponent(id)}`, {
    ...w,
    status: 'ACTIVE',
  })
  return r.webhook
}

export async function deleteMlflowWebhook(c: MlflowConnection, id: string): Promise<void> {
  await call(c, 'DELETE', `api/2.0/mlflow/webhooks/${encodeURIComponent(id)}`)
}
