// The intake side of an EventSource: does a request come from the registry? MLflow signs
// `<delivery id>.<timestamp>.<body>` (X-MLflow-Signature: v1,<base64 HMAC-SHA256>); a W&B webhook
// signs the body (X-Wandb-Signature: base64 HMAC-SHA256) and sends its access token as a bearer
// token. Every comparison is in constant time. Pure.
import { createHmac, timingSafeEqual } from 'node:crypto'

type Headers = Readonly<Record<string, string | string[] | undefined>>

/** How far X-MLflow-Timestamp may be from hookwise's clock, either way. */
export const MLFLOW_TIMESTAMP_TOLERANCE_SECONDS = 300

export type SourceVerification = { ok: true; deliveryId?: string } | { ok: false; reason: string }

const header = (headers: Headers, name: string): string | undefined => {
  const v = headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** Equal strings, compared in time that depends only on their lengths. */
function same(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

export function verifyMlflowRequest(headers: Headers, body: Buffer, secret: string, nowMs: number): SourceVerification {
  const deliveryId = header(headers, 'x-mlflow-delivery-id')
  const timestamp = header(headers, 'x-mlflow-timestamp')
  const signature = header(headers, 'x-mlflow-signature')
  if (!deliveryId || !timestamp || !signature)
    return {
      ok: false,
      reason: 'X-MLflow-Signature, X-MLflow-Delivery-Id and X-MLflow-Timestamp are required: give the MLflow webhook a secret',
    }
  if (!/^[0-9]{1,12}$/.test(timestamp))
    return { ok: false, reason: `X-MLflow-Timestamp ${JSON.stringify(timestamp.slice(0, 40))} is not Unix seconds` }
  const skew = Math.abs(nowMs / 1000 - Number(timestamp))
  if (skew > MLFLOW_TIMESTAMP_TOLERANCE_SECONDS)
    return {
      ok: false,
      reason: `X-MLflow-Timestamp is ${Math.round(skew)} s away from hookwise's clock (at most ${MLFLOW_TIMESTAMP_TOLERANCE_SECONDS} s): a replayed request, or a clock to fix`,
    }
  const mac = createHmac('sha256', Buffer.from(secret, 'utf8'))
  mac.update(`${deliveryId}.${timestamp}.`).update(body)
  const expected = `v1,${mac.digest('base64')}`
  // MLflow may one day send several space-separated signatures (as Standard Webhooks does): any may match.
  const given = signature.split(' ').filter(Boolean)
  if (!given.some((s) => same(s, expected)))
    return { ok: false, reason: "X-MLflow-Signature does not match the body and the EventSource's signingSecret" }
  return { ok: true, deliveryId }
}

export function verifyWandbRequest(headers: Headers, body: Buffer, secret: string, token: string): SourceVerification {
  const authorization = header(headers, 'authorization') ?? ''
  const bearer = /^Bearer (.+)$/.exec(authorization)?.[1]
  if (!bearer || !same(bearer, token)) return { ok: false, reason: "Authorization is not Bearer <the EventSource's accessToken>" }
  const signature = header(headers, 'x-wandb-signature')
  if (!signature) return { ok: false, reason: 'no X-Wandb-Signature header: give the W&B webhook a secret' }
  const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).digest('base64')
  if (!same(signature, expected))
    return { ok: false, reason: "X-Wandb-Signature does not match the body and the EventSource's signingSecret" }
  return { ok: true }
}
