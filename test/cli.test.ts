// The command line as users run it: exit codes, exact output, byte-exact bodies of the examples.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { hookwise } from './helpers/cli.js'

const examples = 'examples'
const ev = (name: string): string => join(examples, 'events', `${name}.json`)

t.test('validate examples/: exit 0', async (t) => {
  const r = await hookwise(['validate', examples])
  t.same(r, { status: 0, stdout: 'valid\n', stderr: '' })
})

t.test('validate: exit 1 with text, json and github formats', async (t) => {
  const dir = t.testdir({
    'bad.yaml': 'apiVersion: hookwise.dev/v1alpha1\nkind: Webhook\nmetadata: {name: hook}\nspec:\n  url: ftp://x\n  suspend: "no"\n',
  })
  const file = join(dir, 'bad.yaml')
  const text = await hookwise(['validate', dir])
  t.equal(text.status, 1)
  t.equal(
    text.stdout,
    [
      `${file}:5:3: error HW_SCHEMA: Webhook default/hook: spec.url: "ftp://x" does not match the pattern ^[hH][tT][tT][pP][sS]?://[^\\s]+$`,
      '  hint: write a value that matches (Endpoint that receives a POST for every delivery: an http(s) URL without credentials in it.)',
      `${file}:6:3: error HW_SCHEMA: Webhook default/hook: spec.suspend: must be a boolean, not string "no"`,
      '  hint: write a boolean here (When true, deliveries wait in the queue and nothing is sent until it is false again.)',
      'invalid: 2 errors',
      '',
    ].join('\n'),
  )

  const gh = await hookwise(['validate', '--format', 'github', dir])
  t.equal(gh.status, 1)
  t.equal(
    gh.stdout.split('\n')[0],
    `::error file=${file},line=5,col=3,title=HW_SCHEMA::Webhook default/hook: spec.url: "ftp%3A//x" does not match the pattern ^[hH][tT][tT][pP][sS]?://[^\\s]+$ (write a value that matches (Endpoint that receives a POST for every delivery: an http(s) URL without credentials in it.))`.replace(
      '"ftp%3A//x"',
      '"ftp://x"',
    ),
  )

  const json = await hookwise(['validate', '--format', 'json', dir])
  t.equal(json.status, 1)
  const parsed = JSON.parse(json.stdout) as {
    valid: boolean
    errors: number
    diagnostics: Array<{ code: string; line: number; path: string }>
  }
  t.match(parsed, { valid: false, errors: 2, warnings: 0, objects: { files: 1, webhooks: 0, automations: 0, secrets: 0 } })
  t.same(
    parsed.diagnostics.map((d) => [d.code, d.line, d.path]),
    [
      ['HW_SCHEMA', 5, 'spec.url'],
      ['HW_SCHEMA', 6, 'spec.suspend'],
    ],
  )
})

t.test('github annotations escape newlines, percent signs, commas and colons', async (t) => {
  const dir = t.testdir({ 'a,b:c%.yaml': 'key: [\n' })
  const r = await hookwise(['validate', '--format', 'github', dir])
  t.equal(r.status, 1)
  t.match(r.stdout, /^::error file=.*a%2Cb%3Ac%25\.yaml,line=2,col=1,title=HW_YAML_SYNTAX::/)
  t.notMatch(r.stdout.split('\n')[0], /\n/)
})

t.test('usage errors exit 2', async (t) => {
  t.equal((await hookwise(['validate'])).status, 2)
  t.equal((await hookwise(['validate', '--format', 'xml', examples])).status, 2)
  t.equal((await hookwise(['render', '--manifests', examples])).status, 2)
  t.equal((await hookwise(['frobnicate'])).status, 2)
  const missing = await hookwise(['validate', 'no/such/dir'])
  t.same(missing, {
    status: 1,
    stdout: '',
    stderr:
      'error HW_PATH_NOT_FOUND: no/such/dir does not exist or cannot be read\n  hint: check the path; it is relative to the current folder\n',
  })
  t.equal((await hookwise(['--version'])).stdout, '0.1.0\n')
})

