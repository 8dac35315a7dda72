// Each validation error class: its code, message, hint and position (file, line, column, object, path).
import t from 'tap'
import { join } from 'node:path'
import { loadDesiredState } from '../controller/sources/load.js'
import type { Diagnostic } from '../controller/errors.js'
import type { TapTest } from './helpers/cli.js'

const WEBHOOK = `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata:
  name: hook
spec:
  url: https://example.com/hook
  accessToken:
    secretKeyRef: {name: tok, key: token}
  secrets:
    - name: KEY
      secretKeyRef: {name: sig, key: key}
  signing:
    secret: KEY
`

const automation = (spec: string): string => `apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata:
  name: auto
spec:
${spec}`

const ALIAS_SPEC = `  scope:
    type: Collection
    registry: model
    collection: churn
  event:
    type: ADD_ARTIFACT_ALIAS
    aliasRegex: ^production$
  action:
    webhook: hook
    payload:
      version: \${artifact_version_string}
`

async function diagnose(
  t: TapTest,
  files: Record<string, string>,
): Promise<{ dir: string; diagnostics: Diagnostic[]; automations: string[] }> {
  const dir = t.testdir(files)
  const state = await loadDesiredState({ manifests: [dir] })
  return { dir, diagnostics: state.diagnostics, automations: state.automations.map((a) => a.key) }
}

t.test('a valid webhook and automation give no diagnostics', async (t) => {
  const r = await diagnose(t, { 'w.yaml': WEBHOOK, 'a.yaml': automation(ALIAS_SPEC) })
  t.same(r.diagnostics, [])
  t.same(r.automations, ['default/auto'])
})

t.test('schema: wrong enum value names file, line, column, object and path, with a suggestion', async (t) => {
  const r = await diagnose(t, {
    'w.yaml': WEBHOOK,
    'a.yaml': automation(ALIAS_SPEC.replace('type: ADD_ARTIFACT_ALIAS', 'type: ADD_ARTIFACT_ALIASES')),
  })
  t.same(r.diagnostics, [
    {
      file: join(r.dir, 'a.yaml'),
      line: 11,
      column: 5,
      object: 'Automation default/auto',
      path: 'spec.event.type',
      code: 'HW_SCHEMA',
      severity: 'error',
      message:
        '"ADD_ARTIFACT_ALIASES" is not one of LINK_ARTIFACT, UNLINK_ARTIFACT, CREATE_ARTIFACT, ADD_ARTIFACT_ALIAS, ADD_ARTIFACT_TAG, REMOVE_ARTIFACT_TAG, ADD_COLLECTION_TAG, REMOVE_COLLECTION_TAG, RUN_METRIC, RUN_METRIC_CHANGE, RUN_METRIC_ZSCORE, RUN_STATE',
      hint: 'did you mean ADD_ARTIFACT_ALIAS?',
    },
  ])
  t.same(r.automations, [])
})

t.test('schema: unknown field gets a did-you-mean hint at the key', async (t) => {
  const r = await diagnose(t, { 'w.yaml': WEBHOOK, 'a.yaml': automation(ALIAS_SPEC.replace('    aliasRegex:', '    aliasRegx:')) })
  // The typo also leaves aliasRegex missing: both are reported.
  t.match(r.diagnostics, [
    {
      line: 12,
      column: 5,
      path: 'spec.event.aliasRegx',
      code: 'HW_SCHEMA',
      message: 'unknown field "aliasRegx"',
      hint: 'did you mean "aliasRegex"?',
    },
  ])
  t.equal(r.diagnostics.length, 1, 'its webhook and variables are checked too, and are fine')
})

t.test('one suggestion, the likeliest: LINK is LINK_ARTIFACT (a prefix), hoook is hook, no guess when nothing is close', async (t) => {
  const hint = async (replace: [string, string]) =>
    (await diagnose(t, { 'w.yaml': WEBHOOK, 'a.yaml': automation(ALIAS_SPEC.replace(...replace)) })).diagnostics.map((d) => d.hint)
  t.same(await hint(['type: ADD_ARTIFACT_ALIAS\n    aliasRegex: ^production$', 'type: LINK']), ['did you mean LINK_ARTIFACT?'])
  t.same(await hint(['type: ADD_ARTIFACT_ALIAS\n    aliasRegex: ^production$', 'type: link_artifact']), ['did you mean LINK_ARTIFACT?'])
  t.same(await hint(['type: ADD_ARTIFACT_ALIAS\n    aliasRegex: ^production$', 'type: PUSH']), [
    'use one of LINK_ARTIFACT, UNLINK_ARTIFACT, CREATE_ARTIFACT, ADD_ARTIFACT_ALIAS, ADD_ARTIFACT_TAG, REMOVE_ARTIFACT_TAG, ADD_COLLECTION_TAG, REMOVE_COLLECTION_TAG, RUN_METRIC, RUN_METRIC_CHANGE, RUN_METRIC_ZSCORE, RUN_STATE',
  ])
  t.same(await hint(['${artifact_version_string}', '${artifact_verison_string}']), ['did you mean ${artifact_version_string}?'])
  // ${alias} exists for this event type, so it is the guess for ${alais}; the webhook's secrets are candidates too.
  t.same(await hint(['${artifact_version_string}', '${alais}']), ['did you mean ${alias}?'])
  t.same(await hint(['${artifact_version_string}', '${KEYY}']), [
    'did you mean ${KEY}? Otherwise add {name: KEYY, secretKeyRef: ...} to spec.secrets of webhook hook',
  ])
})

