// Kubernetes Events from EventRecorder on a real kube-apiserver, read back with kubectl: the fields
// of an Event about a Webhook, kubectl describe, repeats as a series, the 1 KiB note limit, the
// rate limit with its one warning, and failures that are logged instead of thrown.

import { KubeConfig } from '@kubernetes/client-node'
import { Writable } from 'node:stream'
import { join } from 'node:path'
import t from 'tap'
import { stringify } from 'yaml'
import { EventRecorder, truncateUtf8, type EventRecorderOptions, type EventTarget } from '../controller/kubernetes/event-recorder.js'
import { createLogger } from '../controller/log.js'
import { useControlPlane } from './k8s/fixture.js'

const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/

interface EventJson {
  metadata: { name: string; namespace: string }
  eventTime: string
  type: string
  reason: string
  action: string
  note: string
  reportingController: string
  reportingInstance: string
  regarding: Record<string, string>
  series?: { count: number; lastObservedTime: string }
}

t.test('truncateUtf8 cuts on a character boundary', async (t) => {
  t.equal(truncateUtf8('abc', 3), 'abc')
  t.equal(truncateUtf8('abcd', 3), 'abc')
  t.equal(truncateUtf8('aé', 2), 'a', 'é (2 bytes) does not fit in the second byte')
  t.equal(truncateUtf8('a😀b', 4), 'a', 'nor a 4-byte emoji in 3')
  t.equal(truncateUtf8('a😀b', 5), 'a😀')
})

const cluster = await useControlPlane(t)

