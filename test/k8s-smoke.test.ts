// Smoke tests against a real kube-apiserver and etcd (test/k8s/): hookwise's CRDs install, the
// examples apply, kubectl shows the printer columns, the CRD schema and CEL rules reject bad
// Automations with readable messages, @kubernetes/client-node lists and watches through the
// generated kubeconfig, service-account tokens and RBAC work, and helm runs.

import { CustomObjectsApi, KubeConfig, Watch } from '@kubernetes/client-node'
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { parseAllDocuments, stringify } from 'yaml'
import { parseTable } from './helpers/kube.js'
import { useControlPlane } from './k8s/fixture.js'
import { isAlive } from './k8s/tools.js'

const group = 'hookwise.dev'
const version = 'v1alpha1'
const crdNames = ['webhooks.hookwise.dev', 'automations.hookwise.dev', 'eventsources.hookwise.dev']
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const crds = join(root, 'crds')
const examplesDir = join(root, 'examples')

interface Manifest {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string }
  spec?: Record<string, unknown>
  [key: string]: unknown
}

/** Every object in the YAML files of a folder (not recursive). */
async function manifestsIn(dir: string): Promise<Manifest[]> {
  if (!existsSync(dir)) return []
  const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort()
  const out: Manifest[] = []
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) {
      const value = doc.toJS() as Manifest | null
      if (value) out.push(value)
    }
  }
  return out
}

/** The `kubectl apply` line for an object, e.g. `automation.hookwise.dev/x created`. */
function applied(m: Manifest, verb: string): string {
  const apiGroup = m.apiVersion.includes('/') ? m.apiVersion.split('/')[0] : ''
  return `${m.kind.toLowerCase()}${apiGroup ? `.${apiGroup}` : ''}/${m.metadata.name} ${verb}`
}

/** The message of the one CEL rule (under `x-kubernetes-validations`) whose expression matches `rule`. */
function celMessage(crd: unknown, rule: RegExp): string {
  const found: string[] = []
  const walk = (node: unknown) => {
    if (Array.isArray(node)) return node.forEach(walk)
    if (!node || typeof node !== 'object') return
    for (const [key, value] of Object.entries(node)) {
      if (key === 'x-kubernetes-validations' && Array.isArray(value)) {
        for (const v of value as Array<{ rule: string; message?: string }>) {
          if (rule.test(v.rule) && v.message) found.push(v.message)
        }
      } else walk(value)
    }
  }
  walk(crd)
  if (found.length !== 1) throw new Error(`expected one CEL rule matching ${rule}, found ${found.length}`)
  return found[0]!
}

/** A valid Automation to break in one place. */
function automation(name: string, spec: Record<string, unknown>): Manifest {
  return {
    apiVersion: `${group}/${version}`,
    kind: 'Automation',
    metadata: { name, namespace: 'default' },
    spec: {
      scope: { type: 'Registry', registry: 'model' },
      event: { type: 'LINK_ARTIFACT' },
      action: { webhook: 'smoke', payload: { text: '${artifact_version_string}' } },
      ...spec,
    },
  }
}

const cluster = await useControlPlane(t)