t.test('validate reports meaning errors of an object that fails its schema, in the same run', async (t) => {
  const spec = ALIAS_SPEC.replace('type: ADD_ARTIFACT_ALIAS\n    aliasRegex: ^production$', 'type: LINK')
    .replace('webhook: hook', 'webhook: hok')
    .replace('${artifact_version_string}', '${artifact_verison}')
  const r = await diagnose(t, { 'w.yaml': WEBHOOK, 'a.yaml': automation(spec) })
  t.same(
    r.diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.path}: ${d.message} / ${d.hint}`),
    [
      '11:5 HW_SCHEMA spec.event.type: "LINK" is not one of LINK_ARTIFACT, UNLINK_ARTIFACT, CREATE_ARTIFACT, ADD_ARTIFACT_ALIAS, ADD_ARTIFACT_TAG, REMOVE_ARTIFACT_TAG, ADD_COLLECTION_TAG, REMOVE_COLLECTION_TAG, RUN_METRIC, RUN_METRIC_CHANGE, RUN_METRIC_ZSCORE, RUN_STATE / did you mean LINK_ARTIFACT?',
      '13:5 HW_WEBHOOK_NOT_FOUND spec.action.webhook: webhook hok does not exist in namespace default (webhooks there: hook) / did you mean hook?',
      '15:7 HW_TEMPLATE_UNKNOWN_VARIABLE spec.action.payload.version: ${artifact_verison} is not a known variable / did you mean ${artifact_version}?',
    ],
  )
  t.same(r.automations, [])
})

t.test('schema: wrong type says what was found and how to fix it', async (t) => {
  const r = await diagnose(t, {
    'w.yaml': WEBHOOK.replace('  url: https://example.com/hook', '  url: https://example.com/hook\n  timeoutSeconds: "fast"'),
    'a.yaml': automation(ALIAS_SPEC),
  })
  t.match(r.diagnostics[0], {
    file: join(r.dir, 'w.yaml'),
    line: 7,
    column: 3,
    object: 'Webhook default/hook',
    path: 'spec.timeoutSeconds',
    code: 'HW_SCHEMA',
    message: 'must be an integer, not string "fast"',
    hint: 'write an integer here (How long one attempt may take, in seconds.)',
  })
  t.match(r.diagnostics[1], {
    object: 'Automation default/auto',
    path: 'spec.action.webhook',
    code: 'HW_WEBHOOK_INVALID',
    message: 'webhook hook has errors, so this automation cannot fire',
    hint: 'fix the errors reported for Webhook default/hook',
  })
  t.equal(r.diagnostics.length, 2)
})

t.test('schema: a number where text is expected asks to quote it', async (t) => {
  const r = await diagnose(t, {
    'w.yaml': WEBHOOK,
    'a.yaml': automation(
      ALIAS_SPEC.replace(
        '    aliasRegex: ^production$',
        '    aliasRegex: ^production$\n    metadata:\n      - {key: accuracy, op: gte, value: 0.9}',
      ),
    ),
  })
  t.match(r.diagnostics, [
    {
      line: 14,
      path: 'spec.event.metadata[0].value',
      code: 'HW_SCHEMA',
      message: 'must be a string, not number 0.9',
      hint: 'write it as a string: quote it, e.g. "0.9"',
    },
  ])
})

t.test('schema: a missing required field is named', async (t) => {
  const r = await diagnose(t, { 'w.yaml': WEBHOOK.replace('  url: https://example.com/hook\n', ''), 'a.yaml': automation(ALIAS_SPEC) })
  t.match(r.diagnostics, [
    {
      line: 5,
      column: 1,
      path: 'spec.url',
      code: 'HW_SCHEMA',
      message: 'required field "url" is missing',
      hint: 'add spec.url: Endpoint that receives a POST for every delivery: an http(s) URL without credentials in it.',
    },
    { code: 'HW_WEBHOOK_INVALID' },
  ])
})

t.test('aliasRegex is required for ADD_ARTIFACT_ALIAS', async (t) => {
  const r = await diagnose(t, { 'w.yaml': WEBHOOK, 'a.yaml': automation(ALIAS_SPEC.replace('    aliasRegex: ^production$\n', '')) })
  t.same(r.diagnostics, [
    {
      file: join(r.dir, 'a.yaml'),
      line: 10,
      column: 3,
      object: 'Automation default/auto',
      path: 'spec.event.aliasRegex',
      code: 'HW_EVENT_FILTER_FIELDS',
      severity: 'error',
      message: 'event.aliasRegex (or an event.filter) is required when event.type is ADD_ARTIFACT_ALIAS, e.g. aliasRegex: ^production$',
      hint: 'aliasRegex goes with ADD_ARTIFACT_ALIAS (required there unless a filter is set), tagRegex with the tag events (ADD_/REMOVE_ARTIFACT_TAG, ADD_/REMOVE_COLLECTION_TAG)',
    },
  ])
})

t.test('tagRegex on an alias event is refused', async (t) => {
  const r = await diagnose(t, {
    'w.yaml': WEBHOOK,
    'a.yaml': automation(ALIAS_SPEC.replace('    aliasRegex: ^production$\n', '    aliasRegex: ^production$\n    tagRegex: x\n')),
  })
  t.match(r.diagnostics, [
    {
      line: 13,
      column: 5,
      path: 'spec.event.tagRegex',
      code: 'HW_EVENT_FILTER_FIELDS',
      message:
        'event.tagRegex applies only to tag events: ADD_ARTIFACT_TAG, REMOVE_ARTIFACT_TAG, ADD_COLLECTION_TAG and REMOVE_COLLECTION_TAG',
    },
  ])
})

t.test('scope fields must fit the scope type', async (t) => {
  const cases: Array<[string, string, string, string]> = [
    [
      '    type: Collection\n    registry: model\n',
      'spec.scope.collection',
      'scope.collection is required for a Collection scope',
      'HW_SCOPE_FIELDS',
    ],
    [
      '    type: Registry\n    registry: model\n    collection: churn\n',
      'spec.scope.collection',
      'a Registry scope takes no scope.collection: use type Collection to watch one collection',
      'HW_SCOPE_FIELDS',
    ],
    [
      '    type: Project\n    entity: acme\n',
      'spec.scope.project',
      'scope.entity and scope.project are required for a Project scope',
      'HW_SCOPE_FIELDS',
    ],
    [
      '    type: Project\n    entity: acme\n    project: p\n    registry: model\n',
      'spec.scope.registry',
      'scope.registry and scope.collection belong to Registry and Collection scopes: a Project scope uses entity, project and collectionRegex',
      'HW_SCOPE_FIELDS',
    ],
    [
      '    type: Registry\n    registry: model\n    entity: acme\n',
      'spec.scope.entity',
      'scope.entity, scope.project and scope.collectionRegex belong to a Project scope',
      'HW_SCOPE_FIELDS',
    ],
  ]
  for (const [scope, path, message, code] of cases) {
    const spec = ALIAS_SPEC.replace('    type: Collection\n    registry: model\n    collection: churn\n', scope)
    const r = await diagnose(t, { 'w.yaml': WEBHOOK, 'a.yaml': automation(spec) })
    t.match(r.diagnostics, [{ path, message, code, object: 'Automation default/auto', file: join(r.dir, 'a.yaml') }], message)
    t.equal(r.diagnostics.length, 1)
  }
})

t.test('regular expressions must compile', async (t) => {
  const r = await diagnose(t, { 'w.yaml': WEBHOOK, 'a.yaml': automation(ALIAS_SPEC.replace('^production$', '"^(production$"')) })
  t.match(r.diagnostics, [
    {
      line: 12,
      column: 5,
      path: 'spec.event.aliasRegex',
      code: 'HW_REGEX_INVALID',
      message: '"^(production$" is not a valid regular expression: /^(production$/: Unterminated group',
      hint: /escape literal characters/,
    },
  ])
})

t.test('regular expressions are RE2 (as in W&B): lookaround and backreferences are refused where they are written', async (t) => {
  const r = await diagnose(t, {
    'w.yaml': WEBHOOK,
    'a.yaml': automation(
      ALIAS_SPEC.replace(
        '    aliasRegex: ^production$\n',
        '    aliasRegex: "^(?!staging$)"\n    metadata:\n      - {key: stage, op: regex, value: "^(a)\\\\1$"}\n',
      ),
    ),
  })
  const hint =
    'fix the expression in RE2 syntax, as W&B does: no lookahead, lookbehind or backreferences; escape literal characters such as . ( [ with a backslash; see docs/resources.md#regular-expressions'
  t.same(r.diagnostics, [
    {
      file: join(r.dir, 'a.yaml'),
      line: 12,
      column: 5,
      object: 'Automation default/auto',
      path: 'spec.event.aliasRegex',
      code: 'HW_REGEX_INVALID',
      severity: 'error',
      message: '"^(?!staging$)" is not a valid regular expression: lookahead (?! is not RE2 syntax',
      hint,
    },
    {
      file: join(r.dir, 'a.yaml'),
      line: 14,
      column: 33,
      object: 'Automation default/auto',
      path: 'spec.event.metadata[0].value',
      code: 'HW_REGEX_INVALID',
      severity: 'error',
      message: '"^(a)\\\\1$" is not a valid regular expression: the backreference \\1 is not RE2 syntax',
      hint,
    },
  ])
  t.same(r.automations, [])
})

t.test('metadata conditions: numeric operators need numbers, regex values must compile', async (t) => {
  const r = await diagnose(t, {
    'w.yaml': WEBHOOK,
    'a.yaml': automation(
      ALIAS_SPEC.replace(
        '    aliasRegex: ^production$\n',
        '    aliasRegex: ^production$\n    metadata:\n      - {key: accuracy, op: gt, value: high}\n      - {key: framework, op: regex, value: "["}\n      - {key: framework, op: eq}\n',
      ),
    ),
  })
  t.match(r.diagnostics, [
    {
      path: 'spec.event.metadata[2].value',
      code: 'HW_METADATA_CONDITION',
      message: 'metadata conditions need a value unless op is exists',
    },
    {
      line: 14,
      path: 'spec.event.metadata[0].value',
      code: 'HW_METADATA_CONDITION',
      message: 'gt compares numbers, but "high" is not a number',
      hint: 'write a number in quotes, e.g. value: "0.9"',
    },
    { line: 15, path: 'spec.event.metadata[1].value', code: 'HW_REGEX_INVALID' },
  ])
})

t.test('exactly one of payload and payloadTemplate', async (t) => {
  const r = await diagnose(t, {
    'w.yaml': WEBHOOK,
    'a.yaml': automation(ALIAS_SPEC.replace('    payload:\n      version: ${artifact_version_string}\n', '')),
  })
  t.match(r.diagnostics, [
    {
      line: 13,
      column: 3,
      path: 'spec.action',
      code: 'HW_PAYLOAD_CHOICE',
      message: 'set exactly one of action.payload, action.payloadTemplate, action.slack and action.noop',
    },
  ])
})

t.test('template syntax errors point at the payload field', async (t) => {
  const r = await diagnose(t, {
    'w.yaml': WEBHOOK,
    'a.yaml': automation(ALIAS_SPEC.replace('${artifact_version_string}', '"${artifact version}"')),
  })
  t.same(r.diagnostics, [
    {
      file: join(r.dir, 'a.yaml'),
      line: 16,
      column: 7,
      object: 'Automation default/auto',
      path: 'spec.action.payload.version',
      code: 'HW_TEMPLATE_SYNTAX',
      severity: 'error',
      message: '${artifact version} is not a variable reference',
      hint: 'variable names are letters, digits and _ (no spaces), e.g. ${artifact_version_string} or ${artifact_metadata.accuracy}; write $${ for a literal ${',
    },
  ])
})

t.test('payloadTemplate text must be JSON with references in the right places', async (t) => {
  const spec = ALIAS_SPEC.replace(
    '    payload:\n      version: ${artifact_version_string}\n',
    '    payloadTemplate: |\n      {"version": ${artifact_version_string}}\n',
  )
  const r = await diagnose(t, { 'w.yaml': WEBHOOK, 'a.yaml': automation(spec) })
  t.match(r.diagnostics, [
    {
      line: 15,
      column: 5,
      path: 'spec.action.payloadTemplate',
      code: 'HW_TEMPLATE_SYNTAX',
      message: '${artifact_version_string} is outside a JSON string (character 13 of the template)',
      hint: /put it inside quotes/,
    },
  ])
  const spec2 = ALIAS_SPEC.replace(
    '    payload:\n      version: ${artifact_version_string}\n',
    '    payloadTemplate: |\n      {"version": "${artifact_version_string}",}\n',
  )
  const r2 = await diagnose(t, { 'w.yaml': WEBHOOK, 'a.yaml': automation(spec2) })
  t.match(r2.diagnostics, [{ code: 'HW_TEMPLATE_SYNTAX', message: /^payloadTemplate is not valid JSON: / }])
})

t.test('variables must exist for the event type', async (t) => {
  const spec = ALIAS_SPEC.replace(
    '      version: ${artifact_version_string}\n',
    '      a: ${tag}\n      b: ${artifact_verison}\n      c: ${alias}\n',
  )
  const r = await diagnose(t, { 'w.yaml': WEBHOOK, 'a.yaml': automation(spec) })
  t.same(
    r.diagnostics.map((d) => [d.line, d.path, d.code, d.message]),
    [
      [16, 'spec.action.payload.a', 'HW_TEMPLATE_UNKNOWN_VARIABLE', '${tag} is not available for ADD_ARTIFACT_ALIAS events'],
      [17, 'spec.action.payload.b', 'HW_TEMPLATE_UNKNOWN_VARIABLE', '${artifact_verison} is not a known variable'],
    ],
  )
  const link = spec.replace('type: ADD_ARTIFACT_ALIAS', 'type: LINK_ARTIFACT').replace('    aliasRegex: ^production$\n', '')
  const r2 = await diagnose(t, { 'w.yaml': WEBHOOK, 'a.yaml': automation(link) })
  t.match(r2.diagnostics, [
    { path: 'spec.action.payload.a' },
    { path: 'spec.action.payload.b' },
    {
      path: 'spec.action.payload.c',
      message: '${alias} is not available for LINK_ARTIFACT events',
      hint: /exists only for ADD_ARTIFACT_ALIAS events/,
    },
  ])
})

t.test('secrets in templates must be granted by the webhook', async (t) => {
  const spec = ALIAS_SPEC.replace(
    '      version: ${artifact_version_string}\n',
    '      k: ${KEY}\n      t: ${ACCESS_TOKEN}\n      o: ${OTHER}\n',
  )
  const r = await diagnose(t, { 'w.yaml': WEBHOOK, 'a.yaml': automation(spec) })
  t.same(
    r.diagnostics.map((d) => [d.path, d.code, d.message, d.hint]),
    [
      [
        'spec.action.payload.o',
        'HW_TEMPLATE_SECRET_NOT_GRANTED',
        '${OTHER} is not a secret of webhook hook',
        'add {name: OTHER, secretKeyRef: ...} to spec.secrets of webhook hook, or fix the name',
      ],
    ],
  )
})

t.test('the webhook must exist in the same namespace', async (t) => {
  const other = automation(ALIAS_SPEC).replace('  name: auto\n', '  name: auto\n  namespace: team-b\n')
  const r = await diagnose(t, { 'w.yaml': WEBHOOK, 'a.yaml': other })
  t.same(r.diagnostics, [
    {
      file: join(r.dir, 'a.yaml'),
      line: 15,
      column: 5,
      object: 'Automation team-b/auto',
      path: 'spec.action.webhook',
      code: 'HW_WEBHOOK_NOT_FOUND',
      severity: 'error',
      message: 'webhook hook does not exist in namespace team-b (webhooks there: none)',
      hint: 'create Webhook team-b/hook, or name an existing one (automations use webhooks of their own namespace)',
    },
  ])
})

t.test('signing.secret must be one of the webhook secrets', async (t) => {
  const r = await diagnose(t, { 'w.yaml': WEBHOOK.replace('    secret: KEY', '    secret: NOPE'), 'a.yaml': automation(ALIAS_SPEC) })
  t.match(r.diagnostics, [
    {
      line: 13,
      column: 5,
      object: 'Webhook default/hook',
      path: 'spec.signing.secret',
      code: 'HW_SIGNING_SECRET_UNKNOWN',
      message: 'signing.secret must name one of spec.secrets[].name',
    },
  ])
})

t.test('reserved secret names and headers, and URLs with credentials', async (t) => {
  const bad = WEBHOOK.replace(
    '    - name: KEY\n',
    '    - name: KEY\n      secretKeyRef: {name: sig, key: key}\n    - name: event_type\n',
  ).replace('  url: https://example.com/hook', '  url: https://user:pw@example.com/hook\n  headers:\n    authorization: Basic x')
  const r = await diagnose(t, { 'w.yaml': bad })
  t.same(
    r.diagnostics.map((d) => [d.line, d.path, d.code, d.message]),
    [
      [
        8,
        'spec.headers.authorization',
        'HW_HEADER_RESERVED',
        'headers must not set Authorization, Content-Type, Content-Length, Host, User-Agent or a signature header: use spec.accessToken and spec.signing',
      ],
      [6, 'spec.url', 'HW_URL_INVALID', 'the URL contains credentials'],
      [14, 'spec.secrets[1].name', 'HW_SECRET_NAME_RESERVED', 'secret name event_type is also a built-in variable'],
    ],
  )
})

t.test('duplicate names are reported at the second copy and both are ignored', async (t) => {
  const r = await diagnose(t, { 'w.yaml': WEBHOOK, 'a.yaml': automation(ALIAS_SPEC), 'b.yaml': `# copy\n${automation(ALIAS_SPEC)}` })
  t.same(r.diagnostics, [
    {
      file: join(r.dir, 'b.yaml'),
      line: 5,
      column: 3,
      object: 'Automation default/auto',
      path: 'metadata.name',
      code: 'HW_DUPLICATE_NAME',
      severity: 'error',
      message: `Automation default/auto is defined twice; the first is at ${join(r.dir, 'a.yaml')}:1`,
      hint: 'rename one of them or remove the copy; both are ignored until then',
    },
  ])
  t.same(r.automations, [])
})

