// Run events in manifests (issue 25): their parameters, scopes, filters and variables are checked
// with file, line and column like everything else; what is valid compiles with its run filter.
import t from 'tap'
import { join } from 'node:path'
import { loadDesiredState } from '../controller/sources/load.js'
import { chooseEvent } from '../controller/plan/sample-events.js'
import { hookwise } from './helpers/cli.js'

const MANIFESTS = `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata:
  name: hook
spec:
  url: https://example.com/hook
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata:
  name: no-metric
spec:
  scope: {type: Project, entity: acme, project: churn}
  event:
    type: RUN_METRIC
    op: gt
    threshold: 0.5
  action:
    webhook: hook
    payload: {text: "\${run_name}"}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata:
  name: run-var-in-artifact
spec:
  scope: {type: Registry, registry: model}
  event:
    type: LINK_ARTIFACT
  action:
    webhook: hook
    payload:
      text: "\${artifact_version_string}"
      run: "\${run_id}"
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata:
  name: artifact-var-in-run
spec:
  scope: {type: Project, entity: acme, project: churn}
  event:
    type: RUN_STATE
    states: [FAILED]
  action:
    webhook: hook
    payload:
      text: "\${run_name}"
      version: "\${artifact_version}"
      acc: "\${artifact_metadata.acc}"
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata:
  name: registry-scope
spec:
  scope: {type: Registry, registry: model}
  event:
    type: RUN_STATE
    states: [FAILED]
    cooldown: 2h
  action:
    webhook: hook
    payload: {text: "\${run_name}"}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata:
  name: cooldown-on-artifact
spec:
  scope: {type: Registry, registry: model}
  event:
    type: LINK_ARTIFACT
    cooldown: 2h
    filter: {config.lr: 1}
  action:
    webhook: hook
    payload: {text: "x"}
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata:
  name: bad-run-filter
spec:
  scope: {type: Entity, entity: acme}
  event:
    type: RUN_METRIC_ZSCORE
    metric: loss
    agg: MAX
    runNameRegex: "(?=x)"
    filter: {metadata.acc: 1, config.lr: {$lt: 0.1}, run.tags: prod}
  action:
    webhook: hook
    payload: {text: "\${metric_value}"}
`

const RUN_HINT =
  'RUN_METRIC takes metric, op, threshold (agg, window); RUN_METRIC_CHANGE metric, changeType, amount (agg, currentWindow, priorWindow, direction); RUN_METRIC_ZSCORE metric (window, threshold, direction); RUN_STATE states; all take a Project or Entity scope; see docs/run-events.md'

t.test('examples/runs: one valid automation per run event, with its run filter and cooldown', async (t) => {
  const state = await loadDesiredState({ manifests: ['examples'] })
  t.same(
    state.diagnostics.filter((d) => d.severity === 'error'),
    [],
  )
  const runs = state.automations.filter((a) => a.spec.event.type.startsWith('RUN_'))
  t.same(
    runs.map((a) => [
      a.key,
      a.spec.event.type,
      a.run?.cooldownMs,
      a.run?.tags,
      a.run?.nameRegex?.test('sweep-3') ?? null,
      a.filter !== undefined,
    ]),
    [
      ['default/accuracy-drop', 'RUN_METRIC_CHANGE', 86_400_000, ['production'], null, true],
      ['default/loss-spike', 'RUN_METRIC_ZSCORE', 3_600_000, [], true, false],
      ['default/run-failed', 'RUN_STATE', 86_400_000, [], null, false],
      ['default/val-loss-above', 'RUN_METRIC', 86_400_000, [], null, false],
    ],
  )
  const drop = runs[0]!
  const run = { id: 'r1', entity: 'acme', project: 'churn', config: { lr: 0.001 }, tags: ['production'] }
  const event = {
    type: 'RUN_METRIC_CHANGE' as const,
    id: 'e',
    time: '2026-01-01T00:00:00Z',
    entity: 'acme',
    project: 'churn',
    run,
    state: 'RUNNING' as const,
  }
  t.equal(drop.filter!.test(event), true, 'config.lr 0.001 < 0.01')
  t.equal(drop.filter!.test({ ...event, run: { ...run, config: { lr: 0.1 } } }), false, 'config.lr 0.1')
})