if (cluster) {
  const { kubectl } = cluster
  const examples = await manifestsIn(examplesDir)
  const exampleSecrets = await manifestsIn(join(examplesDir, 'secrets'))
  const exampleAutomations = examples.filter((m) => m.kind === 'Automation')

  t.test('kubectl and kube-apiserver are the built release; the kubeconfig user is a cluster admin', async (t) => {
    const v = await kubectl(['version', '-o', 'json'])
    t.equal(v.code, 0, v.stderr)
    const versions = JSON.parse(v.stdout) as {
      clientVersion: { gitVersion: string }
      serverVersion: { gitVersion: string }
    }
    t.equal(versions.clientVersion.gitVersion, cluster.tools.versions.kubernetes)
    t.equal(versions.serverVersion.gitVersion, cluster.tools.versions.kubernetes)

    const whoami = await kubectl(['auth', 'whoami', '-o', 'json'])
    t.equal(whoami.code, 0, whoami.stderr)
    const user = (JSON.parse(whoami.stdout) as { status: { userInfo: { username: string; groups: string[] } } }).status.userInfo
    t.equal(user.username, 'hookwise-admin')
    t.ok(user.groups.includes('system:masters'), `groups: ${user.groups.join(', ')}`)
  })

  t.test('the CRDs apply and become Established', async (t) => {
    const apply = await kubectl(['apply', '-f', crds])
    t.equal(apply.code, 0, apply.stderr)
    for (const name of crdNames) {
      t.match(apply.stdout, `customresourcedefinition.apiextensions.k8s.io/${name} created`)
    }
    const wait = await kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...crdNames.map((n) => `crd/${n}`)])
    t.equal(wait.code, 0, wait.stderr)
    t.equal(
      wait.stdout
        .trim()
        .split('\n')
        .filter((l) => l.endsWith('condition met')).length,
      crdNames.length,
      wait.stdout,
    )

    // Discovery serves the names, short names and category users type.
    const resources = await kubectl(['api-resources', `--api-group=${group}`, '--no-headers'])
    t.equal(resources.code, 0, resources.stderr)
    const rows = resources.stdout
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
    t.same(rows.sort(), [
      ['automations', 'hwa', `${group}/${version}`, 'true', 'Automation'],
      ['eventsources', 'hwes', `${group}/${version}`, 'true', 'EventSource'],
      ['webhooks', 'hwh', `${group}/${version}`, 'true', 'Webhook'],
    ])
  })

  t.test('the examples apply', { skip: examples.length === 0 && 'examples/ has no YAML files yet' }, async (t) => {
    if (exampleSecrets.length) {
      const secrets = await kubectl(['apply', '-f', join(examplesDir, 'secrets')])
      t.equal(secrets.code, 0, secrets.stderr)
      for (const m of exampleSecrets) t.match(secrets.stdout, applied(m, 'created'))
    }
    const apply = await kubectl(['apply', '-f', examplesDir])
    t.equal(apply.code, 0, apply.stderr)
    t.equal(apply.stderr, '', 'no warnings (unknown or dropped fields) from the apiserver')
    for (const m of examples) t.match(apply.stdout, applied(m, 'created'))
    t.ok(exampleAutomations.length > 0, 'examples/ holds at least one Automation')
  })

  t.test('kubectl get automations shows the printer columns', async (t) => {
    if (exampleAutomations.length === 0) {
      const create = await kubectl(['apply', '-f', '-'], { input: stringify(automation('printer-columns', {})) })
      t.equal(create.code, 0, create.stderr)
    }
    const shown = exampleAutomations.length ? exampleAutomations : [automation('printer-columns', {})]
    const get = await kubectl(['get', 'automations'])
    t.equal(get.code, 0, get.stderr)
    const table = parseTable(get.stdout)
    t.same(table.header, ['NAME', 'READY', 'REASON', 'EVENT', 'WEBHOOK', 'LAST DELIVERY', 'AGE'])
    t.same(table.rows.map((r) => r.NAME).sort(), shown.map((m) => m.metadata.name).sort())
    for (const m of shown) {
      const spec = m.spec as { event: { type: string }; action: { webhook?: string } }
      const row = table.rows.find((r) => r.NAME === m.metadata.name)
      // Nothing reconciles here, so READY, REASON and LAST DELIVERY are empty.
      t.same(
        row,
        {
          NAME: m.metadata.name,
          READY: '',
          REASON: '',
          EVENT: spec.event.type,
          // A noop action names no webhook: the column is empty.
          WEBHOOK: spec.action.webhook ?? '',
          'LAST DELIVERY': '',
          AGE: row?.AGE,
        },
        m.metadata.name,
      )
      t.match(row?.AGE, /^\d+s$/, 'AGE is a duration')
    }

    // The short name and the category reach the same objects.
    for (const alias of ['hwa', 'hookwise']) {
      const names = await kubectl(['get', alias, '-o', 'name'])
      t.equal(names.code, 0, names.stderr)
      for (const m of shown) t.match(names.stdout, `automation.hookwise.dev/${m.metadata.name}`, alias)
    }
  })

  t.test('the CRD schema and CEL rules reject bad Automations with readable messages', async (t) => {
    const crd = parseAllDocuments(await readFile(join(crds, 'hookwise.dev_automations.yaml'), 'utf8'))[0]!.toJS()
    const aliasRule = celMessage(crd, /(?<!!)has\(self\.aliasRegex\)/)
    const collectionRule = celMessage(crd, /(?<!!)has\(self\.collection\)/)
    const rejected = async (m: Manifest) => {
      const res = await kubectl(['apply', '-f', '-'], { input: stringify(m) })
      t.equal(res.code, 1, `${m.metadata.name} is rejected`)
      t.equal(res.stdout, '')
      const get = await kubectl(['get', 'automation', m.metadata.name])
      t.match(get.stderr, `automations.hookwise.dev "${m.metadata.name}" not found`, `${m.metadata.name} was not stored`)
      return res.stderr.trimEnd()
    }

    t.equal(
      await rejected(automation('no-alias-regex', { event: { type: 'ADD_ARTIFACT_ALIAS' } })),
      `The Automation "no-alias-regex" is invalid: spec.event: Invalid value: ${aliasRule}`,
    )
    t.equal(
      await rejected(automation('no-collection', { scope: { type: 'Collection', registry: 'model' } })),
      `The Automation "no-collection" is invalid: spec.scope: Invalid value: ${collectionRule}`,
    )
    // Several broken rules are all reported, one per line (in no fixed order).
    const [first, ...lines] = (
      await rejected(
        automation('two-mistakes', {
          scope: { type: 'Collection', registry: 'model' },
          event: { type: 'ADD_ARTIFACT_ALIAS' },
        }),
      )
    ).split('\n')
    t.equal(first, 'The Automation "two-mistakes" is invalid: ')
    t.same(lines.sort(), [`* spec.event: Invalid value: ${aliasRule}`, `* spec.scope: Invalid value: ${collectionRule}`])
    // The OpenAPI schema part: an unknown enum value is reported with the allowed values.
    t.match(
      await rejected(automation('bad-scope-type', { scope: { type: 'Team', registry: 'model' } })),
      'spec.scope.type: Unsupported value: "Team": supported values: "Registry", "Collection", "Project"',
    )
  })

  t.test('the CRD refuses Webhook headers HTTP cannot send and an unknown signing.secret, naming the header and the value', async (t) => {
    const webhook = (name: string, spec: Record<string, unknown>): Manifest => ({
      apiVersion: `${group}/${version}`,
      kind: 'Webhook',
      metadata: { name, namespace: 'default' },
      spec: { url: 'https://example.com/hook', ...spec },
    })
    const rejected = async (m: Manifest): Promise<string> => {
      const res = await kubectl(['apply', '-f', '-'], { input: stringify(m) })
      t.equal(res.code, 1, `${m.metadata.name} is rejected`)
      const get = await kubectl(['get', 'webhook', m.metadata.name])
      t.match(get.stderr, `webhooks.hookwise.dev "${m.metadata.name}" not found`, `${m.metadata.name} was not stored`)
      return res.stderr.trimEnd()
    }
    const invalid = (name: string, message: string): string => `The Webhook "${name}" is invalid: spec.headers: Invalid value: ${message}`
    const value = (h: string) =>
      `header ${h} holds a character HTTP cannot send (CR, LF, NUL, another control character or one above U+00FF): remove it from the value`
    for (const [name, headers] of [
      ['crlf', { 'X-Team': 'ml\r\nX-Injected: 1' }],
      ['nul', { 'X-Team': 'm\u0000l' }],
      ['escape', { 'X-Team': 'm\u001bl' }],
      ['above-latin1', { 'X-Team': 'ml \u2713' }],
    ] as const) {
      t.equal(await rejected(webhook(name, { headers })), invalid(name, value('X-Team')), name)
    }
    for (const h of ['Transfer-Encoding', 'Connection', 'Keep-Alive', 'Upgrade', 'TE', 'Trailer', 'Proxy-Connection']) {
      const name = `hop-${h.toLowerCase()}`
      t.equal(
        await rejected(webhook(name, { headers: { [h]: 'x' } })),
        invalid(
          name,
          `header ${h} is hop-by-hop or framing: HTTP sets it for each connection and message, so it cannot be a static header`,
        ),
      )
    }
    t.equal(
      await rejected(webhook('not-a-token', { headers: { 'X Team': 'ml' } })),
      invalid('not-a-token', 'header name "X Team" is not an HTTP token: use letters, digits and !#$%&\'*+-.^_`|~ only'),
    )
    t.equal(
      await rejected(webhook('no-secrets', { signing: { secret: 'NOPE' } })),
      'The Webhook "no-secrets" is invalid: spec: Invalid value: signing.secret must name one of spec.secrets[].name, not "NOPE"',
    )
    const secretKeyRef = { name: 'sig', key: 'key' }
    t.equal(
      await rejected(
        webhook('two-secrets', {
          secrets: [
            { name: 'OTHER', secretKeyRef },
            { name: 'KEY', secretKeyRef },
          ],
          signing: { secret: 'NOPE' },
        }),
      ),
      'The Webhook "two-secrets" is invalid: spec: Invalid value: signing.secret must name one of spec.secrets[].name, not "NOPE"',
    )
    // What validation accepts, the CRD accepts: a tab, Latin-1, visible ASCII.
    const fine = webhook('fine-headers', {
      headers: { 'X-Team': 'ml\tand ops', 'X-Name': 'Zoé', 'X-All': '!~ #$%&()*+,-./:;<=>?@[]^_`{|}' },
    })
    const ok = await kubectl(['apply', '-f', '-'], { input: stringify(fine) })
    t.equal(ok.code, 0, ok.stderr)
    await kubectl(['delete', 'webhook', 'fine-headers'])
  })

  t.test('@kubernetes/client-node lists and watches through the generated kubeconfig', async (t) => {
    const kc = new KubeConfig()
    kc.loadFromFile(cluster.kubeconfig)
    t.equal(kc.getCurrentCluster()?.server, cluster.server)
    const api = kc.makeApiClient(CustomObjectsApi)
    const target = { group, version, namespace: 'default', plural: 'automations' }

    const list = (await api.listNamespacedCustomObject(target)) as {
      metadata: { resourceVersion: string }
      items: Manifest[]
    }
    const expected = (exampleAutomations.length ? exampleAutomations : [automation('printer-columns', {})]).map((m) => m.metadata.name)
    t.same(list.items.map((i) => i.metadata.name).sort(), [...expected].sort())
    // The apiserver applied the schema default (enabled: true) to objects that left it out.
    for (const item of list.items) t.equal(typeof (item.spec as { enabled?: unknown }).enabled, 'boolean')

    const events: Array<{ phase: string; name: string; enabled: unknown }> = []
    let notify = () => {}
    const watch = await new Watch(kc).watch(
      `/apis/${group}/${version}/namespaces/default/automations`,
      { resourceVersion: list.metadata.resourceVersion },
      (phase, obj: Manifest) => {
        events.push({ phase, name: obj.metadata.name, enabled: (obj.spec as { enabled?: unknown }).enabled })
        notify()
      },
      () => {},
    )
    t.teardown(() => watch.abort())
    const nextEvent = async (phase: string) => {
      const deadline = Date.now() + 30_000
      for (;;) {
        const i = events.findIndex((e) => e.phase === phase)
        if (i >= 0) return events.splice(i, 1)[0]!
        if (Date.now() > deadline) throw new Error(`no ${phase} event within 30s; got ${JSON.stringify(events)}`)
        await new Promise<void>((resolve) => {
          notify = resolve
          setTimeout(resolve, 1000)
        })
      }
    }

    const created = await api.createNamespacedCustomObject({ ...target, body: automation('watched', {}) })
    t.equal((created as Manifest).metadata.name, 'watched')
    t.same(await nextEvent('ADDED'), { phase: 'ADDED', name: 'watched', enabled: true })

    const patch = await kubectl(['patch', 'automation', 'watched', '--type=merge', '-p', '{"spec":{"enabled":false}}'])
    t.equal(patch.code, 0, patch.stderr)
    t.same(await nextEvent('MODIFIED'), { phase: 'MODIFIED', name: 'watched', enabled: false })

    const del = await kubectl(['delete', 'automation', 'watched', '--wait=true'])
    t.equal(del.code, 0, del.stderr)
    t.same(await nextEvent('DELETED'), { phase: 'DELETED', name: 'watched', enabled: false })
  })

  t.test('service-account tokens (TokenRequest) authenticate, and RBAC decides what they may do', async (t) => {
    const sa = 'hookwise-smoke'
    const subject = `system:serviceaccount:default:${sa}`
    t.equal((await kubectl(['create', 'serviceaccount', sa])).code, 0)
    const token = await kubectl(['create', 'token', sa, '--duration=10m'])
    t.equal(token.code, 0, token.stderr)
    const claims = JSON.parse(Buffer.from(token.stdout.trim().split('.')[1]!, 'base64url').toString()) as {
      sub: string
      iss: string
    }
    t.equal(claims.sub, subject)
    t.equal(claims.iss, 'https://kubernetes.default.svc.cluster.local')

    const asToken = (args: string[]) =>
      kubectl([
        '--kubeconfig=/dev/null',
        `--server=${cluster.server}`,
        `--certificate-authority=${join(cluster.dir, 'pki', 'ca.crt')}`,
        `--token=${token.stdout.trim()}`,
        ...args,
      ])
    const whoami = await asToken(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'])
    t.equal(whoami.stdout, subject, whoami.stderr)

    const denied = await asToken(['get', 'automations'])
    t.equal(denied.code, 1)
    t.match(denied.stderr, `automations.hookwise.dev is forbidden: User "${subject}" cannot list resource "automations"`)

    t.equal((await kubectl(['create', 'role', 'automation-reader', '--verb=get,list,watch', `--resource=automations.${group}`])).code, 0)
    t.equal(
      (await kubectl(['create', 'rolebinding', 'automation-reader', '--role=automation-reader', `--serviceaccount=default:${sa}`])).code,
      0,
    )
    const allowed = await asToken(['get', 'automations', '-o', 'name'])
    t.equal(allowed.code, 0, allowed.stderr)
    const canWrite = await kubectl(['auth', 'can-i', 'create', `automations.${group}`, `--as=${subject}`])
    t.equal(canWrite.stdout.trim(), 'no')
  })

  t.test('helm runs and reaches the cluster', async (t) => {
    const version = await cluster.helm(['version', '--template', '{{.Version}}'])
    t.equal(version.code, 0, version.stderr)
    t.equal(version.stdout, cluster.tools.versions.helm)
    const list = await cluster.helm(['list', '--all-namespaces', '-o', 'json'])
    t.equal(list.code, 0, list.stderr)
    t.same(JSON.parse(list.stdout), [])
  })

  t.test('teardown stops etcd and kube-apiserver and removes every file', async (t) => {
    await cluster.stop()
    t.notOk(isAlive(cluster.pids.apiserver), 'kube-apiserver stopped')
    t.notOk(isAlive(cluster.pids.etcd), 'etcd stopped')
    t.notOk(existsSync(cluster.dir), `${cluster.dir} removed`)
  })
}