t.test('a Secret named twice (manifests and --secrets) is an error on the Webhook that uses it and on the copy', async (t) => {
  const secret = (value: string): string => `apiVersion: v1\nkind: Secret\nmetadata: {name: tok}\nstringData: {token: ${value}}\n`
  const dir = t.testdir({
    m: {
      'w.yaml': WEBHOOK,
      'tok.yaml': secret('one'),
      'sig.yaml': 'apiVersion: v1\nkind: Secret\nmetadata: {name: sig}\nstringData: {key: k}\n',
    },
    s: { 'tok.yaml': secret('two') },
  })
  const state = await loadDesiredState({ manifests: [join(dir, 'm')], secrets: [join(dir, 's')] })
  const first = join(dir, 'm', 'tok.yaml')
  const second = join(dir, 's', 'tok.yaml')
  t.same(state.diagnostics, [
    {
      file: second,
      line: 3,
      column: 12,
      object: 'Secret default/tok',
      path: 'metadata.name',
      code: 'HW_DUPLICATE_NAME',
      severity: 'error',
      message: `Secret default/tok is defined twice; the first is at ${first}:1`,
      hint: 'rename one of them or remove the copy; both are ignored until then',
    },
    {
      file: join(dir, 'm', 'w.yaml'),
      line: 8,
      column: 20,
      object: 'Webhook default/hook',
      path: 'spec.accessToken.secretKeyRef.name',
      code: 'HW_SECRET_DUPLICATE',
      severity: 'error',
      message: `Secret default/tok is defined twice (${first}:1, ${second}:1), so hookwise uses neither: deliveries to this webhook wait`,
      hint: 'remove one of the copies: a Secret belongs either in the manifests or in the --secrets folder',
    },
  ])
  t.notOk(state.secrets.has('default/tok'), 'neither copy is used')
  t.ok(state.webhooks.get('default/hook')?.valid, 'the webhook stays valid: its deliveries wait rather than being dropped')
})