t.test('run --help lists every flag of hookwise run, the three sources and the defaults of the durations', async (t) => {
  const r = await hookwise(['run', '--help'])
  t.equal(r.status, 0)
  t.equal(r.stderr, '')
  const flags = [...r.stdout.matchAll(/^ {2}(?:-h, )?(--[a-z-]+)/gm)].map((m) => m[1])
  t.same(flags, [
    '--dir',
    '--git',
    '--branch',
    '--path',
    '--interval',
    '--ssh-key-file',
    '--token-file',
    '--kubernetes',
    '--namespace',
    '--kubeconfig',
    '--tenancy',
    '--no-leader-elect',
    '--lease-namespace',
    '--lease-name',
    '--lease-duration',
    '--status-interval',
    '--api-timeout',
    '--secrets',
    '--state',
    '--store',
    '--store-url-file',
    '--claim-lease',
    '--listen',
    '--intake-token-file',
    '--allow-insecure-http',
    '--egress-allow',
    '--durability',
    '--max-pending',
    '--max-pending-per-webhook',
    '--concurrency',
    '--per-webhook-concurrency',
    '--connections-per-origin',
    '--retry-max-attempts',
    '--retry-max-backoff',
    '--retention-hours',
    '--log-level',
    '--help',
  ])
  // Commander wraps the help at the terminal's width: compare with the line breaks taken out.
  const help = r.stdout.replace(/\s+/g, ' ')
  t.match(
    help,
    "Usage: hookwise run [options] run the controller on a folder, a git branch or the cluster's Webhooks and Automations: follow it, take events over HTTP, deliver durably Options:",
  )
  t.match(help, '--dir <dir> folder of Webhook and Automation manifests, watched for changes (repeatable; or --git or --kubernetes)')
  t.match(help, '--interval <duration> time between fetches, e.g. 30s, 5m, 1h (--git; default: 30s)')
  t.match(
    help,
    '--lease-duration <duration> how long a standby waits for a silent leader before taking over, e.g. 15s (--kubernetes; default: 15s)',
  )
  t.match(
    help,
    '--status-interval <duration> least time between two status writes of one object when only delivery facts changed (--kubernetes; default: 5s)',
  )
  t.match(help, '--api-timeout <duration> how long a request to the Kubernetes API (not a watch) may take (--kubernetes; default: 30s)')
  t.match(help, '--retry-max-backoff <duration> longest wait between attempts for Webhooks without spec.retry, at most 24h (default 12h)')
})

t.test('render is byte-exact on the examples', async (t) => {
  const cases: Array<[string, string, string]> = [
    [
      'deploy-production',
      'add-alias-production',
      '{"event_type":"BUILD_AND_DEPLOY","client_payload":{"version":"acme/wandb-registry-model/churn-classifier:production","artifact":"wandb-artifact://_id/QXJ0aWZhY3Q6NTE3ODg5ODg3","alias":"production","author":"alice","accuracy":0.93}}',
    ],
    [
      'announce-linked-versions',
      'link-artifact',
      [
        '{',
        '  "@type": "MessageCard",',
        '  "@context": "http://schema.org/extensions",',
        '  "summary": "New model version linked",',
        '  "sections": [',
        '    {',
        '      "activityTitle": "acme/wandb-registry-model/churn-classifier:v7 linked to churn-classifier",',
        '      "activitySubtitle": "In the wandb-registry-model project of acme",',
        '      "facts": [',
        '        {"name": "Author", "value": "bob"},',
        '        {"name": "Event type", "value": "LINK_ARTIFACT"}',
        '      ],',
        '      "markdown": true',
        '    }',
        '  ]',
        '}',
        '',
      ].join('\n'),
    ],
    [
      'slack-new-versions',
      'create-artifact',
      '{"text":"New version of churn-features: acme/churn/churn-features:v12","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"*Event*: CREATE_ARTIFACT"}},{"type":"section","text":{"type":"mrkdwn","text":"*Version*: acme/churn/churn-features:v12"}},{"type":"section","text":{"type":"mrkdwn","text":"*Author*: carol"}}]}',
    ],
    [
      'evaluate-candidates',
      'add-tag-candidate',
      '{"pipeline":"evaluate","model":"acme/wandb-registry-model/churn-classifier:v8","tag":"candidate","metadata":{"accuracy":0.91,"framework":"xgboost"},"aliases":["latest"]}',
    ],
  ]
  for (const [automation, event, body] of cases) {
    const r = await hookwise(['render', '--manifests', examples, '--automation', automation, '--event', ev(event)])
    t.same(r, { status: 0, stdout: body, stderr: '' }, automation)
  }
})

