// The status of Webhooks and Automations (controller/reconcile/object-status.ts), pure: every
// reason of the Ready and Healthy conditions, lastTransitionTime kept while status holds, and
// facts falling back to what the object already had.
import t from 'tap'
import { parseManifest } from '../controller/sources/manifest.js'
import { validateObjects } from '../controller/reconcile/validate.js'
import { automationStatus, setCondition, webhookStatus, type StatusInputs } from '../controller/model/object-status.js'
import { mapLookup } from '../controller/model/secrets.js'
import { checkUrl } from '../controller/delivery/egress.js'
import type { AutomationFacts, WebhookFacts } from '../controller/model/delivery.js'

const NOW = Date.parse('2026-11-28T10:00:00Z')

const webhook = (url = 'https://hooks.example.com/x', extra = ''): string =>
  `apiVersion: hookwise.dev/v1alpha1\nkind: Webhook\nmetadata: {name: hook, namespace: ml}\nspec:\n  url: ${url}\n  accessToken: {secretKeyRef: {name: creds, key: token}}\n${extra}`
const automation = (extra = '', action = 'webhook: hook, payload: {v: "${artifact_version_string}"}'): string =>
  `---\napiVersion: hookwise.dev/v1alpha1\nkind: Automation\nmetadata: {name: deploy, namespace: ml}\nspec:\n  scope: {type: Registry, registry: model}\n  event: {type: LINK_ARTIFACT}\n  action: {${action}}\n${extra}`
const secret = '---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: ml}\nstringData: {token: t}\n'

function inputs(text: string, over: Partial<StatusInputs> = {}): StatusInputs {
  const parsed = parseManifest(text, 'm.yaml')
  const state = validateObjects(parsed.objects, parsed.diagnostics)
  return {
    state,
    secrets: mapLookup(state.secrets),
    egress: (url) => checkUrl(url, { allowInsecureHttp: false, allow: [] }),
    circuitOpen: () => false,
    gone: () => false,
    webhookFacts: () => undefined,
    automationFacts: () => undefined,
    now: NOW,
    ...over,
  }
}

const ready = (s: { conditions?: Array<{ type: string }> }) => s.conditions!.find((c) => c.type === 'Ready')
const healthy = (s: { conditions?: Array<{ type: string; reason?: string }> }) => s.conditions!.find((c) => c.type === 'Healthy')

t.test('a valid automation and webhook: Ready=True/Valid, Healthy Unknown until a delivery', async (t) => {
  const i = inputs(webhook() + automation() + secret)
  t.same(automationStatus('ml/deploy', 3, undefined, i), {
    observedGeneration: 3,
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        reason: 'Valid',
        message: 'fires on LINK_ARTIFACT and delivers to Webhook hook',
        lastTransitionTime: '2026-11-28T10:00:00Z',
        observedGeneration: 3,
      },
    ],
    counters: { triggered: 0, succeeded: 0, failed: 0 },
  })
  const w = webhookStatus('ml/hook', 1, undefined, i)
  t.match(ready(w), { status: 'True', reason: 'Valid', message: 'ready to deliver to https://hooks.example.com/x' })
  t.match(healthy(w), { status: 'Unknown', reason: 'NoDeliveries' })
  t.equal(w.consecutiveFailures, 0)
})

t.test('automation reasons: WebhookNotFound, TemplateError, WebhookNotReady, Disabled, InvalidSpec', async (t) => {
  t.match(ready(automationStatus('ml/deploy', 1, undefined, inputs(automation() + secret))), {
    status: 'False',
    reason: 'WebhookNotFound',
    message: /^spec\.action\.webhook: /,
  })
  t.match(
    ready(
      automationStatus('ml/deploy', 1, undefined, inputs(webhook() + automation('', 'webhook: hook, payload: {v: "${nope}"}') + secret)),
    ),
    { status: 'False', reason: 'TemplateError', message: /\$\{nope\} is not a known variable/ },
  )
  t.match(ready(automationStatus('ml/deploy', 1, undefined, inputs(webhook() + automation()))), {
    status: 'False',
    reason: 'WebhookNotReady',
    message: /^Webhook ml\/hook is not ready \(SecretNotFound\): webhook ml\/hook needs ACCESS_TOKEN: Secret ml\/creds not found/,
  })
  t.match(ready(automationStatus('ml/deploy', 1, undefined, inputs(webhook() + automation('  enabled: false\n') + secret))), {
    status: 'False',
    reason: 'Disabled',
    message: 'spec.enabled is false: the automation does not fire (set it to true to resume)',
  })
  t.match(
    ready(
      automationStatus(
        'ml/deploy',
        1,
        undefined,
        inputs(webhook() + automation().replace('type: Registry, registry: model', 'type: Registry, collection: x') + secret),
      ),
    ),
    { status: 'False', reason: 'InvalidSpec' },
  )
})