t.test('a URL whose IP address is not globally reachable is a warning naming the range; internal receivers are not', async (t) => {
  const hook = (name: string, url: string): string =>
    `apiVersion: hookwise.dev/v1alpha1\nkind: Webhook\nmetadata: {name: ${name}}\nspec:\n  url: ${url}\n`
  const r = await diagnose(t, {
    'a.yaml': hook('doc', 'https://192.0.2.10/hook'),
    'b.yaml': hook('bench', 'https://[2001:2::1]:8443/hook'),
    'c.yaml': hook('metadata', 'http://169.254.169.254/latest'),
    'd.yaml': hook('loopback', 'http://127.0.0.1:9000/hook'),
    'e.yaml': hook('private', 'https://10.1.2.3/hook'),
    'f.yaml': hook('public', 'https://93.184.215.14/hook'),
    'g.yaml': hook('named', 'https://hooks.example.com/hook'),
  })
  const warning = (file: string, name: string, address: string, what: string) => ({
    file: join(r.dir, file),
    line: 5,
    column: 3,
    object: `Webhook default/${name}`,
    path: 'spec.url',
    code: 'HW_URL_NOT_GLOBAL',
    severity: 'warning',
    message: `address ${address} is ${what}: the egress policy refuses it, so nothing is delivered unless hookwise runs with --egress-allow covering it`,
    hint: "use the receiver's public address or host name; if it really is there, run hookwise with --egress-allow CIDR",
  })
  t.same(r.diagnostics, [
    warning('a.yaml', 'doc', '192.0.2.10', 'reserved for documentation'),
    warning('b.yaml', 'bench', '2001:2::1', 'reserved for benchmarking'),
    warning('c.yaml', 'metadata', '169.254.169.254', 'link-local (includes the cloud metadata address 169.254.169.254)'),
  ])
})