t.test('run event mistakes: each reported at its file:line:column with a message that names the value', async (t) => {
  const dir = t.testdir({ 'a.yaml': MANIFESTS })
  const r = await hookwise(['validate', dir])
  t.equal(r.status, 1)
  const f = join(dir, 'a.yaml')
  t.equal(
    r.stderr + r.stdout,
    [
      `${f}:14:3: error HW_EVENT_FILTER_FIELDS: Automation default/no-metric: spec.event.metric: event.metric is required for RUN_METRIC, RUN_METRIC_CHANGE and RUN_METRIC_ZSCORE, e.g. metric: val_loss`,
      `  hint: ${RUN_HINT}`,
      `${f}:34:7: error HW_TEMPLATE_UNKNOWN_VARIABLE: Automation default/run-var-in-artifact: spec.action.payload.run: \${run_id} is not available for LINK_ARTIFACT events`,
      '  hint: ${run_id} exists only for run events (RUN_METRIC, RUN_METRIC_CHANGE, RUN_METRIC_ZSCORE, RUN_STATE); remove it or change spec.event.type',
      `${f}:49:7: error HW_TEMPLATE_UNKNOWN_VARIABLE: Automation default/artifact-var-in-run: spec.action.payload.version: \${artifact_version} is not available for RUN_STATE events`,
      '  hint: ${artifact_version} exists only for artifact events (run events have ${run_id}, ${run_name}, ${metric_value}...); remove it or change spec.event.type',
      `${f}:50:7: error HW_TEMPLATE_UNKNOWN_VARIABLE: Automation default/artifact-var-in-run: spec.action.payload.acc: \${artifact_metadata.acc} is not available for RUN_STATE events: runs have no artifact metadata`,
      '  hint: use the run variables (${run_name}, ${metric_value}...), see docs/run-events.md#variables',
      `${f}:57:11: error HW_SCOPE_FIELDS: Automation default/registry-scope: spec.scope.type: run events take a Project or Entity scope without collectionRegex (runs belong to projects, not registries or collections)`,
      `  hint: ${RUN_HINT}`,
      `${f}:74:5: error HW_EVENT_FILTER_FIELDS: Automation default/cooldown-on-artifact: spec.event.cooldown: event.runNameRegex, runDisplayNameRegex, runTags and cooldown apply only to run events`,
      `  hint: ${RUN_HINT}`,
      `${f}:75:14: error HW_FILTER_INVALID: Automation default/cooldown-on-artifact: spec.event.filter["config.lr"]: "config.lr" is not a field a filter can test`,
      '  hint: fields: alias, tag, type, author, entity, project, registry, collection, artifact.name, artifact.version, artifact.type, artifact.aliases, artifact.tags, metadata.KEY',
      `${f}:89:5: error HW_EVENT_FILTER_FIELDS: Automation default/bad-run-filter: spec.event.agg: event.agg applies only to RUN_METRIC and RUN_METRIC_CHANGE events`,
      `  hint: ${RUN_HINT}`,
      `${f}:91:14: error HW_FILTER_INVALID: Automation default/bad-run-filter: spec.event.filter["metadata.acc"]: "metadata.acc" is not a field a filter can test`,
      '  hint: fields: type, author, entity, project, state, run.id, run.name, run.displayName, run.tags, config.KEY',
      `${f}:90:5: error HW_REGEX_INVALID: Automation default/bad-run-filter: spec.event.runNameRegex: "(?=x)" is not a valid regular expression: lookahead (?= is not RE2 syntax`,
      '  hint: fix the expression in RE2 syntax, as W&B does: no lookahead, lookbehind or backreferences; escape literal characters such as . ( [ with a backslash; see docs/resources.md#regular-expressions',
      'invalid: 10 errors',
      '',
    ].join('\n'),
  )
})

t.test('plan previews run automations with a sample run; render and curl refuse an artifact event for them', async (t) => {
  const state = await loadDesiredState({ manifests: ['examples'] })
  const bodies = state.automations
    .filter((a) => a.run)
    .map((a) => {
      const chosen = chooseEvent(a, [])
      t.equal(chosen.fires, true)
      return a.template.render({ event: chosen.event, secrets: {} })
    })
  t.same(bodies, [
    '{"text":"accuracy of acme/example-project run example-run dropped to 0.5"}',
    '{"text":"sweep-example-run: loss jumped to 0.5","value":0.5}',
    '{"text":"run example-run of acme/churn is FAILED (sample-user)","run":"https://wandb.ai/acme/churn/runs/a1b2c3d4"}',
    '{"text":"example-run: AVERAGE(val_loss) = 0.5 > 0.5","run":"https://wandb.ai/acme/churn/runs/a1b2c3d4"}',
  ])
  const r = await hookwise([
    'render',
    '--manifests',
    'examples',
    '--automation',
    'val-loss-above',
    '--event',
    'examples/events/link-artifact.json',
  ])
  t.equal(r.status, 2)
  t.equal(
    r.stderr,
    'error HW_USAGE: automation default/val-loss-above watches RUN_METRIC run events, and --event takes artifact events\n  hint: send run metric points to a running hookwise with hookwise emit --run FILE and read the delivery (docs/run-events.md); hookwise plan previews run automations with a sample run\n',
  )
})
