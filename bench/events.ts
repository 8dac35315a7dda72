// What the delivery benchmarks (bench/delivery.bench.ts, bench/peers.bench.ts) give hookwise: the
// artifact event they send (an alias `production` added to churn-classifier:v<i>, with the phase
// and the client's send time in its metadata so the receiver can count it and time it) and the
// Webhook + Automation that deliver it, one signed POST per event.

/** The Secret holding the Standard Webhooks signing key. */
export const BENCH_SECRET = `apiVersion: v1
kind: Secret
metadata: {name: bench}
stringData: {signing-key: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}
`

/**
 * The Webhook `bench-receiver` (to `url`, Standard Webhooks signing, so each delivery carries the
 * HMAC work a real one does) and the Automation `bench-deploy` that sends it every event above.
 * `webhookSpec` adds lines to the Webhook's spec (indented two spaces).
 */
export function benchManifests(url: string, webhookSpec = ''): string {
  return `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: bench-receiver}
spec:
  url: ${url}
  secrets:
    - {name: SIGNING_KEY, secretKeyRef: {name: bench, key: signing-key}}
  signing: {secret: SIGNING_KEY, scheme: standard-webhooks}
  timeoutSeconds: 10
${webhookSpec}---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: bench-deploy}
spec:
  scope: {type: Collection, registry: model, collection: churn-classifier}
  event: {type: ADD_ARTIFACT_ALIAS, aliasRegex: ^production$}
  action:
    webhook: bench-receiver
    payload:
      phase: \${artifact_metadata.phase}
      sentAt: \${json:artifact_metadata.sentAt}
      event: \${event_id}
      version: \${artifact_version_string}
      author: \${event_author}
      accuracy: \${json:artifact_metadata.accuracy}
`
}

/** Event `phase-i`, sent at `sentAt` (ms since the epoch, this machine's clock). */
export function eventBody(phase: string, i: number, sentAt: number): string {
  return JSON.stringify({
    id: `${phase}-${i}`,
    type: 'ADD_ARTIFACT_ALIAS',
    author: 'alice',
    entity: 'acme',
    project: 'wandb-registry-model',
    registry: 'model',
    collection: 'churn-classifier',
    alias: 'production',
    artifact: {
      id: 'QXJ0aWZhY3Q6NTE3ODg5ODg3',
      name: 'churn-classifier',
      version: `v${i}`,
      type: 'model',
      aliases: ['latest', 'production'],
      metadata: { accuracy: 0.93, framework: 'xgboost', phase, sentAt },
    },
  })
}