t.test('objects without a namespace are in default; the same name in two namespaces is fine', async (t) => {
  const ns = (s: string): string => s.replace(/ {2}name: (\w+)\n/, '  name: $1\n  namespace: team-b\n')
  const r = await diagnose(t, {
    'w.yaml': WEBHOOK,
    'a.yaml': automation(ALIAS_SPEC),
    'b.yaml': `${ns(WEBHOOK)}---\n${ns(automation(ALIAS_SPEC))}`,
  })
  t.same(r.diagnostics, [])
  t.same(r.automations, ['default/auto', 'team-b/auto'])
})

t.test('Secret objects: base64 data is checked, stringData wins', async (t) => {
  const dir = t.testdir({
    'secrets.yaml':
      'apiVersion: v1\nkind: Secret\nmetadata: {name: tok}\ndata:\n  token: bm90LWJhc2U2NA=\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: sig}\ndata: {key: b2xk}\nstringData: {key: new}\n',
  })
  const state = await loadDesiredState({ manifests: [dir] })
  t.match(state.diagnostics, [
    {
      line: 5,
      column: 3,
      object: 'Secret default/tok',
      path: 'data.token',
      code: 'HW_SECRET_DATA_INVALID',
      message: 'data.token is not valid base64',
    },
  ])
  t.same(state.secrets.get('default/sig')?.data, { key: 'new' })
  t.notOk(state.secrets.has('default/tok'))
})