if (cluster) {
  const kubeConfig = new KubeConfig()
  kubeConfig.loadFromFile(cluster.kubeconfig)
  const kubectl = async (args: string[], input?: string) => {
    const r = await cluster.kubectl(args, input === undefined ? {} : { input })
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
  const events = async (namespace: string) =>
    (JSON.parse(await kubectl(['get', 'events.events.k8s.io', '-n', namespace, '-o', 'json'])) as { items: EventJson[] }).items

  await kubectl(['apply', '-f', join(import.meta.dirname, '..', 'crds')])
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/webhooks.hookwise.dev'])

  /** A namespace with one Webhook in it; resolves with the Webhook as an EventTarget. */
  const webhookIn = async (namespace: string, name = 'hook'): Promise<EventTarget> => {
    await kubectl(['create', 'namespace', namespace])
    const manifest = {
      apiVersion: 'hookwise.dev/v1alpha1',
      kind: 'Webhook',
      metadata: { name, namespace },
      spec: { url: 'https://hooks.example.com/x' },
    }
    const created = JSON.parse(await kubectl(['create', '-f', '-', '-o', 'json'], stringify(manifest))) as {
      metadata: { uid: string; resourceVersion: string }
    }
    return {
      apiVersion: 'hookwise.dev/v1alpha1',
      kind: 'Webhook',
      namespace,
      name,
      uid: created.metadata.uid,
      resourceVersion: created.metadata.resourceVersion,
    }
  }
  const recorder = (o: Partial<EventRecorderOptions> = {}) => {
    const logs: Array<Record<string, any>> = []
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logs.push(
          ...String(chunk)
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Record<string, any>),
        )
        cb()
      },
    })
    const r = new EventRecorder({
      kubeConfig,
      controller: 'hookwise.dev/controller',
      instance: 'replica-1',
      log: createLogger({ level: 'debug', destination: sink }),
      ...o,
    })
    return { r, logs }
  }

  t.test('an Event about a Webhook: its fields as kubectl shows them, and in kubectl describe', async (t) => {
    const target = await webhookIn('ev-fields')
    const { r, logs } = recorder()
    const before = Date.now()
    r.record(target, 'Warning', 'SecretNotFound', 'Reconcile', 'Secret ev-fields/creds has no key "token"')
    await r.flush()
    const [event, ...more] = await events('ev-fields')
    t.same(more, [], 'one Event')
    t.same(event, {
      ...event,
      type: 'Warning',
      reason: 'SecretNotFound',
      action: 'Reconcile',
      note: 'Secret ev-fields/creds has no key "token"',
      reportingController: 'hookwise.dev/controller',
      reportingInstance: 'replica-1',
      regarding: {
        apiVersion: 'hookwise.dev/v1alpha1',
        kind: 'Webhook',
        namespace: 'ev-fields',
        name: 'hook',
        uid: target.uid,
        resourceVersion: target.resourceVersion,
      },
    })
    t.notOk(event!.series, 'no series for a single occurrence')
    t.match(event!.eventTime, MICRO_TIME, 'eventTime is a MicroTime')
    t.ok(Date.parse(event!.eventTime) >= before && Date.parse(event!.eventTime) <= Date.now())
    const [prefix, stamp] = event!.metadata.name.split('.')
    t.equal(prefix, 'hook')
    t.match(stamp, /^[0-9a-f]+$/)
    t.equal(Number(BigInt(`0x${stamp}`) / 1_000_000n), Date.parse(event!.eventTime), 'named <object>.<eventTime in hex nanoseconds>')
    t.same(logs, [], 'nothing logged')

    const describe = await kubectl(['describe', 'webhook', 'hook', '-n', 'ev-fields'])
    const section = describe.slice(describe.indexOf('Events:'))
    t.match(section, /Type\s+Reason\s+Age\s+From\s+Message/)
    t.match(section, /Warning\s+SecretNotFound\s+\S+\s+hookwise\.dev\/controller\s+Secret ev-fields\/creds has no key "token"/)
  })

  t.test('a repeat updates the series of the Event written; a different note is another Event', async (t) => {
    const target = await webhookIn('ev-series')
    const { r } = recorder()
    r.record(target, 'Normal', 'Delivered', 'Deliver', 'delivered 1 event')
    await r.flush()
    const [first] = await events('ev-series')

    // The first repeat is written at once, without flush().
    r.record(target, 'Normal', 'Delivered', 'Deliver', 'delivered 1 event')
    const two = await (async () => {
      for (let i = 0; i < 300; i++) {
        const [e] = await events('ev-series')
        if (e?.series) return e
        await new Promise((res) => setTimeout(res, 100))
      }
      throw new Error('the series was not written')
    })()
    t.equal(two.metadata.name, first!.metadata.name, 'the same Event object')
    t.equal(two.series!.count, 2)
    t.match(two.series!.lastObservedTime, MICRO_TIME)

    // Further repeats are gathered and written together by flush().
    for (let i = 0; i < 5; i++) r.record(target, 'Normal', 'Delivered', 'Deliver', 'delivered 1 event')
    const gathered = await events('ev-series')
    t.equal(gathered[0]!.series!.count, 2, 'not written on every repeat')
    await r.flush()
    const seven = await events('ev-series')
    t.equal(seven.length, 1, 'still one Event object')
    t.equal(seven[0]!.series!.count, 7)
    t.equal(seven[0]!.note, 'delivered 1 event')
    t.equal(seven[0]!.eventTime, first!.eventTime, 'eventTime is the first occurrence')

    r.record(target, 'Normal', 'Delivered', 'Deliver', 'delivered 2 events')
    await r.flush()
    const notes = (await events('ev-series')).map((e) => [e.note, e.series?.count ?? 1]).sort()
    t.same(notes, [
      ['delivered 1 event', 7],
      ['delivered 2 events', 1],
    ])

    const describe = await kubectl(['describe', 'webhook', 'hook', '-n', 'ev-series'])
    t.match(describe, /Normal\s+Delivered\s+\S+ \(x7 over \S+\)\s+hookwise\.dev\/controller\s+delivered 1 event/)
  })

  t.test('a repeat more than 10 minutes after the last occurrence is a new Event', async (t) => {
    const target = await webhookIn('ev-window')
    let clock = Date.now()
    const { r } = recorder({ now: () => clock })
    r.record(target, 'Warning', 'DeliveryFailed', 'Deliver', 'HTTP 500')
    clock += 9 * 60_000
    r.record(target, 'Warning', 'DeliveryFailed', 'Deliver', 'HTTP 500')
    await r.flush()
    t.same(
      (await events('ev-window')).map((e) => e.series?.count),
      [2],
      '9 minutes later: the same series',
    )
    clock += 10 * 60_000 + 1
    r.record(target, 'Warning', 'DeliveryFailed', 'Deliver', 'HTTP 500')
    await r.flush()
    t.same((await events('ev-window')).map((e) => e.series?.count ?? 1).sort(), [1, 2], '10 minutes after that: a new Event')
  })

  t.test('a note over 1 KiB is cut on a UTF-8 boundary (the API rejects longer ones)', async (t) => {
    const target = await webhookIn('ev-note')
    const { r, logs } = recorder()
    const note = `a${'é'.repeat(1000)}`
    r.record(target, 'Warning', 'InvalidSpec', 'Reconcile', note)
    await r.flush()
    const [event] = await events('ev-note')
    t.equal(event?.note, `a${'é'.repeat(511)}`)
    t.equal(Buffer.byteLength(event!.note), 1023)
    t.same(logs, [])
  })

  t.test('beyond the burst, events are dropped with one warning saying how many', async (t) => {
    const target = await webhookIn('ev-burst')
    const { r, logs } = recorder({ burst: 20, ratePerSecond: 5 })
    const started = Date.now()
    for (let i = 0; i < 100; i++) r.record(target, 'Warning', 'DeliveryFailed', 'Deliver', `delivery ${i} failed`)
    const elapsedSeconds = (Date.now() - started) / 1000
    await r.flush()
    const written = (await events('ev-burst')).length
    const allowed = 20 + Math.floor(5 * elapsedSeconds)
    t.ok(written >= 20 && written <= allowed, `${written} Events written of 100 recorded in ${elapsedSeconds} s (at most ${allowed})`)
    const warnings = logs.filter((l) => l.level === 40)
    t.same(
      warnings,
      [
        {
          ...warnings[0],
          dropped: 100 - written,
          ratePerSecond: 5,
          burst: 20,
          msg: `dropped ${100 - written} Kubernetes Events: more than 20 at once or 5 per second`,
        },
      ],
      'exactly one warning',
    )
  })

  t.test('failed writes are logged, never thrown', async (t) => {
    const { r, logs } = recorder()
    t.doesNotThrow(() =>
      r.record(
        { apiVersion: 'hookwise.dev/v1alpha1', kind: 'Webhook', namespace: 'no-such-namespace', name: 'hook' },
        'Warning',
        'InvalidSpec',
        'Reconcile',
        'x',
      ),
    )
    t.doesNotThrow(() =>
      r.record(
        { apiVersion: 'hookwise.dev/v1alpha1', kind: 'Webhook', namespace: 'default', name: 'hook' },
        'Warning',
        'Not A Valid Reason '.repeat(10),
        'Reconcile',
        'x',
      ),
    )
    await r.flush()
    // Two objects' writes run side by side: their order is not fixed.
    const warnings = logs.filter((l) => l.level === 40).sort((a, b) => String(b.msg).localeCompare(a.msg))
    t.equal(warnings.length, 2)
    t.same(warnings[0], {
      ...warnings[0],
      code: 'HW_KUBERNETES_API',
      msg: 'cannot create a Kubernetes Event about Webhook no-such-namespace/hook (InvalidSpec): not found (404): namespaces "no-such-namespace" not found',
    })
    t.match(
      warnings[1]!.msg,
      /^cannot create a Kubernetes Event about Webhook default\/hook \(Not A Valid Reason .*\): invalid \(422\): Event "hook\.[0-9a-f]+" is invalid: reason: .*can have at most 128 characters$/,
    )
    // The kube-apiserver writes Events of its own into default (its IP allocator's repairs at start).
    t.same(
      (await events('default')).filter((e) => e.reportingController === 'hookwise.dev/controller'),
      [],
      'no Event written by hookwise',
    )
  })

  t.test('without RBAC for events: a warning with the permissions to grant', async (t) => {
    await kubectl(['create', 'serviceaccount', 'recorder'])
    const token = (await kubectl(['create', 'token', 'recorder', '--duration=10m'])).trim()
    const kc = new KubeConfig()
    kc.loadFromOptions({
      clusters: [{ name: 'test', server: cluster.server, caFile: join(cluster.dir, 'pki', 'ca.crt') }],
      users: [{ name: 'recorder', token }],
      contexts: [{ name: 'test', cluster: 'test', user: 'recorder' }],
      currentContext: 'test',
    })
    const { r, logs } = recorder({ kubeConfig: kc })
    r.record(
      { apiVersion: 'hookwise.dev/v1alpha1', kind: 'Webhook', namespace: 'default', name: 'hook' },
      'Normal',
      'Ready',
      'Reconcile',
      'ready',
    )
    await r.flush()
    t.same(logs, [
      {
        ...logs[0],
        level: 40,
        code: 'HW_KUBERNETES_API',
        hint: 'grant create and patch on events.events.k8s.io in namespace default',
        msg: 'cannot create a Kubernetes Event about Webhook default/hook (Ready): forbidden (403): events.events.k8s.io is forbidden: User "system:serviceaccount:default:recorder" cannot create resource "events" in API group "events.k8s.io" in the namespace "default"',
      },
    ])
  })
}