t.test('webhook reasons: InvalidURL, EgressDenied (static and after a refused connect), SecretNotFound', async (t) => {
  t.match(ready(webhookStatus('ml/hook', 1, undefined, inputs(webhook('https://user:pw@hooks.example.com/') + secret))), {
    status: 'False',
    reason: 'InvalidURL',
  })
  t.match(ready(webhookStatus('ml/hook', 1, undefined, inputs(webhook('http://hooks.example.com/') + secret))), {
    status: 'False',
    reason: 'EgressDenied',
    message:
      'the egress policy refuses http://hooks.example.com/: http://hooks.example.com uses http; only https is sent (use https, or run with --allow-insecure-http)',
  })
  const refused: WebhookFacts = { consecutiveFailures: 1, egressDenied: 'hooks.example.com resolved to 10.0.0.7, a private address' }
  t.match(ready(webhookStatus('ml/hook', 1, undefined, inputs(webhook() + secret, { webhookFacts: () => refused }))), {
    status: 'False',
    reason: 'EgressDenied',
    message: /resolved to 10\.0\.0\.7/,
  })
  const missing = webhookStatus('ml/hook', 1, undefined, inputs(webhook()))
  t.match(ready(missing), { status: 'False', reason: 'SecretNotFound' })
  t.equal(healthy(missing)?.reason, 'NoDeliveries', 'Healthy is reported for a webhook whose spec is valid')
})

t.test('Healthy: Succeeding, DeliveryFailing, CircuitOpen, Gone', async (t) => {
  const text = webhook() + secret
  const last = { id: 'msg_1', time: '2026-11-28T09:59:00Z', outcome: 'Retrying' as const, statusCode: 503, attempts: 2 }
  const failing: WebhookFacts = { consecutiveFailures: 3, lastDelivery: last }
  t.match(healthy(webhookStatus('ml/hook', 1, undefined, inputs(text, { webhookFacts: () => failing }))), {
    status: 'False',
    reason: 'DeliveryFailing',
    message: '3 failed attempts in a row; last attempt HTTP 503',
  })
  const timedOut: WebhookFacts = {
    consecutiveFailures: 1,
    lastDelivery: { ...last, statusCode: undefined as never },
    lastError: 'TIMEOUT: no response in 15 s',
  }
  delete (timedOut.lastDelivery as { statusCode?: number }).statusCode
  t.match(healthy(webhookStatus('ml/hook', 1, undefined, inputs(text, { webhookFacts: () => timedOut }))), {
    message: '1 failed attempt in a row; last attempt got no response (TIMEOUT: no response in 15 s)',
  })
  t.match(healthy(webhookStatus('ml/hook', 1, undefined, inputs(text, { webhookFacts: () => failing, circuitOpen: () => true }))), {
    status: 'False',
    reason: 'CircuitOpen',
    message: /deliveries to https:\/\/hooks\.example\.com wait \(nothing is dropped\)/,
  })
  t.match(healthy(webhookStatus('ml/hook', 1, undefined, inputs(text, { gone: () => true }))), { status: 'False', reason: 'Gone' })
  const ok: WebhookFacts = { consecutiveFailures: 0, lastDelivery: { ...last, outcome: 'Succeeded', statusCode: 200 } }
  const s = webhookStatus('ml/hook', 1, undefined, inputs(text, { webhookFacts: () => ok }))
  t.match(healthy(s), { status: 'True', reason: 'Succeeding' })
  t.same(s.lastDelivery, ok.lastDelivery)
})

t.test('lastTransitionTime changes only with the condition status; facts fall back to the previous status', async (t) => {
  const before = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'SecretNotFound', message: 'a' }, 1, NOW - 60_000)
  t.equal(before.lastTransitionTime, '2026-11-28T09:59:00Z')
  t.equal(
    setCondition([before], { type: 'Ready', status: 'False', reason: 'InvalidSpec', message: 'b' }, 2, NOW).lastTransitionTime,
    '2026-11-28T09:59:00Z',
    'same status, new reason: time kept',
  )
  t.equal(
    setCondition([before], { type: 'Ready', status: 'True', reason: 'Valid', message: 'c' }, 2, NOW).lastTransitionTime,
    '2026-11-28T10:00:00Z',
  )
  t.equal(
    setCondition(undefined, { type: 'Ready', status: 'False', reason: 'X', message: 'x'.repeat(5000) }, 1, NOW).message.length,
    4000,
    'long messages are cut',
  )

  const previous = {
    lastTriggered: '2026-11-27T00:00:00Z',
    lastDelivery: { id: 'msg_0', time: '2026-11-27T00:00:01Z', outcome: 'Succeeded' as const },
    counters: { triggered: 7, succeeded: 6, failed: 1 },
  }
  const i = inputs(webhook() + automation() + secret)
  t.match(automationStatus('ml/deploy', 1, previous, i), previous, 'no facts yet (after a restart): the status keeps what it had')
  const facts: AutomationFacts = { lastTriggered: '2026-11-28T09:00:00Z', counters: { triggered: 8, succeeded: 6, failed: 1 } }
  t.match(automationStatus('ml/deploy', 1, previous, { ...i, automationFacts: () => facts }), {
    lastTriggered: '2026-11-28T09:00:00Z',
    lastDelivery: previous.lastDelivery,
    counters: facts.counters,
  })
})