t.test('one invalid object does not hide the valid ones', async (t) => {
  const r = await diagnose(t, {
    'w.yaml': WEBHOOK,
    'a.yaml': automation(ALIAS_SPEC),
    'b.yaml': automation(ALIAS_SPEC).replace('name: auto', 'name: broken').replace('type: Collection', 'type: Everything'),
  })
  t.same(r.automations, ['default/auto'])
  t.match(r.diagnostics, [{ object: 'Automation default/broken', code: 'HW_SCHEMA', path: 'spec.scope.type' }])
})

t.test('header values and names HTTP cannot send, and hop-by-hop or framing headers, are refused naming the header', async (t) => {
  const withHeader = (line: string): string =>
    WEBHOOK.replace('  url: https://example.com/hook\n', `  url: https://example.com/hook\n  headers:\n${line}\n`)
  const value = (name: string) =>
    `header ${name} holds a character HTTP cannot send (CR, LF, NUL, another control character or one above U+00FF): remove it from the value`
  const hop = (name: string) =>
    `header ${name} is hop-by-hop or framing: HTTP sets it for each connection and message, so it cannot be a static header`
  const VALUE_HINT = 'write the value on one line in ASCII or Latin-1 (a tab is allowed); a secret belongs in spec.secrets, not here'
  const RESERVED_HINT = 'remove the header; hookwise and HTTP set it'
  const cases: Array<[string, string, string, string, string]> = [
    ['    X-Team: "ml\\r\\nX-Injected: 1"', 'spec.headers.X-Team', 'HW_HEADER_INVALID', value('X-Team'), VALUE_HINT],
    ['    X-Team: "ml\\n"', 'spec.headers.X-Team', 'HW_HEADER_INVALID', value('X-Team'), VALUE_HINT],
    ['    X-Team: "m\\0l"', 'spec.headers.X-Team', 'HW_HEADER_INVALID', value('X-Team'), VALUE_HINT],
    ['    X-Team: "m\\el"', 'spec.headers.X-Team', 'HW_HEADER_INVALID', value('X-Team'), VALUE_HINT],
    ['    X-Team: "ml ✓"', 'spec.headers.X-Team', 'HW_HEADER_INVALID', value('X-Team'), VALUE_HINT],
    ['    X-Team: "ml 🚀"', 'spec.headers.X-Team', 'HW_HEADER_INVALID', value('X-Team'), VALUE_HINT],
    [
      '    "X Team": ml',
      'spec.headers["X Team"]',
      'HW_HEADER_INVALID',
      'header name "X Team" is not an HTTP token: use letters, digits and !#$%&\'*+-.^_`|~ only',
      VALUE_HINT,
    ],
    ...['Transfer-Encoding', 'Connection', 'Keep-Alive', 'Upgrade', 'TE', 'Trailer', 'Proxy-Connection'].map(
      (name): [string, string, string, string, string] => [
        `    ${name}: x`,
        `spec.headers.${name}`,
        'HW_HEADER_RESERVED',
        hop(name),
        RESERVED_HINT,
      ],
    ),
    ...['Content-Length', 'Host'].map((name): [string, string, string, string, string] => [
      `    ${name}: x`,
      `spec.headers.${name}`,
      'HW_HEADER_RESERVED',
      'headers must not set Authorization, Content-Type, Content-Length, Host, User-Agent or a signature header: use spec.accessToken and spec.signing',
      RESERVED_HINT,
    ]),
  ]
  for (const [line, path, code, message, hint] of cases) {
    const r = await diagnose(t, { 'w.yaml': withHeader(line) })
    t.same(
      r.diagnostics,
      [
        {
          file: join(r.dir, 'w.yaml'),
          line: 8,
          column: 5,
          object: 'Webhook default/hook',
          path,
          code,
          severity: 'error',
          message,
          hint,
        },
      ],
      line,
    )
  }
  // What HTTP allows passes: a tab, Latin-1, every visible ASCII character.
  const r = await diagnose(t, {
    'w.yaml': withHeader('    X-Team: "ml\\tand ops"\n    X-Name: Zoé\n    X-All: "!~ #$%&()*+,-./:;<=>?@[]^_`{|}"'),
  })
  t.same(r.diagnostics, [])
})

