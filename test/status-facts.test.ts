// StatusFacts (controller/delivery/status-facts.ts): the tracker, circuit breaker and egress policy
// the delivery engine uses, turned into the inputs the conditions are computed from.
import t from 'tap'
import { parseManifest } from '../controller/sources/manifest.js'
import { validateObjects } from '../controller/reconcile/validate.js'
import { webhookConditions } from '../controller/model/object-status.js'
import { CircuitBreaker } from '../controller/delivery/circuit-breaker.js'
import { StatusFacts } from '../controller/delivery/status-facts.js'
import { StatusTracker } from '../controller/delivery/status-tracker.js'

const NOW = Date.parse('2026-11-28T10:00:00Z')

const state = (url: string) => {
  const parsed = parseManifest(
    `apiVersion: hookwise.dev/v1alpha1\nkind: Webhook\nmetadata: {name: hook, namespace: ml}\nspec:\n  url: ${url}\n  accessToken: {secretKeyRef: {name: creds, key: token}}\n` +
      '---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: ml}\nstringData: {token: t}\n',
    'm.yaml',
  )
  return validateObjects(parsed.objects, parsed.diagnostics)
}

t.test("the egress policy, the state's Secrets, the breaker and the tracker decide the conditions", async (t) => {
  const tracker = new StatusTracker()
  const breaker = new CircuitBreaker()
  const facts = new StatusFacts({ tracker, breaker, egress: { allowInsecureHttp: false, allow: [] } })

  t.same(webhookConditions('ml/hook', facts.inputs(state('http://hooks.example.com/x'), undefined, NOW))[0], {
    type: 'Ready',
    status: 'False',
    reason: 'EgressDenied',
    message:
      'the egress policy refuses http://hooks.example.com/x: http://hooks.example.com uses http; only https is sent (use https, or run with --allow-insecure-http)',
  })
  t.equal(facts.egressRefusal('https://hooks.example.com/x'), undefined)

  const https = state('https://hooks.example.com/x')
  t.same(
    webhookConditions('ml/hook', facts.inputs(https, undefined, NOW)).map((c) => [c.type, c.status, c.reason]),
    [
      ['Ready', 'True', 'Valid'],
      ['Healthy', 'Unknown', 'NoDeliveries'],
    ],
    'Secrets come from the state',
  )
  t.same(
    webhookConditions(
      'ml/hook',
      facts.inputs(https, () => undefined, NOW),
    )[0]!.reason,
    'SecretNotFound',
    'or from the lookup given',
  )

  tracker.seedWebhook('ml/hook', {
    consecutiveFailures: 5,
    lastDelivery: { id: 'msg_1', time: '2026-11-28T09:59:59Z', outcome: 'Retrying', attempts: 5, statusCode: 503 },
  })
  t.match(webhookConditions('ml/hook', facts.inputs(https, undefined, NOW))[1], { status: 'False', reason: 'DeliveryFailing' })
  for (let i = 0; i < 5; i++) breaker.record('https://hooks.example.com', false, NOW)
  t.match(
    webhookConditions('ml/hook', facts.inputs(https, undefined, NOW))[1],
    { status: 'False', reason: 'CircuitOpen' },
    "the open circuit of the URL's origin",
  )
  t.match(
    webhookConditions('ml/hook', facts.inputs(https, undefined, NOW + 30_000))[1],
    { reason: 'DeliveryFailing' },
    'not once the cool-down is over (the next request probes)',
  )
})