t.test('render --show-headers prints the request with credentials masked and a verifiable signature', async (t) => {
  const r = await hookwise([
    'render',
    '--manifests',
    examples,
    '--secrets',
    join(examples, 'secrets'),
    '--automation',
    'default/evaluate-candidates',
    '--event',
    ev('add-tag-candidate'),
    '--show-headers',
    '--delivery-id',
    'msg_1',
    '--timestamp',
    '1764241200',
  ])
  t.equal(r.status, 0)
  t.equal(
    r.stdout,
    [
      'POST https://ci.acme.example/hooks/model-evaluation',
      'Content-Type: application/json',
      'User-Agent: hookwise/0.1.0',
      'webhook-id: msg_1',
      'X-Team: ml-platform',
      'webhook-timestamp: 1764241200',
      'webhook-signature: v1,O8xYcGGc7HM9Y3ynxJxWFbt1nDghq9NLSLl+9jj4rGw=', // computed independently with Python's hmac
      '',
      '{"pipeline":"evaluate","model":"acme/wandb-registry-model/churn-classifier:v8","tag":"candidate","metadata":{"accuracy":0.91,"framework":"xgboost"},"aliases":["latest"]}',
    ].join('\n'),
  )
  const gh = await hookwise([
    'render',
    '--manifests',
    examples,
    '--secrets',
    join(examples, 'secrets'),
    '--automation',
    'deploy-production',
    '--event',
    ev('add-alias-production'),
    '--show-headers',
  ])
  t.match(gh.stdout, /\nAuthorization: Bearer \*\*\*\*\n/)
  t.notMatch(gh.stdout, /ghp_placeholder/)
})

t.test('render: missing secrets, unknown automation, invalid event, event that would not fire', async (t) => {
  // examples/secrets sits inside examples/, so use the webhook and automation alone.
  const alone = t.testdir({ 'github-deploy.yaml': readFileSync(join(examples, 'github-deploy.yaml'), 'utf8') })
  const noSecrets = await hookwise([
    'render',
    '--manifests',
    alone,
    '--automation',
    'deploy-production',
    '--event',
    ev('add-alias-production'),
    '--show-headers',
  ])
  t.same(noSecrets, {
    status: 1,
    stdout: '',
    stderr:
      'error HW_SECRET_NOT_FOUND: webhook default/github-deploy needs ACCESS_TOKEN: Secret default/github not found\n  hint: create Secret github with key token in namespace default, as a Secret manifest in a --secrets folder; pass the folder of Secret manifests with --secrets DIR\n',
  })

  const unknown = await hookwise(['render', '--manifests', examples, '--automation', 'team/nope', '--event', ev('add-alias-production')])
  t.equal(unknown.status, 1)
  t.equal(
    unknown.stderr,
    'error HW_AUTOMATION_NOT_FOUND: automation team/nope is not in examples\n  hint: automations found: default/accuracy-drop, default/announce-linked-versions, default/deploy-production, default/evaluate-candidates, default/local-echo, default/loss-spike, default/run-failed, default/slack-new-versions, default/staging-alias-trial, default/val-loss-above, default/warn-weak-production-models\n',
  )

  const badEvent = await hookwise(
    ['render', '--manifests', examples, '--automation', 'deploy-production', '--event', '-'],
    '{"type": "ADD_ARTIFACT_ALIAS"}',
  )
  t.equal(badEvent.status, 1)
  t.equal(
    badEvent.stderr,
    [
      '-: error HW_EVENT_INVALID: alias: required field "alias" is missing',
      '  hint: add alias',
      '-: error HW_EVENT_INVALID: entity: required field "entity" is missing',
      '  hint: add entity: Entity (team) that owns the project.',
      '-: error HW_EVENT_INVALID: project: required field "project" is missing',
      "  hint: add project: Project that owns the change; for a registry, the registry's project.",
      '-: error HW_EVENT_INVALID: collection: required field "collection" is missing',
      '  hint: add collection: Collection the version is linked to.',
      '-: error HW_EVENT_INVALID: artifact: required field "artifact" is missing',
      '  hint: add artifact: The artifact version.',
      '',
    ].join('\n'),
  )

  const other = await hookwise(['render', '--manifests', examples, '--automation', 'deploy-production', '--event', ev('link-artifact')])
  t.equal(other.status, 0)
  t.equal(
    other.stderr,
    'note: this LINK_ARTIFACT event would not fire automation default/deploy-production (it watches ADD_ARTIFACT_ALIAS with its filters); rendering anyway\n',
  )
  t.equal(
    other.stdout,
    '{"event_type":"BUILD_AND_DEPLOY","client_payload":{"version":"acme/wandb-registry-model/churn-classifier:v7","artifact":"wandb-artifact://_id/QXJ0aWZhY3Q6NTE3ODg5ODg3","alias":"","author":"bob","accuracy":0.93}}',
  )
})