t.test('signing.secret names the value it was given; the hint the secrets there are', async (t) => {
  const none = WEBHOOK.replace('  secrets:\n    - name: KEY\n      secretKeyRef: {name: sig, key: key}\n', '').replace(
    '    secret: KEY',
    '    secret: NOPE',
  )
  const two = WEBHOOK.replace(
    '    - name: KEY\n',
    '    - name: OTHER\n      secretKeyRef: {name: sig, key: other}\n    - name: KEY\n',
  ).replace('    secret: KEY', '    secret: NOPE')
  const expected = (file: string, line: number, hint: string): Diagnostic => ({
    file,
    line,
    column: 5,
    object: 'Webhook default/hook',
    path: 'spec.signing.secret',
    code: 'HW_SIGNING_SECRET_UNKNOWN',
    severity: 'error',
    message: 'signing.secret must name one of spec.secrets[].name, not "NOPE"',
    hint,
  })
  const a = await diagnose(t, { 'w.yaml': none })
  t.same(a.diagnostics, [
    expected(join(a.dir, 'w.yaml'), 10, 'spec.secrets is empty (none given): add a secret named NOPE, or remove spec.signing'),
  ])
  const b = await diagnose(t, { 'w.yaml': two })
  t.same(b.diagnostics, [expected(join(b.dir, 'w.yaml'), 15, 'name one of OTHER, KEY, or add NOPE to spec.secrets')])
})

