// notification-controller as a contestant of bench/peers.bench.ts: its CRDs, a Secret, a
// `generic-hmac` Provider (signed, X-Signature: sha256=<hex>) and a `generic` one (unsigned) to the
// benchmark's receiver, one Alert each, in a namespace of its own on the harness's kube-apiserver.
// Events are Flux event.Event JSON POSTed to its events address, one per request, as Flux's
// controllers send them (github.com/fluxcd/pkg/runtime/events).
import type { ChildProcess } from 'node:child_process'
import type { Pool } from 'undici'
import type { ControlPlane } from '../../test/k8s/control-plane.js'
import type { NotificationController } from '../../test/tools/notification-controller.js'
import { Child, type Contestant, freePort, sleep } from './contestant.js'

export interface FluxOptions {
  namespace: string
  /** `generic-hmac` (signed, what the table compares) or `generic`. */
  provider: 'generic-hmac' | 'generic'
  receiverUrl: string
  /** More flags, e.g. `--feature-gates=CacheSecretsAndConfigMaps=true`. */
  args?: string[]
  name?: string
}

/** Which involvedObject name the Alert of each Provider selects. */
const objectOf = { 'generic-hmac': 'signed', generic: 'unsigned' } as const

function manifests(ns: string, receiverUrl: string): string {
  const provider = (name: string, type: string, secret: boolean): string => `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: ${name}, namespace: ${ns}}
spec:
  type: ${type}
  address: ${receiverUrl}
${secret ? '  secretRef: {name: bench-hmac}\n' : ''}---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: ${name}, namespace: ${ns}}
spec:
  providerRef: {name: ${name}}
  eventSeverity: info
  eventSources:
    - {kind: GitRepository, name: ${objectOf[type as keyof typeof objectOf]}}
---
`
  return `apiVersion: v1
kind: Namespace
metadata: {name: ${ns}}
---
apiVersion: v1
kind: Secret
metadata: {name: bench-hmac, namespace: ${ns}}
stringData: {token: MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}
---
${provider('bench-signed', 'generic-hmac', true)}${provider('bench-unsigned', 'generic', false)}`
}

/** A Flux event about GitRepository `object` in `ns`; the message differs per event (the events server drops repeats). */
export function fluxEvent(ns: string, object: string, phase: string, i: number, sentAt: number): string {
  const g = 'source.toolkit.fluxcd.io'
  return JSON.stringify({
    involvedObject: { kind: 'GitRepository', namespace: ns, name: object, apiVersion: `${g}/v1` },
    severity: 'info',
    timestamp: new Date(sentAt).toISOString().replace(/\.\d+Z$/, 'Z'),
    message: `stored artifact for revision 'main@sha1:${i.toString(16).padStart(40, '0')}' (${phase}-${i})`,
    reason: 'NewArtifact',
    metadata: {
      [`${g}/revision`]: `main@sha1:${i}`,
      [`${g}/phase`]: phase,
      [`${g}/sentAt`]: String(sentAt),
      [`${g}/event`]: `${phase}-${i}`,
    },
    reportingController: 'source-controller',
    reportingInstance: 'source-controller-bench',
  })
}

const JSON_HEADERS = { 'content-type': 'application/json' }

/** Applies the CRDs (once per control plane) and this contestant's objects, starts it, waits until an event reaches the receiver. */
export async function startFlux(
  cluster: ControlPlane,
  peer: NotificationController,
  o: FluxOptions,
  track: (c: ChildProcess) => void,
  probe: (c: Contestant) => Promise<void>,
): Promise<Contestant> {
  const crds = await cluster.kubectl(['apply', '--server-side', '-f', peer.crds])
  if (crds.code !== 0) throw new Error(`notification-controller CRDs: ${crds.stderr}`)
  const wait = await cluster.kubectl([
    'wait',
    '--for=condition=Established',
    'crd/providers.notification.toolkit.fluxcd.io',
    'crd/alerts.notification.toolkit.fluxcd.io',
    '--timeout=60s',
  ])
  if (wait.code !== 0) throw new Error(`notification-controller CRDs: ${wait.stderr}`)
  const applied = await cluster.kubectl(['apply', '-f', '-'], { input: manifests(o.namespace, o.receiverUrl) })
  if (applied.code !== 0) throw new Error(`notification-controller objects: ${applied.stderr}`)
  const port = await freePort()
  const args = [
    `--events-addr=127.0.0.1:${port}`,
    '--metrics-addr=127.0.0.1:0',
    '--health-addr=127.0.0.1:0',
    '--receiverAddr=127.0.0.1:0',
    '--enable-leader-election=false',
    '--watch-all-namespaces=false',
    ...(o.args ?? []),
  ]
  const child = new Child(
    'notification-controller',
    peer.binary,
    args,
    { ...process.env, ...cluster.env, RUNTIME_NAMESPACE: o.namespace },
    track,
  )
  const object = objectOf[o.provider]
  const contestant: Contestant = {
    name: o.name ?? `notification-controller (${o.provider})`,
    url: `http://127.0.0.1:${port}`,
    pids: () => ({ self: child.pid, apiserver: cluster.pids.apiserver, etcd: cluster.pids.etcd }),
    async post(pool: Pool, phase: string, i: number, sentAt: number) {
      const res = await pool.request({
        path: '/',
        method: 'POST',
        headers: JSON_HEADERS,
        body: fluxEvent(o.namespace, object, phase, i, sentAt),
      })
      const text = await res.body.text()
      if (res.statusCode !== 202) throw new Error(`notification-controller answered ${res.statusCode}: ${text.slice(0, 300)}`)
    },
    kill: () => child.kill('SIGKILL'),
    async restart() {
      child.start()
      await ready()
    },
    stop: () => child.kill('SIGTERM'),
  }
  const ready = async (): Promise<void> => {
    const started = Date.now()
    for (;;) {
      child.check()
      try {
        await probe(contestant)
        return
      } catch (err) {
        if (Date.now() - started > 60_000) throw new Error(`notification-controller did not deliver within 60 s: ${(err as Error).message}`)
      }
      await sleep(250)
    }
  }
  await contestant.restart()
  return contestant
}