t.test('match prints NAMESPACE/NAME of each match', async (t) => {
  t.same(await hookwise(['match', '--manifests', examples, '--event', ev('add-alias-production')]), {
    status: 0,
    stdout: 'default/deploy-production\n',
    stderr: '',
  })
  t.same(await hookwise(['match', '--manifests', examples, '--event', ev('link-artifact')]), {
    status: 0,
    stdout: 'default/announce-linked-versions\ndefault/local-echo\n',
    stderr: '',
  })
  const low = JSON.stringify({
    type: 'ADD_ARTIFACT_ALIAS',
    entity: 'acme',
    project: 'p',
    registry: 'model',
    collection: 'churn-classifier',
    alias: 'production',
    artifact: { id: 'X', name: 'n', version: 'v1', metadata: { accuracy: 0.5 } },
  })
  t.same(
    await hookwise(['match', '--manifests', examples, '--event', '-'], low),
    { status: 0, stdout: '', stderr: '' },
    'accuracy below the threshold: no match',
  )
  const json = await hookwise(['match', '--manifests', examples, '--event', ev('add-tag-candidate'), '--format', 'json'])
  t.same(JSON.parse(json.stdout), [{ namespace: 'default', name: 'evaluate-candidates', webhook: 'model-ci' }])
  const broken = await hookwise(['match', '--manifests', examples, '--event', '-'], '{"type": ')
  t.same(broken, {
    status: 1,
    stdout: '',
    stderr:
      '-:1:10: error HW_EVENT_JSON: not valid JSON: Unexpected end of JSON input\n  hint: send one JSON object (or, where a list is accepted, an array of objects)\n',
  })
})

t.test('match --run prints the run automations a file of run messages fires', async (t) => {
  t.same(await hookwise(['match', '--manifests', examples, '--run', ev('run-val-loss')]), {
    status: 0,
    stdout: 'default/val-loss-above run 3xk9q2ab step 4 val_loss=0.55\ndefault/run-failed run 3xk9q2ab state FAILED\n',
    stderr: '',
  })
  // r1 carries the tag and config accuracy-drop asks for, r2 neither; r1's 7th value drops again
  // within the 24 h cooldown (no second line); r2 crashes (counts as FAILED).
  const run = { id: 'r1', name: 'sweep-1', entity: 'acme', project: 'churn', tags: ['production'], config: { lr: 0.001 } }
  const other = { ...run, id: 'r2', tags: [] }
  const accuracy = [0.9, 0.9, 0.9, 0.8, 0.8, 0.77, 0.5]
  const messages = [
    ...accuracy.map((a, step) => ({ run, step, metrics: { accuracy: a } })),
    ...accuracy.map((a, step) => ({ run: other, step, metrics: { accuracy: a } })),
    { run: other, state: 'CRASHED' },
  ]
  t.same(await hookwise(['match', '--manifests', examples, '--run', '-'], JSON.stringify(messages)), {
    status: 0,
    stdout: 'default/accuracy-drop run r1 step 5 accuracy=0.79\ndefault/run-failed run r2 state FAILED\n',
    stderr: '',
  })
  const json = await hookwise(['match', '--manifests', examples, '--run', '-', '--format', 'json'], JSON.stringify(messages.slice(0, 6)))
  t.same(JSON.parse(json.stdout), [
    {
      namespace: 'default',
      name: 'accuracy-drop',
      webhook: 'local-listener',
      type: 'RUN_METRIC_CHANGE',
      run: 'r1',
      metric: { name: 'accuracy', step: 5, value: 0.79 },
    },
  ])
  t.same(await hookwise(['match', '--manifests', examples, '--run', '-'], '{"run": {"id": "x", "entity": "acme"}, "step": 1}'), {
    status: 1,
    stdout: '',
    stderr:
      '-: error HW_EVENT_INVALID: run.project: required field "project" is missing\n  hint: add run.project: Project (or MLflow experiment) of the run.\n',
  })
  const neither = await hookwise(['match', '--manifests', examples])
  t.equal(neither.status, 2)
  t.equal(
    neither.stderr,
    'error HW_USAGE: match needs one of --event FILE and --run FILE\n  hint: pass an artifact event with --event, or run messages with --run\n',
  )
})

t.test('the hookwise binary runs as a process', async (t) => {
  const r = spawnSync(
    process.execPath,
    ['--import=tsx', 'controller/cli/main.ts', 'match', '--manifests', examples, '--event', ev('create-artifact')],
    { encoding: 'utf8' },
  )
  t.same({ status: r.status, stdout: r.stdout, stderr: r.stderr }, { status: 0, stdout: 'default/slack-new-versions\n', stderr: '' })
  const bad = spawnSync(process.execPath, ['--import=tsx', 'controller/cli/main.ts', 'validate', '--nope'], { encoding: 'utf8' })
  t.equal(bad.status, 2)
  t.equal(bad.stderr, "error: unknown option '--nope'\n(run hookwise --help for usage)\n")
})