t.test('an automation naming a webhook that does not exist is told the webhooks of its namespace', async (t) => {
  const other = WEBHOOK.replace('  name: hook\n', '  name: other\n')
  const r = await diagnose(t, {
    'w.yaml': `${WEBHOOK}---\n${other}`,
    'a.yaml': automation(ALIAS_SPEC.replace('webhook: hook', 'webhook: hoook')),
  })
  t.same(r.diagnostics, [
    {
      file: join(r.dir, 'a.yaml'),
      line: 14,
      column: 5,
      object: 'Automation default/auto',
      path: 'spec.action.webhook',
      code: 'HW_WEBHOOK_NOT_FOUND',
      severity: 'error',
      message: 'webhook hoook does not exist in namespace default (webhooks there: hook, other)',
      hint: 'did you mean hook?',
    },
  ])
})

t.test('a webhook with secrets but no signing gets a warning: W&B signs, receivers may expect a signature', async (t) => {
  const unsigned = WEBHOOK.replace('  signing:\n    secret: KEY\n', '')
  const r = await diagnose(t, { 'w.yaml': unsigned, 'a.yaml': automation(ALIAS_SPEC) })
  t.same(r.diagnostics, [
    {
      file: join(r.dir, 'w.yaml'),
      line: 9,
      column: 3,
      object: 'Webhook default/hook',
      path: 'spec.secrets',
      code: 'HW_WEBHOOK_UNSIGNED',
      severity: 'warning',
      message: 'webhook hook has secrets (KEY) but no spec.signing: its requests carry no signature',
      hint: 'W&B signs every request with the webhook secret (X-Wandb-Signature) and receivers may check it: add spec.signing: {secret: KEY}, or ignore this warning if the receiver verifies nothing',
    },
  ])
  t.same(r.automations, ['default/auto'], 'a warning does not stop the automation')
})
